// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import io.github.apnsproxy.examples.ProxySetup;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * {@code apns-proxy bench}: measures the proxy, run as a separate JVM from a generated config,
 * against a direct loopback connection to the same upstream servers and against peer proxies, on
 * loopback only. Figures: bulk throughput, 64-byte ping-pong (1 and many connections), connection
 * setups, idle splices (memory and CPU), DNS queries over UDP, routing by TLS server name, egress
 * through an HTTP CONNECT relay. Each figure is repeated, medians are reported with ratios to
 * direct paired run by run, and the target's CPU is reported next to every rate. Prints one table
 * and writes the same as JSON.
 *
 * <p>Processes: the bench JVM pins itself (all its threads) to {@code --load-cpu} with {@code
 * taskset}, and starts the upstream servers ({@link EchoServers}, a second JVM that inherits that
 * CPU) and the proxy ({@code taskset -c PROXY_CPU java -jar apns-proxy.jar run --config ...}). Both
 * are stopped on exit, also by a shutdown hook. Single-threaded: every load generator runs on the
 * calling thread.
 */
public final class Bench {
  private static final String PROXY_READY = "apns-proxy running:";
  private static final String ECHO_READY = "echo-servers ready";

  private final Options o;
  private final PrintStream out;
  private final Plan plan;

  /** The machine's CPUs, read before pinning (afterwards the JVM sees only the load CPU). */
  private final int cpus = Runtime.getRuntime().availableProcessors();

  private final List<Child> children = new ArrayList<>();
  private Path work;
  private Child proxy;
  private @Nullable Child echo;

  /** The egress figure's HTTP CONNECT relay, in this JVM (so on the load core); null until then. */
  private @Nullable ConnectRelay relay;

  private Bench(Options o, PrintStream out) {
    this.o = o;
    this.out = out;
    this.plan = new Plan(o.couriers, o.port, o.upstreamBase);
  }

  /**
   * Runs the bench with command-line {@code args}; returns the exit code (0 ok, 1 failure, 2 bad
   * usage).
   */
  public static int run(String[] args) throws IOException, InterruptedException {
    PrintStream out = System.out;
    Options o;
    try {
      if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
        out.print(Options.USAGE);
        return 0;
      }
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("apns-proxy bench: " + e.getMessage());
      System.err.print(Options.USAGE);
      return 2;
    }
    Bench b = new Bench(o, out);
    if (o.emitMap != null) {
      out.print(b.plan.emitMap(o.emitMap));
      return 0;
    }
    try {
      return b.runAll();
    } finally {
      b.stopAll();
    }
  }

  public static void main(String[] args) throws IOException, InterruptedException {
    System.exit(run(args));
  }

  private int runAll() throws IOException, InterruptedException {
    String pinned = pinSelf();
    work = Files.createTempDirectory("apns-proxy-bench-");
    List<Target> targets = new ArrayList<>();
    Report report = new Report(o.targets);
    boolean tcpFigures = o.only.stream().anyMatch(f -> !f.equals("dns") && !f.equals("soak"));

    startEchoServers();
    if (o.targets.contains(Options.DIRECT)) {
      // direct's server end (the upstream servers) moves to the proxy CPU while direct is measured,
      // so direct too
      // has one core per end and its CPU is that core's busy time
      targets.add(
          new Target(
              Options.DIRECT, plan.upstreams(), List.of(), null, false, targetCore(), loadCore()));
    }
    Target proxyTarget = null;
    if (o.targets.contains(Options.PROXY)) {
      proxyTarget = startProxy();
      targets.add(proxyTarget);
    }
    Target sniTarget = null;
    InetSocketAddress sniMetrics = null;
    if (proxyTarget != null && o.only.contains("sni")) {
      // the same couriers behind a single-address plan: every connection routed by its
      // ClientHello's server name
      int metricsPort = freePort();
      sniMetrics = new InetSocketAddress(InetAddress.getLoopbackAddress(), metricsPort);
      sniTarget =
          startChild(
              "apns-proxy-sni",
              nextSubnet(1),
              Map.of("plan.style", "single", "metrics.listen", "127.0.0.1:" + metricsPort),
              0,
              List.of());
    }
    Target soakTarget = null;
    if (proxyTarget != null && o.only.contains("soak")) {
      soakTarget = startChild("apns-proxy-soak", nextSubnet(2), Map.of(), SOAK_FD_LIMIT, List.of());
    }
    Target egressTarget = null;
    if (proxyTarget != null && o.only.contains("egress")) {
      // the same couriers through a proxy whose egress is an HTTP CONNECT relay in this JVM: the
      // proxy asks it for the courier names, which it resolves like the proxy's hosts file
      String subnet = nextSubnet(3);
      ConnectRelay rl =
          ConnectRelay.start(
              new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
              plan.upstreamHosts(subnet));
      relay = rl;
      egressTarget =
          startChild(
              "apns-proxy-egress",
              subnet,
              Map.of("upstream.proxy", "http://127.0.0.1:" + rl.address().getPort()),
              0,
              List.of());
    }
    for (Options.Peer p : o.peers) {
      if (o.targets.contains(p.name())) {
        targets.add(
            new Target(
                p.name(),
                plan.fronts(p.subnet()),
                p.pids(),
                null,
                false,
                targetCore(),
                loadCore()));
      }
    }
    for (Options.DnsPeer p : o.dnsPeers) {
      if (o.targets.contains(p.name())) {
        targets.add(
            new Target(
                p.name(), List.of(), p.pids(), p.address(), false, targetCore(), loadCore()));
      }
    }
    List<Target> tcp = targets.stream().filter(Target::tcp).toList();
    List<Target> dns = targets.stream().filter(Target::hasDns).toList();
    for (Target t : tcp) {
      if (tcpFigures) {
        Connector.closeAll(
            Connector.openEcho(
                t, o.couriers, o.couriers, PingPong.message(8), Duration.ofSeconds(10)));
      }
    }

    String header = header(pinned);
    out.println(header);
    out.println("targets: " + targets.stream().map(this::describe).toList());
    out.flush();
    Instant started = Instant.now();

    for (int r = 1; r <= o.repeats; r++) {
      double w = o.warmup; // unmeasured, before every measured run (3 s; --quick 0.3 s)
      if (o.only.contains("bulk")) {
        for (Target t : tcp) {
          measure(
              report,
              t,
              "bulk.up.",
              r,
              List.of("bulk.up.gbps", "bulk.up.cpu_s_per_gb", "bulk.up.cpu_pct"),
              () -> Bulk.upload(t, w, o.duration));
          measure(
              report,
              t,
              "bulk.down.",
              r,
              List.of("bulk.down.gbps", "bulk.down.cpu_s_per_gb", "bulk.down.cpu_pct"),
              () -> Bulk.download(t, w, o.duration));
        }
      }
    }
    for (int r = 1; r <= o.repeats; r++) {
      double w = o.warmup; // unmeasured, before every measured run (3 s; --quick 0.3 s)
      if (o.only.contains("pingpong")) {
        for (Target t : tcp) {
          measure(
              report,
              t,
              "pingpong1.",
              r,
              List.of("pingpong1.p50_us", "pingpong1.p99_us", "pingpong1.rtps"),
              () -> PingPong.one(t, w, o.duration));
          measure(
              report,
              t,
              "pingpongN.",
              r,
              List.of("pingpongN.rtps", "pingpongN.cpu_us_per_rt"),
              () -> PingPong.many(t, o.conns, w, o.duration));
        }
      }
    }
    for (int r = 1; r <= o.repeats; r++) {
      double w = o.warmup; // unmeasured, before every measured run (3 s; --quick 0.3 s)
      if (o.only.contains("setup")) {
        for (Target t : tcp) {
          measure(
              report,
              t,
              "setup.",
              r,
              List.of("setup.per_s", "setup.p99_ms", "setup.cpu_us_per_conn"),
              () -> Setups.run(t, o.inFlight, w, o.duration));
        }
      }
    }
    Map<String, Object> growth = new LinkedHashMap<>();
    Map<String, Object> left = new LinkedHashMap<>();
    Path dnsperf = DnsPerf.find();
    for (int r = 1; r <= o.repeats; r++) {
      if (o.only.contains("idle")) {
        for (Target t : tcp) {
          if (t.isDirect()) {
            continue; // no process in between: nothing to measure
          }
          measure(
              report,
              t,
              "idle.",
              r,
              List.of(
                  "idle.survived",
                  "idle.mem_kib_per_conn",
                  "idle.heap_kib_per_conn",
                  "idle.cpu_pct"),
              () -> {
                Idle.Outcome oc =
                    Idle.run(t, o.idleConns, o.idleSeconds, o.idleInterval, o.quietSeconds);
                if (!oc.heapGrowth().isEmpty()) {
                  growth.put(t.name(), oc.heapGrowth());
                  left.put(t.name(), oc.heapLeft());
                }
                return oc.figures();
              });
        }
      }
    }
    if (sniTarget != null && proxyTarget != null) {
      byte[] hello = Sni.clientHello(Sni.SERVER_NAME);
      warmFresh(proxyTarget, hello); // cold too when the figures before did not run (--only)
      warmFresh(sniTarget, hello);
    }
    for (int r = 1; r <= o.repeats; r++) {
      double w = o.warmup;
      if (sniTarget != null) {
        Target a = proxyTarget;
        Target sn = sniTarget;
        measure(
            report,
            a,
            "sni.",
            r,
            List.of("sni.addr_cpu_us_per_conn", "sni.sni_cpu_us_per_conn", "sni.cpu_ratio"),
            () -> Sni.setups(a, sn, o.inFlight, w, o.duration));
      }
    }
    if (sniTarget != null) {
      Target a = proxyTarget;
      Target sn = sniTarget;
      InetSocketAddress mx = sniMetrics;
      measure(
          report,
          a,
          "sni.idle_",
          1,
          List.of("sni.idle_addr_mem_kib_per_conn", "sni.idle_sni_mem_kib_per_conn"),
          () -> Sni.idle(a, sn, o.idleConns, o.idleSeconds, o.idleInterval, o.quietSeconds));
      measure(
          report,
          a,
          "trickle.",
          1,
          List.of(
              "trickle.peak_preface_kib", "trickle.peak_rss_growth_mib", "trickle.closed_by_proxy"),
          () -> Sni.trickle(sn, mx, o.trickleClients, o.trickleSeconds));
    }
    if (egressTarget != null && relay != null && proxyTarget != null) {
      warmFresh(proxyTarget, new byte[0]);
      warmFresh(egressTarget, new byte[0]);
    }
    for (int r = 1; r <= o.repeats; r++) {
      double w = o.warmup;
      ConnectRelay rl = relay;
      if (egressTarget != null && rl != null) {
        Target a = proxyTarget;
        Target eg = egressTarget;
        measure(
            report,
            a,
            "egress.",
            r,
            List.of(
                "egress.direct_cpu_us_per_conn",
                "egress.relay_cpu_us_per_conn",
                "egress.rate_ratio"),
            () -> EgressPath.setups(a, eg, rl, o.inFlight, w, o.duration));
        measure(
            report,
            a,
            "egress_up.",
            r,
            List.of("egress_up.direct_gbps", "egress_up.relay_gbps", "egress_up.cpu_ratio"),
            () -> EgressPath.bulk(a, eg, rl, true, w, o.duration));
        measure(
            report,
            a,
            "egress_down.",
            r,
            List.of("egress_down.direct_gbps", "egress_down.relay_gbps", "egress_down.cpu_ratio"),
            () -> EgressPath.bulk(a, eg, rl, false, w, o.duration));
      }
    }
    if (soakTarget != null) {
      Target sk = soakTarget;
      measure(
          report,
          proxyTarget,
          "soak.",
          1,
          List.of(
              "soak.fds_base",
              "soak.fds_end",
              "soak.threads_base",
              "soak.threads_end",
              "soak.heap_base_kib",
              "soak.heap_end_kib",
              "soak.episode_recovered"),
          () -> Soak.run(sk, o.couriers, o.soakSeconds, SOAK_FD_LIMIT));
    }
    if (!growth.isEmpty()) {
      report.putExtra("idle_heap_growth_per_conn_top_classes", growth);
      report.putExtra("idle_heap_left_after_close_per_conn_top_classes", left);
    }
    for (int r = 1; r <= o.repeats; r++) {
      double w = o.warmup; // unmeasured, before every measured run (3 s; --quick 0.3 s)
      if (o.only.contains("dns")) {
        for (Target t : dns) {
          measure(
              report,
              t,
              "dns.",
              r,
              List.of("dns.qps", "dns.cpu_us_per_q", "dns.lost"),
              () -> DnsLoad.saturate(t, o.couriers, 4, 16, w, o.duration));
          measure(
              report,
              t,
              "dnslow.",
              r,
              List.of("dnslow.p50_us", "dnslow.p99_us", "dnslow.lost"),
              () -> DnsLoad.lowLoad(t, o.couriers, o.dnsRate, o.warmup, o.duration));
          if (dnsperf != null) {
            measure(
                report,
                t,
                "dnsperf.",
                r,
                List.of("dnsperf.qps", "dnsperf.cpu_us_per_q", "dnsperf.lost"),
                () -> DnsPerf.run(dnsperf, t, o.couriers, o.duration, work));
          }
        }
      }
    }

    if (o.only.contains("accesslog") && proxy != null) {
      accessLogCost(report);
    }

    String table = report.table(header, o.conns, o.inFlight, o.idleConns);
    out.println();
    out.print(table);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("bench", "apns-proxy");
    json.put("started", started.toString());
    json.put("seconds", Duration.between(started, Instant.now()).toSeconds());
    json.put("machine", machine(pinned));
    json.put("settings", settings());
    json.putAll(report.toJson());
    json.put("table", table);
    Files.writeString(o.json, Json.write(json), StandardCharsets.UTF_8);
    List<String> missed = report.missed();
    out.println();
    out.println(
        "apns-proxy targets missed: " + (missed.isEmpty() ? "none" : String.join(", ", missed)));
    if (!report.failures().isEmpty()) {
      out.println("failed measurements (" + report.failures().size() + "):");
      report.failures().forEach(f -> out.println("  " + f));
    }
    out.println(
        "result written to "
            + o.json.toAbsolutePath()
            + " ("
            + Duration.between(started, Instant.now()).toSeconds()
            + " s)");
    return report.failures().isEmpty() ? 0 : 1;
  }

  /** A measurement that may fail without ending the bench. */
  @FunctionalInterface
  private interface Measurement {
    Map<String, Double> run() throws IOException, InterruptedException;
  }

  /**
   * Runs one measurement of {@code t}; a failure is printed and recorded (as NaN for every key
   * starting with {@code prefix}, keeping the runs paired with direct's) without ending the bench,
   * unless the proxy died.
   */
  private void measure(
      Report report, Target t, String prefix, int repeat, List<String> show, Measurement m)
      throws IOException, InterruptedException {
    String figure = prefix.substring(0, prefix.length() - 1);
    if (proxy != null && !proxy.process.isAlive()) {
      throw new IOException(
          "the proxy exited ("
              + proxy.process.exitValue()
              + "); log "
              + proxy.log
              + ":\n"
              + proxy.tail(30));
    }
    Map<String, Double> figures;
    boolean moved = t.isDirect() && pinning() && echo != null && pin(echo.pid(), o.proxyCpu);
    try {
      figures = m.run();
    } catch (IOException | RuntimeException e) {
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      out.printf("[%s %d/%d] %-12s FAILED: %s%n", figure, repeat, o.repeats, t.name(), why);
      out.flush();
      report.addFailure(t.name(), figure, keysOf(prefix), why);
      return;
    } finally {
      if (moved && echo != null) {
        pin(echo.pid(), o.loadCpu);
      }
    }
    report.add(t.name(), figures);
    StringBuilder sb = new StringBuilder();
    for (String k : show) {
      Double v = figures.get(k);
      if (v != null) {
        sb.append("  ")
            .append(k.substring(k.indexOf('.') + 1))
            .append(' ')
            .append(Report.format(v, v < 10 ? 2 : 0));
      }
    }
    out.printf("[%s %d/%d] %-12s%s%n", figure, repeat, o.repeats, t.name(), sb);
    out.flush();
    Thread.sleep(200); // let the last connections close and TIME_WAIT settle a moment
  }

  private static List<String> keysOf(String prefix) {
    return Report.ROWS.stream().map(Report.Row::key).filter(k -> k.startsWith(prefix)).toList();
  }

  // ---------------------------------------------------------------------------------------------------- processes

  /**
   * Pins every thread of process {@code pid} to {@code cpu}; false (with a warning) when that
   * failed.
   */
  private boolean pin(long pid, int cpu) throws InterruptedException {
    try {
      Process p =
          new ProcessBuilder("taskset", "-a", "-p", "-c", Integer.toString(cpu), Long.toString(pid))
              .redirectErrorStream(true)
              .start();
      String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        out.println("warning: could not pin " + pid + " to CPU " + cpu + ": " + s.strip());
        return false;
      }
      return true;
    } catch (IOException e) {
      out.println("warning: taskset not usable (" + e.getMessage() + ")");
      return false;
    }
  }

  /**
   * The CPU whose busy time is a target's CPU: the proxy CPU when pinning, else -1 (process CPU
   * time).
   */
  private int targetCore() {
    return pinning() ? o.proxyCpu : -1;
  }

  private int loadCore() {
    return pinning() ? o.loadCpu : -1;
  }

  /** Pins every thread of this JVM to the load CPU; returns the CPUs we may run on afterwards. */
  private String pinSelf() throws InterruptedException {
    if (o.pin && cpus >= 2) {
      try {
        Process p =
            new ProcessBuilder(
                    "taskset",
                    "-a",
                    "-p",
                    "-c",
                    Integer.toString(o.loadCpu),
                    Long.toString(ProcessHandle.current().pid()))
                .redirectErrorStream(true)
                .start();
        String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
          out.println("warning: could not pin the bench to CPU " + o.loadCpu + ": " + s.strip());
        }
      } catch (IOException e) {
        out.println("warning: taskset not usable (" + e.getMessage() + "); nothing is pinned");
      }
    } else if (o.pin) {
      out.println("warning: " + cpus + " CPU: nothing is pinned");
    }
    return ProcStats.allowedCpus();
  }

  private boolean pinning() {
    return o.pin && cpus >= 2;
  }

  private void startEchoServers() throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                javaBinary(),
                "-XX:+UseSerialGC",
                "-Xmx512m",
                "-cp",
                System.getProperty("java.class.path"),
                EchoServers.class.getName(),
                "--threads",
                "1"));
    for (InetSocketAddress a : plan.upstreams()) {
      cmd.add(a.getAddress().getHostAddress() + ":" + a.getPort());
    }
    Child c =
        Child.start("upstream-servers", cmd, work.resolve("upstream-servers.log"), ECHO_READY);
    children.add(c);
    echo = c;
    c.awaitReady(Duration.ofSeconds(30));
  }

  /** The config key that turns the proxy's access log off. */
  static final Map<String, String> ACCESS_LOG_OFF = Map.of("log.access", "off");

  /**
   * Connection setups against the proxy with the access log on, then off (the proxy restarted with
   * log.access = off), alternating per repeat; the cost at 10,000 setups/s is the CPU difference
   * per connection times 10,000. The proxy is left running with the access log on.
   */
  private void accessLogCost(Report report) throws IOException, InterruptedException {
    double on = 0;
    double off = 0;
    int pairs = 0;
    for (int r = 1; r <= o.repeats; r++) {
      double w = o.warmup;
      Map<String, Double> got = new LinkedHashMap<>();
      for (boolean logOn : new boolean[] {true, false}) {
        Target t = restartProxy(logOn ? Map.of() : ACCESS_LOG_OFF);
        String prefix = logOn ? "accesslog_on." : "accesslog_off.";
        Setups.run(
            t, o.inFlight, w, o.duration); // a fresh JVM: let the JIT warm up before measuring
        measure(
            report,
            t,
            prefix,
            r,
            List.of(prefix + "per_s", prefix + "cpu_us_per_conn"),
            () -> {
              Map<String, Double> m = new LinkedHashMap<>();
              Setups.run(t, o.inFlight, w, o.duration)
                  .forEach((k, v) -> m.put(prefix + k.substring(k.indexOf('.') + 1), v));
              got.putAll(m);
              return m;
            });
      }
      Double a = got.get("accesslog_on.cpu_us_per_conn");
      Double b = got.get("accesslog_off.cpu_us_per_conn");
      if (a != null && b != null && Double.isFinite(a) && Double.isFinite(b)) {
        on += a;
        off += b;
        pairs++;
      }
    }
    restartProxy(Map.of());
    if (pairs > 0) {
      // CPU-us per connection x 10,000 connections/s = CPU-us per second; / 10^6 x 100 = % of one
      // core
      double cost = (on - off) / pairs * 10_000 / 1_000_000 * 100;
      report.add(Options.PROXY, Map.of("accesslog.cost_pct_core_at_10k", cost));
      out.printf(
          "[accesslog] access log cost at 10,000 setups/s: %.1f %% of a core (%.1f vs %.1f CPU-us per"
              + " connection, mean of %d pairs; a loaded machine makes this noisy)%n",
          cost, on / pairs, off / pairs, pairs);
    }
  }

  /** Stops the proxy child and starts it again with the {@code extra} config keys. */
  private Target restartProxy(Map<String, String> extra) throws IOException, InterruptedException {
    Child old = proxy;
    if (old != null) {
      old.stop(Duration.ofSeconds(5));
      children.remove(old);
    }
    return startProxy(extra);
  }

  /**
   * Connection setups, unmeasured, through a proxy before a figure compares it with another (sni,
   * egress): a proxy started just for that figure is cold while the main proxy has usually run the
   * bulk, ping-pong and setup figures (the first sni run of a cold proxy cost 4x the third); both
   * are warmed, as either may be cold ({@code --only}).
   */
  private void warmFresh(Target t, byte[] preface) throws IOException {
    double seconds = Math.max(10, 3 * (o.warmup + o.duration));
    out.println("[" + t.name() + "] warming up for " + Math.round(seconds) + " s (not measured)");
    Setups.run(t, o.inFlight, 0, seconds, preface);
  }

  /**
   * The {@code n}-th /24 after the proxy's subnet that no {@code --peer} uses: 1 the SNI proxy's
   * (its single address is .1), 2 the soak proxy's, 3 the egress proxy's.
   */
  private String nextSubnet(int n) {
    String[] q = o.subnet.substring(0, o.subnet.indexOf('/')).split("\\.");
    int third = Integer.parseInt(q[2]);
    String s = o.subnet;
    for (int found = 0, k = 1; found < n; k++) { // the n-th /24 after it that no peer uses
      s = q[0] + "." + q[1] + "." + ((third + k) & 0xff) + ".0/24";
      if (!peerSubnet(s)) {
        found++;
      }
    }
    return s;
  }

  private boolean peerSubnet(String subnet) {
    String prefix = subnet.substring(0, subnet.lastIndexOf('.') + 1);
    return o.peers.stream().anyMatch(p -> p.subnet().startsWith(prefix));
  }

  /** The soak proxy's open-file limit: low, so the bench can exhaust it with about 500 splices. */
  private static final int SOAK_FD_LIMIT = 1024;

  private Target startProxy() throws IOException, InterruptedException {
    return startProxy(Map.of());
  }

  private Target startProxy(Map<String, String> extra) throws IOException, InterruptedException {
    Target t = startChild(Options.PROXY, o.subnet, extra, 0, List.of());
    proxy = children.get(children.size() - 1);
    return t;
  }

  /**
   * Starts a proxy JVM named {@code name} over {@code subnet} with the bench's config, {@code
   * extra} keys and the user's overrides; {@code fdLimit} > 0 starts it with that open-file limit
   * ({@code ulimit -n}); {@code extraJvmOpts} go after the usual JVM options.
   */
  private Target startChild(
      String name, String subnet, Map<String, String> extra, int fdLimit, List<String> extraJvmOpts)
      throws IOException, InterruptedException {
    int dnsPort = freePort();
    Path hosts = work.resolve(name + ".hosts");
    Files.writeString(hosts, plan.hostsFile(subnet), StandardCharsets.UTF_8);
    Map<String, String> cfg = plan.baseConfig(subnet);
    cfg.put("upstream.hosts", hosts.toString());
    cfg.put("dns.listen", "127.0.0.1:" + dnsPort);
    cfg.putAll(extra);
    cfg.putAll(o.proxySet);
    StringBuilder sb = new StringBuilder("# generated by apns-proxy bench\n");
    cfg.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
    Path config = work.resolve(name + ".properties");
    Files.writeString(config, sb.toString(), StandardCharsets.UTF_8);
    ProxySetup.load(config); // fails here, naming the key, rather than in the child

    List<String> cmd = new ArrayList<>();
    if (fdLimit > 0) {
      cmd.addAll(List.of("sh", "-c", "ulimit -n " + fdLimit + " && exec \"$@\"", "sh"));
    }
    if (pinning()) {
      cmd.addAll(List.of("taskset", "-c", Integer.toString(o.proxyCpu)));
    }
    cmd.add(o.proxyJava != null ? o.proxyJava : javaBinary());
    cmd.addAll(o.proxyJvmOpts);
    cmd.addAll(extraJvmOpts);
    cmd.addAll(List.of("-jar", jar().toString(), "run", "--config", config.toString()));
    Child c = Child.start(name, cmd, work.resolve(name + ".log"), PROXY_READY);
    children.add(c);
    String line = c.awaitReady(Duration.ofSeconds(60));
    out.println(name + ": " + line);
    InetSocketAddress dns = new InetSocketAddress(InetAddress.getLoopbackAddress(), dnsPort);
    // the single style's address of a site is its subnet's .1
    List<InetSocketAddress> fronts =
        "single".equals(extra.get("plan.style"))
            ? List.of(
                new InetSocketAddress(
                    Plan.address(subnet.substring(0, subnet.lastIndexOf('.')) + ".1"), o.port))
            : plan.fronts(subnet);
    return new Target(name, fronts, List.of(c.pid()), dns, true, targetCore(), loadCore());
  }

  private void stopAll() {
    for (int i = children.size() - 1; i >= 0; i--) {
      children.get(i).stop(Duration.ofSeconds(5));
    }
    ConnectRelay rl = relay;
    if (rl != null) {
      try {
        rl.close();
      } catch (IOException e) {
        out.println("warning: could not close the CONNECT relay: " + e.getMessage());
      }
    }
    if (work != null && !o.keep) {
      try (Stream<Path> s = Files.walk(work)) {
        s.sorted(Comparator.reverseOrder())
            .forEach(
                p -> {
                  try {
                    Files.delete(p);
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                });
      } catch (IOException | UncheckedIOException e) {
        out.println("warning: could not remove " + work + ": " + e.getMessage());
      }
    } else if (work != null) {
      out.println("kept " + work);
    }
  }

  private Path jar() {
    if (o.jar != null) {
      return o.jar;
    }
    try {
      Path self = Path.of(Bench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (Files.isRegularFile(self) && self.toString().endsWith(".jar")) {
        return self;
      }
    } catch (URISyntaxException | RuntimeException e) {
      // not run from a jar: fall through to the build's jar
    }
    return Path.of("apns-proxy-examples", "target", "apns-proxy.jar");
  }

  static String javaBinary() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  /** A loopback port free for both UDP and TCP (the proxy's DNS server binds both). */
  private static int freePort() throws IOException {
    InetAddress lo = InetAddress.getLoopbackAddress();
    for (int attempt = 0; attempt < 50; attempt++) {
      try (DatagramSocket u = new DatagramSocket(new InetSocketAddress(lo, 0))) {
        int port = u.getLocalPort();
        try {
          new ServerSocket(port, 1, lo).close();
          return port;
        } catch (IOException e) {
          // taken for TCP: try another
        }
      }
    }
    throw new IOException("no loopback port free for both UDP and TCP");
  }

  // ---------------------------------------------------------------------------------------------------- reporting

  private String header(String pinned) {
    return String.format(
        "apns-proxy bench (%s: %d repeat%s, medians; %.1f s runs) - %s, %d CPUs (%s), %s %s;"
            + " load on CPU %s, proxy on CPU %s, proxy %s, JVM options %s; CPU = busy share of the target's core",
        o.quick ? "quick" : "full",
        o.repeats,
        o.repeats == 1 ? "" : "s",
        o.duration,
        System.getProperty("os.name") + " " + System.getProperty("os.version"),
        cpus,
        cpuModel(),
        System.getProperty("java.vm.name"),
        System.getProperty("java.runtime.version"),
        pinned,
        pinning() ? Integer.toString(o.proxyCpu) : "any",
        o.proxyJava != null ? o.proxyJava : "same java",
        o.proxyJvmOpts.isEmpty() ? "none" : String.join(" ", o.proxyJvmOpts));
  }

  private String describe(Target t) {
    return t.name()
        + (t.tcp() ? " tcp " + t.front(0).getAddress().getHostAddress() + ".." : "")
        + (t.hasDns()
            ? " dns " + t.dns().getAddress().getHostAddress() + ":" + t.dns().getPort()
            : "")
        + (t.pids().isEmpty() ? "" : " pid " + t.pids());
  }

  private Map<String, Object> machine(String pinned) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    m.put("cpus", cpus);
    m.put("cpu_model", cpuModel());
    m.put(
        "jdk",
        System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
    m.put("bench_cpus", pinned);
    m.put("proxy_cpu", pinning() ? Integer.toString(o.proxyCpu) : "any");
    return m;
  }

  private Map<String, Object> settings() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mode", o.quick ? "quick" : "full");
    m.put("repeats", o.repeats);
    m.put("warmup_s", o.warmup);
    m.put("duration_s", o.duration);
    m.put("pingpong_conns", o.conns);
    m.put("setup_in_flight", o.inFlight);
    m.put("idle_conns", o.idleConns);
    m.put("idle_seconds", o.idleSeconds);
    m.put("idle_interval_s", o.idleInterval);
    m.put("idle_quiet_s", o.quietSeconds);
    m.put("dns_low_rate", o.dnsRate);
    m.put("dns_saturation", "4 UDP sockets x 16 outstanding, lost after 500 ms");
    m.put("couriers", o.couriers);
    m.put("subnet", o.subnet);
    m.put(
        "upstreams",
        plan.upstreams().stream()
            .map(a -> a.getAddress().getHostAddress() + ":" + a.getPort())
            .toList());
    m.put("proxy_jvm_opts", o.proxyJvmOpts);
    m.put("proxy_java", o.proxyJava != null ? o.proxyJava : javaBinary());
    m.put(
        "cpu_measure",
        pinning() ? "busy share of the target's core (/proc/stat)" : "process utime+stime");
    m.put("proxy_config_overrides", o.proxySet);
    ConnectRelay rl = relay;
    if (rl != null) {
      m.put(
          "egress_relay",
          "in-process HTTP CONNECT relay at "
              + rl.address().getAddress().getHostAddress()
              + ":"
              + rl.address().getPort()
              + " (one selector thread in the bench JVM, on the load CPU)");
    }
    m.put(
        "peers",
        o.peers.stream()
            .map(p -> p.name() + " pid " + p.pids() + " subnet " + p.subnet())
            .toList());
    m.put(
        "dns_peers",
        o.dnsPeers.stream()
            .map(p -> p.name() + " pid " + p.pids() + " at " + p.address())
            .toList());
    return m;
  }

  private static String cpuModel() {
    String s = ProcStats.read(Path.of("/proc/cpuinfo"));
    if (s != null) {
      for (String line : s.split("\n")) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    }
    return "unknown CPU";
  }
}
