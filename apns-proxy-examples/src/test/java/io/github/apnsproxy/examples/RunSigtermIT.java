// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code run --config} as its own process: it starts, and SIGTERM drains and exits 0. */
class RunSigtermIT {

  @Test
  void sigtermDrainsAndExitsZero(@TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
      port = s.getLocalPort();
    }
    Path config = dir.resolve("proxy.properties");
    Files.writeString(
        config,
        String.join(
            "\n",
            "plan.ipv4=127.100.100.0/24",
            "dns.listen=127.0.0.1:0",
            "upstream.dns=127.0.0.1:9",
            "clients.allow=127.0.0.0/8",
            "tcp.courier-ports=" + port,
            "tcp.init-ports=" + port,
            "tcp.api-ports=" + port,
            ""));
    Process p = ProxyProcess.start(config, dir.resolve("stderr.txt"));
    try {
      String first = ProxyProcess.firstLine(p, Duration.ofSeconds(60));
      assertThat(first).startsWith("apns-proxy running: DNS [/127.0.0.1:");
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
      assertThat(p.exitValue()).isZero();
      assertThat(Files.readString(dir.resolve("stderr.txt")))
          .contains("apns-proxy stopping: draining 0 live splices")
          .contains("apns-proxy stopped");
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * Issue 18 defect 9, then issue 17 item 1: SIGHUP does not stop the proxy; it re-reads the
   * unchanged file, applies it (nothing changed) and goes on serving DNS. {@link ReloadIT} covers a
   * changed file.
   */
  @Test
  void sighupReloadsAndTheProxyKeepsServing(@TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
      port = s.getLocalPort();
    }
    Path config = dir.resolve("proxy.properties");
    Files.writeString(
        config,
        String.join(
            "\n",
            "plan.ipv4=127.100.100.0/24",
            "dns.listen=127.0.0.1:0",
            "upstream.dns=127.0.0.1:9",
            "upstream.allow=127.0.1.0/24",
            "clients.allow=127.0.0.0/8",
            "tcp.courier-ports=" + port,
            "tcp.init-ports=" + port,
            "tcp.api-ports=" + port,
            ""));
    Path stderr = dir.resolve("stderr.txt");
    Process p = ProxyProcess.start(config, stderr);
    try {
      String first = ProxyProcess.firstLine(p, Duration.ofSeconds(60));
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile("DNS \\[/127\\.0\\.0\\.1:(\\d+)").matcher(first);
      assertThat(m.find()).as(first).isTrue();
      int dnsPort = Integer.parseInt(m.group(1));

      Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).start();
      assertThat(kill.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(kill.exitValue()).isZero();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(stderr).contains("config reloaded: no key changed")) {
        assertThat(p.isAlive()).as("alive after SIGHUP").isTrue();
        assertThat(System.nanoTime() - deadline).as("the SIGHUP line within 60 s").isNegative();
        Thread.sleep(20);
      }

      org.xbill.DNS.SimpleResolver r =
          new org.xbill.DNS.SimpleResolver(new java.net.InetSocketAddress("127.0.0.1", dnsPort));
      r.setTimeout(java.time.Duration.ofSeconds(10));
      org.xbill.DNS.Message a =
          r.send(
              org.xbill.DNS.Message.newQuery(
                  org.xbill.DNS.Record.newRecord(
                      org.xbill.DNS.Name.fromString("0-courier.push.apple.com."),
                      org.xbill.DNS.Type.A,
                      org.xbill.DNS.DClass.IN)));
      assertThat(a.getRcode()).isEqualTo(org.xbill.DNS.Rcode.NOERROR);
      assertThat(a.getSection(org.xbill.DNS.Section.ANSWER))
          .singleElement()
          .asString()
          .contains("127.100.100.1");
      assertThat(p.isAlive()).isTrue();

      p.destroy(); // SIGTERM still stops it
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
      assertThat(p.exitValue()).isZero();
    } finally {
      p.destroyForcibly();
    }
  }
}
