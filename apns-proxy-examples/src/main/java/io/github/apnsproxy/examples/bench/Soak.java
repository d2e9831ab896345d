// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The churn soak (issue 18): for a while, rounds of connection setups, DNS queries over UDP and
 * TCP, and connections reset by the client (with and without bytes sent), with one
 * descriptor-exhaustion episode in the middle (the soak proxy runs with a low open-file limit; the
 * bench holds more connections than it has descriptors for, then lets them go). Descriptors,
 * threads and the live heap after a full GC are read at a baseline (after one warm-up round) and at
 * the end (after the load stopped and the proxy closed its side): they should be back at the
 * baseline. Blocking sockets on the calling thread, except the setups (the non-blocking {@link
 * Setups} generator).
 */
final class Soak {
  private Soak() {}

  /**
   * {@code soak.*}: {@code seconds} of churn against {@code t} (a proxy JVM with {@code fdLimit}
   * descriptors).
   */
  static Map<String, Double> run(Target t, int couriers, double seconds, int fdLimit)
      throws IOException, InterruptedException {
    long pid = t.pids().get(0);
    long[] ops = new long[5]; // setups, udp, tcp, resets, failures
    round(t, couriers, ops, 1.0); // warm-up: every path once, pools and caches filled
    settle(t, -1);
    // the heap first: jcmd's first attach starts the JVM's attach listener thread, which then
    // counts at both ends
    double heapBase = Jcmd.histogram(pid).totalBytes() / 1024.0;
    int fdBase = ProcStats.openFiles(t.pids());
    int threadsBase = ProcStats.threads(pid);
    java.util.Arrays.fill(ops, 0);

    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    long episodeAt = start + (long) (seconds * 1e9 / 3);
    boolean episodeDone = false;
    Map<String, Double> m = new LinkedHashMap<>();
    int peakFds = fdBase;
    while (System.nanoTime() < end) {
      round(t, couriers, ops, 1.0);
      peakFds = Math.max(peakFds, ProcStats.openFiles(t.pids()));
      if (!episodeDone && System.nanoTime() >= episodeAt) {
        episodeDone = true;
        exhaust(t, fdLimit, m);
      }
    }
    if (!episodeDone) {
      exhaust(t, fdLimit, m);
    }
    settle(t, fdBase);
    int fdEnd = ProcStats.openFiles(t.pids());
    int threadsEnd = ProcStats.threads(pid);
    double heapEnd = Jcmd.histogram(pid).totalBytes() / 1024.0;
    m.put("soak.seconds", (System.nanoTime() - start) / 1e9);
    m.put("soak.setups", (double) ops[0]);
    m.put("soak.dns_udp", (double) ops[1]);
    m.put("soak.dns_tcp", (double) ops[2]);
    m.put("soak.resets", (double) ops[3]);
    m.put("soak.failures", (double) ops[4]);
    m.put("soak.fds_base", (double) fdBase);
    m.put("soak.fds_peak", (double) peakFds);
    m.put("soak.fds_end", (double) fdEnd);
    m.put("soak.threads_base", (double) threadsBase);
    m.put("soak.threads_end", (double) threadsEnd);
    m.put("soak.heap_base_kib", heapBase);
    m.put("soak.heap_end_kib", heapEnd);
    m.put("soak.heap_growth_kib", heapEnd - heapBase);
    return m;
  }

  /** About {@code seconds} of mixed churn: setups, DNS over UDP and TCP, resets. */
  private static void round(Target t, int couriers, long[] ops, double seconds) throws IOException {
    Map<String, Double> s = Setups.run(t, 16, 0, seconds / 2);
    ops[0] += Math.round(s.get("setup.per_s") * seconds / 2);
    ops[4] += s.get("setup.errors").longValue();
    long until = System.nanoTime() + (long) (seconds / 2 * 1e9);
    int i = 0;
    while (System.nanoTime() < until) {
      String name = Plan.courierName(i % couriers);
      if (udp(t, name)) {
        ops[1]++;
      } else {
        ops[4]++;
      }
      if (i % 4 == 0) {
        if (tcp(t, name)) {
          ops[2]++;
        } else {
          ops[4]++;
        }
        reset(t, i, i % 8 == 0);
        ops[3]++;
      }
      i++;
    }
  }

  private static boolean udp(Target t, String name) {
    byte[] q = DnsLoad.query(name);
    try (DatagramSocket s = new DatagramSocket()) {
      s.setSoTimeout(1000);
      s.send(new DatagramPacket(q, q.length, t.dns()));
      byte[] buf = new byte[1232];
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      s.receive(p);
      return DnsLoad.answerId(ByteBuffer.wrap(buf, 0, p.getLength())) >= 0;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean tcp(Target t, String name) {
    byte[] q = DnsLoad.query(name);
    try (Socket s = new Socket()) {
      s.setSoTimeout(2000);
      s.connect(t.dns(), 2000);
      byte[] framed = new byte[q.length + 2];
      framed[0] = (byte) (q.length >> 8);
      framed[1] = (byte) q.length;
      System.arraycopy(q, 0, framed, 2, q.length);
      s.getOutputStream().write(framed);
      InputStream in = s.getInputStream();
      byte[] len = in.readNBytes(2);
      if (len.length < 2) {
        return false;
      }
      byte[] answer = in.readNBytes(((len[0] & 0xff) << 8) | (len[1] & 0xff));
      return DnsLoad.answerId(ByteBuffer.wrap(answer)) >= 0;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * A client that resets its connection (SO_LINGER 0), after sending a few bytes or before sending
   * any.
   */
  private static void reset(Target t, int i, boolean silent) {
    try (Socket s = new Socket()) {
      s.connect(t.front(i), 2000);
      if (!silent) {
        s.getOutputStream().write(PingPong.message(PingPong.SIZE));
      }
      s.setSoLinger(true, 0);
    } catch (IOException e) {
      // counted as a reset either way: the proxy saw a connection go away abruptly
    }
  }

  /**
   * The descriptor-exhaustion episode: opens (without waiting for echoes) as many connections as
   * the proxy has descriptors ({@code fdLimit}: each splice needs two there), holds them 3 s,
   * closes them, and checks the proxy serves again (a setup through it succeeds within 20 s).
   */
  private static void exhaust(Target t, int fdLimit, Map<String, Double> m)
      throws IOException, InterruptedException {
    List<SocketChannel> held = new ArrayList<>();
    int refused = 0;
    byte[] hello = PingPong.message(PingPong.SIZE);
    try {
      for (int i = 0; i < fdLimit; i++) {
        SocketChannel ch;
        try {
          ch = SocketChannel.open();
          held.add(ch);
          ch.socket().connect(t.front(i), 2000);
          ch.write(ByteBuffer.wrap(hello));
        } catch (IOException e) {
          refused++;
        }
      }
      m.put("soak.episode_conns", (double) held.size());
      m.put("soak.episode_peak_fds", (double) ProcStats.openFiles(t.pids()));
      Thread.sleep(3000);
    } finally {
      Connector.closeAll(held);
    }
    m.put("soak.episode_connect_failures", (double) refused);
    long deadline = System.nanoTime() + 20_000_000_000L;
    boolean ok = false;
    while (!ok && System.nanoTime() < deadline) {
      try {
        Connector.closeAll(Connector.openEcho(t, 1, 1, PingPong.message(8), Duration.ofSeconds(2)));
        ok = true;
      } catch (IOException e) {
        Thread.sleep(200);
      }
    }
    m.put("soak.episode_recovered", ok ? 1.0 : 0.0);
  }

  /**
   * Waits (bounded, 20 s) until the proxy closed its side: descriptors at most {@code fdBase} + 4
   * (or stable).
   */
  private static void settle(Target t, int fdBase) throws InterruptedException {
    long deadline = System.nanoTime() + 20_000_000_000L;
    int last = -2;
    while (System.nanoTime() < deadline) {
      Thread.sleep(500);
      int now = ProcStats.openFiles(t.pids());
      if (fdBase >= 0 ? now <= fdBase + 4 : now == last) {
        return;
      }
      last = now;
    }
  }
}
