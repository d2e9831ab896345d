// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The single-address plan end to end: JDK TLS clients send only a server name to one address and
 * reach a TLS server of the right kind (certificate verified by name), through the stock plan
 * router and its courier picker.
 */
class SingleAddressIT extends SplicerTestSupport {
  private static final List<String> NAMES =
      List.of(
          "courier.push.apple.com",
          "courier2.push.apple.com",
          "courier.sandbox.push.apple.com",
          "init.push.apple.com",
          "api.push.apple.com",
          "api.sandbox.push.apple.com");
  private static TestTls tls;

  @BeforeAll
  static void certificates(@TempDir Path dir) throws Exception {
    tls = TestTls.forNames(dir, NAMES);
  }

  /**
   * A TLS server on {@code ip:port} that answers every connection with {@code label} and the first
   * line read.
   */
  private void tlsServer(String ip, int port, String label) throws Exception {
    tls.labelServer(this, TestServer.at(ip, port), label);
  }

  private String talk(InetSocketAddress entry, String sni) throws Exception {
    return tls.talk(connect(entry), sni, sni);
  }

  @Test
  void everyKindOfNameThroughOneAddressWithAFailingCourierSkipped() throws Exception {
    AtomicReference<Router> router = new AtomicReference<>();
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.101.0.1", 0)), FrontDoor.tlsServerName())
                .router(c -> router.get().route(c))
                .loops(2));
    InetSocketAddress entry = entry(sp);
    int port = entry.getPort();
    AddressPlan plan =
        AddressPlan.builder()
            .style(AddressPlan.Style.SINGLE)
            .site(Cidr.parse("127.101.0.0/24"))
            .courierCount(1)
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .ports(ApnsHost.Kind.INIT, List.of(port))
            .ports(ApnsHost.Kind.PROVIDER, List.of(port))
            .build();
    assertThat(plan.singleAddresses()).containsExactly(entry.getAddress());
    tlsServer("127.0.2.1", port, "courier");
    tlsServer("127.0.2.2", port, "courier2");
    tlsServer("127.0.2.3", port, "sandbox");
    tlsServer("127.0.2.4", port, "init");
    tlsServer("127.0.2.5", port, "api");
    tlsServer("127.0.2.6", port, "api-sandbox");
    InetAddress dead = InetAddress.getByName("127.0.2.99"); // nothing listens: connection refused
    UpstreamResolver resolver =
        UpstreamResolver.fixed(
            Map.of(
                "0-courier.push.apple.com", List.of(dead),
                "1-courier.push.apple.com", List.of(InetAddress.getByName("127.0.2.1")),
                "0-courier2.push.apple.com", List.of(InetAddress.getByName("127.0.2.2")),
                "1-courier2.push.apple.com", List.of(InetAddress.getByName("127.0.2.2")),
                "0-courier.sandbox.push.apple.com", List.of(InetAddress.getByName("127.0.2.3")),
                "1-courier.sandbox.push.apple.com", List.of(InetAddress.getByName("127.0.2.3")),
                "init.push.apple.com", List.of(InetAddress.getByName("127.0.2.4")),
                "api.push.apple.com", List.of(InetAddress.getByName("127.0.2.5")),
                "api.sandbox.push.apple.com", List.of(InetAddress.getByName("127.0.2.6"))));
    CourierPicker picker = CourierPicker.of(plan, Duration.ofMinutes(10), System::nanoTime);
    router.set(
        Router.fromPlan(
            plan,
            resolver,
            new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8")),
            picker));

    // the first pick of the production pool is courier 0, which refuses: the same connection goes
    // on to courier 1
    assertThat(talk(entry, "courier.push.apple.com")).isEqualTo("courier hello");
    assertThat(picker.isSkipped(ApnsHost.courier(0))).isTrue();
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);
    // the next pick would be courier 1 anyway; the one after skips courier 0 without trying it
    assertThat(talk(entry, "courier.push.apple.com")).isEqualTo("courier hello");
    assertThat(talk(entry, "courier.push.apple.com")).isEqualTo("courier hello");
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);

    assertThat(talk(entry, "courier2.push.apple.com")).isEqualTo("courier2 hello");
    assertThat(talk(entry, "courier.sandbox.push.apple.com")).isEqualTo("sandbox hello");
    assertThat(talk(entry, "init.push.apple.com")).isEqualTo("init hello");
    assertThat(talk(entry, "api.push.apple.com")).isEqualTo("api hello");
    assertThat(talk(entry, "api.sandbox.push.apple.com")).isEqualTo("api-sandbox hello");
    assertQuiet(sp);
  }

  @Test
  void otherNamesAndNoNameAreRefused() throws Exception {
    AddressPlan plan =
        AddressPlan.builder()
            .style(AddressPlan.Style.SINGLE)
            .site(Cidr.parse("127.101.0.0/24"))
            .build();
    UpstreamResolver nothing =
        host -> CompletableFuture.failedFuture(new java.net.UnknownHostException(host));
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.101.0.1", 0)), FrontDoor.tlsServerName())
                .router(
                    Router.fromPlan(plan, nothing, new AddressPolicy(CidrSet.any(), CidrSet.any())))
                .loops(1));
    List<byte[]> hellos =
        List.of(
            ClientHellos.jdk("www.example.com", List.of()),
            ClientHellos.jdk("push.apple.com", List.of()),
            ClientHellos.jdk(null, List.of()),
            ClientHellos.jdk("51-courier.push.apple.com", List.of()));
    for (byte[] hello : hellos) {
      try (Socket s = connect(entry(sp))) {
        s.getOutputStream().write(hello);
        assertThat(s.getInputStream().read()).isEqualTo(-1);
      }
    }
    await("refusals counted", () -> sp.stats().rejected(RejectReason.NO_ROUTE) == hellos.size());
    assertQuiet(sp);
  }
}
