// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.dns.CachingResolver;
import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsServer;
import io.github.apnsproxy.dns.DnsStats;
import io.github.apnsproxy.dns.ForwardingHandler;
import io.github.apnsproxy.dns.PlanHostsHandler;
import io.github.apnsproxy.dns.ResolverStats;
import io.github.apnsproxy.dns.ZoneApexHandler;
import io.github.apnsproxy.dns.ZoneOther;
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
 * One running proxy node assembled from a {@link ProxySetup} (a {@link ProxyConfig} mapped onto the library
 * builders): the upstream resolver (hosts file, then a caching DNS resolver), the DNS server with the handler chain
 * (plan hosts, zone apex, optional forwarding, refusing), the TCP splicer on every virtual address of the plan, the
 * optional metrics endpoint and the periodic stats line.
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
  // set by start() before the node is returned; the endpoint and the timer are given the finished node
  private volatile @Nullable MetricsServer metrics;
  private volatile @Nullable ScheduledExecutorService statsTimer;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final long startedNanos = System.nanoTime();

  private ProxyNode(ProxySetup setup, List<AutoCloseable> resources, @Nullable CachingResolver cachingResolver,
      DnsServer dns, TcpSplicer splicer, int splicerAddressCount) {
    this.setup = setup;
    this.resources = resources;
    this.cachingResolver = cachingResolver;
    this.dns = dns;
    this.splicer = splicer;
    this.splicerAddressCount = splicerAddressCount;
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
    setup.warnings().forEach(w -> LOG.warn("{}", w));

    CachingResolver caching = null;
    if (!setup.resolver().servers().isEmpty()) {
      caching = setup.resolver().build();
      started.add(caching);
    }
    UpstreamResolver resolver = resolver(setup, caching);

    DnsAnswerHandler chain = handlerChain(setup, resolver, started);
    DnsServer dns = setup.dnsServer().handler(chain).build();
    started.add(dns);
    dns.start();

    TcpSplicer.Builder sb = setup.splicer().router(Router.fromPlan(plan, resolver, setup.policy()));
    int listenCount = sb.listen().size();
    TcpSplicer splicer = sb.build();
    started.add(splicer);
    splicer.start();

    ProxyNode node = new ProxyNode(setup, started, caching, dns, splicer, listenCount);
    Optional<InetSocketAddress> metricsListen = setup.app().metricsListen();
    if (metricsListen.isPresent()) {
      // the node is complete before the endpoint can call it: a scrape during start never sees half a node
      MetricsServer metrics = MetricsServer.start(metricsListen.get(), node::metricsText,
          () -> !node.closed.get() && node.splicer.isServing());
      started.add(metrics);
      node.metrics = metrics;
    }

    long interval = setup.app().statsInterval().toMillis();
    if (interval > 0) {
      ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "apns-proxy-stats");
        t.setDaemon(true);
        return t;
      });
      started.add(timer::shutdownNow);
      node.statsTimer = timer;
      timer.scheduleAtFixedRate(() -> {
        try {
          LOG.info("{}", node.statsLine());
        } catch (RuntimeException e) {
          LOG.warn("stats line failed", e);
        }
      }, interval, interval, TimeUnit.MILLISECONDS);
    }

    LOG.info("apns-proxy started: DNS on {}, splicer on {} addresses ({} plan, {} virtual addresses, at most {}"
        + " connections)", dns.udpAddresses(), listenCount, plan.style().name().toLowerCase(Locale.ROOT),
        plan.entries().size(), setup.splicer().maxConnections());
    return node;
  }

  /** The hosts file (when configured) first, then the caching DNS resolver. */
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
    throw new IllegalStateException("neither upstream.dns nor upstream.hosts is set");
  }

  /** Plan hosts, zone apex, forwarding of other names (when {@code dns.forward} is set), refusing. */
  private static DnsAnswerHandler handlerChain(ProxySetup setup, UpstreamResolver resolver,
      List<AutoCloseable> started) {
    List<DnsAnswerHandler> chain = new ArrayList<>();
    PlanHostsHandler.Builder planHosts = setup.planHosts();
    if (planHosts.checksUpstream()) {
      planHosts.upstreamCheck(resolver);
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
    return splicer.outstandingBuffers();
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
        splicer.outstandingBuffers());
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
    ScheduledExecutorService timer = statsTimer;
    if (timer != null) {
      timer.shutdownNow();
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
