// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Idle splices: opens many echo connections through the target, then sends a 26-byte keepalive (the
 * size of an APNs heartbeat) on each every interval, staggered evenly, and expects every echo back.
 * Reports whether all survived, the target's RSS per connection (loaded minus baseline, no forced
 * GC in between; and again after a full GC, which itself moves RSS), its live heap per connection
 * for a JVM (class histogram totals, each after a full GC) and its CPU during the keepalive phase
 * and during a quiet phase with no traffic at all.
 */
final class Idle {
  static final int KEEPALIVE = 26;

  private Idle() {}

  /**
   * What one idle run measured: the figures, and for a JVM the classes that grew most per
   * connection.
   */
  record Outcome(
      Map<String, Double> figures,
      List<Map<String, Object>> heapGrowth,
      List<Map<String, Object>> heapLeft) {}

  static Outcome run(Target t, int conns, double seconds, double interval, double quiet)
      throws IOException, InterruptedException {
    return run(t, conns, seconds, interval, quiet, new byte[0]);
  }

  /**
   * Like {@link #run(Target, int, double, double, double)}, every splice opened with {@code
   * preface} first.
   */
  static Outcome run(
      Target t, int conns, double seconds, double interval, double quiet, byte[] preface)
      throws IOException, InterruptedException {
    long pid = t.pids().isEmpty() ? -1 : t.pids().get(0);
    Jcmd.Histogram base = t.jvm() ? Jcmd.histogram(pid) : null;
    Thread.sleep(500); // the forced GC's own threads settle before the RSS baseline
    double rssBase = ProcStats.rssKib(t.pids());
    int fdBase = ProcStats.openFiles(t.pids());

    byte[] msg = PingPong.message(KEEPALIVE);
    long openStart = System.nanoTime();
    List<SocketChannel> chans =
        Connector.openEcho(t, conns, 64, preface, msg, Duration.ofMinutes(3));
    double openSeconds = (System.nanoTime() - openStart) / 1e9;
    Thread.sleep(
        1000); // let the target finish with the opening burst before its idle CPU is measured
    Map<String, Double> m = new LinkedHashMap<>();
    List<Map<String, Object>> growth = List.of();
    try (Selector sel = Selector.open()) {
      for (int i = 0; i < conns; i++) {
        chans.get(i).register(sel, SelectionKey.OP_READ, i);
      }
      int[] owed = new int[conns];
      boolean[] dead = new boolean[conns];
      int[] deadCount = new int[1];
      ByteBuffer out = ByteBuffer.allocateDirect(KEEPALIVE).put(msg);
      ByteBuffer scratch = ByteBuffer.allocateDirect(64 * 1024);

      // keepalive phase: send k goes to connection k % conns at t0 + k * interval / conns
      Window win = new Window(t);
      win.open();
      long t0 = System.nanoTime();
      long step = (long) (interval * 1e9 / conns);
      long total = (long) Math.floor(seconds / interval * conns);
      long end = t0 + (long) (seconds * 1e9);
      long sent = 0;
      while (true) {
        long now = System.nanoTime();
        long due = Math.min(total, (now - t0) / Math.max(1, step) + 1);
        while (sent < due) {
          int i = (int) (sent % conns);
          sent++;
          if (dead[i]) {
            continue;
          }
          out.clear();
          try {
            chans.get(i).write(out);
            owed[i] += KEEPALIVE - out.remaining();
          } catch (IOException e) {
            kill(i, dead, deadCount, chans);
          }
        }
        if (now >= end) {
          break;
        }
        long untilNext = sent < total ? Math.max(1, (t0 + sent * step - now) / 1_000_000) : 50;
        sel.select(Math.min(50, untilNext));
        drain(sel, chans, owed, dead, deadCount, scratch);
      }
      // the last echoes: bounded wait
      long settle = System.nanoTime() + 5_000_000_000L;
      while (System.nanoTime() < settle && outstanding(owed, dead) > 0) {
        sel.select(50);
        drain(sel, chans, owed, dead, deadCount, scratch);
      }
      win.close();
      int unanswered = outstanding(owed, dead);
      double rssLoaded = ProcStats.rssKib(t.pids());
      int fds = ProcStats.openFiles(t.pids());
      if (t.jvm()) {
        Jcmd.Histogram loaded = Jcmd.histogram(pid);
        m.put("idle.heap_kib_per_conn", (loaded.totalBytes() - base.totalBytes()) / 1024.0 / conns);
        growth = loaded.topGrowth(base, 12, conns);
      }
      double rssLoadedAfterGc = ProcStats.rssKib(t.pids());

      // quiet phase: no traffic at all, still watching for closed connections
      Window q = new Window(t);
      q.open();
      long quietEnd = System.nanoTime() + (long) (quiet * 1e9);
      while (System.nanoTime() < quietEnd) {
        sel.select(Math.max(1, Math.min(200, (quietEnd - System.nanoTime()) / 1_000_000)));
        drain(sel, chans, owed, dead, deadCount, scratch);
      }
      q.close();

      m.put("idle.conns", (double) conns);
      m.put("idle.survived", (double) (conns - deadCount[0] - unanswered));
      m.put("idle.rss_kib_per_conn", (rssLoaded - rssBase) / conns);
      // a JVM with a fixed heap keeps its objects inside RSS it already had: count the live heap on
      // top
      double heap = m.getOrDefault("idle.heap_kib_per_conn", 0.0);
      m.put("idle.mem_kib_per_conn", (rssLoaded - rssBase) / conns + heap);
      m.put("idle.rss_base_mib", rssBase / 1024);
      m.put("idle.rss_kib_per_conn_after_gc", (rssLoadedAfterGc - rssBase) / conns);
      m.put(
          "idle.fds_per_conn",
          fds < 0 || fdBase < 0 ? Double.NaN : (double) (fds - fdBase) / conns);
      m.put("idle.cpu_pct", win.cpuPercent());
      m.put("idle.cpu_us_per_keepalive", win.cpuMicrosPer(sent));
      m.put("idle.proc_cpu_us_per_keepalive", win.processCpuMicrosPer(sent));
      m.put("idle.cpu_pct_quiet", q.cpuPercent());
      m.put("idle.open_per_s", conns / openSeconds);
      m.put("idle.keepalives", (double) sent);
    } finally {
      Connector.closeAll(chans);
    }
    // let the target close its side before the next measurement: bounded wait for its descriptors
    // to go
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (fdBase >= 0
        && System.nanoTime() < deadline
        && ProcStats.openFiles(t.pids()) > fdBase + 32) {
      Thread.sleep(100);
    }
    List<Map<String, Object>> left = List.of();
    if (t.jvm()) {
      // what closed splices leave behind (pools, maps, timer entries): should be about nothing
      Jcmd.Histogram after = Jcmd.histogram(pid);
      m.put(
          "idle.heap_kib_left_per_conn", (after.totalBytes() - base.totalBytes()) / 1024.0 / conns);
      left = after.topGrowth(base, 8, conns);
    }
    return new Outcome(m, growth, left);
  }

  private static void drain(
      Selector sel,
      List<SocketChannel> chans,
      int[] owed,
      boolean[] dead,
      int[] deadCount,
      ByteBuffer scratch) {
    for (SelectionKey key : sel.selectedKeys()) {
      int i = (Integer) key.attachment();
      scratch.clear();
      try {
        int n = chans.get(i).read(scratch);
        if (n < 0) {
          kill(i, dead, deadCount, chans);
        } else {
          owed[i] -= n;
        }
      } catch (IOException e) {
        kill(i, dead, deadCount, chans);
      }
    }
    sel.selectedKeys().clear();
  }

  private static void kill(int i, boolean[] dead, int[] deadCount, List<SocketChannel> chans) {
    if (!dead[i]) {
      dead[i] = true;
      deadCount[0]++;
      try {
        chans.get(i).close();
      } catch (IOException e) {
        // the connection already failed; it is counted as dead either way
      }
    }
  }

  private static int outstanding(int[] owed, boolean[] dead) {
    int n = 0;
    for (int i = 0; i < owed.length; i++) {
      if (!dead[i] && owed[i] != 0) {
        n++;
      }
    }
    return n;
  }
}
