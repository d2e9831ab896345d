// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Bulk throughput, one stream, one direction at a time: client to upstream into a sink (the sink's
 * byte count is checked against what was sent), and upstream to client from a generator. Blocking
 * I/O with 256 KiB buffers; only the steady state after the warm-up is counted.
 */
final class Bulk {
  private static final int BUFFER = 256 * 1024;

  private Bulk() {}

  /** Client to upstream: {@code bulk.up.*}. */
  static Map<String, Double> upload(Target t, double warmup, double duration) throws IOException {
    try (SocketChannel ch = SocketChannel.open(t.front(0));
        Watchdog w = Watchdog.closing(Duration.ofSeconds((long) (warmup + duration) + 30), ch)) {
      ByteBuffer buf = filled();
      writeFully(ch, ByteBuffer.wrap(new byte[] {EchoServers.SINK}));
      long start = System.nanoTime();
      long warmEnd = start + (long) (warmup * 1e9);
      long end = warmEnd + (long) (duration * 1e9);
      Window win = new Window(t);
      long total = 0;
      long atOpen = 0;
      boolean opened = false;
      while (true) {
        buf.clear();
        total += ch.write(buf); // blocking: writes the whole buffer
        long now = System.nanoTime();
        if (!opened && now >= warmEnd) {
          win.open();
          atOpen = total;
          opened = true;
        }
        if (now >= end) {
          win.close();
          break;
        }
      }
      long measured = total - atOpen;
      ch.shutdownOutput();
      ByteBuffer count = ByteBuffer.allocate(8);
      while (count.hasRemaining()) {
        if (ch.read(count) < 0) {
          throw new EOFException(
              "the sink closed before reporting its count (sent " + total + " bytes)");
        }
      }
      long received = count.flip().getLong();
      if (received != total) {
        throw new IOException("the sink received " + received + " bytes of " + total + " sent");
      }
      if (w.fired()) {
        throw new IOException("bulk upload timed out");
      }
      return figures("bulk.up.", measured, win);
    }
  }

  /** Upstream to client: {@code bulk.down.*}. */
  static Map<String, Double> download(Target t, double warmup, double duration) throws IOException {
    try (SocketChannel ch = SocketChannel.open(t.front(0));
        Watchdog w = Watchdog.closing(Duration.ofSeconds((long) (warmup + duration) + 30), ch)) {
      ByteBuffer header = ByteBuffer.allocate(9).put(EchoServers.GENERATE).putLong(0).flip();
      writeFully(ch, header);
      ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
      long start = System.nanoTime();
      long warmEnd = start + (long) (warmup * 1e9);
      long end = warmEnd + (long) (duration * 1e9);
      Window win = new Window(t);
      long total = 0;
      long atOpen = 0;
      boolean opened = false;
      while (true) {
        buf.clear();
        int n = ch.read(buf);
        if (n < 0) {
          throw new EOFException("the generator closed after " + total + " bytes");
        }
        total += n;
        long now = System.nanoTime();
        if (!opened && now >= warmEnd) {
          win.open();
          atOpen = total;
          opened = true;
        }
        if (now >= end) {
          win.close();
          break;
        }
      }
      if (w.fired()) {
        throw new IOException("bulk download timed out");
      }
      return figures("bulk.down.", total - atOpen, win);
    }
  }

  private static Map<String, Double> figures(String prefix, long bytes, Window win) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put(prefix + "gbps", bytes * 8 / 1e9 / win.seconds());
    m.put(prefix + "cpu_s_per_gb", win.cpuSeconds() / (bytes / 1e9));
    m.put(prefix + "cpu_pct", win.cpuPercent());
    m.put(prefix + "proc_cpu_s_per_gb", win.processCpuSeconds() / (bytes / 1e9));
    m.put(prefix + "load_cpu_pct", win.loadPercent());
    return m;
  }

  private static ByteBuffer filled() {
    ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
    while (buf.hasRemaining()) {
      buf.put((byte) ('A' + buf.position() % 26));
    }
    return buf.flip();
  }

  static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}
