// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.dns.CachingResolver;
import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsResponder;
import io.github.apnsproxy.dns.DnsServer;
import io.github.apnsproxy.dns.DnsStats;
import io.github.apnsproxy.dns.ForwardingHandler;
import io.github.apnsproxy.dns.PlanHostsHandler;
import io.github.apnsproxy.dns.ResolverStats;
import io.github.apnsproxy.dns.ZoneApexHandler;
import io.github.apnsproxy.dns.ZoneOther;
import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.ExplicitProxy;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.SpliceListener;
import io.github.apnsproxy.tcp.SpliceStats;
import io.github.apnsproxy.tcp.TcpSplicer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running proxy node assembled from a {@link ProxySetup} (a {@link ProxyConfig} mapped onto the library
 * builders): the upstream resolver (hosts file, then a caching DNS resolver), the DNS server with the handler chain (plan hosts, zone apex, optional forwarding, refusing), the TCP
 * splicer on every virtual address of the plan, the optional metrics endpoint and the periodic stats line.
 *
 * <p>This is what {@code run} and {@code demo} start; it is also the shortest way for a host application to run the
 * whole proxy from one config. Every piece it wires is public API of the library modules, so a host that needs a
 * different arrangement copies {@link #start} and changes what it needs.
 */
public final class ProxyNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyNode.class);

  private final ProxySetup setup;
  private final List<AutoCloseable> resources;
  private final @Nullable CachingResolver cachingResolver;
  private final DnsServer dns;
  private final TcpSplicer splicer;
  private final int splicerAddressCount;
  private final ProxyMetrics metrics;
  private final @Nullable MetricsEndpoint metricsEndpoint;
  private final @Nullable ScheduledExecutorService statsTimer;
  private final AtomicBoolean closed;

  private ProxyNode(ProxySetup setup, List<AutoCloseable> resources, @Nullable CachingResolver cachingResolver,
      DnsServer dns, TcpSplicer splicer, int splicerAddressCount, ProxyMetrics metrics,
      @Nullable MetricsEndpoint metricsEndpoint, @Nullable ScheduledExecutorService statsTimer, AtomicBoolean closed) {
    this.setup = setup;
    this.resources = resources;
    this.cachingResolver = cachingResolver;
    this.dns = dns;
    this.splicer = splicer;
    this.splicerAddressCount = splicerAddressCount;
    this.metrics = metrics;
    this.metricsEndpoint = metricsEndpoint;
    this.statsTimer = statsTimer;
    this.closed = closed;
  }

  /**
   * Starts a node from a parsed config ({@link ProxySetup#of}).
   *
   * @throws IOException naming the address when a listener cannot be bound
   * @throws io.github.apnsproxy.core.config.ConfigException naming the key when a rule between keys is broken
   */
  public static ProxyNode start(ProxyConfig config) throws IOException {
    return start(ProxySetup.of(config));
  }

  /**
   * Starts every part of the node; on failure everything already started is closed again. Uses up {@code setup}.
   *
   * @throws IOException naming the address when a listener cannot be bound
   */
  public static ProxyNode start(ProxySetup setup) throws IOException {
    List<AutoCloseable> started = new ArrayList<>();
    try {
      return start(setup, started);
    } catch (IOException | RuntimeException | Error e) {
      closeAll(started);
      throw e;
    }
  }

  private static ProxyNode start(ProxySetup setup, List<AutoCloseable> started) throws IOException {
    AddressPlan plan = setup.plan();
    ProxyMetrics metrics = new ProxyMetrics();
    AtomicBoolean closed = new AtomicBoolean();
    setup.warnings().forEach(w -> LOG.warn("{}", w));

    CachingResolver caching = null;
    if (!setup.resolver().servers().isEmpty()) {
      caching = setup.resolver().build();
      started.add(caching);
    }
    UpstreamResolver resolver = resolver(setup, caching);

    DnsAnswerHandler chain = handlerChain(setup, resolver, started);
    DnsResponder.Builder options = setup.responder();
    DnsServer dns = setup.dnsServer()
        .responder(DnsResponder.builder(metrics.timed(chain))
            .policy(options.policy().orElse(null))
            .deniedClients(options.deniedClients())
            .build())
        .build();
    started.add(dns);
    dns.start();

    // the egress goes to the router too, so names a proxy resolves are not resolved here
    TcpSplicer.Builder sb = setup.splicer()
        .router(Router.fromPlan(plan, resolver, setup.policy(), setup.splicer().egress()))
        // log.access: one access log line per finished or refused connection, on the logger io.github.apnsproxy.access
        .listener(SpliceListener.all(setup.accessLog()
            ? List.of(metrics.spliceListener(), SpliceListener.accessLog()) : List.of(metrics.spliceListener())));
    if (!setup.connectListen().isEmpty() || !setup.socksListen().isEmpty()) {
      ExplicitProxy explicit = setup.explicitProxy(resolver);
      if (!setup.connectListen().isEmpty()) {
        sb.connectListen(setup.connectListen(), explicit);
      }
      if (!setup.socksListen().isEmpty()) {
        sb.socksListen(setup.socksListen(), explicit);
      }
      metrics.watchExplicit(explicit);
    }
    int listenCount = sb.listen().size();
    TcpSplicer splicer = sb.build();
    started.add(splicer);
    splicer.start();

    CachingResolver resolverForStats = caching;
    metrics.watch(splicer::stats, () -> splicer.stats().outstandingBuffers(), dns::stats, dns::tcpConnections,
        () -> Optional.ofNullable(resolverForStats).map(CachingResolver::stats));
    MetricsEndpoint endpoint = null;
    Optional<InetSocketAddress> metricsListen = setup.app().metricsListen();
    if (metricsListen.isPresent()) {
      // clients.allow guards the endpoint too (issue 18.2): an address outside it is closed at accept
      endpoint = MetricsEndpoint.builder()
          .listen(metricsListen.get())
          .registry(metrics.registry())
          .allow(setup.policy().clients())
          .health(() -> !closed.get() && splicer.isServing() && dns.isServing())
          // /healthz?deep=1: the probe's checks through the configured egress, run at most once a minute
          .deepHealth(deepProbe(setup, plan, resolver))
          .start();
      started.add(endpoint);
    }

    ScheduledExecutorService timer = null;
    long interval = setup.app().statsInterval().toMillis();
    if (interval > 0) {
      timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "apns-proxy-stats");
        t.setDaemon(true);
        return t;
      });
      ScheduledExecutorService statsTimer = timer;
      started.add(statsTimer::shutdownNow);
      // runs until the timer is shut down; the task contains its own failures
      var unused = timer.scheduleAtFixedRate(() -> {
        try {
          LOG.info("{}", metrics.statsLine());
        } catch (RuntimeException e) {
          LOG.warn("stats line failed", e);
        }
      }, interval, interval, TimeUnit.MILLISECONDS);
    }

    ProxyNode node = new ProxyNode(setup, List.copyOf(started), caching, dns, splicer, listenCount, metrics,
        endpoint, timer, closed);
    LOG.info("apns-proxy started: DNS on {}, splicer on {} addresses ({} plan, {} virtual addresses, at most {}"
        + " connections)", dns.udpAddresses(), listenCount, plan.style().name().toLowerCase(Locale.ROOT),
        plan.entries().size(), sb.maxConnections());
    return node;
  }

  /** The hosts file (when configured) first, then the caching DNS resolver. */
  /** The deep health check: {@link Probe} over the plan's hosts, its results cached for a minute. */
  private static Function<Boolean, MetricsEndpoint.DeepHealth> deepProbe(ProxySetup setup, AddressPlan plan,
      UpstreamResolver resolver) {
    Probe probe;
    try {
      probe = new Probe(Probe.targetsFor(plan), setup.splicer().egress(), resolver, null,
          setup.splicer().connectTimeout());
    } catch (java.security.GeneralSecurityException e) {
      String why = "deep check unavailable: TLS setup failed: " + e.getMessage() + "\n";
      return unused -> new MetricsEndpoint.DeepHealth(false, why);
    }
    return unused -> {
      try {
        List<Probe.Result> results = probe.cached(Duration.ofMinutes(1));
        return new MetricsEndpoint.DeepHealth(Probe.allPassed(results), Probe.table(results));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return new MetricsEndpoint.DeepHealth(false, "deep check interrupted\n");
      }
    };
  }

  private static UpstreamResolver resolver(ProxySetup setup, @Nullable CachingResolver caching) {
    Optional<UpstreamResolver> hosts = setup.hostsResolver();
    if (hosts.isPresent() && caching != null) {
      return hosts.get().orElse(caching);
    }
    if (hosts.isPresent()) {
      return hosts.get();
    }
    if (caching != null) {
      return caching;
    }
    if (!setup.splicer().egress().isDirect()) {
      // upstream.proxy resolves the plan's names; a name it does not take (no_proxy) cannot be resolved here
      return host -> CompletableFuture.failedFuture(new UnknownHostException(host + ": neither upstream.dns nor"
          + " upstream.hosts is set, and upstream.proxy does not take this name"));
    }
    throw new IllegalStateException("neither upstream.dns nor upstream.hosts is set");
  }

  /** Plan hosts, zone apex, forwarding of other names (when {@code dns.forward} is set), refusing. */
  private static DnsAnswerHandler handlerChain(ProxySetup setup, UpstreamResolver resolver,
      List<AutoCloseable> started) {
    List<DnsAnswerHandler> chain = new ArrayList<>();
    PlanHostsHandler.Builder planHosts = setup.planHosts();
    if (planHosts.checksUpstream()) {
      planHosts.upstreamCheck(resolver); // in place of the stand-in the setup holds
    }
    chain.add(planHosts.build());

    ZoneApexHandler.Builder apex = setup.apex();
    if (apex.otherNames() == ZoneOther.FORWARD) {
      ForwardingHandler zoneForwarder = ForwardingHandler.builder()
          .servers(setup.resolver().servers())
          .timeout(setup.resolver().timeout())
          .build();
      started.add(zoneForwarder);
      apex.otherNames(ZoneOther.FORWARD, zoneForwarder);
    }
    chain.add(apex.build());

    if (!setup.forward().servers().isEmpty()) {
      ForwardingHandler forwarder = setup.forward().build();
      started.add(forwarder);
      chain.add(forwarder);
    }
    chain.add(DnsAnswerHandler.refusing());
    return DnsAnswerHandler.firstOf(chain);
  }

  /** What this node was set up from: the plan, the policy, the effective values. */
  public ProxySetup setup() {
    return setup;
  }

  /** The DNS server's bound UDP addresses (real ports). */
  public List<InetSocketAddress> dnsAddresses() {
    return dns.udpAddresses();
  }

  /** The DNS server's bound TCP addresses (real ports). */
  public List<InetSocketAddress> dnsTcpAddresses() {
    return dns.tcpAddresses();
  }

  /** The number of socket addresses the splicer listens on. */
  public int splicerAddressCount() {
    return splicerAddressCount;
  }

  /** The splicer's bound addresses (real ports). */
  public List<InetSocketAddress> splicerAddresses() {
    return splicer.boundAddresses();
  }

  /** The metrics endpoint's bound address, when {@code metrics.listen} is set. */
  public Optional<InetSocketAddress> metricsAddress() {
    return Optional.ofNullable(metricsEndpoint).map(MetricsEndpoint::address);
  }

  /** The splicer's counters. */
  public SpliceStats spliceStats() {
    return splicer.stats();
  }

  /** The DNS server's counters. */
  public DnsStats dnsStats() {
    return dns.stats();
  }

  /** The caching resolver's counters, when {@code upstream.dns} is set. */
  public Optional<ResolverStats> resolverStats() {
    return Optional.ofNullable(cachingResolver).map(CachingResolver::stats);
  }

  /** The splicer's outstanding pooled buffers (zero when no splice is backed up). */
  public int outstandingBuffers() {
    return splicer.stats().outstandingBuffers();
  }

  /**
   * Waits until no splice is active, or {@code max} passes.
   *
   * @return whether the splicer became idle
   */
  public boolean awaitIdle(Duration max) {
    long deadline = System.nanoTime() + max.toNanos();
    while (splicer.stats().active() > 0) {
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /** The node's metrics: the registry behind {@code /metrics}, the stats line and the stats text. */
  public ProxyMetrics metrics() {
    return metrics;
  }

  /** The one-line stats summary logged every {@code stats.interval} ({@link ProxyMetrics#statsLine()}). */
  public String statsLine() {
    return metrics.statsLine();
  }

  /** A few lines of human-readable stats ({@link ProxyMetrics#statsText()}). */
  public String statsText() {
    return metrics.statsText();
  }

  /** Closes at once (no drain). */
  @Override
  public void close() {
    close(Duration.ZERO);
  }

  /**
   * Stops accepting connections, lets live splices finish for up to {@code drain}, then closes everything. DNS keeps
   * answering through the drain, so devices still resolve (and, with several nodes, find another one) instead of
   * timing out; it closes once the splicer has drained. Idempotent.
   */
  public void close(Duration drain) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    LOG.info("apns-proxy stopping: draining {} live splices for up to {}", splicer.stats().active(), drain);
    splicer.close(drain);
    dns.close();
    List<AutoCloseable> rest = new ArrayList<>(resources);
    rest.remove(dns);
    rest.remove(splicer);
    closeAll(rest);
    if (statsTimer != null) {
      statsTimer.shutdownNow();
    }
    LOG.info("apns-proxy stopped: {}", statsLine());
  }

  private static void closeAll(List<AutoCloseable> resources) {
    for (int i = resources.size() - 1; i >= 0; i--) {
      try {
        resources.get(i).close();
      } catch (Exception e) {
        LOG.warn("closing {} failed", resources.get(i), e);
      }
    }
  }
}
