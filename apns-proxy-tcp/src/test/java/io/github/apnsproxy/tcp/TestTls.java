// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
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

  /** The password of {@link #keyStore}'s store and key. */
  static final String PASSWORD = "changeit";

  /**
   * A PKCS12 key store under {@code dir} holding one self-signed EC certificate and its key (alias
   * {@code apns}) for {@code names} (wildcards allowed), made with the JDK's keytool.
   */
  static KeyStore keyStore(Path dir, List<String> names) throws Exception {
    Path ks = dir.resolve("apns.p12");
    char[] pw = PASSWORD.toCharArray();
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
                PASSWORD,
                "-keypass",
                PASSWORD)
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(ks)) {
      keys.load(in, pw);
    }
    return keys;
  }

  /**
   * A certificate for {@code names} (wildcards allowed) in a keystore under {@code dir}, and both
   * contexts.
   */
  static TestTls forNames(Path dir, List<String> names) throws Exception {
    char[] pw = PASSWORD.toCharArray();
    KeyStore keys = keyStore(dir, names);
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

  /**
   * A TLS server on {@code bind} that answers every connection with {@code label} and a newline,
   * then echoes every byte until the client closes; returns its address.
   */
  java.net.InetSocketAddress echoServer(
      SplicerTestSupport support, java.net.InetSocketAddress bind, String label)
      throws IOException {
    SSLServerSocket s =
        support.track((SSLServerSocket) server.getServerSocketFactory().createServerSocket());
    s.bind(bind);
    Thread t =
        new Thread(
            () -> {
              while (!s.isClosed()) {
                Socket c;
                try {
                  c = s.accept();
                } catch (IOException e) {
                  return; // closed by the test's cleanup
                }
                Thread h =
                    new Thread(
                        () -> {
                          try (c) {
                            OutputStream out = c.getOutputStream();
                            out.write((label + "\n").getBytes(StandardCharsets.US_ASCII));
                            out.flush();
                            TestServer.echo(c);
                          } catch (IOException e) {
                            // the client went away: the client side asserts what it got
                          }
                        },
                        "test-tls-echo-" + label);
                h.setDaemon(true);
                h.start();
              }
            },
            "test-tls-accept-" + label);
    t.setDaemon(true);
    t.start();
    return (java.net.InetSocketAddress) s.getLocalSocketAddress();
  }

  /**
   * Over {@code raw}, a JDK TLS client sending the server name {@code sni} and verifying the
   * certificate against it (TLS 1.3; the certificate must list {@code sni}), sends 64 KiB of
   * pseudo-random bytes in 4 KiB chunks, checks each chunk comes back unchanged, and returns the
   * server's label line.
   */
  String echo(Socket raw, String sni) throws Exception {
    try (SSLSocket tls =
        (SSLSocket) client.getSocketFactory().createSocket(raw, sni, raw.getPort(), true)) {
      SSLParameters params = tls.getSSLParameters();
      params.setServerNames(List.of(new SNIHostName(sni)));
      params.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must match sni
      tls.setSSLParameters(params);
      tls.startHandshake();
      assertThat(tls.getSession().getProtocol()).isEqualTo("TLSv1.3");
      List<String> sans = new ArrayList<>();
      for (List<?> san :
          ((X509Certificate) tls.getSession().getPeerCertificates()[0])
              .getSubjectAlternativeNames()) {
        sans.add(String.valueOf(san.get(1)));
      }
      assertThat(sans).contains(sni); // the test servers' own certificate reached the client
      InputStream in = tls.getInputStream();
      StringBuilder label = new StringBuilder();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        assertThat(c).as("the label line of " + sni).isNotNegative();
        label.append((char) c);
      }
      Random random = new Random(sni.hashCode());
      byte[] chunk = new byte[4096];
      for (int i = 0; i < 16; i++) {
        random.nextBytes(chunk);
        tls.getOutputStream().write(chunk);
        tls.getOutputStream().flush();
        byte[] back = SplicerTestSupport.readN(in, chunk.length);
        assertThat(Arrays.equals(back, chunk)).as("chunk " + i + " via " + sni).isTrue();
      }
      return label.toString();
    }
  }
}
