// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
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
    Path ks = dir.resolve("courier.p12");
    char[] pw = "changeit".toCharArray();
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair",
                "-alias",
                "courier",
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-validity",
                "2",
                "-dname",
                "CN=" + NAME,
                "-ext",
                "SAN=dns:" + NAME,
                "-storetype",
                "PKCS12",
                "-keystore",
                ks.toString(),
                "-storepass",
                "changeit",
                "-keypass",
                "changeit")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();

    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(ks)) {
      keys.load(in, pw);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, pw);
    SSLContext serverCtx = SSLContext.getInstance("TLSv1.3");
    serverCtx.init(kmf.getKeyManagers(), null, null);
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("courier", keys.getCertificate("courier"));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext clientCtx = SSLContext.getInstance("TLSv1.3");
    clientCtx.init(null, tmf.getTrustManagers(), null);

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
      assertThat(tls.getSession().getPeerPrincipal().getName()).isEqualTo("CN=" + NAME);
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
