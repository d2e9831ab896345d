// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * TLS end to end through the splicer, routed by the dialled address or by the TLS server name,
 * directly or through a corporate proxy: the client verifies the upstream's certificate and name;
 * the proxy only relays.
 */
class TlsThroughSplicerIT extends SplicerTestSupport {
  private static final String NAME = "courier.push.apple.com";

  /** The TLS test courier, init and provider API servers of the SNI test: one address each. */
  private static final String COURIER_IP = "127.0.2.1";

  private static final String INIT_IP = "127.0.2.2";
  private static final String API_IP = "127.0.2.3";

  /**
   * Device -> splicer (address-routed) -> upstream, directly or through a corporate proxy (HTTP
   * CONNECT, SOCKS5) asked for the route's host name: bytes exact, the certificate verified by the
   * client.
   */
  @ParameterizedTest
  @ValueSource(strings = {"direct", "HTTP", "SOCKS5"})
  void tlsHandshakeAndDataPassThroughUntouched(String egressKind, @TempDir Path dir)
      throws Exception {
    // a certificate for NAME, trusted by the client only
    TestTls certs = TestTls.forNames(dir, List.of(NAME));
    SSLContext serverCtx = certs.server;
    SSLContext clientCtx = certs.client;

    SSLServerSocket server =
        track((SSLServerSocket) serverCtx.getServerSocketFactory().createServerSocket());
    server.bind(TestServer.at("127.0.1.1", 0));
    Thread t =
        new Thread(
            () -> {
              try (Socket s = server.accept()) {
                byte[] hello = s.getInputStream().readNBytes(5);
                s.getOutputStream()
                    .write(
                        ("secret " + new String(hello, StandardCharsets.US_ASCII))
                            .getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                s.getInputStream().read(); // until the client closes
              } catch (Exception e) {
                // the assertions on the client side report any failure
              }
            },
            "test-tls-server");
    t.setDaemon(true);
    t.start();

    java.net.InetSocketAddress courier =
        (java.net.InetSocketAddress) server.getLocalSocketAddress();
    Router router =
        c ->
            java.util.concurrent.CompletableFuture.completedFuture(
                Route.to("1-courier.push.apple.com", List.of(courier)));
    TcpSplicer.Builder b = builder(router);
    TestEgressProxy proxy = null;
    if (!egressKind.equals("direct")) {
      proxy = track(TestEgressProxy.to(TestEgressProxy.Kind.valueOf(egressKind), courier));
      b.egress(Egress.through(proxy.egress(null, null)));
    }
    TcpSplicer sp = start(b);
    Socket raw = connect(entry(sp));
    try (SSLSocket tls =
        (SSLSocket) clientCtx.getSocketFactory().createSocket(raw, NAME, raw.getPort(), true)) {
      SSLParameters params = tls.getSSLParameters();
      params.setServerNames(List.of(new SNIHostName(NAME)));
      params.setEndpointIdentificationAlgorithm(
          "HTTPS"); // verifies the certificate matches the name
      tls.setSSLParameters(params);
      tls.startHandshake();
      assertThat(tls.getSession().getProtocol()).isEqualTo("TLSv1.3");
      // the test courier's own certificate, issued for NAME (endpoint identification checked it
      // too)
      assertThat(
              ((java.security.cert.X509Certificate) tls.getSession().getPeerCertificates()[0])
                  .getSubjectAlternativeNames())
          .containsExactly(List.of(2, NAME));
      tls.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
      tls.getOutputStream().flush();
      assertThat(new String(readN(tls.getInputStream(), 12), StandardCharsets.US_ASCII))
          .isEqualTo("secret hello");
    }
    assertQuiet(sp);
    assertThat(sp.stats().bytesClientToUpstream())
        .isGreaterThan(200); // handshake bytes were relayed
    if (proxy != null) {
      assertThat(proxy.requested).containsExactly("1-courier.push.apple.com:" + courier.getPort());
    }
  }

  /**
   * Device -> splicer on one address routing by the TLS server name (the single-address plan, as
   * {@code plan.style=single} runs it) -> corporate proxy (HTTP CONNECT, SOCKS5) -> TLS test
   * servers. The unnumbered {@code courier.push.apple.com} goes to a numbered courier the plan's
   * picker chooses, {@code init} and {@code api} (on their own port, as 443 is in production) to
   * themselves; the proxy is asked for those names and ports, never an address, and the router
   * resolves nothing. The client verifies each server's certificate for the name it sent, and 64
   * KiB go through each way unchanged.
   */
  @ParameterizedTest
  @ValueSource(strings = {"HTTP", "SOCKS5"})
  void sniRoutedTlsThroughACorporateProxyAskedForNumberedNames(String egressKind, @TempDir Path dir)
      throws Exception {
    TestTls certs =
        TestTls.forNames(dir, List.of(NAME, "init.push.apple.com", "api.push.apple.com"));
    InetSocketAddress courier = certs.echoServer(this, TestServer.at(COURIER_IP, 0), "courier");
    InetSocketAddress init = certs.echoServer(this, TestServer.at(INIT_IP, 0), "init");
    InetSocketAddress api = certs.echoServer(this, TestServer.at(API_IP, 0), "api");
    // the corporate proxy resolves names as a real one does: numbered couriers, init and api
    TestEgressProxy proxy =
        track(
            new TestEgressProxy(
                TestEgressProxy.Kind.valueOf(egressKind),
                hostPort -> {
                  String host = hostPort.substring(0, hostPort.lastIndexOf(':'));
                  if (host.matches("[0-9]+-courier\\.push\\.apple\\.com")) {
                    return courier;
                  }
                  return switch (host) {
                    case "init.push.apple.com" -> init;
                    case "api.push.apple.com" -> api;
                    default -> null; // not a name this network knows: the proxy closes
                  };
                }));
    Egress egress = Egress.through(proxy.egress(null, null));
    AtomicReference<Router> router = new AtomicReference<>();
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(
                    List.of(TestServer.at("127.101.0.1", 0), TestServer.at("127.101.0.1", 0)),
                    FrontDoor.tlsServerName())
                .router(c -> router.get().route(c))
                .egress(egress)
                .loops(2));
    InetSocketAddress courierDoor = sp.boundAddresses().get(0);
    InetSocketAddress httpsDoor = sp.boundAddresses().get(1); // init and api: 443 in production
    AddressPlan plan =
        AddressPlan.builder()
            .style(AddressPlan.Style.SINGLE)
            .site(Cidr.parse("127.101.0.0/24"))
            .courierCount(3)
            .ports(ApnsHost.Kind.COURIER, List.of(courierDoor.getPort()))
            .ports(ApnsHost.Kind.INIT, List.of(httpsDoor.getPort()))
            .ports(ApnsHost.Kind.PROVIDER, List.of(httpsDoor.getPort()))
            .build();
    assertThat(plan.singleAddresses()).containsExactly(courierDoor.getAddress());
    AtomicInteger resolved = new AtomicInteger();
    UpstreamResolver unreachableDns =
        host -> {
          resolved.incrementAndGet();
          return CompletableFuture.failedFuture(new UnknownHostException(host));
        };
    router.set(
        Router.fromPlan(
            plan,
            unreachableDns,
            new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8")),
            egress));

    assertThat(certs.echo(connect(courierDoor), NAME)).isEqualTo("courier");
    assertThat(certs.echo(connect(httpsDoor), "init.push.apple.com")).isEqualTo("init");
    assertThat(certs.echo(connect(httpsDoor), "api.push.apple.com")).isEqualTo("api");

    assertQuiet(sp);
    assertThat(proxy.requested).hasSize(3);
    String courierAsked = proxy.requested.get(0);
    assertThat(courierAsked).matches("[0-3]-courier\\.push\\.apple\\.com:" + courierDoor.getPort());
    assertThat(proxy.requested.subList(1, 3))
        .containsExactly(
            "init.push.apple.com:" + httpsDoor.getPort(),
            "api.push.apple.com:" + httpsDoor.getPort());
    if (egressKind.equals("SOCKS5")) {
      assertThat(proxy.details).containsExactly("3", "3", "3"); // address type 3: a domain name
    } else {
      assertThat(proxy.details).containsExactlyElementsOf(proxy.requested); // the Host header
    }
    assertThat(resolved.get()).isZero(); // the proxy resolved every name
    assertThat(sp.stats().upstreamConnectFailures()).isZero();
    assertThat(sp.stats().bytesClientToUpstream()).isGreaterThan(3 * 64 * 1024);
  }
}
