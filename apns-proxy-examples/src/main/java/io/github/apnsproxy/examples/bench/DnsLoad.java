// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.PortUnreachableException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * A UDP DNS load generator for courier A queries, with hand-built query packets (no DNS library on
 * the hot path). Saturation: several connected sockets, a bounded number of queries outstanding on
 * each, a lost answer freeing its slot after a timeout. Low load: one query at a time at a fixed
 * rate, for latency percentiles. Runs on the calling thread.
 */
final class DnsLoad {
  private static final long LOST_AFTER_NANOS = 500_000_000L;

  private DnsLoad() {}

  /** A standard query (RD set) for {@code name} type A class IN, ID 0 (patched per send). */
  static byte[] query(String name) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(new byte[] {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0});
    for (String label : name.split("\\.")) {
      byte[] l = label.getBytes(StandardCharsets.US_ASCII);
      b.write(l.length);
      b.writeBytes(l);
    }
    b.writeBytes(new byte[] {0, 0, 1, 0, 1});
    return b.toByteArray();
  }

  /**
   * Checks an answer: at least a header, a response (QR), NOERROR and one answer record. Returns
   * its ID, or -1 when it is no good answer.
   */
  static int answerId(ByteBuffer b) {
    if (b.remaining() < 12) {
      return -1;
    }
    int p = b.position();
    int flags = ((b.get(p + 2) & 0xff) << 8) | (b.get(p + 3) & 0xff);
    int ancount = ((b.get(p + 6) & 0xff) << 8) | (b.get(p + 7) & 0xff);
    if ((flags & 0x8000) == 0 || (flags & 0x000f) != 0 || ancount < 1) {
      return -1;
    }
    return ((b.get(p) & 0xff) << 8) | (b.get(p + 1) & 0xff);
  }

  /** One socket's outstanding queries, by slot; IDs map back to slots. */
  private static final class Sock {
    final DatagramChannel ch;
    final int[] slotOfId = new int[65536];
    final int[] idOfSlot;
    final long[] sentAt;
    int nextId;

    Sock(DatagramChannel ch, int slots) {
      this.ch = ch;
      Arrays.fill(slotOfId, -1);
      idOfSlot = new int[slots];
      Arrays.fill(idOfSlot, -1);
      sentAt = new long[slots];
    }
  }

  /** Saturation: {@code dns.*}. */
  static Map<String, Double> saturate(
      Target t, int couriers, int sockets, int perSocket, double warmup, double duration)
      throws IOException {
    byte[][] queries = new byte[couriers][];
    for (int n = 0; n < couriers; n++) {
      queries[n] = query(Plan.courierName(n));
    }
    ByteBuffer scratch = ByteBuffer.allocateDirect(4096);
    Stats.Latencies lat = new Stats.Latencies();
    long answered = 0;
    long lost = 0;
    long errors = 0;
    long sendFailures = 0;
    long q = 0;
    Sock[] socks = new Sock[sockets];
    try (Selector sel = Selector.open()) {
      for (int s = 0; s < sockets; s++) {
        DatagramChannel ch = DatagramChannel.open();
        ch.configureBlocking(false);
        ch.connect(t.dns());
        socks[s] = new Sock(ch, perSocket);
        ch.register(sel, SelectionKey.OP_READ, socks[s]);
      }
      long warmEnd = System.nanoTime() + (long) (warmup * 1e9);
      long end = warmEnd + (long) (duration * 1e9);
      long drainEnd = end + LOST_AFTER_NANOS + 100_000_000L;
      Window win = new Window(t);
      boolean opened = false;
      for (Sock s : socks) {
        for (int slot = 0; slot < perSocket; slot++) {
          sendFailures += send(s, slot, queries[(int) (q++ % couriers)], System.nanoTime()) ? 0 : 1;
        }
      }
      while (true) {
        sel.select(10);
        long now = System.nanoTime();
        boolean sending = now < end;
        for (SelectionKey key : sel.selectedKeys()) {
          Sock s = (Sock) key.attachment();
          while (true) {
            scratch.clear();
            int n;
            try {
              n = s.ch.read(scratch);
            } catch (PortUnreachableException e) {
              errors++;
              continue;
            }
            if (n <= 0) {
              break;
            }
            scratch.flip();
            int id = answerId(scratch);
            int slot = id < 0 ? -1 : s.slotOfId[id];
            if (slot < 0) {
              errors++; // a bad answer, or a late one for a query already counted lost
              continue;
            }
            s.slotOfId[id] = -1;
            s.idOfSlot[slot] = -1;
            if (opened && now < end) {
              answered++;
              lat.record(now - s.sentAt[slot]);
            }
            if (sending) {
              sendFailures += send(s, slot, queries[(int) (q++ % couriers)], now) ? 0 : 1;
            }
          }
        }
        sel.selectedKeys().clear();
        for (Sock s : socks) {
          for (int slot = 0; slot < perSocket; slot++) {
            if (s.idOfSlot[slot] >= 0 && now - s.sentAt[slot] > LOST_AFTER_NANOS) {
              lost++;
              s.slotOfId[s.idOfSlot[slot]] = -1;
              s.idOfSlot[slot] = -1;
              if (sending) {
                sendFailures += send(s, slot, queries[(int) (q++ % couriers)], now) ? 0 : 1;
              }
            }
          }
        }
        if (!opened && now >= warmEnd) {
          win.open();
          opened = true;
        } else if (opened && now >= end && win.isOpen()) {
          win.close();
        }
        if (!sending && (now > drainEnd || outstanding(socks) == 0)) {
          break;
        }
      }
      if (answered == 0) {
        throw new IOException(
            "no answer from "
                + t.name()
                + " at "
                + t.dns()
                + " ("
                + errors
                + " bad answers, "
                + lost
                + " lost)");
      }
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("dns.qps", answered / win.seconds());
      m.put("dns.cpu_us_per_q", win.cpuMicrosPer(answered));
      m.put("dns.cpu_pct", win.cpuPercent());
      m.put("dns.proc_cpu_us_per_q", win.processCpuMicrosPer(answered));
      m.put("dns.p99_us_saturated", lat.percentileMicros(99));
      m.put("dns.lost", (double) (lost + outstanding(socks) + sendFailures));
      m.put("dns.errors", (double) errors);
      return m;
    } finally {
      for (Sock s : socks) {
        if (s != null) {
          s.ch.close();
        }
      }
    }
  }

  private static boolean send(Sock s, int slot, byte[] query, long now) throws IOException {
    // a PortUnreachableException (nothing listening) propagates: the target is down, the run fails
    int id = s.nextId;
    s.nextId = (s.nextId + 1) & 0xffff;
    query[0] = (byte) (id >> 8);
    query[1] = (byte) id;
    s.slotOfId[id] = slot;
    s.idOfSlot[slot] = id;
    s.sentAt[slot] = now;
    return s.ch.write(ByteBuffer.wrap(query)) > 0;
  }

  private static int outstanding(Sock[] socks) {
    int n = 0;
    for (Sock s : socks) {
      for (int id : s.idOfSlot) {
        n += id >= 0 ? 1 : 0;
      }
    }
    return n;
  }

  /**
   * Low load: one query at a time at {@code rate} per second: {@code dnslow.*}. The answer is
   * awaited by spinning on a non-blocking socket, so the latency is the server's and the kernel's,
   * not this JVM's wake-up.
   */
  static Map<String, Double> lowLoad(
      Target t, int couriers, int rate, double warmup, double duration) throws IOException {
    byte[][] queries = new byte[couriers][];
    for (int n = 0; n < couriers; n++) {
      queries[n] = query(Plan.courierName(n));
    }
    Stats.Latencies lat = new Stats.Latencies();
    long lost = 0;
    long errors = 0;
    try (DatagramChannel ch = DatagramChannel.open()) {
      ch.connect(t.dns());
      ch.configureBlocking(false);
      ByteBuffer in = ByteBuffer.allocateDirect(4096);
      long period = (long) (1e9 / rate);
      long start = System.nanoTime();
      long warmEnd = start + (long) (warmup * 1e9);
      long end = warmEnd + (long) (duration * 1e9);
      Window win = new Window(t);
      boolean opened = false;
      int id = 0;
      for (long k = 0; ; k++) {
        long due = start + k * period;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          LockSupport.parkNanos(wait);
        }
        long now = System.nanoTime();
        if (!opened && now >= warmEnd) {
          win.open();
          opened = true;
        }
        if (now >= end) {
          win.close();
          break;
        }
        byte[] q = queries[(int) (k % couriers)];
        id = (id + 1) & 0xffff;
        q[0] = (byte) (id >> 8);
        q[1] = (byte) id;
        long t0 = System.nanoTime();
        ch.write(ByteBuffer.wrap(q));
        long giveUp = t0 + 1_000_000_000L;
        while (true) {
          in.clear();
          int n;
          try {
            n = ch.read(in);
          } catch (PortUnreachableException e) {
            errors++;
            break;
          }
          long t1 = System.nanoTime();
          if (n <= 0) {
            if (t1 > giveUp) {
              lost += opened ? 1 : 0;
              break;
            }
            Thread.onSpinWait();
            continue;
          }
          in.flip();
          if (answerId(in) == id) {
            if (opened) {
              lat.record(t1 - t0);
            }
            break;
          }
          errors++; // a wrong or stale answer: keep waiting for ours
        }
      }
      if (lat.count() == 0) {
        throw new IOException(
            "no answer from "
                + t.name()
                + " at "
                + t.dns()
                + " ("
                + errors
                + " bad answers, "
                + lost
                + " lost)");
      }
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("dnslow.p50_us", lat.percentileMicros(50));
      m.put("dnslow.p99_us", lat.percentileMicros(99));
      m.put("dnslow.qps", lat.count() / win.seconds());
      m.put("dnslow.cpu_us_per_q", win.cpuMicrosPer(lat.count()));
      m.put("dnslow.lost", (double) lost);
      m.put("dnslow.errors", (double) errors);
      return m;
    }
  }
}
