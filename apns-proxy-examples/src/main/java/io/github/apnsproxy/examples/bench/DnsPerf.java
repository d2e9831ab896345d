// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs Debian's {@code dnsperf} (when installed) against a DNS target as a second, C-based load
 * generator next to {@link DnsLoad}: 4 clients, at most 64 queries outstanding, courier A queries.
 * Its process inherits the bench's CPU pinning.
 */
final class DnsPerf {
  private DnsPerf() {}

  /** The dnsperf binary on the PATH, or null. */
  static Path find() {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "dnsperf");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /**
   * {@code dnsperf.*}: queries/s, CPU per query, lost queries and average latency as dnsperf
   * reports them.
   */
  static Map<String, Double> run(Path dnsperf, Target t, int couriers, double duration, Path work)
      throws IOException, InterruptedException {
    Path queries = work.resolve("dnsperf-queries.txt");
    StringBuilder sb = new StringBuilder();
    for (int n = 0; n < couriers; n++) {
      sb.append(Plan.courierName(n)).append(" A\n");
    }
    Files.writeString(queries, sb.toString(), StandardCharsets.US_ASCII);
    InetSocketAddress a = t.dns();
    List<String> cmd =
        List.of(
            dnsperf.toString(),
            "-s",
            a.getAddress().getHostAddress(),
            "-p",
            Integer.toString(a.getPort()),
            "-d",
            queries.toString(),
            "-l",
            Long.toString(Math.max(1, Math.round(duration))),
            "-c",
            "4",
            "-q",
            "64",
            "-t",
            "1");
    Window win = new Window(t);
    win.open();
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out;
    try (Watchdog w =
        new Watchdog(Duration.ofSeconds(Math.round(duration) + 30), p::destroyForcibly)) {
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(10, TimeUnit.SECONDS) || w.fired()) {
        p.destroyForcibly();
        throw new IOException("dnsperf did not finish in time");
      }
    }
    win.close();
    if (p.exitValue() != 0) {
      throw new IOException("dnsperf exited " + p.exitValue() + ": " + out.strip());
    }
    double completed = number(out, "Queries completed:\\s+(\\d+)");
    if (completed == 0) {
      throw new IOException("dnsperf: no query answered by " + t.name() + " at " + a);
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("dnsperf.qps", number(out, "Queries per second:\\s+([\\d.]+)"));
    m.put("dnsperf.cpu_us_per_q", win.cpuMicrosPer(completed));
    m.put("dnsperf.lost", number(out, "Queries lost:\\s+(\\d+)"));
    m.put("dnsperf.avg_latency_us", number(out, "Average Latency \\(s\\):\\s+([\\d.]+)") * 1e6);
    return m;
  }

  private static double number(String out, String regex) throws IOException {
    Matcher m = Pattern.compile(regex).matcher(out);
    if (!m.find()) {
      throw new IOException("dnsperf output without /" + regex + "/: " + out.strip());
    }
    return Double.parseDouble(m.group(1));
  }
}
