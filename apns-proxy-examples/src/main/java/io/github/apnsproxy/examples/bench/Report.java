// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The bench's results: every run of every figure per target, reduced to medians, ratios (or added
 * latency) against {@code direct} paired run by run, and the targets judged for apns-proxy.
 * Renders one plain-text table and the same as a JSON-ready map. Used by one thread.
 */
final class Report {
  /** How a row compares a target with direct. */
  enum Compare {
    NONE,
    /** target / direct, higher is better. */
    RATIO,
    /** target - direct, for latencies. */
    ADDED
  }

  /** One table row: a figure, how it is shown, and the target for apns-proxy (if any). */
  record Row(
      String figure,
      String key,
      String label,
      String unit,
      Compare compare,
      int decimals,
      String goal) {}

  static final List<Row> ROWS =
      List.of(
          new Row(
              "bulk",
              "bulk.up.gbps",
              "bulk client->upstream, 1 stream",
              "Gbit/s",
              Compare.RATIO,
              2,
              ">= 0.55x direct, > haproxy"),
          new Row(
              "bulk",
              "bulk.up.cpu_s_per_gb",
              "  CPU per GB",
              "CPU-s/GB",
              Compare.NONE,
              3,
              "<= 0.65"),
          new Row("bulk", "bulk.up.cpu_pct", "  CPU", "% core", Compare.NONE, 0, ""),
          new Row(
              "bulk",
              "bulk.up.proc_cpu_s_per_gb",
              "    process only",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "bulk",
              "bulk.up.load_cpu_pct",
              "  load CPU (client, upstreams)",
              "% core",
              Compare.NONE,
              0,
              ""),
          new Row(
              "bulk",
              "bulk.down.gbps",
              "bulk upstream->client, 1 stream",
              "Gbit/s",
              Compare.RATIO,
              2,
              ">= 0.55x direct, > haproxy"),
          new Row(
              "bulk",
              "bulk.down.cpu_s_per_gb",
              "  CPU per GB",
              "CPU-s/GB",
              Compare.NONE,
              3,
              "<= 0.65"),
          new Row("bulk", "bulk.down.cpu_pct", "  CPU", "% core", Compare.NONE, 0, ""),
          new Row(
              "bulk",
              "bulk.down.proc_cpu_s_per_gb",
              "    process only",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "bulk",
              "bulk.down.load_cpu_pct",
              "  load CPU (client, upstreams)",
              "% core",
              Compare.NONE,
              0,
              ""),
          new Row(
              "pingpong",
              "pingpong1.p50_us",
              "ping-pong 64 B, 1 conn: p50",
              "us",
              Compare.ADDED,
              1,
              "added <= 30 us"),
          new Row("pingpong", "pingpong1.p99_us", "  p99", "us", Compare.ADDED, 1, ""),
          new Row("pingpong", "pingpong1.rtps", "  round trips", "rt/s", Compare.RATIO, 0, ""),
          new Row(
              "pingpong",
              "pingpong1.cpu_us_per_rt",
              "  CPU per round trip",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row(
              "pingpong",
              "pingpong1.proc_cpu_us_per_rt",
              "    process only",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row(
              "pingpong",
              "pingpongN.rtps",
              "ping-pong 64 B, N conns",
              "rt/s",
              Compare.RATIO,
              0,
              ">= 0.85x direct"),
          new Row(
              "pingpong",
              "pingpongN.cpu_us_per_rt",
              "  CPU per round trip",
              "CPU-us",
              Compare.NONE,
              1,
              "<= 25"),
          new Row("pingpong", "pingpongN.cpu_pct", "  CPU", "% core", Compare.NONE, 0, ""),
          new Row(
              "pingpong",
              "pingpongN.proc_cpu_us_per_rt",
              "  CPU per round trip, process only",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row(
              "pingpong",
              "pingpongN.load_cpu_pct",
              "  load CPU (clients, upstreams)",
              "% core",
              Compare.NONE,
              0,
              ""),
          new Row("pingpong", "pingpongN.p99_us", "  p99 round trip", "us", Compare.ADDED, 0, ""),
          new Row(
              "setup",
              "setup.per_s",
              "connection setups, K in flight",
              "conn/s",
              Compare.RATIO,
              0,
              ">= 0.90x direct"),
          new Row(
              "setup",
              "setup.cpu_us_per_conn",
              "  CPU per connection",
              "CPU-us",
              Compare.NONE,
              0,
              "<= 110"),
          new Row("setup", "setup.cpu_pct", "  CPU", "% core", Compare.NONE, 0, ""),
          new Row(
              "setup",
              "setup.proc_cpu_us_per_conn",
              "  CPU per connection, process only",
              "CPU-us",
              Compare.NONE,
              0,
              ""),
          new Row(
              "setup",
              "setup.load_cpu_pct",
              "  load CPU (clients, upstreams)",
              "% core",
              Compare.NONE,
              0,
              ""),
          new Row("setup", "setup.p50_ms", "  p50 setup time", "ms", Compare.ADDED, 3, ""),
          new Row("setup", "setup.p99_ms", "  p99 setup time", "ms", Compare.ADDED, 3, ""),
          new Row("setup", "setup.errors", "  failed setups", "count", Compare.NONE, 0, ""),
          new Row(
              "accesslog",
              "accesslog_on.per_s",
              "setups, access log on (proxy restarted)",
              "conn/s",
              Compare.NONE,
              0,
              ""),
          new Row(
              "accesslog",
              "accesslog_on.cpu_us_per_conn",
              "  CPU per connection",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row(
              "accesslog",
              "accesslog_off.per_s",
              "setups, access log off (proxy restarted)",
              "conn/s",
              Compare.NONE,
              0,
              ""),
          new Row(
              "accesslog",
              "accesslog_off.cpu_us_per_conn",
              "  CPU per connection",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row(
              "accesslog",
              "accesslog.cost_pct_core_at_10k",
              "access log cost at 10,000 setups/s",
              "% core",
              Compare.NONE,
              1,
              ""),
          new Row(
              "idle",
              "idle.survived",
              "idle splices: survived of N",
              "count",
              Compare.NONE,
              0,
              "all"),
          new Row(
              "idle",
              "idle.mem_kib_per_conn",
              "  memory per splice: RSS + live heap",
              "KiB",
              Compare.NONE,
              2,
              "<= 3.0"),
          new Row("idle", "idle.rss_kib_per_conn", "  RSS per splice", "KiB", Compare.NONE, 2, ""),
          new Row(
              "idle",
              "idle.rss_kib_per_conn_after_gc",
              "  RSS per splice, after a full GC",
              "KiB",
              Compare.NONE,
              2,
              ""),
          new Row(
              "idle",
              "idle.heap_kib_per_conn",
              "  live heap per splice",
              "KiB",
              Compare.NONE,
              2,
              "<= 1.5"),
          new Row(
              "idle",
              "idle.heap_kib_left_per_conn",
              "  live heap left after they closed",
              "KiB",
              Compare.NONE,
              2,
              ""),
          new Row(
              "idle", "idle.rss_base_mib", "  RSS before the splices", "MiB", Compare.NONE, 1, ""),
          new Row(
              "idle", "idle.cpu_pct", "  CPU during keepalives", "% core", Compare.NONE, 2, "< 2"),
          new Row(
              "idle",
              "idle.cpu_us_per_keepalive",
              "  CPU per keepalive round trip",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row(
              "idle",
              "idle.proc_cpu_us_per_keepalive",
              "    process only",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row(
              "idle", "idle.cpu_pct_quiet", "  CPU with no traffic", "% core", Compare.NONE, 2, ""),
          new Row(
              "idle", "idle.fds_per_conn", "  open files per splice", "count", Compare.NONE, 2, ""),
          new Row("idle", "idle.open_per_s", "  opening rate", "conn/s", Compare.NONE, 0, ""),
          new Row("dns", "dns.qps", "DNS A/UDP, saturated", "q/s", Compare.NONE, 0, ""),
          new Row("dns", "dns.cpu_us_per_q", "  CPU per query", "CPU-us", Compare.NONE, 1, "<= 8"),
          new Row("dns", "dns.cpu_pct", "  CPU", "% core", Compare.NONE, 0, ""),
          new Row(
              "dns",
              "dns.proc_cpu_us_per_q",
              "  CPU per query, process only",
              "CPU-us",
              Compare.NONE,
              1,
              ""),
          new Row("dns", "dns.p99_us_saturated", "  p99 latency", "us", Compare.NONE, 0, ""),
          new Row("dns", "dns.lost", "  lost answers", "count", Compare.NONE, 0, ""),
          new Row("dns", "dns.errors", "  bad or late answers", "count", Compare.NONE, 0, ""),
          new Row("dns", "dnslow.p50_us", "DNS low load: p50", "us", Compare.NONE, 0, ""),
          new Row("dns", "dnslow.p99_us", "  p99", "us", Compare.NONE, 0, "< 1000"),
          new Row("dns", "dnslow.cpu_us_per_q", "  CPU per query", "CPU-us", Compare.NONE, 1, ""),
          new Row("dns", "dnslow.lost", "  lost answers", "count", Compare.NONE, 0, "0"),
          new Row(
              "dnsperf",
              "dnsperf.qps",
              "DNS A/UDP, dnsperf -c 4 -q 64",
              "q/s",
              Compare.NONE,
              0,
              ""),
          new Row(
              "dnsperf", "dnsperf.cpu_us_per_q", "  CPU per query", "CPU-us", Compare.NONE, 1, ""),
          new Row(
              "dnsperf", "dnsperf.avg_latency_us", "  average latency", "us", Compare.NONE, 0, ""),
          new Row("dnsperf", "dnsperf.lost", "  lost queries", "count", Compare.NONE, 0, ""),
          new Row(
              "sni",
              "sni.addr_cpu_us_per_conn",
              "setups with a ClientHello: by address",
              "CPU-us",
              Compare.NONE,
              0,
              ""),
          new Row(
              "sni",
              "sni.sni_cpu_us_per_conn",
              "  by server name (SNI)",
              "CPU-us",
              Compare.NONE,
              0,
              ""),
          new Row(
              "sni",
              "sni.cpu_ratio",
              "  SNI / address, CPU per setup",
              "ratio",
              Compare.NONE,
              3,
              "<= 1.10"),
          new Row("sni", "sni.addr_per_s", "  setups by address", "conn/s", Compare.NONE, 0, ""),
          new Row("sni", "sni.sni_per_s", "  setups by SNI", "conn/s", Compare.NONE, 0, ""),
          new Row("sni", "sni.sni_p99_ms", "  p99 setup time by SNI", "ms", Compare.NONE, 3, ""),
          new Row("sni", "sni.hello_bytes", "  ClientHello size", "bytes", Compare.NONE, 0, ""),
          new Row("sni", "sni.errors", "  failed setups", "count", Compare.NONE, 0, ""),
          new Row(
              "sni",
              "sni.idle_addr_mem_kib_per_conn",
              "idle splices opened with a hello: address",
              "KiB",
              Compare.NONE,
              2,
              ""),
          new Row(
              "sni",
              "sni.idle_sni_mem_kib_per_conn",
              "  by SNI (memory per splice)",
              "KiB",
              Compare.NONE,
              2,
              "<= address + 0.25"),
          new Row(
              "sni",
              "sni.idle_sni_heap_kib_per_conn",
              "  by SNI, live heap per splice",
              "KiB",
              Compare.NONE,
              2,
              ""),
          new Row(
              "sni", "sni.idle_survived", "  survived (both runs)", "count", Compare.NONE, 0, ""),
          new Row(
              "egress",
              "egress.direct_per_s",
              "setups, K in flight: egress direct",
              "conn/s",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress.relay_per_s",
              "  through an HTTP CONNECT relay",
              "conn/s",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress.rate_ratio",
              "  relay / direct, setups/s",
              "ratio",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress.direct_cpu_us_per_conn",
              "  CPU per setup, egress direct",
              "CPU-us",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress.relay_cpu_us_per_conn",
              "  CPU per setup, through the relay",
              "CPU-us",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress.cpu_ratio",
              "  relay / direct, CPU per setup",
              "ratio",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress.direct_p50_ms",
              "  p50 setup time, direct",
              "ms",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress.relay_p50_ms",
              "  p50 setup time, relay",
              "ms",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress.relay_load_cpu_pct",
              "  load CPU (clients, upstreams, relay)",
              "% core",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress.relay_own_cpu_us_per_conn",
              "  relay's CPU per setup (load core)",
              "CPU-us",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress", "egress.errors", "  failed setups (both)", "count", Compare.NONE, 0, ""),
          new Row(
              "egress",
              "egress.relay_by_address",
              "  CONNECTs to an address, not a name",
              "count",
              Compare.NONE,
              0,
              "0"),
          new Row(
              "egress",
              "egress.relay_refused",
              "  CONNECTs the relay refused",
              "count",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress_up.direct_gbps",
              "bulk client->upstream: egress direct",
              "Gbit/s",
              Compare.NONE,
              2,
              ""),
          new Row(
              "egress",
              "egress_up.relay_gbps",
              "  through the relay",
              "Gbit/s",
              Compare.NONE,
              2,
              ""),
          new Row(
              "egress",
              "egress_up.gbps_ratio",
              "  relay / direct, Gbit/s",
              "ratio",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_up.direct_cpu_s_per_gb",
              "  CPU per GB, egress direct",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_up.relay_cpu_s_per_gb",
              "  CPU per GB, through the relay",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_up.cpu_ratio",
              "  relay / direct, CPU per GB",
              "ratio",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_up.relay_load_cpu_pct",
              "  load CPU (client, upstream, relay)",
              "% core",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress_up.relay_own_cpu_s_per_gb",
              "  relay's CPU per GB (load core)",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_down.direct_gbps",
              "bulk upstream->client: egress direct",
              "Gbit/s",
              Compare.NONE,
              2,
              ""),
          new Row(
              "egress",
              "egress_down.relay_gbps",
              "  through the relay",
              "Gbit/s",
              Compare.NONE,
              2,
              ""),
          new Row(
              "egress",
              "egress_down.gbps_ratio",
              "  relay / direct, Gbit/s",
              "ratio",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_down.direct_cpu_s_per_gb",
              "  CPU per GB, egress direct",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_down.relay_cpu_s_per_gb",
              "  CPU per GB, through the relay",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_down.cpu_ratio",
              "  relay / direct, CPU per GB",
              "ratio",
              Compare.NONE,
              3,
              ""),
          new Row(
              "egress",
              "egress_down.relay_load_cpu_pct",
              "  load CPU (client, upstream, relay)",
              "% core",
              Compare.NONE,
              0,
              ""),
          new Row(
              "egress",
              "egress_down.relay_own_cpu_s_per_gb",
              "  relay's CPU per GB (load core)",
              "CPU-s/GB",
              Compare.NONE,
              3,
              ""),
          new Row(
              "trickle",
              "trickle.clients",
              "slow ClientHellos (1 byte/s): clients",
              "count",
              Compare.NONE,
              0,
              ""),
          new Row(
              "trickle",
              "trickle.peak_preface_kib",
              "  peak preface bytes held",
              "KiB",
              Compare.NONE,
              0,
              "<= 65536 (budget)"),
          new Row(
              "trickle",
              "trickle.preface_bytes_per_client",
              "  preface bytes per client",
              "bytes",
              Compare.NONE,
              0,
              ""),
          new Row(
              "trickle",
              "trickle.peak_rss_growth_mib",
              "  peak RSS growth",
              "MiB",
              Compare.NONE,
              1,
              ""),
          new Row(
              "trickle",
              "trickle.closed_by_proxy",
              "  closed by the proxy",
              "count",
              Compare.NONE,
              0,
              ""),
          new Row(
              "trickle",
              "trickle.preface_timeouts",
              "  preface timeouts (proxy's count)",
              "count",
              Compare.NONE,
              0,
              ""),
          new Row("soak", "soak.seconds", "churn soak: duration", "s", Compare.NONE, 0, ""),
          new Row("soak", "soak.setups", "  setups", "count", Compare.NONE, 0, ""),
          new Row("soak", "soak.dns_udp", "  DNS queries over UDP", "count", Compare.NONE, 0, ""),
          new Row("soak", "soak.dns_tcp", "  DNS queries over TCP", "count", Compare.NONE, 0, ""),
          new Row("soak", "soak.resets", "  client resets", "count", Compare.NONE, 0, ""),
          new Row("soak", "soak.failures", "  failed operations", "count", Compare.NONE, 0, ""),
          new Row(
              "soak",
              "soak.episode_conns",
              "  exhaustion: connections held",
              "count",
              Compare.NONE,
              0,
              ""),
          new Row(
              "soak",
              "soak.episode_peak_fds",
              "  exhaustion: proxy descriptors",
              "count",
              Compare.NONE,
              0,
              ""),
          new Row(
              "soak",
              "soak.episode_recovered",
              "  exhaustion: served again after",
              "1=yes",
              Compare.NONE,
              0,
              "1"),
          new Row("soak", "soak.fds_base", "  descriptors: baseline", "count", Compare.NONE, 0, ""),
          new Row(
              "soak",
              "soak.fds_peak",
              "  descriptors: peak (sampled)",
              "count",
              Compare.NONE,
              0,
              ""),
          new Row(
              "soak", "soak.fds_end", "  descriptors: end", "count", Compare.NONE, 0, "baseline"),
          new Row("soak", "soak.threads_base", "  threads: baseline", "count", Compare.NONE, 0, ""),
          new Row(
              "soak", "soak.threads_end", "  threads: end", "count", Compare.NONE, 0, "baseline"),
          new Row(
              "soak",
              "soak.heap_base_kib",
              "  live heap after GC: baseline",
              "KiB",
              Compare.NONE,
              0,
              ""),
          new Row(
              "soak",
              "soak.heap_end_kib",
              "  live heap after GC: end",
              "KiB",
              Compare.NONE,
              0,
              "baseline"));

  private final List<String> targets;
  private final Map<String, Map<String, List<Double>>> runs = new LinkedHashMap<>();
  private final Map<String, Object> extra = new LinkedHashMap<>();
  private final List<String> failures = new ArrayList<>();

  Report(List<String> targets) {
    this.targets = List.copyOf(targets);
  }

  /** Adds one run's figures for a target. */
  void add(String target, Map<String, Double> figures) {
    figures.forEach(
        (k, v) ->
            runs.computeIfAbsent(k, x -> new LinkedHashMap<>())
                .computeIfAbsent(target, x -> new ArrayList<>())
                .add(v));
  }

  /** Keeps a run's place when it failed, so that runs stay paired with direct's by index. */
  void addFailure(String target, String figure, List<String> keys, String why) {
    failures.add(figure + " " + target + ": " + why);
    for (String k : keys) {
      runs.computeIfAbsent(k, x -> new LinkedHashMap<>())
          .computeIfAbsent(target, x -> new ArrayList<>())
          .add(Double.NaN);
    }
  }

  void putExtra(String key, Object value) {
    extra.put(key, value);
  }

  List<String> failures() {
    return failures;
  }

  List<Double> runs(String key, String target) {
    return runs.getOrDefault(key, Map.of()).getOrDefault(target, List.of());
  }

  double median(String key, String target) {
    return Stats.median(runs(key, target));
  }

  /**
   * Paired ratio (target / direct) or difference (target - direct), median over the runs; NaN
   * without direct.
   */
  double versusDirect(Row row, String target) {
    List<Double> t = runs(row.key(), target);
    List<Double> d = runs(row.key(), Options.DIRECT);
    return switch (row.compare()) {
      case RATIO -> Stats.median(Stats.ratios(t, d));
      case ADDED -> Stats.median(Stats.differences(t, d));
      case NONE -> Double.NaN;
    };
  }

  /** The verdict on apns-proxy for a row with a goal: "met", "MISSED", or "" when not measured. */
  String verdict(Row row) {
    String p = Options.PROXY;
    double v = median(row.key(), p);
    if (row.goal().isEmpty() || !Stats.finite(v)) {
      return "";
    }
    double vs = versusDirect(row, p);
    Boolean ok =
        switch (row.key()) {
          case "bulk.up.gbps", "bulk.down.gbps" -> {
            if (!Stats.finite(vs)) {
              yield null;
            }
            double haproxy = median(row.key(), "haproxy");
            yield vs >= 0.55 && (!Stats.finite(haproxy) || v > haproxy);
          }
          case "bulk.up.cpu_s_per_gb", "bulk.down.cpu_s_per_gb" -> v <= 0.65;
          case "pingpong1.p50_us" -> Stats.finite(vs) ? vs <= 30 : null;
          case "pingpongN.rtps" -> Stats.finite(vs) ? vs >= 0.85 : null;
          case "pingpongN.cpu_us_per_rt" -> v <= 25;
          case "setup.per_s" -> Stats.finite(vs) ? vs >= 0.90 : null;
          case "setup.cpu_us_per_conn" -> v <= 110;
          case "idle.survived" -> runs("idle.survived", p).equals(runs("idle.conns", p));
          case "idle.mem_kib_per_conn" -> v <= 3.0;
          case "idle.heap_kib_per_conn" -> v <= 1.5;
          case "idle.cpu_pct" -> v < 2;
          case "dns.cpu_us_per_q" -> v <= 8;
          case "dnslow.p99_us" -> v < 1000;
          case "dnslow.lost" -> runs("dnslow.lost", p).stream().allMatch(x -> x == 0);
          case "sni.cpu_ratio" -> v <= 1.10;
          case "sni.idle_sni_mem_kib_per_conn" -> {
            double a = median("sni.idle_addr_mem_kib_per_conn", p);
            yield Stats.finite(a) ? v <= a + 0.25 : null;
          }
          case "egress.relay_by_address" ->
              runs("egress.relay_by_address", p).stream().allMatch(x -> x == 0);
          case "trickle.peak_preface_kib" -> v <= 65_536;
          case "soak.episode_recovered" -> v == 1;
          case "soak.fds_end" -> v <= median("soak.fds_base", p) + 4;
          case "soak.threads_end" -> v <= median("soak.threads_base", p) + 2;
          case "soak.heap_end_kib" -> v <= median("soak.heap_base_kib", p) * 1.10 + 256;
          default -> null;
        };
    return ok == null ? "" : ok ? "met" : "MISSED";
  }

  private List<Row> presentRows() {
    List<Row> out = new ArrayList<>();
    for (Row r : ROWS) {
      if (runs.containsKey(r.key())) {
        out.add(r);
      }
    }
    return out;
  }

  private List<String> presentTargets() {
    List<String> out = new ArrayList<>();
    for (String t : targets) {
      if (runs.values().stream().anyMatch(m -> m.containsKey(t))) {
        out.add(t);
      }
    }
    return out;
  }

  /**
   * The plain-text table: one row per figure, one column per target, the goal and verdict for
   * apns-proxy.
   */
  String table(String header, int conns, int inFlight, int idleConns) {
    List<String> cols = presentTargets();
    int labelWidth = 38;
    int colWidth = 16;
    StringBuilder sb = new StringBuilder(header).append('\n');
    sb.append(String.format("%-" + labelWidth + "s %-9s", "figure (medians)", "unit"));
    for (String c : cols) {
      sb.append(String.format(" %" + colWidth + "s", c));
    }
    sb.append("   target (apns-proxy)\n");
    String lastFigure = "";
    for (Row r : presentRows()) {
      if (!r.figure().equals(lastFigure) && !lastFigure.isEmpty()) {
        sb.append('\n');
      }
      lastFigure = r.figure();
      String label =
          r.label()
              .replace("N conns", conns + " conns")
              .replace("K in flight", inFlight + " in flight")
              .replace("of N", "of " + idleConns);
      sb.append(String.format("%-" + labelWidth + "s %-9s", label, r.unit()));
      for (String c : cols) {
        sb.append(String.format(" %" + colWidth + "s", cell(r, c)));
      }
      if (!r.goal().isEmpty()) {
        String v = verdict(r);
        sb.append("   ").append(r.goal()).append(v.isEmpty() ? "" : ": " + v);
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  private String cell(Row r, String target) {
    List<Double> rs = runs(r.key(), target);
    if (rs.isEmpty()) {
      return "";
    }
    double v = Stats.median(rs);
    if (!Stats.finite(v)) {
      return "n/a";
    }
    String s = format(v, r.decimals());
    if (!target.equals(Options.DIRECT)) {
      double vs = versusDirect(r, target);
      if (Stats.finite(vs)) {
        s +=
            r.compare() == Compare.RATIO
                ? String.format(" (%.2fx)", vs)
                : String.format(" (%+.1f)", vs);
      }
    }
    return s;
  }

  static String format(double v, int decimals) {
    if (Math.abs(v) >= 100_000 && decimals == 0) {
      return String.format("%,.0f", v);
    }
    return String.format("%." + decimals + "f", v);
  }

  /** The same results as JSON-ready maps and lists. */
  Map<String, Object> toJson() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("targets", presentTargets());
    List<Object> figures = new ArrayList<>();
    for (Row r : presentRows()) {
      Map<String, Object> f = new LinkedHashMap<>();
      f.put("key", r.key());
      f.put("figure", r.figure());
      f.put("label", r.label().trim());
      f.put("unit", r.unit());
      if (!r.goal().isEmpty()) {
        f.put("goal", r.goal());
        f.put("verdict", verdict(r));
      }
      Map<String, Object> values = new LinkedHashMap<>();
      for (String t : presentTargets()) {
        List<Double> rs = runs(r.key(), t);
        if (rs.isEmpty()) {
          continue;
        }
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("median", Stats.median(rs));
        v.put("runs", rs);
        if (!t.equals(Options.DIRECT) && r.compare() != Compare.NONE) {
          v.put(
              r.compare() == Compare.RATIO ? "ratio_to_direct" : "added_to_direct",
              versusDirect(r, t));
        }
        values.put(t, v);
      }
      f.put("values", values);
      figures.add(f);
    }
    out.put("figures", figures);
    out.putAll(extra);
    out.put("failures", failures);
    return out;
  }

  /** Rows whose goal apns-proxy missed, for the summary line. */
  List<String> missed() {
    List<String> out = new ArrayList<>();
    for (Row r : presentRows()) {
      if (Objects.equals(verdict(r), "MISSED")) {
        out.add(r.key());
      }
    }
    return out;
  }
}
