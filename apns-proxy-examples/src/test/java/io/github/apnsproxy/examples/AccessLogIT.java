// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code log.access} as {@code run} wires it: on, a refused connection gets an access line; off,
 * none.
 */
class AccessLogIT {
  private static final String ACCESS_LOGGER = "io.github.apnsproxy.access";

  @ParameterizedTest(name = "log.access={0}")
  @ValueSource(strings = {"on", "off"})
  void accessLinesFollowLogAccess(String logAccess, @TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
      port = s.getLocalPort();
    }
    Path config = dir.resolve("proxy.properties");
    // upstream.hosts pins 0-courier to an address outside upstream.allow: the connection is refused
    // at once
    Files.writeString(
        dir.resolve("hosts"), "192.0.2.1 0-courier.push.apple.com\n", StandardCharsets.UTF_8);
    Files.writeString(
        config,
        String.join(
            "\n",
            "plan.ipv4=127.100.100.0/24",
            "dns.listen=127.0.0.1:0",
            "upstream.dns=127.0.0.1:9",
            "upstream.hosts=hosts",
            "upstream.allow=127.0.1.0/24",
            "clients.allow=127.0.0.0/8",
            "tcp.courier-ports=" + port,
            "tcp.init-ports=" + port,
            "tcp.api-ports=" + port,
            "stats.interval=0",
            "log.access=" + logAccess,
            ""));
    Path stderr = dir.resolve("stderr.txt");
    Process p = ProxyProcess.start(config, stderr);
    try {
      String first = ProxyProcess.firstLine(p, Duration.ofSeconds(60));
      assertThat(first).startsWith("apns-proxy running:");

      try (Socket c = new Socket()) {
        c.connect(new InetSocketAddress("127.100.100.1", port), 10_000);
        c.setSoTimeout(60_000);
        // the proxy closes the refused connection: its access line (if any) is written by then
        assertThat(c.getInputStream().read()).isEqualTo(-1);
      }

      p.destroy(); // SIGTERM
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
      String log = Files.readString(stderr);
      assertThat(log).contains("apns-proxy stopped").contains("accepted=1");
      if (logAccess.equals("on")) {
        assertThat(log).contains(ACCESS_LOGGER);
      } else {
        assertThat(log).doesNotContain(ACCESS_LOGGER);
      }
    } finally {
      p.destroyForcibly();
    }
  }
}
