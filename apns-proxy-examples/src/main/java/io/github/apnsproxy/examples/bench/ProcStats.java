// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads what the benchmark reports from Linux {@code /proc}: the busy time of one CPU ({@code
 * /proc/stat}: every state but idle and iowait, so the softirq and kernel work a process's sends
 * cause on its core count), a process's CPU time ({@code /proc/PID/stat} utime + stime), resident
 * memory ({@code /proc/PID/smaps_rollup}) and open descriptors. A target may be several processes
 * (nginx's workers); CPU and RSS are summed over them. Stateless.
 */
final class ProcStats {
  /**
   * Clock ticks per second of utime/stime; {@code getconf CLK_TCK} is 100 on every Linux we run on.
   */
  static final double CLOCK_TICKS = clockTicks();

  private ProcStats() {}

  /**
   * CPU seconds (user + system) used so far by the processes; NaN when there is none or one is
   * gone.
   */
  static double cpuSeconds(List<Long> pids) {
    if (pids.isEmpty()) {
      return Double.NaN;
    }
    long ticks = 0;
    for (long pid : pids) {
      String stat = read(Path.of("/proc", Long.toString(pid), "stat"));
      if (stat == null) {
        return Double.NaN;
      }
      // the command name (field 2) may contain spaces and parentheses: fields count from the last
      // ')'
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" +");
      ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
    return ticks / CLOCK_TICKS;
  }

  /**
   * Busy seconds of CPU {@code cpu} since boot, from its {@code /proc/stat} line: user + nice +
   * system + irq + softirq + steal (guest time is already part of user); idle and iowait are not
   * busy. NaN when unreadable.
   */
  static double coreBusySeconds(int cpu) {
    String s = read(Path.of("/proc/stat"));
    return s == null ? Double.NaN : coreBusySeconds(s, cpu);
  }

  /** {@link #coreBusySeconds(int)} from the text of {@code /proc/stat}. */
  static double coreBusySeconds(String procStat, int cpu) {
    String prefix = "cpu" + cpu + " ";
    for (String line : procStat.split("\n")) {
      if (line.startsWith(prefix)) {
        String[] f = line.substring(prefix.length()).trim().split(" +");
        long busy = 0;
        // user nice system idle iowait irq softirq steal [guest guest_nice]
        int[] busyFields = {0, 1, 2, 5, 6, 7};
        for (int i : busyFields) {
          if (i < f.length) {
            busy += Long.parseLong(f[i]);
          }
        }
        return busy / CLOCK_TICKS;
      }
    }
    return Double.NaN;
  }

  /** Resident set size in KiB, summed over the processes; NaN when unknown. */
  static double rssKib(List<Long> pids) {
    if (pids.isEmpty()) {
      return Double.NaN;
    }
    double sum = 0;
    for (long pid : pids) {
      double rss = field(Path.of("/proc", Long.toString(pid), "smaps_rollup"), "Rss:");
      if (Double.isNaN(rss)) {
        rss = field(Path.of("/proc", Long.toString(pid), "status"), "VmRSS:");
      }
      sum += rss;
    }
    return sum;
  }

  /** Open file descriptors, summed over the processes; -1 when unknown. */
  static int openFiles(List<Long> pids) {
    int n = 0;
    for (long pid : pids) {
      try (DirectoryStream<Path> ds =
          Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
        for (Path ignored : ds) {
          n++;
        }
      } catch (IOException e) {
        return -1;
      }
    }
    return pids.isEmpty() ? -1 : n;
  }

  /** Threads of the process ({@code Threads:} in {@code /proc/PID/status}); -1 when unknown. */
  static int threads(long pid) {
    double n = field(Path.of("/proc", Long.toString(pid), "status"), "Threads:");
    return Double.isNaN(n) ? -1 : (int) n;
  }

  static boolean alive(long pid) {
    return Files.exists(Path.of("/proc", Long.toString(pid)));
  }

  /** The CPUs this process may run on, as {@code /proc/self/status} lists them ("0-1", "1"). */
  static String allowedCpus() {
    String s = read(Path.of("/proc/self/status"));
    if (s != null) {
      for (String line : s.split("\n")) {
        if (line.startsWith("Cpus_allowed_list:")) {
          return line.substring("Cpus_allowed_list:".length()).trim();
        }
      }
    }
    return "?";
  }

  /** The first number after {@code key} in a "Key: 123 kB" style file; NaN when absent. */
  private static double field(Path file, String key) {
    String s = read(file);
    if (s == null) {
      return Double.NaN;
    }
    for (String line : s.split("\n")) {
      if (line.startsWith(key)) {
        String[] f = line.substring(key.length()).trim().split("\\s+");
        return Double.parseDouble(f[0]);
      }
    }
    return Double.NaN;
  }

  static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return null;
    }
  }

  private static double clockTicks() {
    try {
      Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor();
      return Double.parseDouble(out);
    } catch (IOException | NumberFormatException e) {
      return 100; // the Linux USER_HZ everywhere in practice
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 100;
    }
  }
}
