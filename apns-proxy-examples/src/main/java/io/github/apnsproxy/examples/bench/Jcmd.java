// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Asks a JVM about its heap with {@code jcmd} (from the JDK running the bench, next to its {@code
 * java}). Every call is bounded by a timeout. Stateless.
 */
final class Jcmd {
  private static final Pattern HISTO_LINE =
      Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)(?:\\s.*)?$");
  private static final Pattern TOTAL_LINE = Pattern.compile("^Total\\s+(\\d+)\\s+(\\d+)\\s*$");
  private static final Pattern USED = Pattern.compile("used (\\d+)([KMG])");

  private Jcmd() {}

  /** The live heap: instances and bytes per class after a full GC (class_histogram forces one). */
  record Histogram(long totalBytes, long totalInstances, Map<String, long[]> classes) {
    /**
     * The classes that grew most in bytes from {@code base} to this, per {@code perUnit} (e.g.
     * connections).
     */
    List<Map<String, Object>> topGrowth(Histogram base, int limit, double perUnit) {
      List<Map.Entry<String, Long>> grown = new ArrayList<>();
      for (Map.Entry<String, long[]> e : classes.entrySet()) {
        long[] before = base.classes.getOrDefault(e.getKey(), new long[2]);
        grown.add(Map.entry(e.getKey(), e.getValue()[1] - before[1]));
      }
      grown.sort((a, b) -> Long.compare(b.getValue(), a.getValue()));
      List<Map<String, Object>> out = new ArrayList<>();
      for (Map.Entry<String, Long> e : grown.subList(0, Math.min(limit, grown.size()))) {
        long[] now = classes.get(e.getKey());
        long[] before = base.classes.getOrDefault(e.getKey(), new long[2]);
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("class", e.getKey());
        m.put("bytes_per_conn", e.getValue() / perUnit);
        m.put("instances_per_conn", (now[0] - before[0]) / perUnit);
        out.add(m);
      }
      return out;
    }
  }

  static Path jcmdBinary() {
    String java = ProcessHandle.current().info().command().orElse("java");
    Path sibling = Path.of(java).resolveSibling("jcmd");
    return Files.isExecutable(sibling) ? sibling : Path.of("jcmd");
  }

  /** {@code jcmd PID GC.class_histogram}: a full GC, then the live objects. */
  static Histogram histogram(long pid) throws IOException {
    String out = run(pid, "GC.class_histogram");
    Map<String, long[]> classes = new HashMap<>();
    long total = -1;
    long instances = -1;
    for (String line : out.split("\n")) {
      Matcher m = HISTO_LINE.matcher(line);
      if (m.matches()) {
        classes.merge(
            m.group(3),
            new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))},
            (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]});
        continue;
      }
      Matcher t = TOTAL_LINE.matcher(line.trim());
      if (t.matches()) {
        instances = Long.parseLong(t.group(1));
        total = Long.parseLong(t.group(2));
      }
    }
    if (total < 0) {
      throw new IOException(
          "jcmd " + pid + " GC.class_histogram: no Total line in: " + abbreviate(out));
    }
    return new Histogram(total, instances, classes);
  }

  /**
   * {@code jcmd PID GC.run} then the heap's used KiB from {@code GC.heap_info} (summed over
   * generations).
   */
  static double heapUsedKibAfterGc(long pid) throws IOException {
    run(pid, "GC.run");
    String out = run(pid, "GC.heap_info");
    double kib = 0;
    boolean any = false;
    for (String line : out.split("\n")) {
      if (line.contains("Metaspace") || line.contains("class space")) {
        break;
      }
      Matcher m = USED.matcher(line);
      if (m.find()) {
        double v = Double.parseDouble(m.group(1));
        kib +=
            switch (m.group(2)) {
              case "M" -> v * 1024;
              case "G" -> v * 1024 * 1024;
              default -> v;
            };
        any = true;
      }
    }
    if (!any) {
      throw new IOException(
          "jcmd " + pid + " GC.heap_info: no 'used' figure in: " + abbreviate(out));
    }
    return kib;
  }

  private static String run(long pid, String command) throws IOException {
    Process p =
        new ProcessBuilder(jcmdBinary().toString(), Long.toString(pid), command)
            .redirectErrorStream(true)
            .start();
    byte[] out;
    try {
      // jcmd prints little, except the histogram (a few hundred KiB at most): read it all, then
      // wait
      out = readBounded(p, 60);
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("jcmd " + pid + " " + command + " did not finish in time");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running jcmd " + command, e);
    }
    String s = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(
          "jcmd " + pid + " " + command + " exited " + p.exitValue() + ": " + abbreviate(s));
    }
    return s;
  }

  /** Reads the process output, killing it if it runs past {@code seconds}. */
  private static byte[] readBounded(Process p, int seconds)
      throws IOException, InterruptedException {
    try (Watchdog w = new Watchdog(java.time.Duration.ofSeconds(seconds), p::destroyForcibly)) {
      byte[] out = p.getInputStream().readAllBytes();
      if (w.fired()) {
        throw new IOException("jcmd ran past " + seconds + " s and was killed");
      }
      return out;
    }
  }

  private static String abbreviate(String s) {
    String t = s.strip();
    return t.length() > 400 ? t.substring(0, 400) + "..." : t;
  }
}
