// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ProxyNode#reload} in process: what is refused keeps the running config (a new address that
 * cannot be bound, a file that does not parse), a key that needs a restart keeps its running value,
 * a resolver key makes a new resolver. {@link ReloadIT} runs the whole process with live splices.
 */
class ProxyNodeReloadIT {
  private final List<ProxyNode> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    nodes.forEach(ProxyNode::close);
  }

  private final int port = freePort();

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private List<String> common() {
    return List.of(
        "dns.listen=127.0.0.1:0",
        "upstream.dns=127.0.0.1:9",
        "clients.allow=127.0.0.0/8",
        "stats.interval=0s",
        "courier.count=1",
        "tcp.courier-ports=" + port,
        "tcp.init-ports=" + port,
        "tcp.api-ports=" + port);
  }

  private ProxySetup setup(String... lines) {
    Properties p = new Properties();
    List<String> all = new ArrayList<>(common());
    all.addAll(List.of(lines));
    for (String l : all) {
      int eq = l.indexOf('=');
      p.setProperty(l.substring(0, eq), l.substring(eq + 1));
    }
    return ProxySetup.of(ProxyConfig.fromProperties(p), OptionalLong.empty());
  }

  private static long reloads(ProxyNode node, String result) {
    for (MetricSnapshot m : node.metrics().registry().scrape()) {
      if (m.getMetadata().getPrometheusName().equals("apns_proxy_config_reloads")
          && m instanceof CounterSnapshot c) {
        return c.getDataPoints().stream()
            .filter(p -> result.equals(p.getLabels().get("result")))
            .mapToLong(p -> (long) p.getValue())
            .findFirst()
            .orElseThrow(() -> new AssertionError("no series result=" + result));
      }
    }
    throw new AssertionError("no apns_proxy_config_reloads_total");
  }

  private ProxyNode start(ProxySetup setup) throws Exception {
    ProxyNode node = ProxyNode.start(setup);
    nodes.add(node);
    return node;
  }

  @Test
  void aNewAddressThatCannotBeBoundRefusesTheWholeReload() throws Exception {
    ProxyNode node = start(setup("plan.sites=a", "site.a.ipv4=127.100.123.0/24", "dns.ttl=60s"));
    List<InetSocketAddress> before = node.splicerAddresses();
    ProxySetup running = node.setup();

    // 192.0.2.0/24 (TEST-NET-1) is no address of this host: binding it fails, so nothing of the new
    // file applies
    boolean applied =
        node.reload(
            setup(
                "plan.sites=a,b",
                "site.a.ipv4=127.100.123.0/24",
                "site.b.ipv4=192.0.2.0/24",
                "dns.ttl=120s"));

    assertThat(applied).isFalse();
    assertThat(node.setup()).isSameAs(running);
    assertThat(node.splicerAddresses()).isEqualTo(before);
    assertThat(node.splicerAddressCount()).isEqualTo(before.size());
    assertThat(reloads(node, "failure")).isEqualTo(1);
    assertThat(reloads(node, "success")).isZero();
  }

  @Test
  void aFileThatDoesNotParseIsRefusedAndCounted(@TempDir Path dir) throws Exception {
    ProxyNode node = start(setup("plan.ipv4=127.100.124.0/24"));
    ProxySetup running = node.setup();
    Path file = dir.resolve("proxy.properties");
    Files.writeString(file, "plan.ipv4=127.100.124.0/33\n");

    assertThat(node.reload(file)).isFalse();
    assertThat(node.reload(dir.resolve("missing.properties"))).isFalse();

    assertThat(node.setup()).isSameAs(running);
    assertThat(reloads(node, "failure")).isEqualTo(2);
    assertThat(reloads(node, "success")).isZero();
  }

  @Test
  void restartKeysKeepTheirRunningValuesAndResolverKeysMakeANewResolver() throws Exception {
    ProxyNode node =
        start(setup("plan.ipv4=127.100.125.0/24", "dns.threads=2", "tcp.idle-timeout=1h"));
    int listeners = node.splicerAddressCount();

    assertThat(
            node.reload(
                setup(
                    "plan.ipv4=127.100.125.0/24",
                    "dns.threads=3",
                    "tcp.idle-timeout=2h",
                    "upstream.dns=127.0.0.1:19",
                    "tcp.max-connections=1234",
                    "dns.ttl=42s")))
        .isTrue();

    assertThat(node.setup().effectiveValues())
        .containsEntry("dns.threads", "2")
        .containsEntry("tcp.idle-timeout", "1h")
        .containsEntry("upstream.dns", "127.0.0.1:19")
        .containsEntry("tcp.max-connections", "1234")
        .containsEntry("dns.ttl", "42s");
    assertThat(node.resolverStats()).isPresent();
    assertThat(node.splicerAddressCount()).isEqualTo(listeners);
    assertThat(reloads(node, "success")).isEqualTo(1);
    assertThat(reloads(node, "failure")).isZero();
  }

  @Test
  void connectAndSocksListenersStayAndTakeTheNewResolver() throws Exception {
    ProxyNode node =
        start(
            setup(
                "plan.ipv4=127.100.126.0/24",
                "connect.listen=127.0.0.1:0",
                "socks.listen=127.0.0.1:0"));
    List<InetSocketAddress> before = node.splicerAddresses();
    assertThat(node.splicerAddressCount()).isEqualTo(before.size());

    assertThat(
            node.reload(
                setup(
                    "plan.ipv4=127.100.126.0/24",
                    "connect.listen=127.0.0.1:0",
                    "socks.listen=127.0.0.1:0",
                    "upstream.dns=127.0.0.1:19",
                    "dns.ttl=42s")))
        .isTrue();

    // the CONNECT and SOCKS5 listeners are not the plan's: a reload leaves them bound
    assertThat(node.splicerAddresses()).isEqualTo(before);
    assertThat(node.splicerAddressCount()).isEqualTo(before.size());
    assertThat(node.setup().effectiveValues())
        .containsEntry("dns.ttl", "42s")
        .containsEntry("upstream.dns", "127.0.0.1:19"); // the doors took the new resolver
    assertThat(node.resolverStats()).isPresent();
    assertThat(reloads(node, "success")).isEqualTo(1);
  }

  /**
   * Issue 17: the keys that needed a restart before apply at a reload, read back from the running
   * node: PROXY protocol, SNI, denied DNS clients, the CONNECT doors' options and users file, the
   * egress, the access log and the log level.
   */
  @Test
  void formerlyRestartOnlyKeysApply(@TempDir Path dir) throws Exception {
    Path users = dir.resolve("users");
    Files.writeString(
        users, io.github.apnsproxy.tcp.ProxyUsers.line("mdm", "old".toCharArray(), 1_000) + "\n");
    ProxyNode node =
        start(
            setup(
                "plan.ipv4=127.100.127.0/24",
                "connect.listen=127.0.0.1:0",
                "connect.users=" + users));
    List<InetSocketAddress> before = node.splicerAddresses();
    Files.writeString(
        users, io.github.apnsproxy.tcp.ProxyUsers.line("mdm", "new".toCharArray(), 1_000) + "\n");

    assertThat(
            node.reload(
                setup(
                    "plan.ipv4=127.100.127.0/24",
                    "connect.listen=127.0.0.1:0",
                    "connect.users=" + users,
                    "connect.allow-addresses=true",
                    "connect.pac-address=proxy.example:3128",
                    "tcp.proxy-protocol=v2",
                    "tcp.proxy-protocol-from=10.0.0.0/8",
                    "tcp.sni=on",
                    "dns.denied-clients=drop",
                    "upstream.proxy=http://127.0.0.1:3128",
                    "upstream.family=ipv6-first",
                    "log.access=off",
                    "log.level=warn")))
        .isTrue();

    assertThat(node.setup().effectiveValues())
        .containsEntry("tcp.proxy-protocol", "v2")
        .containsEntry("tcp.sni", "on")
        .containsEntry("dns.denied-clients", "drop")
        .containsEntry("connect.allow-addresses", "true")
        .containsEntry("upstream.proxy", "http://127.0.0.1:3128")
        .containsEntry("upstream.family", "ipv6-first")
        .containsEntry("log.access", "off")
        .containsEntry("log.level", "warn");
    assertThat(node.splicerAddresses()).isEqualTo(before); // nothing rebound for tcp.sni
    assertThat(reloads(node, "success")).isEqualTo(1);
    // a users file that no longer parses refuses the whole reload; the last good setup runs on
    Files.writeString(users, "mdm:broken\n");
    Path file = dir.resolve("proxy.properties");
    List<String> lines = new ArrayList<>(common());
    lines.addAll(List.of("plan.ipv4=127.100.127.0/24", "connect.users=" + users));
    Files.writeString(file, String.join("\n", lines) + "\n");
    assertThat(node.reload(file)).isFalse();
    assertThat(reloads(node, "failure")).isEqualTo(1);
    assertThat(node.setup().effectiveValues()).containsEntry("log.level", "warn");
    LogLevel.INFO.apply(); // back to the default for the tests that follow in this JVM
  }
}
