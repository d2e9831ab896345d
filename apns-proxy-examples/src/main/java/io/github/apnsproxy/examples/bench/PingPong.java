// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * 64-byte ping-pong through the echo servers: one connection (blocking, latency percentiles) and
 * many connections (one selector thread, one message in flight per connection: round trips per
 * second).
 */
final class PingPong {
  static final int SIZE = 64;

  private PingPong() {}

  static byte[] message(int size) {
    byte[] m = new byte[size];
    m[0] = EchoServers.ECHO;
    for (int i = 1; i < size; i++) {
      m[i] = (byte) ('a' + i % 26);
    }
    return m;
  }

  /** One connection: {@code pingpong1.*}. */
  static Map<String, Double> one(Target t, double warmup, double duration) throws IOException {
    try (SocketChannel ch = SocketChannel.open(t.front(0));
        Watchdog w = Watchdog.closing(Duration.ofSeconds((long) (warmup + duration) + 30), ch)) {
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      ByteBuffer out = ByteBuffer.allocateDirect(SIZE).put(message(SIZE));
      ByteBuffer in = ByteBuffer.allocateDirect(SIZE);
      Stats.Latencies lat = new Stats.Latencies();
      long warmEnd = System.nanoTime() + (long) (warmup * 1e9);
      long end = warmEnd + (long) (duration * 1e9);
      Window win = new Window(t);
      boolean opened = false;
      while (true) {
        out.clear();
        in.clear();
        long t0 = System.nanoTime();
        Bulk.writeFully(ch, out);
        while (in.hasRemaining()) {
          if (ch.read(in) < 0) {
            throw new EOFException("the echo closed");
          }
        }
        long t1 = System.nanoTime();
        if (opened) {
          lat.record(t1 - t0);
          if (t1 >= end) {
            win.close();
            break;
          }
        } else if (t1 >= warmEnd) {
          win.open();
          opened = true;
        }
      }
      if (w.fired()) {
        throw new IOException("ping-pong timed out");
      }
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("pingpong1.p50_us", lat.percentileMicros(50));
      m.put("pingpong1.p99_us", lat.percentileMicros(99));
      m.put("pingpong1.rtps", lat.count() / win.seconds());
      m.put("pingpong1.cpu_pct", win.cpuPercent());
      m.put("pingpong1.cpu_us_per_rt", win.cpuMicrosPer(lat.count()));
      m.put("pingpong1.proc_cpu_us_per_rt", win.processCpuMicrosPer(lat.count()));
      return m;
    }
  }

  /** Many connections, one message in flight on each: {@code pingpongN.*}. */
  static Map<String, Double> many(Target t, int conns, double warmup, double duration)
      throws IOException {
    byte[] msg = message(SIZE);
    List<SocketChannel> chans = Connector.openEcho(t, conns, 64, msg, Duration.ofSeconds(60));
    try (Selector sel = Selector.open()) {
      ByteBuffer out = ByteBuffer.allocateDirect(SIZE).put(msg);
      ByteBuffer scratch = ByteBuffer.allocateDirect(64 * 1024);
      long[] sentAt = new long[conns];
      int[] got = new int[conns];
      for (int i = 0; i < conns; i++) {
        chans.get(i).register(sel, SelectionKey.OP_READ, i);
      }
      for (int i = 0; i < conns; i++) {
        out.clear();
        sentAt[i] = System.nanoTime();
        send(chans.get(i), out);
      }
      Stats.Latencies lat = new Stats.Latencies();
      long warmEnd = System.nanoTime() + (long) (warmup * 1e9);
      long end = warmEnd + (long) (duration * 1e9);
      long hardEnd = end + 30_000_000_000L;
      Window win = new Window(t);
      boolean opened = false;
      long rts = 0;
      while (true) {
        sel.select(100);
        long now = System.nanoTime();
        for (SelectionKey key : sel.selectedKeys()) {
          int i = (Integer) key.attachment();
          SocketChannel ch = chans.get(i);
          scratch.clear();
          int n = ch.read(scratch);
          if (n < 0) {
            throw new EOFException(
                "connection " + i + " to " + t.name() + " closed during ping-pong");
          }
          got[i] += n;
          if (got[i] >= SIZE) {
            got[i] -= SIZE;
            if (opened) {
              rts++;
              lat.record(now - sentAt[i]);
            }
            out.clear();
            sentAt[i] = now;
            send(ch, out);
          }
        }
        sel.selectedKeys().clear();
        if (!opened && now >= warmEnd) {
          win.open();
          opened = true;
        } else if (opened && now >= end) {
          win.close();
          break;
        }
        if (now > hardEnd) {
          throw new IOException("ping-pong did not end");
        }
      }
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("pingpongN.rtps", rts / win.seconds());
      m.put("pingpongN.cpu_us_per_rt", win.cpuMicrosPer(rts));
      m.put("pingpongN.cpu_pct", win.cpuPercent());
      m.put("pingpongN.proc_cpu_us_per_rt", win.processCpuMicrosPer(rts));
      m.put("pingpongN.load_cpu_pct", win.loadPercent());
      m.put("pingpongN.p50_us", lat.percentileMicros(50));
      m.put("pingpongN.p99_us", lat.percentileMicros(99));
      return m;
    } finally {
      Connector.closeAll(chans);
    }
  }

  private static void send(SocketChannel ch, ByteBuffer out) throws IOException {
    ch.write(out);
    if (out.hasRemaining()) {
      // 64 bytes into a send buffer holding at most one earlier message: cannot happen short of a
      // broken peer
      throw new IOException("a 64-byte write was cut short");
    }
  }
}
