// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ProxyConfig;
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
import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.SpliceStats;
import io.github.apnsproxy.tcp.TcpSplicer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running proxy node assembled from a {@link ProxyConfig}: the upstream resolver (hosts file, then a caching DNS
 * resolver), the DNS server with the handler chain (plan hosts, zone apex, optional forwarding, refusing), the TCP
 * splicer on every virtual address of the plan, the optional metrics endpoint and the periodic stats line.
 *
 * <p>This is what {@code run} and {@code demo} start; it is also the shortest way for a host application to run the
 * whole proxy from one config. Every piece it wires is public API of the library modules, so a host that needs a
 * different arrangement copies {@link #start} and changes what it needs.
 */
public final class ProxyNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyNode.class);

  private final ProxyConfig config;
  private final List<AutoCloseable> resources;
  private final @Nullable CachingResolver cachingResolver;
  private final DnsServer dns;
  private final TcpSplicer splicer;
  private final int splicerAddressCount;
  private final ProxyMetrics metrics;
  private final @Nullable MetricsEndpoint metricsEndpoint;
  private final @Nullable ScheduledExecutorService statsTimer;
  private final AtomicBoolean closed;

  private ProxyNode(ProxyConfig config, List<AutoCloseable> resources, @Nullable CachingResolver cachingResolver,
      DnsServer dns, TcpSplicer splicer, int splicerAddressCount, ProxyMetrics metrics,
      @Nullable MetricsEndpoint metricsEndpoint, @Nullable ScheduledExecutorService statsTimer, AtomicBoolean closed) {
    this.config = config;
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
   * Starts every part of the node; on failure everything already started is closed again.
   *
   * @throws IOException naming the address when a listener cannot be bound
   */
  public static ProxyNode start(ProxyConfig config) throws IOException {
    List<AutoCloseable> started = new ArrayList<>();
    try {
      return start(config, started);
    } catch (IOException | RuntimeException | Error e) {
      closeAll(started);
      throw e;
    }
  }

  private static ProxyNode start(ProxyConfig config, List<AutoCloseable> started) throws IOException {
    AddressPlan plan = config.addressPlan();
    ProxyMetrics metrics = new ProxyMetrics();
    AtomicBoolean closed = new AtomicBoolean();

    CachingResolver caching = null;
    if (!config.upstreamDns().isEmpty()) {
      caching = CachingResolver.builder()
          .servers(config.upstreamDns())
          .timeout(config.upstreamTimeout())
          .ttlFloor(config.upstreamTtlMin())
          .ttlCeiling(config.upstreamTtlMax())
          .serveStale(config.upstreamServeStale())
          .staleAnswerTimeout(config.upstreamStaleAnswerTimeout())
          .build();
      started.add(caching);
    }
    UpstreamResolver resolver = resolver(config, caching);

    DnsAnswerHandler chain = handlerChain(config, resolver, started);
    DnsServer dns = DnsServer.builder()
        .listen(config.dnsListen().toArray(InetSocketAddress[]::new))
        .responder(DnsResponder.builder(metrics.timed(chain))
            .policy(config.addressPolicy())
            .deniedClients(config.dnsDeniedClients())
            .build())
        .threads(config.dnsThreads())
        .tcpIdleTimeout(config.dnsTcpIdleTimeout())
        .maxTcpConnections(config.dnsTcpMaxConnections())
        .build();
    started.add(dns);
    dns.start();

    List<InetSocketAddress> listen = splicerListen(config);
    TcpSplicer.Builder splicerBuilder = TcpSplicer.builder();
    if (plan.style() == AddressPlan.Style.SINGLE) {
      splicerBuilder.listen(listen, FrontDoor.tlsServerName()); // one address for every name: the SNI decides
    } else {
      splicerBuilder.listen(listen);
    }
    TcpSplicer splicer = splicerBuilder
        .router(Router.fromPlan(plan, resolver, config.addressPolicy()))
        .policy(config.addressPolicy())
        .loops(config.tcpThreads() == 0 ? Runtime.getRuntime().availableProcessors() : config.tcpThreads())
        .connectTimeout(config.tcpConnectTimeout())
        .idleTimeout(config.tcpIdleTimeout())
        .routeTimeout(config.tcpRouteTimeout())
        .maxConnections(config.tcpMaxConnections())
        .maxConnectionsPerClient(config.tcpMaxPerClient())
        .keepAlive(config.tcpKeepaliveIdle(), config.tcpKeepaliveInterval())
        .reusePort(config.tcpReusePort())
        .listener(metrics.spliceListener())
        .build();
    started.add(splicer);
    splicer.start();

    CachingResolver resolverForStats = caching;
    metrics.watch(splicer::stats, () -> splicer.stats().outstandingBuffers(), dns::stats, dns::tcpConnections,
        () -> Optional.ofNullable(resolverForStats).map(CachingResolver::stats));
    MetricsEndpoint endpoint = null;
    Optional<InetSocketAddress> metricsListen = config.metricsListen();
    if (metricsListen.isPresent()) {
      // clients.allow guards the endpoint too (issue 18.2): an address outside it is closed at accept
      endpoint = MetricsEndpoint.builder()
          .listen(metricsListen.get())
          .registry(metrics.registry())
          .allow(config.addressPolicy().clients())
          .health(() -> !closed.get() && splicer.isServing() && dns.isServing())
          .start();
      started.add(endpoint);
    }

    ScheduledExecutorService timer = null;
    long interval = config.statsInterval().toMillis();
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

    ProxyNode node = new ProxyNode(config, List.copyOf(started), caching, dns, splicer, listen.size(), metrics,
        endpoint, timer, closed);
    LOG.info("apns-proxy started: DNS on {}, splicer on {} addresses ({} plan, {} virtual addresses)",
        dns.udpAddresses(), listen.size(), plan.style().name().toLowerCase(Locale.ROOT), plan.entries().size());
    return node;
  }

  /** The hosts file (when configured) first, then the caching DNS resolver. */
  private static UpstreamResolver resolver(ProxyConfig config, @Nullable CachingResolver caching) {
    Optional<UpstreamResolver> hosts = config.hostsResolver();
    if (hosts.isPresent() && caching != null) {
      return hosts.get().orElse(caching);
    }
    if (hosts.isPresent()) {
      return hosts.get();
    }
    if (caching != null) {
      return caching;
    }
    throw new IllegalStateException("neither upstream.dns nor upstream.hosts is set");
  }

  /** Plan hosts, zone apex, forwarding of other names (when {@code dns.forward} is set), refusing. */
  private static DnsAnswerHandler handlerChain(ProxyConfig config, UpstreamResolver resolver,
      List<AutoCloseable> started) {
    AddressPlan plan = config.addressPlan();
    List<DnsAnswerHandler> chain = new ArrayList<>();
    chain.add(PlanHostsHandler.builder(plan)
        .ttl(config.dnsTtl())
        .negativeTtl(config.dnsNegativeTtl())
        .nsName(config.dnsNsName())
        .upstreamCheck(config.dnsUpstreamCheck() ? resolver : null)
        .build());

    ForwardingHandler zoneForwarder = null;
    if (config.dnsZoneOther() == ProxyConfig.ZoneOther.FORWARD) {
      zoneForwarder = ForwardingHandler.builder()
          .servers(config.upstreamDns())
          .timeout(config.upstreamTimeout())
          .build();
      started.add(zoneForwarder);
    }
    chain.add(ZoneApexHandler.builder(plan)
        .nsName(config.dnsNsName())
        .nsAddress(config.dnsNsAddress().orElse(null))
        .txtCount(config.dnsTxtCount())
        .ttl(config.dnsTtl())
        .negativeTtl(config.dnsNegativeTtl())
        .otherNames(config.dnsZoneOther(), zoneForwarder)
        .build());

    if (!config.dnsForward().isEmpty()) {
      ForwardingHandler forwarder = ForwardingHandler.builder()
          .servers(config.dnsForward())
          .timeout(config.upstreamTimeout())
          .build();
      started.add(forwarder);
      chain.add(forwarder);
    }
    chain.add(DnsAnswerHandler.refusing());
    return DnsAnswerHandler.firstOf(chain);
  }

  /** Every virtual address on its kind's ports, or each {@code tcp.listen} address on every plan port. */
  private static List<InetSocketAddress> splicerListen(ProxyConfig config) {
    AddressPlan plan = config.addressPlan();
    if (config.tcpListen().isEmpty()) {
      return plan.listenAddresses();
    }
    List<InetSocketAddress> out = new ArrayList<>();
    for (InetAddress address : config.tcpListen()) {
      for (int port : plan.allPorts()) {
        out.add(new InetSocketAddress(address, port));
      }
    }
    return out;
  }

  /** The config this node runs. */
  public ProxyConfig config() {
    return config;
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
   * Stops the DNS server (so resolvers move on to other nodes), lets live splices finish for up to {@code drain},
   * then closes everything. Idempotent.
   */
  public void close(Duration drain) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    LOG.info("apns-proxy stopping: draining {} live splices for up to {}", splicer.stats().active(), drain);
    dns.close();
    splicer.close(drain);
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
