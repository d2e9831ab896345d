// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * TLS end to end through the splicer: the client verifies the upstream's certificate and name; the
 * proxy only relays.
 */
class TlsThroughSplicerIT extends SplicerTestSupport {
  private static final String NAME = "courier.push.apple.com";

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
}
