// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.tcp.internal.Engine;
import io.github.apnsproxy.tcp.internal.Settings;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A non-blocking TCP splicer: accepts client connections on the listen addresses, asks the {@link
 * Router} where each goes, connects to the upstream (trying the candidates in order, with a connect
 * timeout) and relays bytes both ways untouched, with backpressure, half-close, reset propagation,
 * idle timeouts and connection limits.
 *
 * <p>Lifecycle: {@link #builder()} ... {@link Builder#build()}, then {@link #start()} once, then
 * {@link #close()} or {@link #close(Duration)}. Threading: the splicer runs {@code loops} selector
 * threads named {@code apns-proxy-tcp-loop-N} (daemon threads); both channels of a connection live
 * on one loop and only that thread touches them. All public methods are thread-safe, but {@code
 * close} must not be called from a listener or router callback (it waits for the loop threads; use
 * {@link #closeAsync} there). Memory: a connection holds a buffer only while a peer cannot take
 * bytes; at most one buffer ({@code bufferSize}) per direction.
 *
 * <p>Reconfiguring while running: {@link #update} swaps the router and the policy (and, in its
 * four-argument form, the egress) atomically, {@link #egress} swaps how upstreams are reached,
 * {@link #proxyProtocol} the PROXY protocol mode and its trusted balancers, {@link #limits} changes
 * the connection limits, {@link #door} the front door of bound listeners, {@link #addListeners} and
 * {@link #removeListeners} change where it accepts; each applies to connections accepted (or, for
 * the router and the egress, whose route stage starts) afterwards, and live splices are never
 * touched (a connection accepted on a listener that is removed stays until it ends). Every swap
 * publishes one immutable snapshot that a loop reads once per connection: no lock on the loops'
 * path. The other options are fixed at build time.
 */
public final class TcpSplicer implements AutoCloseable {
  private final Engine engine;
  private final @Nullable ExplicitProxy explicit;

  /** The router as last given (without the explicit proxy's wrapping), for {@link #router()}. */
  private volatile Router router;

  private TcpSplicer(Settings settings, Router given, @Nullable ExplicitProxy explicit) {
    this.engine = new Engine(settings);
    this.engine.routerChanged(given); // the plan, also when the explicit doors wrap the router
    this.router = given;
    this.explicit = explicit;
  }

  /** A builder with the defaults documented on each method. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Binds every listen address and starts the loops.
   *
   * @throws IOException naming the address that could not be bound; nothing stays open then
   * @throws IllegalStateException when already started or closed
   */
  public void start() throws IOException {
    engine.start();
  }

  /**
   * The bound listen addresses with their real ports (port 0 resolved), in listen order; empty
   * before start.
   */
  public List<InetSocketAddress> boundAddresses() {
    return engine.boundAddresses();
  }

  /**
   * Whether the splicer is serving: started, not closed, and every selector loop running. A loop
   * survives a failing {@code select()} (it rebuilds its selector) and every failure of one
   * connection; it stops only when the JVM fails under it (out of memory, an internal error), and
   * the splicer is then degraded. For health checks; any thread.
   */
  public boolean isServing() {
    return engine.isServing();
  }

  /**
   * Swaps the router and the policy at once, atomically: every connection accepted after this
   * returns is checked against {@code policy} and routed by {@code router}; connections already
   * routed or splicing keep what they have (a live splice is never touched), and one still in its
   * preface stage is routed by the new router. With CONNECT or SOCKS5 listeners, {@code router}
   * routes their connections through {@link ExplicitProxy#router} as at build. Any thread; the old
   * router is no longer called for new connections once this returns.
   */
  public void update(Router router, AddressPolicy policy) {
    Objects.requireNonNull(router, "router");
    Objects.requireNonNull(policy, "policy");
    synchronized (engine) {
      engine.routerChanged(router);
      engine.update(engine.live().with(wrap(router), policy));
      this.router = router;
    }
  }

  /**
   * Swaps the router, the policy and the egress in one step, atomically (what a reload of {@code
   * upstream.proxy} needs: {@link Router#fromPlan(io.github.apnsproxy.core.AddressPlan,
   * io.github.apnsproxy.core.UpstreamResolver, AddressPolicy, Egress)} leaves to the proxies the
   * names they resolve, so router and egress must change together). A connection takes the router
   * and the egress of one snapshot when its route stage starts, and keeps that egress through its
   * connect stage; live splices are never touched. The host names of new egress proxies are
   * resolved before this returns (it may block on the system resolver). Any thread but a listener
   * or router callback.
   */
  public void update(Router router, AddressPolicy policy, Egress egress, AddressFamily family) {
    Objects.requireNonNull(router, "router");
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(egress, "egress");
    Objects.requireNonNull(family, "family");
    engine.resolveProxies(egress); // before the lock: stats and health readers never wait on DNS
    synchronized (engine) {
      engine.routerChanged(router);
      engine.update(engine.live().with(wrap(router), policy).withEgress(egress, family));
      this.router = router;
    }
  }

  /**
   * Swaps how upstream hosts are reached ({@link Builder#egress}, {@link Builder#family}) for
   * connections whose route stage starts after this returns; a connection already connecting
   * finishes with the egress it started with, and live splices are never touched. With the stock
   * router made for an egress ({@link Router#fromPlan(io.github.apnsproxy.core.AddressPlan,
   * io.github.apnsproxy.core.UpstreamResolver, AddressPolicy, Egress)}), use {@link #update(Router,
   * AddressPolicy, Egress, AddressFamily)} instead so router and egress agree. The host names of
   * new proxies are resolved before this returns (it may block on the system resolver). Any thread
   * but a listener or router callback.
   */
  public void egress(Egress egress, AddressFamily family) {
    Objects.requireNonNull(egress, "egress");
    Objects.requireNonNull(family, "family");
    engine.resolveProxies(egress);
    synchronized (engine) {
      engine.update(engine.live().withEgress(egress, family));
    }
  }

  /** The egress connections whose route stage starts now use. */
  public Egress egress() {
    return engine.live().egress();
  }

  /** The address family direct egress applies now. */
  public AddressFamily family() {
    return engine.live().family();
  }

  /**
   * Swaps the PROXY protocol mode and its trusted balancers ({@link Builder#proxyProtocol}) for
   * connections accepted after this returns; one accepted before reads (or does not read) its
   * header as it was accepted. Any thread.
   *
   * @throws IllegalArgumentException as {@link Builder#proxyProtocol}; nothing changes then
   */
  public void proxyProtocol(ProxyProtocol mode, CidrSet from) {
    checkProxyProtocol(mode, from);
    synchronized (engine) {
      engine.update(engine.live().withProxyProtocol(mode, from));
    }
  }

  /** The PROXY protocol mode connections accepted now are read with. */
  public ProxyProtocol proxyProtocol() {
    return engine.live().proxyProtocol();
  }

  /**
   * Sets the front door of bound listeners (addresses as {@link #boundAddresses()} lists them)
   * without rebinding them: {@code door} reads the preface of connections they accept from now on
   * ({@code null}: none, routed by the dialled address, as {@link Builder#listen(List)}).
   * Connections already accepted keep the door they were accepted with; live splices are never
   * touched. Any thread.
   *
   * @throws IllegalArgumentException naming an address that is not listened on, or when {@code
   *     door} takes prefaces larger than the buffer size; nothing changes then
   * @throws IllegalStateException when not started or closed
   */
  public void door(List<InetSocketAddress> addresses, @Nullable FrontDoor door) {
    engine.door(checkListen(addresses), door);
  }

  /** The front door of the bound listener {@code address}; empty when it has none. */
  public java.util.Optional<FrontDoor> door(InetSocketAddress address) {
    return java.util.Optional.ofNullable(engine.door(Objects.requireNonNull(address, "address")));
  }

  private Router wrap(Router r) {
    return explicit == null ? r : explicit.router(r);
  }

  /**
   * Changes the connection limits ({@link Builder#maxConnections}, {@link
   * Builder#maxConnectionsPerClient}) for connections accepted from now on; live connections above
   * a lowered limit stay. Any thread.
   */
  public void limits(int maxConnections, int maxConnectionsPerClient) {
    checkLimits(maxConnections, maxConnectionsPerClient);
    synchronized (engine) {
      engine.update(engine.live().withLimits(maxConnections, maxConnectionsPerClient));
    }
  }

  /**
   * The router new connections are routed by (the builder's, or the last {@link #update}'s), as
   * given (with CONNECT or SOCKS5 listeners, the explicit proxy's wrapping is not shown).
   */
  public Router router() {
    return router;
  }

  /**
   * The policy new connections are checked against (the builder's, or the last {@link #update}'s).
   */
  public AddressPolicy policy() {
    return engine.live().policy();
  }

  /**
   * Starts listening on more addresses while running, routed by their dialled address (as {@link
   * Builder#listen}): binds them all or none, then accepts on them. Any thread but a listener or
   * router callback.
   *
   * @return the bound addresses (port 0 resolved), in order
   * @throws IOException naming the address that could not be bound; none of them is then open
   * @throws IllegalArgumentException when already listening on one of them
   * @throws IllegalStateException when not started or closed
   */
  public List<InetSocketAddress> addListeners(List<InetSocketAddress> addresses)
      throws IOException {
    return engine.addListeners(checkListen(addresses), null);
  }

  /**
   * Like {@link #addListeners(List)}, with {@code door}'s preface stage (as {@link
   * Builder#listen(List, FrontDoor)}).
   */
  public List<InetSocketAddress> addListeners(List<InetSocketAddress> addresses, FrontDoor door)
      throws IOException {
    return engine.addListeners(checkListen(addresses), Objects.requireNonNull(door, "door"));
  }

  /**
   * Stops accepting on some bound addresses (as {@link #boundAddresses()} lists them) and closes
   * their listeners. Connections accepted on them go on untouched until they end; clients still in
   * the kernel's backlog are reset. Any thread but a listener or router callback.
   *
   * @throws IllegalArgumentException naming an address that is not listened on; nothing changes
   *     then
   * @throws IllegalStateException when not started or closed
   */
  public void removeListeners(List<InetSocketAddress> addresses) {
    engine.removeListeners(List.copyOf(addresses));
  }

  private static List<InetSocketAddress> checkListen(List<InetSocketAddress> addresses) {
    for (InetSocketAddress a : Objects.requireNonNull(addresses, "addresses")) {
      Objects.requireNonNull(a, "address");
      if (a.isUnresolved()) {
        throw new IllegalArgumentException(
            "listen address " + a + " is unresolved (expected an IP address)");
      }
    }
    return List.copyOf(addresses);
  }

  static void checkProxyProtocol(ProxyProtocol mode, CidrSet from) {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(from, "from");
    if (mode != ProxyProtocol.OFF && from.isEmpty()) {
      throw new IllegalArgumentException(
          "proxy protocol "
              + mode
              + " without trusted balancers (expected the"
              + " balancers' CIDRs in tcp.proxy-protocol-from)");
    }
    if (mode == ProxyProtocol.OFF && !from.isEmpty()) {
      throw new IllegalArgumentException(
          "trusted balancers "
              + from
              + " with proxy protocol off (expected"
              + " tcp.proxy-protocol=v1, v2 or any)");
    }
  }

  static void checkLimits(int maxConnections, int maxConnectionsPerClient) {
    if (maxConnections < 1) {
      throw new IllegalArgumentException(
          "max connections " + maxConnections + " (expected 1 or more)");
    }
    if (maxConnectionsPerClient < 0) {
      throw new IllegalArgumentException(
          "max connections per client " + maxConnectionsPerClient + " (expected 0 or more)");
    }
  }

  /** A snapshot of the counters; cheap, callable from any thread. */
  public SpliceStats stats() {
    return engine.stats();
  }

  /** For tests: the next {@code select()} of every loop fails, as a broken selector would. */
  void failNextSelect() {
    engine.failNextSelect();
  }

  /** Selector rebuilds over all loops since start; for tests. */
  int selectorRebuilds() {
    return engine.selectorRebuilds();
  }

  /**
   * Bytes held by connections waiting for their preface (front doors, PROXY protocol), over all
   * loops; at most the {@code prefaceBudget}. 0 when no connection is in its preface stage.
   */
  public long prefaceBytes() {
    return engine.prefaceBytes();
  }

  /** Valid selector keys over all loops, listeners included; for tests. */
  int registeredKeys() {
    return engine.registeredKeys();
  }

  /**
   * Closes at once: stops accepting and closes every connection ({@link CloseReason#SHUTDOWN}).
   * Idempotent.
   */
  @Override
  public void close() {
    engine.close(Duration.ZERO);
  }

  /**
   * Closes gracefully: stops accepting, lets live connections finish for up to {@code drain}, then
   * closes the rest ({@link CloseReason#SHUTDOWN}) and stops the loops. Idempotent; returns within
   * {@code drain} plus a few seconds. An interrupt while waiting cuts the drain short (the
   * interrupt status is kept).
   *
   * @throws IllegalStateException when called on a loop thread (from a listener or router
   *     callback): use {@link #closeAsync} there
   */
  public void close(Duration drain) {
    engine.close(Objects.requireNonNull(drain, "drain"));
  }

  /**
   * Closes gracefully like {@link #close(Duration)}, without waiting: the work runs on a thread
   * named {@code apns-proxy-tcp-close}, and the future completes (on that thread) once every loop
   * has stopped. Callable from any thread, a listener or router callback included. Idempotent:
   * later calls return the same future, whatever their {@code drain}.
   */
  public CompletableFuture<Void> closeAsync(Duration drain) {
    return engine.closeAsync(Objects.requireNonNull(drain, "drain"));
  }

  /**
   * Builds a {@link TcpSplicer}; each option is checked when set, the whole in {@link #build()}.
   * Not thread-safe.
   */
  public static final class Builder {
    private final List<InetSocketAddress> listen = new ArrayList<>();
    private final List<@Nullable FrontDoor> doors = new ArrayList<>();
    private Duration prefaceTimeout = Duration.ofSeconds(10);
    private long prefaceBudget = 64L * 1024 * 1024;
    private ProxyProtocol proxyProtocol = ProxyProtocol.OFF;
    private CidrSet proxyProtocolFrom = CidrSet.none();
    private @Nullable Router router;
    private @Nullable ExplicitProxy explicit;
    private AddressPolicy policy = new AddressPolicy(CidrSet.any(), CidrSet.any());
    private int loops = Runtime.getRuntime().availableProcessors();
    private Duration connectTimeout = Duration.ofSeconds(5);
    private Duration idleTimeout = Duration.ofHours(1);
    private Duration routeTimeout = Duration.ofSeconds(10);
    private int maxConnections = 50_000;
    private int maxConnectionsPerClient;
    private int bufferSize = 64 * 1024;
    private Duration keepAliveIdle = Duration.ofMinutes(5);
    private Duration keepAliveInterval = Duration.ofSeconds(30);
    private boolean reusePort;
    private SpliceListener listener = new SpliceListener() {};
    private Egress egress = Egress.direct();
    private AddressFamily family = AddressFamily.ANY;
    private CidrSet neverConnectTo = CidrSet.none();
    private Duration failedUpstreamMemory = Duration.ofSeconds(30);

    private Builder() {}

    /**
     * Adds listen addresses (a virtual address each, or one wildcard address); port 0 picks a free
     * port. Their connections are routed by the dialled address, with no preface stage (unless
     * PROXY protocol is on).
     */
    public Builder listen(List<InetSocketAddress> addresses) {
      return add(addresses, null);
    }

    /**
     * Adds listen addresses whose connections first go through {@code door}'s preface stage (a TLS
     * ClientHello, an HTTP CONNECT or SOCKS5 request) and are then routed with what it found in
     * {@link InboundConnection#preface()}.
     */
    public Builder listen(List<InetSocketAddress> addresses, FrontDoor door) {
      return add(addresses, Objects.requireNonNull(door, "door"));
    }

    /**
     * Adds HTTP CONNECT listeners of {@code proxy} (config key {@code connect.listen}); the router
     * is then wrapped with {@link ExplicitProxy#router(Router)} so their requests go to the target
     * they name.
     */
    public Builder connectListen(List<InetSocketAddress> addresses, ExplicitProxy proxy) {
      explicitProxy(proxy);
      return listen(addresses, proxy.httpConnect());
    }

    /**
     * Adds SOCKS5 listeners of {@code proxy} (config key {@code socks.listen}); see {@link
     * #connectListen}.
     */
    public Builder socksListen(List<InetSocketAddress> addresses, ExplicitProxy proxy) {
      explicitProxy(proxy);
      return listen(addresses, proxy.socks5());
    }

    private void explicitProxy(ExplicitProxy proxy) {
      Objects.requireNonNull(proxy, "proxy");
      if (explicit != null && explicit != proxy) {
        throw new IllegalArgumentException(
            "a second ExplicitProxy (expected one for every CONNECT and SOCKS5" + " listener)");
      }
      explicit = proxy;
    }

    private Builder add(List<InetSocketAddress> addresses, @Nullable FrontDoor door) {
      for (InetSocketAddress a : Objects.requireNonNull(addresses, "addresses")) {
        Objects.requireNonNull(a, "address");
        if (a.isUnresolved()) {
          throw new IllegalArgumentException(
              "listen address " + a + " is unresolved (expected an IP address)");
        }
        listen.add(a);
        doors.add(door);
      }
      return this;
    }

    /**
     * How long a connection may take to complete its preface (a ClientHello, a proxy request, a
     * PROXY protocol header) on listeners that read one; default 10 s (config key {@code
     * tcp.preface-timeout}).
     */
    public Builder prefaceTimeout(Duration timeout) {
      this.prefaceTimeout = positive(timeout, "preface timeout");
      return this;
    }

    /**
     * The most bytes all connections waiting for their preface may hold together, over all loops
     * (split evenly between them); default 64 MiB. A connection whose next read would take its loop
     * past its share is closed ({@link RejectReason#PREFACE_BUDGET}): under a flood of slow
     * prefaces newcomers are refused, memory stays bounded. Connections without a preface stage
     * never count.
     */
    public Builder prefaceBudget(long bytes) {
      if (bytes < 64 * 1024) {
        throw new IllegalArgumentException(
            "preface budget " + bytes + " bytes (expected at least 65536)");
      }
      this.prefaceBudget = bytes;
      return this;
    }

    /**
     * Requires a PROXY protocol header on every listener, accepted only from peers in {@code from}
     * (the trusted balancers); its source address then stands for the client (policy, per-client
     * limit, listener, logs) and its destination for the dialled address. A connection from
     * elsewhere, or with a missing or malformed header, is closed ({@link
     * RejectReason#PROXY_HEADER}); a v2 LOCAL header (a health check) is closed as {@link
     * CloseReason#ANSWERED}. Default {@link ProxyProtocol#OFF} (config keys {@code
     * tcp.proxy-protocol} and {@code tcp.proxy-protocol-from}, set together).
     *
     * @throws IllegalArgumentException when {@code mode} is not OFF and {@code from} is empty, or
     *     OFF with a non-empty {@code from}
     */
    public Builder proxyProtocol(ProxyProtocol mode, CidrSet from) {
      checkProxyProtocol(mode, from);
      this.proxyProtocol = mode;
      this.proxyProtocolFrom = from;
      return this;
    }

    /** Adds listen addresses. */
    public Builder listen(InetSocketAddress... addresses) {
      return listen(List.of(addresses));
    }

    /** The router deciding where each connection goes; required. See {@link Router#fromPlan}. */
    public Builder router(Router router) {
      this.router = Objects.requireNonNull(router, "router");
      return this;
    }

    /** The policy whose client list is checked at accept; default: every client. */
    public Builder policy(AddressPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** The number of selector loops (threads); default the number of available processors. */
    public Builder loops(int loops) {
      if (loops < 1 || loops > 1024) {
        throw new IllegalArgumentException("loops " + loops + " (expected 1..1024)");
      }
      this.loops = loops;
      return this;
    }

    /** The timeout of each upstream connection attempt; default 5 s. */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = positive(timeout, "connect timeout");
      return this;
    }

    /**
     * Closes a connection after this long without a byte either way; default 1 h, {@link
     * Duration#ZERO} = off.
     */
    public Builder idleTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative()) {
        throw new IllegalArgumentException(
            "idle timeout " + timeout + " (expected zero or positive)");
      }
      this.idleTimeout = timeout;
      return this;
    }

    /** How long the router may take for one connection; default 10 s. */
    public Builder routeTimeout(Duration timeout) {
      this.routeTimeout = positive(timeout, "route timeout");
      return this;
    }

    /**
     * The maximum number of concurrent connections; excess ones are accepted and closed; default
     * 50,000.
     */
    public Builder maxConnections(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("max connections " + max + " (expected 1 or more)");
      }
      this.maxConnections = max;
      return this;
    }

    /** The maximum number of concurrent connections per client address; default 0 = unlimited. */
    public Builder maxConnectionsPerClient(int max) {
      if (max < 0) {
        throw new IllegalArgumentException(
            "max connections per client " + max + " (expected 0 or more)");
      }
      this.maxConnectionsPerClient = max;
      return this;
    }

    /** The size of the per-loop read buffer and of each pooled pending buffer; default 64 KiB. */
    public Builder bufferSize(int bytes) {
      if (bytes < 1024 || bytes > 16 * 1024 * 1024) {
        throw new IllegalArgumentException("buffer size " + bytes + " (expected 1024..16777216)");
      }
      this.bufferSize = bytes;
      return this;
    }

    /**
     * TCP keepalive timing on both legs where the platform supports it (whole seconds, 1 s to 32767
     * s, the Linux limits); default 5 min idle, 30 s interval. SO_KEEPALIVE itself is always on.
     */
    public Builder keepAlive(Duration idle, Duration interval) {
      positive(idle, "keepalive idle");
      positive(interval, "keepalive interval");
      for (Duration d : new Duration[] {idle, interval}) {
        if (d.getSeconds() < 1 || d.getSeconds() > 32_767 || d.getNano() != 0) {
          throw new IllegalArgumentException(
              "keepalive "
                  + idle
                  + "/"
                  + interval
                  + " (expected whole seconds from 1 s to 32767 s)");
        }
      }
      // stored only once both are valid: a refused call leaves the builder as it was
      this.keepAliveIdle = idle;
      this.keepAliveInterval = interval;
      return this;
    }

    /**
     * Whether to set SO_REUSEPORT on the listeners (so several processes can share a port); default
     * false.
     */
    public Builder reusePort(boolean reusePort) {
      this.reusePort = reusePort;
      return this;
    }

    /** The listener for connection events; default none. */
    public Builder listener(SpliceListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** The listen addresses added so far, in order. */
    public List<InetSocketAddress> listen() {
      return List.copyOf(listen);
    }

    /** The client policy set (or the default, every client). */
    public AddressPolicy policy() {
      return policy;
    }

    /** The number of selector loops. */
    public int loops() {
      return loops;
    }

    /** The upstream connect timeout. */
    public Duration connectTimeout() {
      return connectTimeout;
    }

    /** The idle timeout; zero = off. */
    public Duration idleTimeout() {
      return idleTimeout;
    }

    /** The route timeout. */
    public Duration routeTimeout() {
      return routeTimeout;
    }

    /** The maximum number of concurrent connections. */
    public int maxConnections() {
      return maxConnections;
    }

    /** The maximum number of concurrent connections per client address; 0 = unlimited. */
    public int maxConnectionsPerClient() {
      return maxConnectionsPerClient;
    }

    /** The size of the read buffer and of each pooled buffer, in bytes. */
    public int bufferSize() {
      return bufferSize;
    }

    /** The TCP keepalive idle time. */
    public Duration keepAliveIdle() {
      return keepAliveIdle;
    }

    /** The TCP keepalive probe interval. */
    public Duration keepAliveInterval() {
      return keepAliveInterval;
    }

    /** Whether SO_REUSEPORT is set on the listeners. */
    public boolean reusePort() {
      return reusePort;
    }

    /** The preface timeout. */
    public Duration prefaceTimeout() {
      return prefaceTimeout;
    }

    /** The PROXY protocol header required on every listener ({@link ProxyProtocol#OFF}: none). */
    public ProxyProtocol proxyProtocol() {
      return proxyProtocol;
    }

    /** The peers a PROXY protocol header is accepted from (empty when it is off). */
    public CidrSet proxyProtocolFrom() {
      return proxyProtocolFrom;
    }

    /** How upstream hosts are reached. */
    public Egress egress() {
      return egress;
    }

    /** Which resolved addresses direct egress tries, in which order. */
    public AddressFamily family() {
      return family;
    }

    /**
     * How upstream hosts are reached; default {@link Egress#direct()}. Through proxies, each
     * connection's upstream leg connects to the first proxy, asks it for the route's host name and
     * port ({@code CONNECT host:port} or SOCKS5 with a domain name), waits for its answer within
     * the {@link #connectTimeout connect timeout} (one budget for connect and answer, per proxy),
     * then splices; a proxy that refuses the connection, times out, answers 5xx or a SOCKS failure
     * is skipped for the next one, and so is one that refuses on configuration grounds (403, 407,
     * SOCKS "not allowed" or authentication), which is also logged at WARN once a minute and
     * counted ({@link SpliceStats#egressProxyRefusals()}). Applies to every route whatever the
     * router: use {@link Router#fromPlan(io.github.apnsproxy.core.AddressPlan,
     * io.github.apnsproxy.core.UpstreamResolver, AddressPolicy, Egress)} with the same egress so
     * that names the proxy resolves are not resolved here.
     */
    public Builder egress(Egress egress) {
      this.egress = Objects.requireNonNull(egress, "egress");
      return this;
    }

    /**
     * Which resolved addresses direct egress tries, in which order; default {@link
     * AddressFamily#ANY}.
     */
    public Builder family(AddressFamily family) {
      this.family = Objects.requireNonNull(family, "family");
      return this;
    }

    /**
     * Networks the splicer never connects to, because they are this proxy itself (e.g. every site
     * of every node in the same configuration): a candidate there is refused and counted ({@link
     * SpliceStats#selfLoopRefusals()}, {@link RejectReason#SELF_LOOP}) instead of splicing the
     * proxy to itself. Always refused as well, without this option: the splicer's own listen
     * addresses and, with the stock {@link Router#fromPlan router}, every network of its plan.
     * Default none.
     */
    public Builder neverConnectTo(CidrSet networks) {
      this.neverConnectTo = Objects.requireNonNull(networks, "networks");
      return this;
    }

    /**
     * How long an upstream address (or proxy) whose connect failed is tried after the other
     * candidates, so a dead first address does not cost the connect timeout on every connection;
     * default 30 s, {@link Duration#ZERO} = remember nothing.
     */
    public Builder failedUpstreamMemory(Duration memory) {
      Objects.requireNonNull(memory, "memory");
      if (memory.isNegative()) {
        throw new IllegalArgumentException(
            "failed upstream memory " + memory + " (expected zero or positive)");
      }
      this.failedUpstreamMemory = memory;
      return this;
    }

    /**
     * Builds the splicer (not started).
     *
     * @throws IllegalStateException when no listen address or no router was set
     */
    public TcpSplicer build() {
      if (listen.isEmpty()) {
        throw new IllegalStateException("no listen address (expected at least one listen(...))");
      }
      Router given = router;
      if (given == null) {
        throw new IllegalStateException(
            "no router (expected router(...), e.g. Router.fromPlan(...))");
      }
      Router r = explicit != null ? explicit.router(given) : given;
      for (FrontDoor d : doors) {
        String mismatch = d == null ? null : Settings.doorMismatch(d, bufferSize);
        if (mismatch != null) {
          throw new IllegalStateException(mismatch);
        }
      }
      return new TcpSplicer(
          new Settings(
              listen,
              r,
              policy,
              loops,
              connectTimeout.toNanos(),
              idleTimeout.toNanos(),
              routeTimeout.toNanos(),
              maxConnections,
              maxConnectionsPerClient,
              bufferSize,
              (int) Math.min(Integer.MAX_VALUE, keepAliveIdle.toSeconds()),
              (int) Math.min(Integer.MAX_VALUE, keepAliveInterval.toSeconds()),
              reusePort,
              listener,
              doors,
              prefaceTimeout.toNanos(),
              prefaceBudget,
              proxyProtocol,
              proxyProtocolFrom,
              egress,
              family,
              neverConnectTo,
              saturatedNanos(failedUpstreamMemory)),
          given,
          explicit);
    }

    private static long saturatedNanos(Duration d) {
      return d.compareTo(Duration.ofDays(365)) > 0 ? Duration.ofDays(365).toNanos() : d.toNanos();
    }

    private static Duration positive(Duration d, String what) {
      Objects.requireNonNull(d, what);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " " + d + " (expected positive)");
      }
      return d;
    }
  }
}
