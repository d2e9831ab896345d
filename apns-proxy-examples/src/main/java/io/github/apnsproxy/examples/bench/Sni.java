// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * The SNI figures: the same work through the address-routed proxy and through a proxy routing by
 * the TLS server name (a single-address plan: every connection's ClientHello read, parsed and
 * routed to a numbered courier the proxy picks), measured back to back in one run; and the
 * aggregate preface memory under a slow-ClientHello crowd. Single-threaded, on the calling thread.
 */
final class Sni {
  /** The name devices send: unnumbered, so the proxy picks the numbered courier. */
  static final String SERVER_NAME = "courier.push.apple.com";

  private Sni() {}

  /**
   * A real ClientHello record as the JDK's TLS client sends it, with {@code serverName} and ALPN
   * apns-security-v3.
   */
  static byte[] clientHello(String serverName) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, null, null);
      SSLEngine e = ctx.createSSLEngine(serverName, 5223);
      e.setUseClientMode(true);
      SSLParameters p = e.getSSLParameters();
      p.setServerNames(List.of(new SNIHostName(serverName)));
      p.setApplicationProtocols(new String[] {"apns-security-v3"});
      e.setSSLParameters(p);
      ByteBuffer out = ByteBuffer.allocate(e.getSession().getPacketBufferSize());
      e.wrap(ByteBuffer.allocate(0), out);
      out.flip();
      byte[] b = new byte[out.remaining()];
      out.get(b);
      return b;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot make a ClientHello: " + e, e);
    }
  }

  /**
   * {@code sni.*} setup figures: connection setups (ClientHello + 64 bytes, echoed) through {@code
   * address} then {@code sni}, each after its own warm-up (at least 1 s); CPU per setup of each and
   * their ratio.
   */
  static Map<String, Double> setups(
      Target address, Target sni, int inFlight, double warmup, double duration) throws IOException {
    byte[] hello = clientHello(SERVER_NAME);
    // at least 1 s of warm-up each: the SNI proxy's ClientHello path is compiled before it is
    // measured
    Map<String, Double> a = Setups.run(address, inFlight, Math.max(1.0, warmup), duration, hello);
    Map<String, Double> s = Setups.run(sni, inFlight, Math.max(1.0, warmup), duration, hello);
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("sni.hello_bytes", (double) hello.length);
    m.put("sni.addr_per_s", a.get("setup.per_s"));
    m.put("sni.sni_per_s", s.get("setup.per_s"));
    m.put("sni.addr_cpu_us_per_conn", a.get("setup.cpu_us_per_conn"));
    m.put("sni.sni_cpu_us_per_conn", s.get("setup.cpu_us_per_conn"));
    m.put("sni.cpu_ratio", s.get("setup.cpu_us_per_conn") / a.get("setup.cpu_us_per_conn"));
    m.put("sni.sni_p99_ms", s.get("setup.p99_ms"));
    m.put("sni.errors", a.get("setup.errors") + s.get("setup.errors"));
    return m;
  }

  /**
   * {@code sni.idle_*}: idle splices opened with a ClientHello, through {@code address} then {@code
   * sni}.
   */
  static Map<String, Double> idle(
      Target address, Target sni, int conns, double seconds, double interval, double quiet)
      throws IOException, InterruptedException {
    byte[] hello = clientHello(SERVER_NAME);
    // both proxies first hold as many splices once, unmeasured: the SNI proxy is a fresh process
    // whose heap has never grown that far, the address-routed one has (earlier figures), and RSS
    // growth would otherwise compare heap expansion, not splices
    warm(address, conns, hello);
    warm(sni, conns, hello);
    Map<String, Double> a = Idle.run(address, conns, seconds, interval, quiet, hello).figures();
    Map<String, Double> s = Idle.run(sni, conns, seconds, interval, quiet, hello).figures();
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("sni.idle_addr_mem_kib_per_conn", a.get("idle.mem_kib_per_conn"));
    m.put("sni.idle_sni_mem_kib_per_conn", s.get("idle.mem_kib_per_conn"));
    m.put("sni.idle_sni_heap_kib_per_conn", s.getOrDefault("idle.heap_kib_per_conn", Double.NaN));
    m.put("sni.idle_survived", s.get("idle.survived") + a.get("idle.survived"));
    return m;
  }

  /** Opens {@code conns} splices through {@code t} (each with {@code hello}), then closes them. */
  private static void warm(Target t, int conns, byte[] hello)
      throws IOException, InterruptedException {
    List<SocketChannel> chans =
        Connector.openEcho(
            t, conns, 64, hello, PingPong.message(Idle.KEEPALIVE), Duration.ofMinutes(3));
    Connector.closeAll(chans);
    Thread.sleep(1000); // the target closes them all before the measured run's baseline
  }

  /**
   * {@code trickle.*}: {@code clients} connections to the SNI proxy each send their ClientHello one
   * byte per second (spread evenly over the second) for {@code seconds}; the proxy's preface bytes
   * (from its metrics endpoint) and RSS are sampled every second. Connections the proxy closes (its
   * preface timeout) are counted and not reopened.
   */
  static Map<String, Double> trickle(
      Target sni, InetSocketAddress metrics, int clients, double seconds)
      throws IOException, InterruptedException {
    byte[] hello = clientHello(SERVER_NAME);
    double rssBase = ProcStats.rssKib(sni.pids());
    List<SocketChannel> chans = new ArrayList<>(clients);
    Map<String, Double> m = new LinkedHashMap<>();
    double peakPreface = 0;
    double peakRss = rssBase;
    int closed = 0;
    try (Selector sel = Selector.open()) {
      for (int i = 0; i < clients; i++) {
        SocketChannel ch = SocketChannel.open();
        chans.add(ch);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        ch.connect(
            sni.front(0)); // blocking: loopback connects complete at once (the backlog takes them)
        ch.configureBlocking(false);
        ch.register(sel, SelectionKey.OP_READ, i);
      }
      boolean[] dead = new boolean[clients];
      ByteBuffer one = ByteBuffer.allocate(1);
      ByteBuffer scratch = ByteBuffer.allocate(4096);
      long t0 = System.nanoTime();
      long end = t0 + (long) (seconds * 1e9);
      long step = 1_000_000_000L / clients;
      long sent = 0;
      long nextSample = t0 + 1_000_000_000L;
      int n = 0;
      while (System.nanoTime() < end) {
        long now = System.nanoTime();
        long due = (now - t0) / step + 1;
        while (sent < due) {
          int i = (int) (sent % clients);
          int offset = (int) (sent / clients);
          sent++;
          if (dead[i] || offset >= hello.length) {
            continue;
          }
          one.clear();
          one.put(hello[offset]).flip();
          try {
            chans.get(i).write(one);
          } catch (IOException e) {
            dead[i] = true;
            closed++;
          }
        }
        sel.select(5);
        for (SelectionKey k : sel.selectedKeys()) {
          int i = (Integer) k.attachment();
          scratch.clear();
          try {
            if (chans.get(i).read(scratch) < 0 && !dead[i]) {
              dead[i] = true;
              closed++;
              k.cancel();
            }
          } catch (IOException e) {
            if (!dead[i]) {
              dead[i] = true;
              closed++;
            }
            k.cancel();
          }
        }
        sel.selectedKeys().clear();
        if (now >= nextSample) {
          nextSample += 1_000_000_000L;
          n++;
          peakPreface = Math.max(peakPreface, scrape(metrics, "apns_proxy_preface_bytes"));
          peakRss = Math.max(peakRss, ProcStats.rssKib(sni.pids()));
        }
      }
      m.put("trickle.clients", (double) clients);
      m.put("trickle.seconds", seconds);
      m.put("trickle.samples", (double) n);
      m.put("trickle.peak_preface_kib", peakPreface / 1024);
      m.put("trickle.preface_bytes_per_client", peakPreface / clients);
      m.put("trickle.peak_rss_growth_mib", (peakRss - rssBase) / 1024);
      m.put("trickle.closed_by_proxy", (double) closed);
    } finally {
      Connector.closeAll(chans);
    }
    m.put(
        "trickle.preface_timeouts",
        scrape(metrics, "apns_proxy_connections_rejected_total{reason=\"preface_timeout\"}"));
    return m;
  }

  private static final Pattern SAMPLE =
      Pattern.compile("^(\\S+(?:\\{[^}]*\\})?) (\\S+)$", Pattern.MULTILINE);

  /** One sample's value from the proxy's {@code /metrics} text ({@code NaN} when absent). */
  static double scrape(InetSocketAddress metrics, String sample) throws IOException {
    try (Socket s = new Socket()) {
      s.setSoTimeout(10_000);
      s.connect(metrics, 5_000);
      s.getOutputStream()
          .write(
              "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      Matcher mt = SAMPLE.matcher(text);
      while (mt.find()) {
        if (mt.group(1).equals(sample)) {
          return Double.parseDouble(mt.group(2));
        }
      }
      return Double.NaN;
    }
  }
}
