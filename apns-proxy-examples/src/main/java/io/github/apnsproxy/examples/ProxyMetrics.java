// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsStats;
import io.github.apnsproxy.dns.DnsTransport;
import io.github.apnsproxy.dns.ResolverStats;
import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.ExplicitProxy;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.SpliceListener;
import io.github.apnsproxy.tcp.SpliceStats;
import io.github.apnsproxy.tcp.SpliceSummary;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Label;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The runnable proxy's metrics: one Prometheus registry (official Java client) holding
 *
 * <ul>
 *   <li>every counter of the libraries' stats snapshots ({@link SpliceStats}, {@link DnsStats},
 *       {@link ResolverStats}), read at scrape time by callback metrics, so the libraries stay free
 *       of the client;
 *   <li>histograms of route time, upstream connect time (fed by the {@link #spliceListener()}) and
 *       DNS answer time (fed by {@link #timed(DnsAnswerHandler)});
 *   <li>the JVM's memory, GC, threads, classes and the process's CPU and file descriptors (JVM
 *       instrumentation);
 *   <li>{@code apns_proxy_build_info}.
 * </ul>
 *
 * The registry is the one source of every number: {@code /metrics}, the periodic stats line and the
 * demo's stats text all render its snapshot ({@link #statsLine()}, {@link #statsText()}).
 *
 * <p>Thread-safe. The snapshot suppliers are set once with {@link #watch} after the servers are
 * built; until then their metrics are absent from a scrape (never an error).
 */
public final class ProxyMetrics {
  /**
   * Prefix of every metric this class defines (the JVM's own carry the client's standard names).
   */
  public static final String PREFIX = "apns_proxy_";

  private static final double[] SETUP_BUCKETS = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
  };
  private static final double[] DNS_BUCKETS = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
  };

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Histogram routeTime;
  private final Histogram connectTime;
  private final Histogram dnsAnswerTime;
  private final Counter reloads;
  private final SpliceListener listener = new TimingListener();
  private final Map<InboundConnection, long[]> setups = new ConcurrentHashMap<>();

  private volatile @Nullable Sources sources;
  private volatile @Nullable ExplicitProxy explicit;

  /** What the callback metrics read at scrape time. */
  private record Sources(
      Supplier<SpliceStats> splices,
      IntSupplier outstandingBuffers,
      Supplier<DnsStats> dns,
      IntSupplier dnsTcpConnections,
      Supplier<Optional<ResolverStats>> resolver) {}

  /** Creates the registry with every metric (and the JVM's). */
  public ProxyMetrics() {
    JvmMetrics.builder().register(registry);
    Info.builder()
        .name(PREFIX + "build_info")
        .help("Version of the running apns-proxy (value 1).")
        .labelNames("version")
        .register(registry)
        .setLabelValues(version());
    routeTime =
        Histogram.builder()
            .name(PREFIX + "route_duration_seconds")
            .help("Time from accepting a connection to knowing its upstream host and addresses.")
            .classicOnly()
            .classicUpperBounds(SETUP_BUCKETS)
            .withoutExemplars()
            .register(registry);
    connectTime =
        Histogram.builder()
            .name(PREFIX + "upstream_connect_duration_seconds")
            .help(
                "Time from routing to an established upstream connection (failover across addresses included).")
            .classicOnly()
            .classicUpperBounds(SETUP_BUCKETS)
            .withoutExemplars()
            .register(registry);
    dnsAnswerTime =
        Histogram.builder()
            .name(PREFIX + "dns_answer_duration_seconds")
            .help("Time the DNS handler chain took to answer a query, by transport.")
            .labelNames("transport")
            .classicOnly()
            .classicUpperBounds(DNS_BUCKETS)
            .withoutExemplars()
            .register(registry);
    reloads =
        Counter.builder()
            .name(PREFIX + "config_reloads_total")
            .help(
                "Config reloads (SIGHUP) by result: success (applied) or failure (refused, the old config runs on).")
            .labelNames("result")
            .withoutExemplars()
            .register(registry);
    reloads.labelValues("success"); // both series exist before the first reload
    reloads.labelValues("failure");
    registerSpliceMetrics();
    registerDnsMetrics();
    registerResolverMetrics();
    registerExplicitMetrics();
  }

  /** The registry (for the HTTP endpoint and tests). */
  public PrometheusRegistry registry() {
    return registry;
  }

  /**
   * Feeds the route and upstream connect histograms; pass it to {@code
   * TcpSplicer.Builder.listener}.
   */
  public SpliceListener spliceListener() {
    return listener;
  }

  /**
   * {@code handler}, timed into {@code apns_proxy_dns_answer_duration_seconds}; its answers are
   * unchanged.
   */
  public DnsAnswerHandler timed(DnsAnswerHandler handler) {
    // DnsAnswerHandler.timed, not a wrapper of our own: the responder's fast path stays on
    DistributionDataPoint udp = dnsAnswerTime.labelValues("udp");
    DistributionDataPoint tcp = dnsAnswerTime.labelValues("tcp");
    return DnsAnswerHandler.timed(
        handler,
        (transport, nanos) -> (transport == DnsTransport.UDP ? udp : tcp).observe(nanos / 1e9));
  }

  /**
   * Counts one config reload into {@code
   * apns_proxy_config_reloads_total{result="success"|"failure"}}. Any thread.
   */
  public void reloaded(boolean success) {
    reloads.labelValues(success ? "success" : "failure").inc();
  }

  /**
   * Sets where the counters come from; called once the servers are built.
   *
   * @param resolver the caching resolver's counters, empty when there is none
   */
  public void watch(
      Supplier<SpliceStats> splices,
      IntSupplier outstandingBuffers,
      Supplier<DnsStats> dns,
      IntSupplier dnsTcpConnections,
      Supplier<Optional<ResolverStats>> resolver) {
    this.sources = new Sources(splices, outstandingBuffers, dns, dnsTcpConnections, resolver);
  }

  /**
   * Sets the explicit proxy ({@code connect.listen}, {@code socks.listen}) whose counters are
   * exported.
   */
  public void watchExplicit(ExplicitProxy proxy) {
    this.explicit = Objects.requireNonNull(proxy, "proxy");
  }

  private void registerExplicitMetrics() {
    CounterWithCallback.builder()
        .name(PREFIX + "explicit_requests_total")
        .help(
            "Explicit-proxy requests (HTTP CONNECT, SOCKS5) by front door, outcome (HTTP status, SOCKS5 reply"
                + " code, auth-failed, auth-busy, pac) and target kind.")
        .labelNames("door", "outcome", "kind")
        .callback(
            cb -> {
              ExplicitProxy p = explicit;
              if (p != null) {
                p.requests()
                    .forEach(
                        (key, n) -> {
                          String[] parts = key.split(" ", 3);
                          if (parts.length == 3) {
                            cb.call(n, parts[0], parts[1], parts[2]);
                          }
                        });
              }
            })
        .register(registry);
    CounterWithCallback.builder()
        .name(PREFIX + "explicit_failed_logins_total")
        .help("Failed credential checks of the explicit proxy (wrong password, unknown user).")
        .callback(
            cb -> {
              ExplicitProxy p = explicit;
              if (p != null) {
                cb.call(p.failedLogins());
              }
            })
        .register(registry);
  }

  private void registerSpliceMetrics() {
    gauge(
        "connections_active",
        "Splices currently open (devices connected).",
        (s, cb) -> cb.call(s.splices().get().active()));
    counter(
        "connections_accepted_total",
        "Connections accepted by the splicer.",
        (s, cb) -> cb.call(s.splices().get().accepted()));
    counter(
        "connections_rejected_total",
        "Connections refused before any upstream connection, by reason.",
        (s, cb) -> {
          SpliceStats stats = s.splices().get();
          for (RejectReason r : RejectReason.values()) {
            cb.call(stats.rejected(r), lower(r.name()));
          }
        },
        "reason");
    counter(
        "connections_closed_total",
        "Connections closed, by reason.",
        (s, cb) -> {
          SpliceStats stats = s.splices().get();
          for (CloseReason r : CloseReason.values()) {
            cb.call(stats.closed(r), lower(r.name()));
          }
        },
        "reason");
    counter(
        "upstream_connect_failures_total",
        "Upstream connection attempts that failed (one per address tried).",
        (s, cb) -> cb.call(s.splices().get().upstreamConnectFailures()));
    counter(
        "bytes_total",
        "Bytes spliced, by direction.",
        (s, cb) -> {
          SpliceStats stats = s.splices().get();
          cb.call(stats.bytesClientToUpstream(), "client_to_upstream");
          cb.call(stats.bytesUpstreamToClient(), "upstream_to_client");
        },
        "direction");
    counter(
        "connections_routed_total",
        "Connections routed to an upstream, by front door (address: routed by the"
            + " dialled address) and by the kind of name they were routed by (courier, courier-unnumbered, init, api,"
            + " other, none).",
        (s, cb) ->
            s.splices()
                .get()
                .routed()
                .forEach(
                    (door, byKind) -> byKind.forEach((kind, n) -> cb.call(n, door, kind.label()))),
        "front_door",
        "name_kind");
    counter(
        "egress_proxy_failures_total",
        "Egress proxy handshakes that failed for a passing reason (5xx, SOCKS"
            + " failure, unreachable or timed out); the next proxy was tried.",
        (s, cb) -> cb.call(s.splices().get().egressProxyFailures()));
    counter(
        "egress_proxy_refusals_total",
        "Egress proxy handshakes refused for a configuration reason (403, 407,"
            + " SOCKS not allowed or failed authentication).",
        (s, cb) -> cb.call(s.splices().get().egressProxyRefusals()));
    counter(
        "self_loop_refusals_total",
        "Upstream candidates refused because they were this proxy's own address.",
        (s, cb) -> cb.call(s.splices().get().selfLoopRefusals()));
    gauge(
        "preface_bytes",
        "Bytes held by connections waiting for their preface (TLS ClientHello, PROXY header).",
        (s, cb) -> cb.call(s.splices().get().prefaceBytes()));
    gauge(
        "buffers_outstanding",
        "Pooled buffers held by backed-up splices.",
        (s, cb) -> cb.call(s.outstandingBuffers().getAsInt()));
  }

  private void registerDnsMetrics() {
    counter(
        "dns_queries_total",
        "DNS queries received, by transport.",
        (s, cb) -> {
          DnsStats d = s.dns().get();
          cb.call(d.udpQueries(), "udp");
          cb.call(d.tcpQueries(), "tcp");
        },
        "transport");
    counter(
        "dns_answers_total",
        "DNS answers sent, by rcode.",
        (s, cb) -> {
          DnsStats d = s.dns().get();
          for (String rcode :
              new String[] {"NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP"}) {
            cb.call(
                d.answers(rcode),
                lower(rcode)); // always present, so dashboards see zero rather than no data
          }
          d.answersByRcode()
              .forEach(
                  (rcode, n) -> {
                    if (!rcode.matches("NOERROR|NXDOMAIN|SERVFAIL|REFUSED|FORMERR|NOTIMP")) {
                      cb.call(n, lower(rcode));
                    }
                  });
        },
        "rcode");
    counter(
        "dns_truncated_total",
        "UDP answers truncated (TC set).",
        (s, cb) -> cb.call(s.dns().get().truncated()));
    counter(
        "dns_dropped_total",
        "DNS queries dropped without an answer.",
        (s, cb) -> cb.call(s.dns().get().dropped()));
    counter(
        "dns_handler_errors_total",
        "DNS handler failures answered with SERVFAIL.",
        (s, cb) -> cb.call(s.dns().get().handlerErrors()));
    counter(
        "dns_handler_timeouts_total",
        "DNS handlers that did not answer in time (answered SERVFAIL).",
        (s, cb) -> cb.call(s.dns().get().handlerTimeouts()));
    gauge(
        "dns_tcp_connections",
        "Open DNS-over-TCP connections.",
        (s, cb) -> cb.call(s.dnsTcpConnections().getAsInt()));
  }

  private void registerResolverMetrics() {
    counter(
        "resolver_lookups_total",
        "Upstream host lookups, by cache result (hit: fresh entry; miss: resolved).",
        (s, cb) ->
            s.resolver()
                .get()
                .ifPresent(
                    r -> {
                      cb.call(r.hits(), "hit");
                      cb.call(r.misses(), "miss");
                    }),
        "result");
    resolverCounter(
        "resolver_negative_hits_total",
        "Cache hits answered from a negative (NXDOMAIN/NODATA) entry.",
        ResolverStats::negativeHits);
    resolverCounter(
        "resolver_stale_answers_total",
        "Lookups answered from an expired entry (RFC 8767 serve-stale).",
        ResolverStats::staleServed);
    resolverCounter(
        "resolver_coalesced_total",
        "Lookups that joined an upstream query already in flight.",
        ResolverStats::coalesced);
    resolverCounter(
        "resolver_prefetches_total",
        "Resolutions started before a popular entry expired.",
        ResolverStats::prefetches);
    resolverCounter(
        "resolver_upstream_queries_total",
        "Queries sent to the upstream DNS servers.",
        ResolverStats::upstreamQueries);
    resolverCounter(
        "resolver_upstream_failures_total",
        "Upstream DNS queries that failed or timed out.",
        ResolverStats::upstreamFailures);
  }

  private void resolverCounter(
      String name, String help, java.util.function.ToLongFunction<ResolverStats> value) {
    counter(
        name, help, (s, cb) -> s.resolver().get().ifPresent(r -> cb.call(value.applyAsLong(r))));
  }

  /** Reads the sources into one metric's samples. */
  @FunctionalInterface
  private interface Reader {
    void read(Sources sources, Sample sample);
  }

  /** One sample: value and label values. */
  @FunctionalInterface
  private interface Sample {
    void call(double value, String... labelValues);
  }

  private void counter(String name, String help, Reader reader, String... labelNames) {
    CounterWithCallback.builder()
        .name(PREFIX + name)
        .help(help)
        .labelNames(labelNames)
        .callback(cb -> read(reader, cb::call))
        .register(registry);
  }

  private void gauge(String name, String help, Reader reader, String... labelNames) {
    GaugeWithCallback.builder()
        .name(PREFIX + name)
        .help(help)
        .labelNames(labelNames)
        .callback(cb -> read(reader, cb::call))
        .register(registry);
  }

  private void read(Reader reader, Sample sample) {
    Sources s = sources;
    if (s != null) {
      reader.read(s, sample);
    }
  }

  /**
   * Route and connect times per connection, keyed by the connection object the splicer passes to
   * every call.
   */
  private final class TimingListener implements SpliceListener {
    @Override
    public void accepted(InboundConnection connection) {
      setups.put(connection, new long[] {System.nanoTime()});
    }

    @Override
    public void routed(InboundConnection connection, Route route) {
      long[] t = setups.get(connection);
      if (t != null) {
        long now = System.nanoTime();
        routeTime.observe((now - t[0]) / 1e9);
        t[0] = now; // only the loop thread owning the connection touches its slot
      }
    }

    @Override
    public void connected(InboundConnection connection, InetSocketAddress upstream) {
      long[] t = setups.remove(connection);
      if (t != null) {
        connectTime.observe((System.nanoTime() - t[0]) / 1e9);
      }
    }

    @Override
    public void closed(InboundConnection connection, SpliceSummary summary) {
      setups.remove(connection);
    }
  }

  // ------------------------------------------------------------------------------------------
  // human-readable views

  /**
   * The one-line summary logged every {@code stats.interval}: every counter of this node that is
   * not zero.
   */
  public String statsLine() {
    StringBuilder b = new StringBuilder(256);
    grouped()
        .forEach(
            (group, entries) -> {
              b.append(b.length() == 0 ? "" : " | ").append(group);
              entries.forEach((k, v) -> b.append(' ').append(k).append('=').append(v));
            });
    return b.toString();
  }

  /**
   * The same numbers as {@link #statsLine()}, one line per group ({@code connections}, {@code dns},
   * ...).
   */
  public String statsText() {
    StringBuilder b = new StringBuilder(512);
    grouped()
        .forEach(
            (group, entries) -> {
              b.append("  ").append(group).append(':');
              entries.forEach((k, v) -> b.append(' ').append(k).append(' ').append(v).append(','));
              b.setLength(b.length() - 1);
              b.append('\n');
            });
    return b.toString();
  }

  /**
   * The proxy's counters and gauges from the registry, by group (the first word after {@link
   * #PREFIX}): keys are the rest of the name without {@code _total} plus the label values; labelled
   * samples only when not zero.
   */
  private Map<String, Map<String, String>> grouped() {
    MetricSnapshots snapshots = registry.scrape(name -> name.startsWith(PREFIX));
    Map<String, Map<String, String>> groups = new LinkedHashMap<>();
    for (MetricSnapshot m : snapshots) {
      if (!(m instanceof CounterSnapshot) && !(m instanceof GaugeSnapshot)) {
        continue; // histograms and info are for graphs, not for a log line
      }
      String name = m.getMetadata().getName().substring(PREFIX.length());
      int cut = name.indexOf('_');
      String group = cut < 0 ? name : name.substring(0, cut);
      String key = cut < 0 ? name : name.substring(cut + 1);
      for (DataPointSnapshot p : m.getDataPoints()) {
        double value =
            p instanceof CounterSnapshot.CounterDataPointSnapshot c
                ? c.getValue()
                : ((GaugeSnapshot.GaugeDataPointSnapshot) p).getValue();
        StringBuilder k = new StringBuilder(key);
        for (Label l : p.getLabels()) {
          k.append('.').append(l.getValue());
        }
        if (p.getLabels().isEmpty() || value != 0) {
          groups
              .computeIfAbsent(group, g -> new LinkedHashMap<>())
              .put(k.toString(), format(value));
        }
      }
    }
    return groups;
  }

  private static String format(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }

  private static String lower(String name) {
    return name.toLowerCase(Locale.ROOT);
  }

  /** The project version, from the filtered {@code build.properties} resource. */
  static String version() {
    try (InputStream in = ProxyMetrics.class.getResourceAsStream("build.properties")) {
      if (in == null) {
        return "unknown";
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
