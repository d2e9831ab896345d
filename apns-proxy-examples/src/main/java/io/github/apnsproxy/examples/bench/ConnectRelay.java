// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The {@code egress} figure's corporate proxy: an HTTP CONNECT relay (RFC 9110 section 9.3.6) in
 * the bench JVM, on loopback. It reads a {@code CONNECT host:port} request, resolves the host from
 * a fixed map (the bench's courier names: the proxy asks by name, as it does through a real proxy),
 * connects, answers {@code 200 Connection established} and then relays both ways with backpressure
 * (a direction reads again only once its last bytes were written) and half-close (an EOF from one
 * side becomes a shutdown of the output to the other). An unknown name gets {@code 502} and the
 * connection closes; a request for an IP address is served too (literal) but counted, as the proxy
 * must never send one. Not a general proxy: no authentication, no request other than CONNECT, no
 * timeouts.
 *
 * <p>Threading: one non-blocking selector thread, {@code apns-proxy-bench-relay}, owns every
 * channel and buffer; the counters and {@link #cpuSeconds()} may be read from any thread. In the
 * bench the thread inherits the bench JVM's pinning, so the relay's work runs on the load core.
 * {@link #close()} (idempotent; from the thread that started the relay) stops the thread and closes
 * every connection.
 */
final class ConnectRelay implements AutoCloseable {
  private static final int BUFFER = 64 * 1024;
  private static final int MAX_HEAD = 4096;
  private static final int MAX_POOLED = 512;

  /** Reads in one readiness event before the loop moves on (as the proxy does). */
  private static final int READS_PER_EVENT = 4;

  private static final byte[] ESTABLISHED =
      "HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BAD_GATEWAY =
      "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BAD_REQUEST =
      "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII);

  private final Map<String, InetAddress> hosts;
  private final Selector selector;
  private final ServerSocketChannel server;
  private final Thread thread;
  private final ArrayDeque<ByteBuffer> pool = new ArrayDeque<>(); // loop thread only
  private final AtomicLong tunnels = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong byAddress = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private volatile boolean closing;
  private volatile @Nullable Throwable failure;

  private ConnectRelay(Map<String, InetAddress> hosts, InetSocketAddress bind) throws IOException {
    this.hosts = Map.copyOf(hosts);
    this.selector = Selector.open();
    this.server = ServerSocketChannel.open();
    try {
      server.bind(bind, 4096);
      server.configureBlocking(false);
      server.register(selector, SelectionKey.OP_ACCEPT);
    } catch (IOException e) {
      server.close();
      selector.close();
      throw e;
    }
    this.thread = new Thread(this::loop, "apns-proxy-bench-relay");
    thread.setDaemon(true);
  }

  /**
   * Starts a relay on {@code bind} (port 0: a free port) resolving CONNECT targets with {@code
   * hosts} (lower-case names to addresses).
   */
  static ConnectRelay start(InetSocketAddress bind, Map<String, InetAddress> hosts)
      throws IOException {
    Objects.requireNonNull(bind, "bind");
    Objects.requireNonNull(hosts, "hosts");
    ConnectRelay r = new ConnectRelay(hosts, bind);
    r.thread.start();
    return r;
  }

  /** The bound address (real port). */
  InetSocketAddress address() {
    try {
      return (InetSocketAddress) server.getLocalAddress();
    } catch (IOException e) {
      throw new IllegalStateException("the relay's listener is closed", e);
    }
  }

  /** Tunnels established so far. */
  long tunnels() {
    return tunnels.get();
  }

  /** CONNECT requests refused so far (unknown name, bad request, upstream connect failed). */
  long refused() {
    return refused.get();
  }

  /** CONNECT requests that named an IP address instead of a host name. */
  long requestsByAddress() {
    return byAddress.get();
  }

  /** Bytes relayed so far, both directions, the 200 answers not included. */
  long bytesRelayed() {
    return bytes.get();
  }

  /**
   * The relay thread's CPU time so far (user + system), seconds; NaN when the JVM cannot measure
   * it.
   */
  double cpuSeconds() {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    long ns = mx.isThreadCpuTimeSupported() ? mx.getThreadCpuTime(thread.getId()) : -1;
    return ns < 0 ? Double.NaN : ns / 1e9;
  }

  /** Whether the relay thread is running (false after {@link #close()} or a failure). */
  boolean isRunning() {
    return thread.isAlive();
  }

  /** The error that stopped the relay thread, if one did. */
  @Nullable Throwable failure() {
    return failure;
  }

  @Override
  public void close() throws IOException {
    if (closing) {
      return; // idempotent
    }
    closing = true;
    selector.wakeup();
    try {
      thread.join(Duration.ofSeconds(10).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // the loop closed every channel on its way out; these are idempotent
    server.close();
    selector.close();
  }

  // ---------------------------------------------------------------------------------- loop thread

  private void loop() {
    try {
      while (!closing) {
        selector.select(this::ready, 1_000);
      }
    } catch (IOException | RuntimeException e) { // ClosedSelectorException too
      failure = e;
    } finally {
      try {
        for (SelectionKey k : selector.keys()) {
          k.channel().close();
        }
      } catch (IOException | ClosedSelectorException e) {
        // shutting down: a channel that does not close cleanly is released with the selector
      }
    }
  }

  private void ready(SelectionKey key) {
    Object a = key.attachment();
    if (a == null) {
      accept();
      return;
    }
    Conn c = (Conn) a;
    try {
      c.ready(key);
    } catch (IOException | RuntimeException e) {
      c.close(); // one broken connection, never the loop
    }
  }

  private void accept() {
    while (true) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        return; // e.g. out of descriptors: the next select tries again
      }
      if (ch == null) {
        return;
      }
      Conn c = new Conn(ch);
      try {
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        c.clientKey = ch.register(selector, SelectionKey.OP_READ, c);
      } catch (IOException e) {
        c.close();
      }
    }
  }

  private ByteBuffer take() {
    ByteBuffer b = pool.poll();
    return b != null ? b.clear() : ByteBuffer.allocateDirect(BUFFER);
  }

  private void give(@Nullable ByteBuffer b) {
    if (b != null && pool.size() < MAX_POOLED) {
      pool.push(b);
    }
  }

  /**
   * One direction of a tunnel: bytes read from {@code src} are written to {@code dst}; while some
   * are left unwritten, {@code src} is not read. Loop thread only.
   */
  private final class Flow {
    private final SocketChannel src;
    private @Nullable ByteBuffer buf; // null, or in read mode holding bytes not yet written
    private boolean eof; // src sent EOF
    private boolean shut; // dst's output is shut down

    Flow(SocketChannel src) {
      this.src = src;
    }

    boolean pending() {
      return buf != null && buf.hasRemaining();
    }

    /** Queues {@code b} to be written to dst before anything read later. */
    void queue(byte[] b, int off, int len) {
      ByteBuffer q = buf;
      if (q == null) {
        q = take();
        q.limit(0);
        buf = q;
      }
      q.compact().put(b, off, len).flip();
    }

    /** Reads and forwards until src has nothing more, dst is full, or the read budget is spent. */
    void read(SocketChannel to) throws IOException {
      ByteBuffer b = buf;
      if (b == null) {
        b = take();
        buf = b;
      }
      for (int i = 0; i < READS_PER_EVENT && !pending(); i++) {
        b.clear();
        int n = src.read(b);
        b.flip();
        if (n < 0) {
          eof = true;
          break;
        }
        bytes.addAndGet(n);
        to.write(b);
        if (n < b.capacity()) {
          break; // the socket had no more for now
        }
      }
      finishIfDone(to);
    }

    /** Writes what is left; shuts dst's output down once src's EOF has been forwarded. */
    void write(SocketChannel to) throws IOException {
      ByteBuffer b = buf;
      if (b != null && b.hasRemaining()) {
        to.write(b);
      }
      finishIfDone(to);
    }

    private void finishIfDone(SocketChannel to) throws IOException {
      if (eof && !pending() && !shut) {
        shut = true;
        to.shutdownOutput();
      }
    }

    void release() {
      give(buf);
      buf = null;
    }
  }

  /** One CONNECT connection: the request head, then the tunnel. Loop thread only. */
  private final class Conn {
    private final SocketChannel client;
    private @Nullable SocketChannel upstream;
    private @Nullable SelectionKey clientKey;
    private @Nullable SelectionKey upstreamKey;
    private byte @Nullable [] head = new byte[MAX_HEAD]; // the request head; null once parsed
    private int headLength;
    private @Nullable ByteBuffer answer; // an error answer being written: close when it is out
    private final Flow up; // client -> upstream
    private @Nullable Flow down; // upstream -> client, once connecting
    private boolean closed;

    Conn(SocketChannel client) {
      this.client = client;
      this.up = new Flow(client);
    }

    void ready(SelectionKey key) throws IOException {
      if (closed) {
        return;
      }
      if (key == clientKey) {
        if (answer != null) {
          if (key.isWritable()) {
            writeAnswer();
          }
          return;
        }
        if (head != null) {
          if (key.isReadable()) {
            readHead();
          }
          return;
        }
        SocketChannel u = Objects.requireNonNull(upstream, "upstream");
        Flow d = Objects.requireNonNull(down, "down");
        if (key.isWritable()) {
          d.write(client);
        }
        if (key.isReadable() && !up.pending() && !up.eof) {
          up.read(u);
        }
      } else {
        SocketChannel u = Objects.requireNonNull(upstream, "upstream");
        Flow d = Objects.requireNonNull(down, "down");
        if (key.isConnectable()) {
          connected(u, d);
          return;
        }
        if (key.isWritable()) {
          up.write(u);
        }
        if (key.isReadable() && !d.pending() && !d.eof) {
          d.read(client);
        }
      }
      afterIo();
    }

    private void readHead() throws IOException {
      byte[] h = Objects.requireNonNull(head, "head");
      int n = client.read(ByteBuffer.wrap(h, headLength, h.length - headLength));
      if (n < 0) {
        close();
        return;
      }
      headLength += n;
      int end = headEnd(h, headLength);
      if (end < 0) {
        if (headLength == h.length) {
          refuse(BAD_REQUEST);
        }
        return;
      }
      String text = new String(h, 0, end, StandardCharsets.ISO_8859_1);
      int eol = text.indexOf("\r\n");
      String[] parts = (eol < 0 ? text : text.substring(0, eol)).split(" ", -1);
      boolean connect = parts.length == 3 && parts[0].equals("CONNECT");
      InetSocketAddress target = connect ? target(parts[1]) : null;
      if (target == null) {
        refuse(connect ? BAD_GATEWAY : BAD_REQUEST);
        return;
      }
      // bytes after the head belong to the tunnel (the client may send before the 200)
      up.queue(h, end + 4, headLength - end - 4);
      bytes.addAndGet(headLength - end - 4);
      head = null;
      SocketChannel u = SocketChannel.open();
      Flow d = new Flow(u);
      upstream = u;
      down = d;
      u.configureBlocking(false);
      u.setOption(StandardSocketOptions.TCP_NODELAY, true);
      Objects.requireNonNull(clientKey, "clientKey").interestOps(0); // until the tunnel is up
      boolean now;
      try {
        now = u.connect(target);
      } catch (IOException e) {
        refuse(BAD_GATEWAY);
        return;
      }
      upstreamKey = u.register(selector, now ? 0 : SelectionKey.OP_CONNECT, this);
      if (now) {
        connected(u, d);
      }
    }

    /**
     * The upstream for {@code authority} ({@code host:port}), counting requests by address; null
     * when the name is unknown or the authority malformed (counted as refused by the caller).
     */
    private @Nullable InetSocketAddress target(String authority) {
      int colon = authority.lastIndexOf(':');
      if (colon <= 0) {
        return null;
      }
      String host = authority.substring(0, colon);
      int port;
      try {
        port = Integer.parseInt(authority.substring(colon + 1));
      } catch (NumberFormatException e) {
        return null;
      }
      if (port < 1 || port > 65535) {
        return null;
      }
      if (host.startsWith("[") || host.matches("[0-9.]+")) {
        byAddress.incrementAndGet();
        try {
          String literal = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
          return new InetSocketAddress(InetAddress.getByName(literal), port); // a literal: no DNS
        } catch (IOException | RuntimeException e) {
          return null;
        }
      }
      InetAddress a = hosts.get(host.toLowerCase(Locale.ROOT));
      return a == null ? null : new InetSocketAddress(a, port);
    }

    private void connected(SocketChannel u, Flow d) throws IOException {
      try {
        u.finishConnect();
      } catch (IOException e) {
        refuse(BAD_GATEWAY);
        return;
      }
      tunnels.incrementAndGet();
      d.queue(ESTABLISHED, 0, ESTABLISHED.length);
      d.write(client);
      up.write(u);
      afterIo();
    }

    /** Answers {@code response} and closes once it is written. */
    private void refuse(byte[] response) throws IOException {
      refused.incrementAndGet();
      SocketChannel u = upstream;
      if (u != null) {
        closeQuietly(u); // a failed connect: its key must not fire again
      }
      head = null;
      answer = ByteBuffer.wrap(response);
      writeAnswer();
    }

    private void writeAnswer() throws IOException {
      ByteBuffer a = Objects.requireNonNull(answer, "answer");
      client.write(a);
      if (a.hasRemaining()) {
        Objects.requireNonNull(clientKey, "clientKey").interestOps(SelectionKey.OP_WRITE);
      } else {
        close();
      }
    }

    /** Sets interest from the flows' state; closes when both directions are done. */
    private void afterIo() {
      if (closed) {
        return;
      }
      Flow d = Objects.requireNonNull(down, "down");
      if (up.shut && d.shut) {
        close();
        return;
      }
      SelectionKey ck = Objects.requireNonNull(clientKey, "clientKey");
      SelectionKey uk = Objects.requireNonNull(upstreamKey, "upstreamKey");
      int c =
          (up.pending() || up.eof ? 0 : SelectionKey.OP_READ)
              | (d.pending() ? SelectionKey.OP_WRITE : 0);
      int u =
          (d.pending() || d.eof ? 0 : SelectionKey.OP_READ)
              | (up.pending() ? SelectionKey.OP_WRITE : 0);
      if (ck.interestOps() != c) {
        ck.interestOps(c);
      }
      if (uk.interestOps() != u) {
        uk.interestOps(u);
      }
    }

    void close() {
      if (closed) {
        return;
      }
      closed = true;
      up.release();
      Flow d = down;
      if (d != null) {
        d.release();
      }
      closeQuietly(client);
      SocketChannel u = upstream;
      if (u != null) {
        closeQuietly(u);
      }
    }
  }

  /** The index of the {@code \r\n\r\n} ending a request head in {@code a[0..length)}, or -1. */
  private static int headEnd(byte[] a, int length) {
    for (int i = 0; i + 3 < length; i++) {
      if (a[i] == '\r' && a[i + 1] == '\n' && a[i + 2] == '\r' && a[i + 3] == '\n') {
        return i;
      }
    }
    return -1;
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // closing a loopback socket: nothing left to do with it either way
    }
  }
}
