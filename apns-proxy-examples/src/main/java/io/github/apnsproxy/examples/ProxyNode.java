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
  private final @Nullable MetricsServer metrics;
  private final @Nullable ScheduledExecutorService statsTimer;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final long startedNanos = System.nanoTime();

  private ProxyNode(ProxyConfig config, List<AutoCloseable> resources, @Nullable CachingResolver cachingResolver,
      DnsServer dns, TcpSplicer splicer, int splicerAddressCount, @Nullable MetricsServer metrics,
      @Nullable ScheduledExecutorService statsTimer) {
    this.config = config;
    this.resources = resources;
    this.cachingResolver = cachingResolver;
    this.dns = dns;
    this.splicer = splicer;
    this.splicerAddressCount = splicerAddressCount;
    this.metrics = metrics;
    this.statsTimer = statsTimer;
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
        .responder(DnsResponder.builder(chain)
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
    TcpSplicer splicer = TcpSplicer.builder()
        .listen(listen)
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
        .build();
    started.add(splicer);
    splicer.start();

    ProxyNode[] self = new ProxyNode[1];
    MetricsServer metrics = null;
    Optional<InetSocketAddress> metricsListen = config.metricsListen();
    if (metricsListen.isPresent()) {
      metrics = MetricsServer.start(metricsListen.get(), () -> self[0].metricsText(),
          () -> self[0] != null && !self[0].closed.get() && self[0].splicer.isServing() && self[0].dns.isServing());
      started.add(metrics);
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
      timer.scheduleAtFixedRate(() -> {
        try {
          LOG.info("{}", self[0].statsLine());
        } catch (RuntimeException e) {
          LOG.warn("stats line failed", e);
        }
      }, interval, interval, TimeUnit.MILLISECONDS);
    }

    ProxyNode node = new ProxyNode(config, List.copyOf(started), caching, dns, splicer, listen.size(), metrics,
        timer);
    self[0] = node;
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
    return Optional.ofNullable(metrics).map(MetricsServer::address);
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

  /** The one-line stats summary logged every {@code stats.interval}. */
  public String statsLine() {
    SpliceStats s = splicer.stats();
    DnsStats d = dns.stats();
    StringBuilder b = new StringBuilder(200);
    b.append("splices active=").append(s.active())
        .append(" accepted=").append(s.accepted())
        .append(" rejected=").append(sum(s.rejected().values()))
        .append(" upstream-connect-failures=").append(s.upstreamConnectFailures())
        .append(" bytes-up=").append(s.bytesClientToUpstream())
        .append(" bytes-down=").append(s.bytesUpstreamToClient())
        .append(" | dns udp=").append(d.udpQueries())
        .append(" tcp=").append(d.tcpQueries())
        .append(" noerror=").append(d.answers("NOERROR"))
        .append(" nxdomain=").append(d.answers("NXDOMAIN"))
        .append(" servfail=").append(d.answers("SERVFAIL"))
        .append(" refused=").append(d.answers("REFUSED"))
        .append(" dropped=").append(d.dropped());
    resolverStats().ifPresent(r -> b.append(" | resolver hits=").append(r.hits())
        .append(" misses=").append(r.misses())
        .append(" stale=").append(r.staleServed())
        .append(" upstream-queries=").append(r.upstreamQueries())
        .append(" upstream-dns-failures=").append(r.upstreamFailures()));
    return b.toString();
  }

  /** A few lines of human-readable stats: splices, close reasons that occurred, DNS and resolver. */
  public String statsText() {
    SpliceStats s = splicer.stats();
    StringBuilder b = new StringBuilder(512);
    b.append("  splices:  ").append(s.accepted()).append(" accepted, ").append(s.active()).append(" active, ")
        .append(sum(s.rejected().values())).append(" rejected, ").append(s.upstreamConnectFailures())
        .append(" upstream connect failures; ").append(s.bytesClientToUpstream()).append(" bytes up, ")
        .append(s.bytesUpstreamToClient()).append(" bytes down\n");
    StringBuilder reasons = new StringBuilder();
    for (CloseReason r : CloseReason.values()) {
      if (s.closed(r) > 0) {
        reasons.append(reasons.length() == 0 ? "" : ", ").append(r.name().toLowerCase(Locale.ROOT)).append(' ')
            .append(s.closed(r));
      }
    }
    for (RejectReason r : RejectReason.values()) {
      if (s.rejected(r) > 0) {
        reasons.append(reasons.length() == 0 ? "" : ", ").append("rejected ").append(r.name().toLowerCase(Locale.ROOT))
            .append(' ').append(s.rejected(r));
      }
    }
    if (reasons.length() > 0) {
      b.append("  closed:   ").append(reasons).append('\n');
    }
    DnsStats d = dns.stats();
    b.append("  dns:      ").append(d.udpQueries()).append(" UDP + ").append(d.tcpQueries()).append(" TCP queries; ");
    StringBuilder rcodes = new StringBuilder();
    d.answersByRcode().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey()).forEach(e -> {
      if (e.getValue() > 0) {
        rcodes.append(rcodes.length() == 0 ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue());
      }
    });
    b.append(rcodes.length() == 0 ? "no answers" : rcodes).append("; ").append(d.truncated()).append(" truncated, ")
        .append(d.dropped()).append(" dropped\n");
    resolverStats().ifPresent(r -> b.append("  resolver: ").append(r.hits()).append(" cache hits, ")
        .append(r.misses()).append(" misses, ").append(r.coalesced()).append(" coalesced, ")
        .append(r.upstreamQueries()).append(" upstream queries, ").append(r.staleServed()).append(" stale answers\n"));
    return b.toString();
  }

  /** Every counter in the Prometheus text format (what {@code /metrics} serves). */
  public String metricsText() {
    SpliceStats s = splicer.stats();
    DnsStats d = dns.stats();
    PrometheusText p = new PrometheusText();
    p.gauge("apns_proxy_up_seconds", "Seconds since this node started.", (System.nanoTime() - startedNanos) / 1e9);
    p.gauge("apns_proxy_connections_active", "Splices currently open.", s.active());
    p.counter("apns_proxy_connections_accepted_total", "Connections accepted by the splicer.", s.accepted());
    for (RejectReason r : RejectReason.values()) {
      p.counter("apns_proxy_connections_rejected_total", "Connections closed before splicing, by reason.",
          s.rejected(r), "reason", r.name().toLowerCase(Locale.ROOT));
    }
    for (CloseReason r : CloseReason.values()) {
      p.counter("apns_proxy_connections_closed_total", "Connections closed, by reason.", s.closed(r), "reason",
          r.name().toLowerCase(Locale.ROOT));
    }
    p.counter("apns_proxy_upstream_connect_failures_total", "Upstream connection attempts that failed.",
        s.upstreamConnectFailures());
    p.counter("apns_proxy_bytes_total", "Bytes spliced, by direction.", s.bytesClientToUpstream(), "direction",
        "client_to_upstream");
    p.counter("apns_proxy_bytes_total", "Bytes spliced, by direction.", s.bytesUpstreamToClient(), "direction",
        "upstream_to_client");
    p.gauge("apns_proxy_buffers_outstanding", "Pooled buffers held by backed-up splices.",
        s.outstandingBuffers());
    p.counter("apns_proxy_dns_queries_total", "DNS queries received, by transport.", d.udpQueries(), "transport",
        "udp");
    p.counter("apns_proxy_dns_queries_total", "DNS queries received, by transport.", d.tcpQueries(), "transport",
        "tcp");
    d.answersByRcode().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey()).forEach(e ->
        p.counter("apns_proxy_dns_answers_total", "DNS answers sent, by rcode.", e.getValue(), "rcode",
            e.getKey().toLowerCase(Locale.ROOT)));
    p.counter("apns_proxy_dns_truncated_total", "UDP answers truncated (TC set).", d.truncated());
    p.counter("apns_proxy_dns_dropped_total", "DNS queries dropped without an answer.", d.dropped());
    p.counter("apns_proxy_dns_handler_errors_total", "DNS handler failures answered with SERVFAIL.",
        d.handlerErrors());
    resolverStats().ifPresent(r -> {
      p.counter("apns_proxy_resolver_cache_total", "Upstream resolutions, by cache outcome.", r.hits(), "result",
          "hit");
      p.counter("apns_proxy_resolver_cache_total", "Upstream resolutions, by cache outcome.", r.misses(), "result",
          "miss");
      p.counter("apns_proxy_resolver_cache_total", "Upstream resolutions, by cache outcome.", r.staleServed(),
          "result", "stale");
      p.counter("apns_proxy_resolver_coalesced_total", "Resolutions that joined an in-flight upstream query.",
          r.coalesced());
      p.counter("apns_proxy_resolver_upstream_queries_total", "Queries sent to the upstream DNS servers.",
          r.upstreamQueries());
      p.counter("apns_proxy_resolver_upstream_failures_total", "Upstream DNS queries that failed.",
          r.upstreamFailures());
    });
    return p.toString();
  }

  private static long sum(Iterable<Long> values) {
    long total = 0;
    for (long v : values) {
      total += v;
    }
    return total;
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
