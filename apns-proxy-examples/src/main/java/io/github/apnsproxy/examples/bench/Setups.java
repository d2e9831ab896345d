// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Connection setups with a fixed number in flight: connect, send 64 bytes, receive the echo, close;
 * the setup time runs from {@code connect} to the last echoed byte. Spread round robin over the
 * couriers. One selector thread.
 */
final class Setups {
  private Setups() {}

  /** One setup in progress. */
  private static final class Attempt {
    final SocketChannel ch;
    final long start;
    int got;

    Attempt(SocketChannel ch, long start) {
      this.ch = ch;
      this.start = start;
    }
  }

  /** {@code setup.*}. */
  static Map<String, Double> run(Target t, int inFlight, double warmup, double duration)
      throws IOException {
    return run(t, inFlight, warmup, duration, new byte[0]);
  }

  /**
   * {@code setup.*} with every connection first sending {@code preface} (a TLS ClientHello) in the
   * same write as its 64 bytes; the setup ends when both came back.
   */
  static Map<String, Double> run(
      Target t, int inFlight, double warmup, double duration, byte[] preface) throws IOException {
    int size = preface.length + PingPong.SIZE;
    ByteBuffer out =
        ByteBuffer.allocateDirect(size).put(preface).put(PingPong.message(PingPong.SIZE));
    ByteBuffer scratch = ByteBuffer.allocateDirect(64 * 1024);
    Stats.Latencies lat = new Stats.Latencies();
    long warmEnd = System.nanoTime() + (long) (warmup * 1e9);
    long end = warmEnd + (long) (duration * 1e9);
    long hardEnd = end + 30_000_000_000L;
    Window win = new Window(t);
    boolean opened = false;
    long done = 0;
    long errors = 0;
    int next = 0;
    int active = 0;
    String firstError = null;
    try (Selector sel = Selector.open()) {
      while (true) {
        long now = System.nanoTime();
        while (active < inFlight && now < end) {
          SocketChannel ch = SocketChannel.open();
          try {
            ch.configureBlocking(false);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            Attempt a = new Attempt(ch, System.nanoTime());
            if (ch.connect(t.front(next++))) {
              out.clear();
              ch.write(out);
              ch.register(sel, SelectionKey.OP_READ, a);
            } else {
              ch.register(sel, SelectionKey.OP_CONNECT, a);
            }
            active++;
          } catch (IOException e) {
            ch.close();
            errors++;
            firstError = firstError == null ? e.toString() : firstError;
            break; // e.g. no ephemeral port free: let the selector run before trying again
          }
        }
        if (active == 0 && now >= end) {
          break;
        }
        sel.select(10);
        now = System.nanoTime();
        for (SelectionKey key : sel.selectedKeys()) {
          Attempt a = (Attempt) key.attachment();
          try {
            if (key.isConnectable()) {
              a.ch.finishConnect();
              out.clear();
              a.ch.write(out); // 64 bytes into an empty send buffer
              key.interestOps(SelectionKey.OP_READ);
            } else if (key.isReadable()) {
              scratch.clear();
              int n = a.ch.read(scratch);
              if (n < 0) {
                throw new IOException("closed before the echo");
              }
              a.got += n;
              if (a.got >= size) {
                a.ch.close();
                active--;
                if (opened && now < end) {
                  done++;
                  lat.record(now - a.start);
                }
              }
            }
          } catch (IOException e) {
            a.ch.close();
            active--;
            errors++;
            firstError = firstError == null ? e.toString() : firstError;
          }
        }
        sel.selectedKeys().clear();
        if (!opened && now >= warmEnd) {
          win.open();
          opened = true;
        } else if (opened && now >= end && win.isOpen()) {
          win.close();
        }
        if (now > hardEnd) {
          for (SelectionKey k : sel.keys()) {
            k.channel().close();
          }
          throw new IOException(active + " connection setups to " + t.name() + " did not finish");
        }
      }
    }
    if (win.isOpen()) {
      win.close();
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("setup.per_s", done / win.seconds());
    m.put("setup.p50_ms", lat.percentileMillis(50));
    m.put("setup.p99_ms", lat.percentileMillis(99));
    m.put("setup.cpu_us_per_conn", win.cpuMicrosPer(done));
    m.put("setup.cpu_pct", win.cpuPercent());
    m.put("setup.proc_cpu_us_per_conn", win.processCpuMicrosPer(done));
    m.put("setup.load_cpu_pct", win.loadPercent());
    m.put("setup.errors", (double) errors);
    if (firstError != null) {
      System.out.println("  " + t.name() + ": " + errors + " failed setups, first: " + firstError);
    }
    return m;
  }
}
