// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Egress through a real Squid (Debian's {@code squid} package; {@code .ci/run} installs it): the
 * test starts it on loopback with a generated configuration in a temporary directory (its own pid,
 * logs, hosts file; no cache), proving the CONNECT path with a stock proxy, and that Squid's
 * default {@code SSL_ports} refusal of port 5223 becomes the clear configuration message. Skipped
 * only when no squid binary is installed.
 */
class SquidEgressIT extends SplicerTestSupport {
  private static final String COURIER = "17-courier.push.apple.com";
  private @TempDir Path dir;
  private Process squid;

  private static Path squidBinary() {
    for (String p : List.of("/usr/sbin/squid", "/usr/local/sbin/squid", "/usr/bin/squid")) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    return null;
  }

  /**
   * Starts squid on a free loopback port; {@code extraSslPort} is added to SSL_ports when positive.
   */
  private InetSocketAddress startSquid(int extraSslPort, String upstreamIp) throws Exception {
    return startSquid(extraSslPort, upstreamIp, List.of(COURIER));
  }

  /**
   * Starts squid on a free loopback port, its hosts file resolving each of {@code names} to {@code
   * upstreamIp}; {@code extraSslPort} is added to SSL_ports when positive.
   */
  private InetSocketAddress startSquid(int extraSslPort, String upstreamIp, List<String> names)
      throws Exception {
    Path bin = squidBinary();
    assumeTrue(bin != null, "squid is not installed (apt-get install squid)");
    // started as root, squid runs as its cache_effective_user (proxy), which must reach and write
    // this directory
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.writeString(dir.resolve("hosts"), upstreamIp + " " + String.join(" ", names) + "\n");
    for (int attempt = 0; ; attempt++) {
      int port;
      try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
        port = probe.getLocalPort(); // squid cannot listen on port 0 and report it: pick a free one
      }
      String conf =
          String.join(
              "\n",
              "http_port 127.0.0.1:" + port,
              "pid_filename " + dir.resolve("squid.pid"),
              "cache_log " + dir.resolve("cache.log"),
              "access_log stdio:" + dir.resolve("access.log"),
              "cache_store_log none",
              "netdb_filename none",
              "coredump_dir " + dir,
              "cache deny all",
              "cache_mem 4 MB",
              "pinger_enable off",
              "hosts_file " + dir.resolve("hosts"),
              "dns_nameservers 127.0.0.1",
              "shutdown_lifetime 0 seconds",
              "acl SSL_ports port 443",
              extraSslPort > 0 ? "acl SSL_ports port " + extraSslPort : "",
              "acl CONNECT method CONNECT",
              "http_access deny CONNECT !SSL_ports",
              "http_access allow localhost",
              "http_access deny all",
              "");
      Path file = dir.resolve("squid.conf");
      Files.writeString(file, conf);
      squid =
          new ProcessBuilder(bin.toString(), "-N", "-f", file.toString())
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("squid.out").toFile())
              .start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() - deadline < 0 && squid.isAlive()) {
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
          return new InetSocketAddress("127.0.0.1", port);
        } catch (IOException notYet) {
          Thread.sleep(50); // squid is still starting; bounded by the deadline
        }
      }
      String out = Files.readString(dir.resolve("squid.out"));
      stopSquid();
      if (attempt == 3) {
        throw new AssertionError(
            "squid did not start:\n" + out + "\n" + readIfExists(dir.resolve("cache.log")));
      }
    }
  }

  private static String readIfExists(Path p) throws IOException {
    return Files.exists(p) ? Files.readString(p) : "";
  }

  @AfterEach
  void stopSquid() throws InterruptedException {
    Process p = squid;
    squid = null;
    if (p != null) {
      p.destroy(); // SIGTERM: shutdown_lifetime 0 makes it quick
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void tunnelsThroughAStockSquidByName() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    int port = up.address().getPort();
    InetSocketAddress proxy = startSquid(port, "127.0.1.1");
    Router byName = c -> CompletableFuture.completedFuture(Route.toHost(COURIER, port));
    TcpSplicer sp =
        start(builder(byName).egress(Egress.parse("http://127.0.0.1:" + proxy.getPort())));
    Socket c = connect(entry(sp));
    byte[] msg = new byte[50_000];
    for (int i = 0; i < msg.length; i++) {
      msg[i] = (byte) (i * 7);
    }
    c.getOutputStream().write(msg);
    assertThat(readN(c.getInputStream(), msg.length)).isEqualTo(msg);
    c.close();
    assertQuiet(sp);
    assertThat(up.accepted.get()).isEqualTo(1);
    assertThat(sp.stats().upstreamConnectFailures()).isZero();
    String access = waitForAccessLog();
    assertThat(access).contains("CONNECT " + COURIER + ":" + port);
  }

  private String waitForAccessLog() throws IOException, InterruptedException {
    Path log = dir.resolve("access.log");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() - deadline < 0) {
      String s = readIfExists(log);
      if (s.contains("CONNECT")) {
        return s;
      }
      Thread.sleep(50); // squid writes the line when the tunnel closes; bounded by the deadline
    }
    return readIfExists(log);
  }

  @Test
  void squidsDefaultRefusalOfPort5223IsReportedAsAConfigurationProblem() throws Exception {
    InetSocketAddress proxy = startSquid(0, "127.0.1.1");
    Router byName = c -> CompletableFuture.completedFuture(Route.toHost(COURIER, 5223));
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    TcpSplicer sp;
    System.setErr(
        new PrintStream(
            new java.io.OutputStream() {
              @Override
              public void write(int b) {
                err.write(b);
                synchronized (captured) {
                  captured.write(b);
                }
              }
            },
            true,
            StandardCharsets.UTF_8));
    try {
      sp = start(builder(byName).egress(Egress.parse("http://127.0.0.1:" + proxy.getPort())));
      Socket c = connect(entry(sp));
      assertThat(c.getInputStream().read()).isEqualTo(-1);
      assertQuiet(sp);
    } finally {
      System.setErr(err);
    }
    assertThat(sp.stats().egressProxyRefusals()).isEqualTo(1);
    String log;
    synchronized (captured) {
      log = captured.toString(StandardCharsets.UTF_8);
    }
    assertThat(log)
        .contains("refused CONNECT " + COURIER + ":5223 (HTTP/1.1 403 Forbidden)")
        .contains("the proxy admin must allow CONNECT to port 5223");
  }

  /**
   * Device -> splicer on one address routing by the TLS server name -> stock Squid -> TLS test
   * courier: Squid is asked for the numbered courier the plan's picker chose (its access log shows
   * the name, never an address), the client verifies the courier's certificate, and 64 KiB go each
   * way unchanged.
   */
  @Test
  void sniRoutedTlsThroughAStockSquidByNumberedName() throws Exception {
    Path keys = Files.createDirectories(dir.resolve("tls"));
    TestTls certs = TestTls.forNames(keys, List.of("courier.push.apple.com"));
    InetSocketAddress courier = certs.echoServer(this, TestServer.at("127.0.2.1", 0), "courier");
    // the courier listens on the port the device dials: the SNI route keeps the dialled port
    int port = courier.getPort();
    AddressPlan plan =
        AddressPlan.builder()
            .style(AddressPlan.Style.SINGLE)
            .site(Cidr.parse("127.101.0.0/24"))
            .courierCount(1)
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .build();
    List<String> couriers = List.of(ApnsHost.courier(0).name(), ApnsHost.courier(1).name());
    InetSocketAddress proxy = startSquid(port, "127.0.2.1", couriers);
    Egress egress = Egress.parse("http://127.0.0.1:" + proxy.getPort());
    UpstreamResolver unreachableDns =
        host -> CompletableFuture.failedFuture(new UnknownHostException(host));
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.101.0.1", port)), FrontDoor.tlsServerName())
                .router(
                    Router.fromPlan(
                        plan,
                        unreachableDns,
                        new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8")),
                        egress))
                .egress(egress)
                .loops(1));
    assertThat(certs.echo(connect(entry(sp)), "courier.push.apple.com")).isEqualTo("courier");
    assertQuiet(sp);
    assertThat(sp.stats().upstreamConnectFailures()).isZero();
    String access = waitForAccessLog();
    assertThat(access).containsPattern("CONNECT [01]-courier\\.push\\.apple\\.com:" + port + " ");
    assertThat(access).doesNotContain("CONNECT 127.");
  }
}
