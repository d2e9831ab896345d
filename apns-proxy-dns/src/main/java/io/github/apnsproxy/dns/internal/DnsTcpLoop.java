// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns.internal;

import io.github.apnsproxy.dns.DnsResponder;
import io.github.apnsproxy.dns.DnsTransport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DNS over TCP on one selector thread (RFC 7766): 2-byte length framing, pipelined queries answered as they
 * complete, a connection limit. No thread ever waits on a client. A connection is idle when no whole query arrived
 * and no answer byte left for the idle timeout: a message trickling in byte by byte, or answers a client does not
 * read, do not keep it open. Reading pauses while {@link #MAX_PENDING} queries are being answered or waiting to be
 * sent, so a client that sends but never reads holds a bounded amount of memory. Only the loop thread touches
 * connections; answers completing elsewhere are handed in through a task queue. Not API.
 */
public final class DnsTcpLoop implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(DnsTcpLoop.class);
  /** Queries of one connection being answered or with answers waiting to be sent; reading pauses at it. */
  static final int MAX_PENDING = 64;
  private static final long ACCEPT_BACKOFF_NANOS = 100_000_000L;

  private final List<ServerSocketChannel> servers;
  private final DnsResponder responder;
  private final long idleNanos;
  private final int maxConnections;
  private final Runnable onDropped;
  private final Selector selector;
  private final Thread thread;
  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean wakeupPending = new AtomicBoolean();
  private final Set<Conn> conns = new HashSet<>();
  private volatile boolean closed;
  private long acceptPausedUntil;
  private boolean acceptPaused;

  public DnsTcpLoop(List<ServerSocketChannel> servers, DnsResponder responder, Duration idleTimeout,
      int maxConnections, Runnable onDropped, String threadName) throws IOException {
    this.servers = List.copyOf(servers);
    this.responder = responder;
    this.idleNanos = idleTimeout.toNanos();
    this.maxConnections = maxConnections;
    this.onDropped = onDropped;
    this.selector = Selector.open();
    for (ServerSocketChannel s : this.servers) {
      s.configureBlocking(false);
      s.register(selector, SelectionKey.OP_ACCEPT);
    }
    this.thread = new Thread(this, threadName);
    this.thread.setDaemon(true);
  }

  public void start() {
    thread.start();
  }

  /** Stops the loop and closes every connection; waits at most {@code wait} for the thread. */
  public void close(Duration wait) throws InterruptedException {
    closed = true;
    selector.wakeup();
    if (thread.isAlive() && Thread.currentThread() != thread) {
      thread.join(Math.max(1, wait.toMillis()));
    }
    if (!thread.isAlive()) {
      return;
    }
    LOG.warn("DNS TCP loop did not stop in {}", wait);
  }

  /** Open connections (for tests). */
  public int connections() {
    return runningSize;
  }

  private volatile int runningSize;

  @Override
  public void run() {
    try {
      while (!closed) {
        long timeout = 250;
        selector.select(this::ready, timeout);
        wakeupPending.set(false);
        Runnable t;
        while ((t = tasks.poll()) != null) {
          t.run();
        }
        long now = System.nanoTime();
        if (acceptPaused && now - acceptPausedUntil >= 0) {
          setAccepting(true);
        }
        expire(now);
        runningSize = conns.size();
      }
    } catch (IOException | ClosedSelectorException e) {
      if (!closed) {
        LOG.error("DNS TCP loop stopped", e);
      }
    } catch (RuntimeException | Error e) {
      LOG.error("DNS TCP loop stopped", e);
    } finally {
      for (Conn c : new ArrayList<>(conns)) {
        c.close();
      }
      try {
        selector.close();
      } catch (IOException e) {
        LOG.debug("closing selector", e);
      }
      runningSize = 0;
    }
  }

  private void ready(SelectionKey key) {
    try {
      if (!key.isValid()) {
        return;
      }
      if (key.isAcceptable()) {
        accept((ServerSocketChannel) key.channel());
        return;
      }
      Conn c = (Conn) key.attachment();
      if (key.isWritable()) {
        c.flush();
      }
      if (key.isValid() && key.isReadable()) {
        c.read();
      }
    } catch (RuntimeException | Error e) {
      Responses.rethrowFatal(e); // one failing connection closes that connection only; a failing JVM stops the loop
      LOG.warn("DNS TCP connection failed", e);
      Object a = key.attachment();
      if (a instanceof Conn c) {
        c.close();
      }
    }
  }

  private void accept(ServerSocketChannel server) {
    while (true) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        // typically EMFILE: stop accepting for a moment instead of spinning on a ready key
        LOG.warn("DNS TCP accept failed ({}); pausing accepts for 100 ms", e.getMessage());
        acceptPausedUntil = System.nanoTime() + ACCEPT_BACKOFF_NANOS;
        setAccepting(false);
        return;
      }
      if (ch == null) {
        return;
      }
      if (conns.size() >= maxConnections) {
        onDropped.run();
        LOG.debug("DNS TCP connection over the limit of {} closed", maxConnections);
        closeQuietly(ch);
        continue;
      }
      try {
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        InetSocketAddress remote = (InetSocketAddress) ch.getRemoteAddress();
        Conn c = new Conn(ch, remote);
        c.key = ch.register(selector, SelectionKey.OP_READ, c);
        conns.add(c);
      } catch (IOException e) {
        LOG.debug("DNS TCP accept setup failed", e);
        closeQuietly(ch);
      }
    }
  }

  private void setAccepting(boolean on) {
    acceptPaused = !on;
    for (SelectionKey k : selector.keys()) {
      if (k.isValid() && k.channel() instanceof ServerSocketChannel) {
        k.interestOps(on ? SelectionKey.OP_ACCEPT : 0);
      }
    }
  }

  private void expire(long now) {
    if (idleNanos <= 0) {
      return;
    }
    List<Conn> idle = null;
    for (Conn c : conns) {
      if (c.inFlight == 0 && now - c.lastActivity > idleNanos) {
        if (idle == null) {
          idle = new ArrayList<>();
        }
        idle.add(c);
      }
    }
    if (idle != null) {
      for (Conn c : idle) {
        LOG.debug("DNS TCP connection from {} idle, closed", c.remote);
        c.close();
      }
    }
  }

  private void execute(Runnable task) {
    if (Thread.currentThread() == thread) {
      task.run();
      return;
    }
    if (closed) {
      return; // an answer completing after close: its connection is gone, and the selector may be closed
    }
    tasks.add(task);
    if (wakeupPending.compareAndSet(false, true)) {
      selector.wakeup();
    }
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      LOG.trace("close", e);
    }
  }

  private final class Conn {
    final SocketChannel ch;
    final InetSocketAddress remote;
    @Nullable SelectionKey key; // set once the channel is registered
    final ByteBuffer length = ByteBuffer.allocate(2);
    @Nullable ByteBuffer body; // the message being read, once its length is known
    final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
    int inFlight;
    long lastActivity = System.nanoTime();
    boolean eof;
    boolean closed;

    Conn(SocketChannel ch, InetSocketAddress remote) {
      this.ch = ch;
      this.remote = remote;
    }

    void read() {
      int messages = 0;
      try {
        // at most MAX_PENDING whole queries per wakeup, so one pipelining client cannot keep the others waiting
        while (pending() < MAX_PENDING && messages < MAX_PENDING) {
          ByteBuffer target = body == null ? length : body;
          int n = ch.read(target);
          if (n < 0) {
            eof = true;
            if (body != null || length.position() > 0) {
              LOG.debug("DNS TCP connection from {} ended inside a message", remote);
            }
            updateInterest();
            closeIfDone();
            return;
          }
          if (n == 0) {
            break;
          }
          if (body == null && !length.hasRemaining()) {
            int size = ((length.get(0) & 0xff) << 8) | (length.get(1) & 0xff);
            if (size == 0) {
              LOG.debug("DNS TCP connection from {} sent an empty message, closed", remote);
              close();
              return;
            }
            body = ByteBuffer.allocate(size);
          } else if (body != null && !body.hasRemaining()) {
            byte[] message = body.array();
            body = null;
            length.clear();
            lastActivity = System.nanoTime(); // a whole query: partial ones do not count as activity
            messages++;
            dispatch(message);
          }
        }
      } catch (IOException e) {
        LOG.debug("DNS TCP read from {} failed: {}", remote, e.getMessage());
        close();
        return;
      }
      updateInterest();
    }

    void dispatch(byte[] message) {
      inFlight++;
      responder.respond(message, message.length, remote, DnsTransport.TCP, 65535)
          .whenComplete((reply, failure) -> execute(() -> answered(reply == null ? Optional.empty() : reply)));
    }

    void answered(Optional<byte[]> reply) {
      inFlight--;
      if (closed) {
        return;
      }
      if (reply.isPresent()) {
        byte[] r = reply.get();
        ByteBuffer frame = ByteBuffer.allocate(2 + r.length);
        frame.put((byte) (r.length >>> 8)).put((byte) r.length).put(r).flip();
        out.add(frame);
        flush();
      } else {
        updateInterest();
        closeIfDone();
      }
    }

    void flush() {
      try {
        while (!out.isEmpty()) {
          ByteBuffer head = out.peek();
          int n = ch.write(head);
          if (n > 0) {
            lastActivity = System.nanoTime();
          }
          if (head.hasRemaining()) {
            break;
          }
          out.poll();
        }
      } catch (IOException e) {
        LOG.debug("DNS TCP write to {} failed: {}", remote, e.getMessage());
        close();
        return;
      }
      updateInterest();
      closeIfDone();
    }

    void updateInterest() {
      if (closed || key == null || !key.isValid()) {
        return;
      }
      int ops = 0;
      if (!eof && pending() < MAX_PENDING) {
        ops |= SelectionKey.OP_READ;
      }
      if (!out.isEmpty()) {
        ops |= SelectionKey.OP_WRITE;
      }
      key.interestOps(ops);
    }

    int pending() {
      return inFlight + out.size();
    }

    void closeIfDone() {
      if (eof && inFlight == 0 && out.isEmpty()) {
        close();
      }
    }

    void close() {
      if (closed) {
        return;
      }
      closed = true;
      conns.remove(this);
      if (key != null) {
        key.cancel();
      }
      closeQuietly(ch);
    }
  }
}
