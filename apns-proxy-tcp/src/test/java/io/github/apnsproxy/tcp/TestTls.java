// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static java.nio.charset.StandardCharsets.US_ASCII;
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
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;

/**
 * Real TLS for the integration tests: one self-signed EC certificate (made with the JDK's keytool
 * at test time) for a list of DNS names, a server context holding it and a client context trusting
 * only it.
 */
final class TestTls {
  final SSLContext server;
  final SSLContext client;

  private TestTls(SSLContext server, SSLContext client) {
    this.server = server;
    this.client = client;
  }

  /**
   * A certificate for {@code names} (wildcards allowed) in a keystore under {@code dir}, and both
   * contexts.
   */
  static TestTls forNames(Path dir, List<String> names) throws Exception {
    Path ks = dir.resolve("apns.p12");
    char[] pw = "changeit".toCharArray();
    StringBuilder san = new StringBuilder();
    for (String n : names) {
      san.append(san.length() == 0 ? "SAN=" : ",").append("dns:").append(n);
    }
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair",
                "-alias",
                "apns",
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-validity",
                "2",
                "-dname",
                "CN=push.apple.com",
                "-ext",
                san.toString(),
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
    trust.setCertificateEntry("apns", keys.getCertificate("apns"));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext clientCtx = SSLContext.getInstance("TLSv1.3");
    clientCtx.init(null, tmf.getTrustManagers(), null);
    return new TestTls(serverCtx, clientCtx);
  }

  /**
   * A TLS server bound to {@code bind} (closed by the test's cleanup through {@code support}) that
   * answers every connection with {@code label}, a space and the first five bytes it read, then
   * waits for the client to close.
   */
  SSLServerSocket labelServer(
      SplicerTestSupport support, java.net.InetSocketAddress bind, String label) throws Exception {
    SSLServerSocket s =
        support.track((SSLServerSocket) server.getServerSocketFactory().createServerSocket());
    s.bind(bind);
    Thread t =
        new Thread(
            () -> {
              while (!s.isClosed()) {
                try (Socket c = s.accept()) {
                  byte[] five = c.getInputStream().readNBytes(5);
                  c.getOutputStream()
                      .write((label + " " + new String(five, US_ASCII)).getBytes(US_ASCII));
                  c.getOutputStream().flush();
                  c.getInputStream().read();
                } catch (Exception e) {
                  // closed, or the client went away: the client side asserts
                }
              }
            },
            "test-tls-" + label);
    t.setDaemon(true);
    t.start();
    return s;
  }

  /**
   * Connects over {@code raw} as a JDK TLS client verifying the certificate against {@code host},
   * sending {@code sni} as the server name ({@code null}: no server name at all), writes {@code
   * hello} and returns what the server answered.
   */
  String talk(Socket raw, String host, @Nullable String sni) throws Exception {
    try (SSLSocket tls =
        (SSLSocket) client.getSocketFactory().createSocket(raw, host, raw.getPort(), true)) {
      SSLParameters params = tls.getSSLParameters();
      params.setServerNames(sni == null ? List.<SNIServerName>of() : List.of(new SNIHostName(sni)));
      params.setApplicationProtocols(new String[] {"apns-security-v3"});
      params.setEndpointIdentificationAlgorithm(
          "HTTPS"); // the certificate must match the host name
      tls.setSSLParameters(params);
      tls.startHandshake();
      tls.getOutputStream().write("hello".getBytes(US_ASCII));
      tls.getOutputStream().flush();
      byte[] buf = new byte[64];
      int n = tls.getInputStream().read(buf);
      return n < 0 ? "" : new String(buf, 0, n, US_ASCII);
    }
  }
}
