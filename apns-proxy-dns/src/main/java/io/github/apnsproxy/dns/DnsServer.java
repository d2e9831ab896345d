// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.dns.internal.DnsTcpLoop;
import io.github.apnsproxy.dns.internal.Responses;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An embeddable DNS server over UDP and TCP hosting a {@link DnsAnswerHandler} chain through a
 * {@link DnsResponder}.
 *
 * <pre>{@code
 * try (DnsServer dns = DnsServer.builder()
 *     .listen(new InetSocketAddress("127.0.0.1", 0))
 *     .handler(DnsAnswerHandler.firstOf(PlanHostsHandler.builder(plan).build(),
 *         ZoneApexHandler.builder(plan).build(), DnsAnswerHandler.refusing()))
 *     .build().start()) {
 *   InetSocketAddress bound = dns.udpAddresses().get(0);
 *   ...
 * }
 * }</pre>
 *
 * <p>UDP: for each address, {@link Builder#threads} receiver threads, each with its own socket
 * bound with SO_REUSEPORT so the kernel spreads queries over them (one shared socket where the
 * option is missing). Receive buffers take 65535 bytes; only the received length is parsed. TCP:
 * one selector thread for every TCP address and connection (see {@link Builder#tcpIdleTimeout},
 * {@link Builder#maxTcpConnections}, {@link Builder#maxTcpConnectionsPerClient}); clients outside
 * the responder's policy are closed at accept. An address given to {@link Builder#listen} with port
 * 0 gets the same free port for UDP and TCP, so a truncated answer can be retried over TCP on the
 * port the client knows. Threads are named {@code apns-proxy-dns-udp-N} and {@code
 * apns-proxy-dns-tcp}.
 *
 * <p>Reconfiguring while running: {@link #update} swaps the handler chain and the policy atomically
 * (e.g. a new plan, new TTLs, a new allow-list) without closing a socket.
 */
public final class DnsServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DnsServer.class);
  private static final AtomicInteger SERVERS = new AtomicInteger();
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(2);

  private final List<InetSocketAddress> udpRequested;
  private final List<InetSocketAddress> tcpRequested;
  private final List<InetSocketAddress> sharedPort;
  private final DnsResponder responder;
  private final int threads;
  private final Duration tcpIdleTimeout;
  private final int maxTcpConnections;
  private final int maxTcpConnectionsPerClient;
  private final int id = SERVERS.incrementAndGet();

  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final List<DatagramChannel> udpChannels = new ArrayList<>();
  private final List<ServerSocketChannel> tcpChannels = new ArrayList<>();
  private final List<Thread> udpThreads = new CopyOnWriteArrayList<>();
  private volatile List<InetSocketAddress> udpBound = List.of();
  private volatile List<InetSocketAddress> tcpBound = List.of();
  private volatile @Nullable DnsTcpLoop tcpLoop;

  private DnsServer(Builder b, DnsResponder responder) {
    this.udpRequested = List.copyOf(b.udp);
    this.tcpRequested = List.copyOf(b.tcp);
    this.sharedPort = List.copyOf(b.both);
    this.responder = responder;
    this.threads = b.threads;
    this.tcpIdleTimeout = b.tcpIdleTimeout;
    this.maxTcpConnections = b.maxTcpConnections;
    this.maxTcpConnectionsPerClient = b.maxTcpConnectionsPerClient;
  }

  /**
   * A builder; a {@link Builder#responder} (or a {@link Builder#handler}) and at least one address
   * are required.
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Binds every address and starts the threads.
   *
   * @return this server
   * @throws IOException naming the address when one cannot be bound; nothing stays bound then
   * @throws IllegalStateException when called twice, or after {@link #close()}
   */
  public synchronized DnsServer start() throws IOException {
    if (closed.get()) {
      throw new IllegalStateException("DNS server closed (expected start() before close())");
    }
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("DNS server already started");
    }
    try {
      List<InetSocketAddress> udp = new ArrayList<>();
      List<InetSocketAddress> tcp = new ArrayList<>();
      for (InetSocketAddress a : udpRequested) {
        if (sharedPort.contains(a) && a.getPort() == 0) {
          InetSocketAddress port = bindBoth(a);
          udp.add(port);
          tcp.add(port);
        } else {
          udp.add(bindUdp(a));
        }
      }
      for (InetSocketAddress a : tcpRequested) {
        if (!(sharedPort.contains(a) && a.getPort() == 0)) {
          tcp.add(bindTcp(a, a));
        }
      }
      udpBound = List.copyOf(udp);
      tcpBound = List.copyOf(tcp);
      if (!tcpChannels.isEmpty()) {
        DnsTcpLoop loop =
            new DnsTcpLoop(
                tcpChannels,
                responder,
                tcpIdleTimeout,
                maxTcpConnections,
                maxTcpConnectionsPerClient,
                responder::allowsClient,
                responder::countDropped,
                "apns-proxy-dns-tcp" + suffix());
        tcpLoop = loop;
        loop.start();
      }
      int n = 0;
      for (DatagramChannel ch : udpChannels) {
        for (int i = 0; i < receiversPer(ch); i++) {
          Thread t = new Thread(() -> receive(ch), "apns-proxy-dns-udp-" + n++ + suffix());
          t.setDaemon(true);
          udpThreads.add(t);
          t.start();
        }
      }
      LOG.info("DNS server listening on UDP {} and TCP {}", udpBound, tcpBound);
      return this;
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  private String suffix() {
    return id == 1 ? "" : "-s" + id;
  }

  /**
   * Channels that share their socket with the other receivers get all of them; reuse-port channels
   * one each.
   */
  private int receiversPer(DatagramChannel ch) {
    return sharedSocket.contains(ch) ? threads : 1;
  }

  private final Set<DatagramChannel> sharedSocket = new LinkedHashSet<>();

  private InetSocketAddress bindBoth(InetSocketAddress requested) throws IOException {
    IOException last = null;
    for (int attempt = 0; attempt < 20; attempt++) {
      int before = udpChannels.size();
      InetSocketAddress bound = bindUdp(requested);
      try {
        bindTcp(bound, requested);
        return bound;
      } catch (IOException e) {
        last = e; // the port is free for UDP but taken for TCP: try another
        while (udpChannels.size() > before) {
          DatagramChannel ch = udpChannels.remove(udpChannels.size() - 1);
          sharedSocket.remove(ch);
          ch.close();
        }
      }
    }
    throw last;
  }

  private InetSocketAddress bindUdp(InetSocketAddress address) throws IOException {
    DatagramChannel first = DatagramChannel.open();
    boolean reusePort =
        threads > 1 && first.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT);
    try {
      if (reusePort) {
        first.setOption(StandardSocketOptions.SO_REUSEPORT, true);
      }
      first.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 20);
      first.bind(address);
    } catch (IOException e) {
      first.close();
      throw bindFailure("UDP", address, e);
    }
    udpChannels.add(first);
    InetSocketAddress bound = (InetSocketAddress) first.getLocalAddress();
    if (!reusePort) {
      sharedSocket.add(first);
      return bound;
    }
    for (int i = 1; i < threads; i++) {
      DatagramChannel ch = DatagramChannel.open();
      try {
        ch.setOption(StandardSocketOptions.SO_REUSEPORT, true);
        ch.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 20);
        ch.bind(bound);
      } catch (IOException e) {
        ch.close();
        throw bindFailure("UDP", bound, e);
      }
      udpChannels.add(ch);
    }
    return bound;
  }

  private InetSocketAddress bindTcp(InetSocketAddress address, InetSocketAddress requested)
      throws IOException {
    ServerSocketChannel ch = ServerSocketChannel.open();
    try {
      ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      ch.bind(address, 128);
    } catch (IOException e) {
      ch.close();
      throw bindFailure("TCP", requested.getPort() == 0 ? address : requested, e);
    }
    tcpChannels.add(ch);
    return (InetSocketAddress) ch.getLocalAddress();
  }

  private static IOException bindFailure(
      String transport, InetSocketAddress address, IOException e) {
    String message =
        "cannot listen for DNS over "
            + transport
            + " on "
            + format(address)
            + ": "
            + e.getMessage();
    BindException b = new BindException(message);
    b.initCause(e);
    return b;
  }

  private static String format(InetSocketAddress a) {
    String host = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  private void receive(DatagramChannel ch) {
    ByteBuffer buffer = ByteBuffer.allocate(65535);
    while (!closed.get()) {
      SocketAddress from;
      try {
        buffer.clear();
        from = ch.receive(buffer);
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (closed.get()) {
          return;
        }
        LOG.debug("DNS UDP receive failed: {}", e.getMessage());
        continue;
      }
      if (!(from instanceof InetSocketAddress client)) {
        continue;
      }
      try {
        byte[] query = Arrays.copyOf(buffer.array(), buffer.position());
        responder
            .respond(query, query.length, client, DnsTransport.UDP, 65535)
            .thenAccept(reply -> reply.ifPresent(r -> send(ch, r, client)));
      } catch (RuntimeException | Error e) {
        // never let one packet end a receiver
        LOG.warn("DNS UDP query from {} failed", client, e);
      }
    }
  }

  private static void send(DatagramChannel ch, byte[] reply, InetSocketAddress client) {
    try {
      ch.send(ByteBuffer.wrap(reply), client);
    } catch (IOException e) {
      LOG.debug("DNS UDP send to {} failed: {}", client, e.getMessage());
    }
  }

  /** The bound UDP addresses, real ports included, in the order given. */
  public List<InetSocketAddress> udpAddresses() {
    return udpBound;
  }

  /** The bound TCP addresses, real ports included, in the order given. */
  public List<InetSocketAddress> tcpAddresses() {
    return tcpBound;
  }

  /** The responder's counters, plus TCP connections refused at accept as dropped. */
  public DnsStats stats() {
    return responder.stats();
  }

  /**
   * Swaps the handler chain and the client policy at once, atomically ({@link
   * DnsResponder#update}): queries that arrive after this returns, over UDP and TCP, are answered
   * by {@code handler} and checked against {@code policy} ({@code null}: every client); open TCP
   * connections stay open and their next queries see the new ones, but the policy is checked at
   * accept for new TCP connections only. The listen addresses, threads and TCP limits are fixed at
   * build time. Any thread.
   */
  public void update(DnsAnswerHandler handler, @Nullable AddressPolicy policy) {
    responder.update(handler, policy);
  }

  /**
   * Like {@link #update(DnsAnswerHandler, AddressPolicy)}, also swapping what happens to queries of
   * clients outside {@code policy}: answered REFUSED or dropped ({@link DeniedClients}), for
   * queries that arrive after this returns ({@link DnsResponder#update(DnsAnswerHandler,
   * AddressPolicy, DeniedClients)}). Any thread.
   */
  public void update(
      DnsAnswerHandler handler, @Nullable AddressPolicy policy, DeniedClients denied) {
    responder.update(handler, policy, denied);
  }

  /** The wire-level responder this server runs. */
  public DnsResponder responder() {
    return responder;
  }

  /**
   * Whether the server is serving: started, not closed, the TCP loop running (it survives a failing
   * {@code select()} by rebuilding its selector and every failure of one connection; it stops only
   * when the JVM fails under it) and every UDP receiver running. For health checks; any thread.
   */
  public boolean isServing() {
    if (!started.get() || closed.get()) {
      return false;
    }
    DnsTcpLoop loop = tcpLoop;
    if (!tcpChannels.isEmpty() && (loop == null || !loop.isRunning())) {
      return false;
    }
    for (Thread t : udpThreads) {
      if (!t.isAlive()) {
        return false;
      }
    }
    return true;
  }

  /** For tests: the TCP loop's next {@code select()} fails, as a broken selector would. */
  void failNextTcpSelect() {
    DnsTcpLoop loop = tcpLoop;
    if (loop != null) {
      loop.failNextSelect();
    }
  }

  /** Selector rebuilds of the TCP loop since start; for tests. */
  int tcpSelectorRebuilds() {
    DnsTcpLoop loop = tcpLoop;
    return loop == null ? 0 : loop.selectorRebuilds();
  }

  /** Open DNS-over-TCP connections. */
  public int tcpConnections() {
    DnsTcpLoop loop = tcpLoop;
    return loop == null ? 0 : loop.connections();
  }

  /**
   * Closes every socket and stops every thread, waiting at most about two seconds per thread group.
   * Idempotent. Answers still being computed are not sent.
   */
  @Override
  public synchronized void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (DatagramChannel ch : udpChannels) {
      try {
        ch.close();
      } catch (IOException e) {
        LOG.debug("closing UDP socket", e);
      }
    }
    try {
      DnsTcpLoop loop = tcpLoop;
      if (loop != null) {
        loop.close(CLOSE_WAIT);
      }
      long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
      for (Thread t : udpThreads) {
        long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        t.join(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (ServerSocketChannel ch : tcpChannels) {
      try {
        ch.close();
      } catch (IOException e) {
        LOG.debug("closing TCP socket", e);
      }
    }
  }

  /** Builds a {@link DnsServer}. */
  public static final class Builder {
    private final Set<InetSocketAddress> udp = new LinkedHashSet<>();
    private final Set<InetSocketAddress> tcp = new LinkedHashSet<>();
    private final Set<InetSocketAddress> both = new LinkedHashSet<>();
    private @Nullable DnsResponder responder;
    private int threads = 2;
    private Duration tcpIdleTimeout = Duration.ofSeconds(10);
    private int maxTcpConnections = 256;
    private int maxTcpConnectionsPerClient = 64;

    private Builder() {}

    /** Adds UDP addresses (IPv4 or IPv6; port 0 for a free port). */
    public Builder udp(InetSocketAddress... addresses) {
      for (InetSocketAddress a : addresses) {
        udp.add(Objects.requireNonNull(a, "address"));
      }
      return this;
    }

    /** Adds TCP addresses (IPv4 or IPv6; port 0 for a free port). */
    public Builder tcp(InetSocketAddress... addresses) {
      for (InetSocketAddress a : addresses) {
        tcp.add(Objects.requireNonNull(a, "address"));
      }
      return this;
    }

    /** Adds addresses for both UDP and TCP; port 0 gives one free port used by both. */
    public Builder listen(InetSocketAddress... addresses) {
      udp(addresses);
      tcp(addresses);
      both.addAll(Arrays.asList(addresses));
      return this;
    }

    /**
     * The responder answering every query (with its handler chain, client policy, denied-client
     * behaviour and handler timeout); required, or {@link #handler}. Its policy's client list is
     * also checked at TCP accept.
     */
    public Builder responder(DnsResponder responder) {
      this.responder = Objects.requireNonNull(responder, "responder");
      return this;
    }

    /**
     * Shorthand for {@code responder(DnsResponder.builder(handler).build())}: a responder with its
     * defaults (every client answered, 5 s handler timeout).
     */
    public Builder handler(DnsAnswerHandler handler) {
      return responder(DnsResponder.builder(Objects.requireNonNull(handler, "handler")).build());
    }

    /** UDP receiver threads per address; default 2. */
    public Builder threads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("threads " + threads + " (expected 1 or more)");
      }
      this.threads = threads;
      return this;
    }

    /**
     * Close TCP connections idle (nothing read, written or pending) this long; default 10 s; 0 for
     * never.
     */
    public Builder tcpIdleTimeout(Duration timeout) {
      this.tcpIdleTimeout = Responses.nonNegative(timeout, "tcpIdleTimeout");
      return this;
    }

    /**
     * The most TCP connections at once; default 256. When the table is full, a newcomer makes room
     * by closing the longest-idle connection (RFC 7766 section 6.2.3); only when every connection
     * has a query being answered is the newcomer closed at once, counted as dropped.
     */
    public Builder maxTcpConnections(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxTcpConnections " + max + " (expected 1 or more)");
      }
      this.maxTcpConnections = max;
      return this;
    }

    /** The UDP addresses added so far (with {@code listen} or {@code udp}), in order. */
    public List<InetSocketAddress> udpAddresses() {
      return List.copyOf(udp);
    }

    /** The TCP addresses added so far (with {@code listen} or {@code tcp}), in order. */
    public List<InetSocketAddress> tcpAddresses() {
      return List.copyOf(tcp);
    }

    /** UDP receiver threads per address. */
    public int threads() {
      return threads;
    }

    /** The idle timeout of TCP connections; zero = never. */
    public Duration tcpIdleTimeout() {
      return tcpIdleTimeout;
    }

    /** The most TCP connections at once. */
    public int maxTcpConnections() {
      return maxTcpConnections;
    }

    /** The most TCP connections from one client address. */
    public int maxTcpConnectionsPerClient() {
      return maxTcpConnectionsPerClient;
    }

    /**
     * The most TCP connections one client address may hold at once; default 64 (a quarter of the
     * default table, and room for a resolver or a NAT with many devices behind it); 0 for no limit.
     * A newcomer over it closes that client's longest-idle connection; when all of them have a
     * query being answered, the newcomer is closed at once, counted as dropped.
     */
    public Builder maxTcpConnectionsPerClient(int max) {
      if (max < 0) {
        throw new IllegalArgumentException(
            "maxTcpConnectionsPerClient " + max + " (expected 0 or more)");
      }
      this.maxTcpConnectionsPerClient = max;
      return this;
    }

    /**
     * The server, not yet listening.
     *
     * @throws IllegalStateException when the responder or every address is missing
     */
    public DnsServer build() {
      DnsResponder r = responder;
      if (r == null) {
        throw new IllegalStateException(
            "DNS server without a responder (call responder(...) or handler(...))");
      }
      if (udp.isEmpty() && tcp.isEmpty()) {
        throw new IllegalStateException("DNS server without an address (call listen, udp or tcp)");
      }
      return new DnsServer(this, r);
    }
  }

  @Override
  public String toString() {
    return "DnsServer[udp=" + udpBound + ", tcp=" + tcpBound + "]";
  }
}
