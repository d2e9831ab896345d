// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.ApnsHost.Environment;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SNI routing on the exact and pooled plan styles ({@code tcp.sni=on}: every virtual address
 * listens with the TLS front door): the server name decides wherever the client dialled; a
 * ClientHello without a server name falls back to the dialled address. JDK TLS clients,
 * certificates verified end to end.
 */
class SniOnPlanStylesIT extends SplicerTestSupport {
  private static final String SITE = "127.102.0.0/24";
  private static TestTls tls;

  @BeforeAll
  static void certificates(@TempDir Path dir) throws Exception {
    tls =
        TestTls.forNames(
            dir, List.of("*.push.apple.com", "*.sandbox.push.apple.com", "push.apple.com"));
  }

  /**
   * A port free on the site's first address, used on every virtual address (nothing else binds in
   * 127.102/16).
   */
  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(TestServer.at("127.102.0.1", 0));
      return s.getLocalPort();
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = AddressPlan.Style.class,
      names = {"EXACT", "POOLED"})
  void serverNameDecidesAndTheDialledAddressIsTheFallback(AddressPlan.Style style)
      throws Exception {
    int port = freePort();
    AddressPlan plan =
        AddressPlan.builder()
            .style(style)
            .site(Cidr.parse(SITE))
            .courierCount(1)
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .ports(ApnsHost.Kind.INIT, List.of(port))
            .ports(ApnsHost.Kind.PROVIDER, List.of(port))
            .build();
    // one labelled TLS server per upstream host; every host of the plan's names resolves to its own
    // server
    Map<String, List<InetAddress>> hosts = new HashMap<>();
    int n = 1;
    List<ApnsHost> upstreams = new ArrayList<>();
    for (Environment e : Environment.values()) {
      for (String v : plan.variants()) {
        for (int i = 0; i <= 1; i++) {
          upstreams.add(ApnsHost.courier(e, v, i));
        }
      }
      upstreams.add(ApnsHost.init(e));
      upstreams.add(ApnsHost.provider(e));
    }
    for (ApnsHost h : upstreams) {
      String ip = "127.0.4." + n++;
      hosts.put(h.name(), List.of(InetAddress.getByName(ip)));
      tls.labelServer(this, TestServer.at(ip, port), h.name());
    }
    UpstreamResolver resolver = UpstreamResolver.fixed(hosts);
    List<InetSocketAddress> listen = new ArrayList<>();
    for (AddressPlan.Entry e : plan.entries()) {
      listen.add(new InetSocketAddress(e.address(), port));
    }
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(listen, FrontDoor.tlsServerName())
                .router(
                    Router.fromPlan(
                        plan,
                        resolver,
                        new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8"))))
                .loops(2));
    InetSocketAddress courierAddress = addressOf(plan, ApnsHost.courier(0), port);
    InetSocketAddress initAddress = addressOf(plan, ApnsHost.init(Environment.PRODUCTION), port);
    InetSocketAddress apiAddress = addressOf(plan, ApnsHost.provider(Environment.SANDBOX), port);

    // SNI decides, wherever the client dialled
    assertThat(talk(initAddress, "1-courier.push.apple.com"))
        .isEqualTo("1-courier.push.apple.com hello");
    assertThat(talk(courierAddress, "api.push.apple.com")).isEqualTo("api.push.apple.com hello");
    assertThat(talk(apiAddress, "init.sandbox.push.apple.com"))
        .isEqualTo("init.sandbox.push.apple.com hello");
    String unnumbered = talk(initAddress, "courier2.push.apple.com");
    assertThat(unnumbered).matches("[01]-courier2\\.push\\.apple\\.com hello");
    String sandbox = talk(courierAddress, "courier.sandbox.push.apple.com");
    assertThat(sandbox).matches("[01]-courier\\.sandbox\\.push\\.apple\\.com hello");

    // no SNI: the dialled address decides (the certificate still verified, against the dialled
    // host's name)
    String fallback = tls.talk(connect(courierAddress), "0-courier.push.apple.com", null);
    if (style == AddressPlan.Style.EXACT) {
      assertThat(fallback).isEqualTo("0-courier.push.apple.com hello");
    } else { // the production pool: one of its members in rotation
      assertThat(fallback).matches("[01]-courier2?\\.push\\.apple\\.com hello");
    }
    assertThat(tls.talk(connect(initAddress), "init.push.apple.com", null))
        .isEqualTo("init.push.apple.com hello");
    assertThat(tls.talk(connect(apiAddress), "api.sandbox.push.apple.com", null))
        .isEqualTo("api.sandbox.push.apple.com hello");

    // a name outside APNs is refused (the dialled address is only for connections without SNI)
    try (Socket s = connect(courierAddress)) {
      s.getOutputStream().write(ClientHellos.jdk("www.example.com", List.of()));
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
    // a client that does not speak TLS cannot use a listener with the TLS door
    try (Socket s = connect(courierAddress)) {
      s.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(US_ASCII));
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
    await(
        "refusals counted",
        () ->
            sp.stats().rejected(RejectReason.NO_ROUTE) == 1
                && sp.stats().rejected(RejectReason.PREFACE_REFUSED) == 1);

    SpliceStats stats = sp.stats();
    assertThat(stats.routed("tls", ServerNameKind.COURIER)).isEqualTo(1);
    assertThat(stats.routed("tls", ServerNameKind.COURIER_UNNUMBERED)).isEqualTo(2);
    assertThat(stats.routed("tls", ServerNameKind.API)).isEqualTo(1);
    assertThat(stats.routed("tls", ServerNameKind.INIT)).isEqualTo(1);
    assertThat(stats.routed("tls", ServerNameKind.NONE)).isEqualTo(3);
    assertThat(stats.routed("tls", ServerNameKind.OTHER)).isZero();
    assertThat(stats.routed(Preface.ADDRESS, ServerNameKind.NONE)).isZero();
    assertThat(stats.routed()).containsOnlyKeys("tls", Preface.ADDRESS);
    assertThat(stats.prefaceBytes()).isZero();
    assertQuiet(sp);
  }

  @org.junit.jupiter.api.Test
  void routedCountsOfAddressListenersAndCustomRouters() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.4.100", 0)));
    Router custom = fixed(echo.address());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.102.1.1", 0)))
                .listen(List.of(TestServer.at("127.102.1.2", 0)), FrontDoor.tlsServerName())
                .router(custom)
                .loops(1));
    assertThat(sp.stats().routed()).containsOnlyKeys(Preface.ADDRESS, "tls");
    assertThat(sp.stats().routed().get("tls")).containsOnlyKeys(ServerNameKind.values());
    byte[] named = ClientHellos.jdk("courier.push.apple.com", List.of());
    byte[] unnamed = ClientHellos.jdk(null, List.of());
    for (byte[] hello : List.of(named, unnamed)) {
      try (Socket s = connect(sp.boundAddresses().get(1))) {
        s.getOutputStream().write(hello);
        assertThat(readN(s.getInputStream(), hello.length))
            .isEqualTo(hello); // forwarded unchanged, echoed
      }
    }
    try (Socket s = connect(sp.boundAddresses().get(0))) {
      s.getOutputStream().write("ping".getBytes(US_ASCII));
      assertThat(readN(s.getInputStream(), 4)).isEqualTo("ping".getBytes(US_ASCII));
    }
    await(
        "three routed",
        () ->
            sp.stats().routed().values().stream()
                    .mapToLong(m -> m.values().stream().mapToLong(Long::longValue).sum())
                    .sum()
                == 3);
    SpliceStats stats = sp.stats();
    assertThat(stats.routed(Preface.ADDRESS, ServerNameKind.NONE)).isEqualTo(1);
    assertThat(stats.routed("tls", ServerNameKind.OTHER))
        .isEqualTo(1); // a lambda router does not classify
    assertThat(stats.routed("tls", ServerNameKind.NONE)).isEqualTo(1);
    assertQuiet(sp);
  }

  private static InetSocketAddress addressOf(AddressPlan plan, ApnsHost host, int port)
      throws Exception {
    List<InetAddress> a = plan.addressesFor(host, InetAddress.getByName("127.0.0.1"));
    assertThat(a).hasSize(1);
    return new InetSocketAddress(a.get(0), port);
  }

  private String talk(InetSocketAddress entry, String sni) throws Exception {
    return tls.talk(connect(entry), sni, sni);
  }
}
