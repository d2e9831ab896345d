// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 18, defects 2 and 3, on real sockets against a running node: half-sent requests must not
 * block {@code /healthz} and {@code /metrics}, an address outside {@code clients.allow} is refused,
 * and an accept that fails for lack of descriptors pauses instead of spinning.
 */
class MetricsEndpointIT {
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private static Properties config(String clientsAllow) throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort(); // the splicer needs a real port; nothing connects to it here
    }
    Properties p = new Properties();
    p.setProperty("plan.ipv4", "127.100.100.0/24");
    p.setProperty("dns.listen", "127.0.0.1:0");
    p.setProperty("upstream.dns", "127.0.0.1:9");
    p.setProperty("clients.allow", clientsAllow);
    p.setProperty("tcp.courier-ports", Integer.toString(port));
    p.setProperty("tcp.init-ports", Integer.toString(port));
    p.setProperty("tcp.api-ports", Integer.toString(port));
    p.setProperty("tcp.listen", "127.0.0.1");
    p.setProperty("metrics.listen", "127.0.0.1:0");
    p.setProperty("stats.interval", "0");
    return p;
  }

  private InetSocketAddress startNode(String clientsAllow) throws IOException {
    ProxyNode node = ProxyNode.start(ProxyConfig.fromProperties(config(clientsAllow)));
    open.add(node);
    return node.metricsAddress().orElseThrow();
  }

  /** One GET over a fresh socket; the status line and body, or fails within 10 s. */
  private static String get(InetSocketAddress endpoint, InetAddress from, String path)
      throws IOException {
    try (Socket s = new Socket()) {
      s.bind(new InetSocketAddress(from, 0));
      s.connect(endpoint, 10_000);
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(
          ("GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /**
   * Issue 15: {@code /healthz?deep=1} runs the probe's checks; a node whose upstream DNS never
   * answers fails it.
   */
  @Test
  void deepHealthRunsTheProbeAndFailsWhenTheUpstreamPathIsBroken() throws Exception {
    Properties p = config("127.0.0.0/8");
    p.setProperty(
        "upstream.timeout",
        "300ms"); // 127.0.0.1:9 never answers: the probe's DNS step fails quickly
    ProxyNode node = ProxyNode.start(ProxyConfig.fromProperties(p));
    open.add(node);
    InetSocketAddress endpoint = node.metricsAddress().orElseThrow();
    InetAddress loopback = InetAddress.getByName("127.0.0.1");
    assertThat(get(endpoint, loopback, "/healthz")).startsWith("HTTP/1.1 200").endsWith("ok\n");
    String deep = get(endpoint, loopback, "/healthz?deep=1");
    assertThat(deep)
        .startsWith("HTTP/1.1 503")
        .contains("courier.push.apple.com")
        .containsIgnoringCase("dns");
    // the plain check stays cheap and green: only the deep one looks upstream
    assertThat(get(endpoint, loopback, "/healthz")).startsWith("HTTP/1.1 200");
  }

  @Test
  void halfSentRequestsBlockNeitherHealthNorMetrics() throws Exception {
    InetSocketAddress endpoint = startNode("127.0.0.0/8");
    InetAddress loopback = InetAddress.getByName("127.0.0.1");
    // several clients each hold a request they never finish (more than a small thread pool would
    // have threads)
    for (int i = 0; i < 20; i++) {
      Socket s = new Socket();
      open.add(s);
      s.connect(endpoint, 10_000);
      s.getOutputStream()
          .write("GET /metrics HTTP/1.1\r\nHost: slow\r\n".getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
    }
    for (int i = 0; i < 3; i++) {
      assertThat(get(endpoint, loopback, "/healthz"))
          .startsWith("HTTP/1.1 200")
          .endsWith("\r\n\r\nok\n");
      String metrics = get(endpoint, loopback, "/metrics");
      assertThat(metrics).startsWith("HTTP/1.1 200");
      assertThat(ExpositionParser.parse(metrics.substring(metrics.indexOf("\r\n\r\n") + 4)))
          .containsKey("apns_proxy_connections_active");
    }
  }

  @Test
  void halfSentRequestIsClosedAfterTheRequestTimeout() throws Exception {
    InetSocketAddress endpoint = startNode("127.0.0.0/8");
    try (Socket s = new Socket()) {
      s.connect(endpoint, 10_000);
      s.getOutputStream().write("GET /healthz HTTP/1.1\r\n".getBytes(StandardCharsets.ISO_8859_1));
      s.setSoTimeout(60_000); // the endpoint's request timeout is 10 s
      assertThat(s.getInputStream().read()).as("closed without an answer").isEqualTo(-1);
    }
    String metrics = get(endpoint, InetAddress.getByName("127.0.0.1"), "/metrics");
    assertThat(
            ExpositionParser.parse(metrics.substring(metrics.indexOf("\r\n\r\n") + 4))
                .get("apns_proxy_metrics_refused_total")
                .value("apns_proxy_metrics_refused_total", "reason", "timeout"))
        .isEqualTo(1);
  }

  @Test
  void addressOutsideClientsAllowIsRefused() throws Exception {
    InetSocketAddress endpoint = startNode("127.0.0.1/32");
    assertThat(get(endpoint, InetAddress.getByName("127.0.0.1"), "/healthz"))
        .startsWith("HTTP/1.1 200");
    String answer;
    try {
      answer = get(endpoint, InetAddress.getByName("127.0.0.2"), "/healthz");
    } catch (SocketException e) {
      answer = "reset: " + e.getMessage(); // closed at accept: a reset is as good as an EOF
    }
    assertThat(answer).doesNotContain("HTTP/1.1 200").doesNotContain("ok");
    String metrics = get(endpoint, InetAddress.getByName("127.0.0.1"), "/metrics");
    assertThat(
            ExpositionParser.parse(metrics.substring(metrics.indexOf("\r\n\r\n") + 4))
                .get("apns_proxy_metrics_refused_total")
                .value("apns_proxy_metrics_refused_total", "reason", "denied"))
        .isEqualTo(1);
  }

  /**
   * A child JVM under {@code ulimit -n 256} runs a node, then opens files until {@code open} fails
   * (EMFILE) and holds them for 3 s while clients wait in the metrics listener's backlog. Every
   * accept in that time fails; with a backoff of 1 s at most a handful are tried (a loop without
   * backoff tries hundreds of thousands). After the files are released the waiting clients are
   * answered.
   */
  @Test
  void acceptPausesWhileTheProcessIsOutOfDescriptors(@TempDir Path dir) throws Exception {
    Path jar = Path.of("target", "apns-proxy.jar").toAbsolutePath();
    assertThat(jar).as("the shaded jar (built in package, before the integration tests)").exists();
    Path configFile = dir.resolve("proxy.properties");
    try (OutputStream out = Files.newOutputStream(configFile)) {
      config("127.0.0.0/8").store(out, null);
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // the node's classes come from the jar (an open file: loading a class needs no new descriptor)
    String cp = jar + File.pathSeparator + Path.of("target", "test-classes").toAbsolutePath();
    Process child =
        new ProcessBuilder(
                "bash",
                "-c",
                "ulimit -n 256 && exec \"$0\" -cp \"$1\" \"$2\" \"$3\"",
                java,
                cp,
                DescriptorExhaustionChild.class.getName(),
                configFile.toString())
            .redirectError(dir.resolve("stderr.txt").toFile())
            .start();
    open.add(child::destroyForcibly);
    BufferedReader in =
        new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
    PrintWriter commands = new PrintWriter(child.getOutputStream(), true, StandardCharsets.UTF_8);
    int port = Integer.parseInt(line(in, "port ").substring(5));
    InetSocketAddress endpoint = new InetSocketAddress("127.0.0.1", port);
    assertThat(get(endpoint, InetAddress.getByName("127.0.0.1"), "/healthz"))
        .startsWith("HTTP/1.1 200");

    commands.println("exhaust");
    line(in, "exhausted ");
    List<Socket> waiting = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Socket s = new Socket();
      open.add(s);
      s.connect(endpoint, 10_000); // completes in the kernel's backlog; accept() fails in the child
      s.getOutputStream()
          .write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      waiting.add(s);
    }
    Thread.sleep(3000); // the length of the episode, not an ordering wait
    commands.println("release");
    String cpu = line(in, "metrics-cpu-ms ");
    for (Socket s : waiting) {
      s.setSoTimeout(30_000);
      assertThat(new String(readAll(s.getInputStream()), StandardCharsets.UTF_8))
          .startsWith("HTTP/1.1 200");
    }
    String metrics = get(endpoint, InetAddress.getByName("127.0.0.1"), "/metrics");
    Map<String, ExpositionParser.Family> families =
        ExpositionParser.parse(metrics.substring(metrics.indexOf("\r\n\r\n") + 4));
    double errors =
        families
            .get("apns_proxy_metrics_accept_errors_total")
            .value("apns_proxy_metrics_accept_errors_total");
    System.out.println("descriptor exhaustion: " + errors + " failed accepts in 3 s; " + cpu);
    assertThat(errors)
        .as("failed accepts during a 3 s episode with a 1 s backoff (%s)", cpu)
        .isBetween(1.0, 10.0);
    assertThat(families.get("process_open_fds").value("process_open_fds")).isPositive();
    assertThat(families.get("process_max_fds").value("process_max_fds")).isEqualTo(256);
    commands.println("quit");
    assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
  }

  private static byte[] readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    in.transferTo(out);
    return out.toByteArray();
  }

  private static String line(BufferedReader in, String prefix) throws Exception {
    return CompletableFuture.supplyAsync(
            () -> {
              try {
                for (String l; (l = in.readLine()) != null; ) {
                  if (l.startsWith(prefix)) {
                    return l;
                  }
                }
                return "child ended before '" + prefix + "'";
              } catch (IOException e) {
                return e.toString();
              }
            })
        .get(60, TimeUnit.SECONDS);
  }
}
