// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns.internal;

import io.github.apnsproxy.core.internal.loop.KeyHandler;
import io.github.apnsproxy.core.internal.loop.LoopHandler;
import io.github.apnsproxy.core.internal.loop.SelectorLoop;
import io.github.apnsproxy.dns.DnsResponder;
import io.github.apnsproxy.dns.DnsTransport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DNS over TCP on one selector loop (RFC 7766) on the shared kernel ({@link SelectorLoop}): 2-byte
 * length framing, pipelined queries answered as they complete, connection limits. No thread ever
 * waits on a client. A connection is idle when no whole query arrived and no answer byte left for
 * the idle timeout: a message trickling in byte by byte, or answers a client does not read, do not
 * keep it open. Reading pauses while {@link #MAX_PENDING} queries are being answered or waiting to
 * be sent, so a client that sends but never reads holds a bounded amount of memory.
 *
 * <p>At accept: a client outside the policy's client list is closed at once; a client address
 * holding {@code maxPerClient} connections has its own longest-idle one closed to make room; when
 * the table is full the longest-idle connection of anyone is closed (RFC 7766 section 6.2.3). An
 * idle connection is one with no query being answered; only when there is none to close is the
 * newcomer closed. The connections sit in a list ordered by their last activity, which is also the
 * timer: the loop wakes when the oldest one may have become idle, not on a fixed poll. Only the
 * loop thread touches connections; answers completing elsewhere are handed in through the kernel's
 * task queue. Not API.
 */
public final class DnsTcpLoop implements LoopHandler {
  private static final Logger LOG = LoggerFactory.getLogger(DnsTcpLoop.class);

  /**
   * Queries of one connection being answered or with answers waiting to be sent; reading pauses at
   * it.
   */
  static final int MAX_PENDING = 64;

  private final DnsResponder responder;
  private final long idleNanos;
  private final int maxConnections;
  private final int maxPerClient;
  private final Predicate<InetAddress> allowed;
  private final Runnable onDropped;
  private final SelectorLoop kernel;
  private final HashMap<InetAddress, Integer> perClient = new HashMap<>();

  /** The connections, least recently active first; loop thread only. */
  private @Nullable Conn head;

  private @Nullable Conn tail;
  private int count;
  private volatile int openConnections;

  /**
   * Registers the listeners on a new loop, not started.
   *
   * @param maxPerClient the most connections one client address may hold; 0 for no limit
   * @param allowed which client addresses may connect at all
   * @param onDropped counts a connection refused at accept
   */
  public DnsTcpLoop(
      List<ServerSocketChannel> servers,
      DnsResponder responder,
      Duration idleTimeout,
      int maxConnections,
      int maxPerClient,
      Predicate<InetAddress> allowed,
      Runnable onDropped,
      String threadName)
      throws IOException {
    this.responder = responder;
    this.idleNanos = idleTimeout.toNanos();
    this.maxConnections = maxConnections;
    this.maxPerClient = maxPerClient;
    this.allowed = allowed;
    this.onDropped = onDropped;
    this.kernel = new SelectorLoop(threadName, this);
    try {
      for (ServerSocketChannel s : servers) {
        kernel.addServer(s, this::adopt);
      }
    } catch (IOException | RuntimeException e) {
      kernel.discard();
      throw e;
    }
  }

  public void start() {
    kernel.start();
  }

  /** Stops the loop and closes every connection; waits at most {@code wait} for the thread. */
  public void close(Duration wait) throws InterruptedException {
    kernel.stop();
    if (!kernel.join(wait)) {
      LOG.warn("DNS TCP loop did not stop in {}", wait);
    }
  }

  /** Whether the loop runs (false once stopped, or when the JVM failed under it). */
  public boolean isRunning() {
    return kernel.isRunning();
  }

  /** Open connections. */
  public int connections() {
    return openConnections;
  }

  /** For tests: the next {@code select()} fails as a broken selector would. */
  public void failNextSelect() {
    kernel.failNextSelect(new IOException("injected select failure"));
  }

  /** Selector rebuilds since start. */
  public int selectorRebuilds() {
    return kernel.selectorRebuilds();
  }

  private void adopt(SocketChannel ch) {
    InetSocketAddress remote;
    try {
      remote = (InetSocketAddress) ch.getRemoteAddress();
    } catch (IOException e) {
      SelectorLoop.closeQuietly(ch);
      return;
    }
    if (remote == null) {
      SelectorLoop.closeQuietly(ch); // already gone
      return;
    }
    InetAddress client = remote.getAddress();
    if (!allowed.test(client)) {
      refuse(ch, remote, "client not allowed");
      return;
    }
    int held = perClient.getOrDefault(client, 0);
    if (maxPerClient > 0 && held >= maxPerClient) {
      if (!evictIdlest(client)) {
        refuse(ch, remote, "client holds " + held + " busy connections already");
        return;
      }
      held--;
    }
    if (count >= maxConnections && !evictIdlest(null)) {
      refuse(ch, remote, "all " + maxConnections + " connections busy");
      return;
    }
    Conn c = new Conn(ch, remote);
    try {
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      c.key = kernel.register(ch, SelectionKey.OP_READ, c);
    } catch (IOException e) {
      LOG.debug("DNS TCP accept setup failed", e);
      SelectorLoop.closeQuietly(ch);
      return;
    }
    perClient.put(client, held + 1);
    c.lastActivity = kernel.now();
    link(c);
    if (idleNanos > 0) {
      kernel.schedule(c.lastActivity + idleNanos);
    }
  }

  private void refuse(SocketChannel ch, InetSocketAddress remote, String why) {
    onDropped.run();
    LOG.debug("DNS TCP connection from {} closed at accept: {}", remote, why);
    SelectorLoop.closeQuietly(ch);
  }

  /**
   * Closes the least recently active connection (of {@code client}, or of anyone when null) with no
   * query being answered; false when there is none.
   */
  private boolean evictIdlest(@Nullable InetAddress client) {
    for (Conn c = head; c != null; c = c.next) {
      if (c.inFlight == 0 && (client == null || client.equals(c.remote.getAddress()))) {
        LOG.debug("DNS TCP connection from {} closed to make room", c.remote);
        c.close();
        return true;
      }
    }
    return false;
  }

  @Override
  public long timersDue(long now) {
    if (idleNanos <= 0) {
      return Long.MAX_VALUE;
    }
    boolean skipped = false;
    Conn c = head;
    while (c != null && now - c.lastActivity >= idleNanos) {
      Conn next = c.next;
      if (c.inFlight == 0) {
        LOG.debug("DNS TCP connection from {} idle, closed", c.remote);
        c.close();
      } else {
        skipped = true; // being answered: looked at again once its answers are out
      }
      c = next;
    }
    long due = c == null ? Long.MAX_VALUE : c.lastActivity + idleNanos;
    return skipped ? Math.min(due, now + idleNanos) : due;
  }

  @Override
  public void selectorLost() {
    closeAll();
  }

  @Override
  public void stopping() {
    closeAll();
  }

  private void closeAll() {
    Conn c = head;
    while (c != null) {
      Conn next = c.next;
      c.close();
      c = next;
    }
  }

  private void link(Conn c) {
    Conn t = tail;
    c.prev = t;
    c.next = null;
    if (t == null) {
      head = c;
    } else {
      t.next = c;
    }
    tail = c;
    openConnections = ++count;
  }

  private void unlink(Conn c) {
    Conn p = c.prev;
    Conn n = c.next;
    if (p == null) {
      head = n;
    } else {
      p.next = n;
    }
    if (n == null) {
      tail = p;
    } else {
      n.prev = p;
    }
    c.prev = null;
    c.next = null;
    openConnections = --count;
  }

  /** Marks activity: the connection moves to the end of the list (the most recently active). */
  private void touch(Conn c) {
    c.lastActivity = kernel.now();
    if (tail != c) {
      unlink(c);
      link(c);
    }
  }

  /** Runs {@code task} on the loop thread: at once when already there. */
  private void execute(Runnable task) {
    if (kernel.inLoop()) {
      task.run();
    } else {
      kernel.execute(task); // dropped when the loop has stopped: its connection is gone
    }
  }

  private final class Conn implements KeyHandler {
    final SocketChannel ch;
    final InetSocketAddress remote;
    @Nullable SelectionKey key;
    final ByteBuffer length = ByteBuffer.allocate(2);
    @Nullable ByteBuffer body;
    final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
    int inFlight;
    long lastActivity;
    boolean eof;
    boolean closed;
    @Nullable Conn prev;
    @Nullable Conn next;

    Conn(SocketChannel ch, InetSocketAddress remote) {
      this.ch = ch;
      this.remote = remote;
    }

    @Override
    public void onReady(SelectionKey k) {
      if (k.isWritable()) {
        flush();
      }
      if (k.isValid() && k.isReadable()) {
        read();
      }
    }

    @Override
    public void onFailure(SelectionKey k, Throwable failure) {
      LOG.warn("DNS TCP connection from {} failed; closing it", remote, failure);
      close();
    }

    @Override
    public void keyReplaced(SelectionKey old, SelectionKey replacement) {
      key = replacement;
    }

    void read() {
      int messages = 0;
      try {
        // at most MAX_PENDING whole queries per wakeup, so one pipelining client cannot keep the
        // others waiting
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
            touch(this); // a whole query: partial ones do not count as activity
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
      responder
          .respond(message, message.length, remote, DnsTransport.TCP, 65535)
          .whenComplete(
              (reply, failure) ->
                  execute(() -> answered(reply == null ? Optional.empty() : reply)));
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
            touch(this);
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
      SelectionKey k = key;
      if (closed || k == null || !k.isValid()) {
        return;
      }
      int ops = 0;
      if (!eof && pending() < MAX_PENDING) {
        ops |= SelectionKey.OP_READ;
      }
      if (!out.isEmpty()) {
        ops |= SelectionKey.OP_WRITE;
      }
      if (k.interestOps() != ops) {
        k.interestOps(ops);
      }
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
      unlink(this);
      perClient.computeIfPresent(remote.getAddress(), (a, n) -> n <= 1 ? null : n - 1);
      body = null;
      out.clear();
      kernel.close(ch, key);
      key = null;
    }
  }
}
