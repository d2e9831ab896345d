// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.demo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A self-signed certificate for the simulated couriers, made at start with the JDK's {@code
 * keytool}, and the two TLS contexts that use it: the couriers' (key) and the devices' (trusting
 * only that certificate, as real devices pin Apple's). Nothing is written outside a temporary
 * folder, which is deleted again.
 */
public final class DemoCertificates {
  /** The TLS server names the certificate is valid for: the names real devices send as SNI. */
  public static final List<String> SERVER_NAMES =
      List.of(
          "courier.push.apple.com", "courier2.push.apple.com", "courier.sandbox.push.apple.com");

  private final SSLContext server;
  private final SSLContext client;
  private final KeyStore trust;

  private DemoCertificates(SSLContext server, SSLContext client, KeyStore trust) {
    this.server = server;
    this.client = client;
    this.trust = trust;
  }

  /**
   * Generates a fresh RSA key pair and self-signed certificate.
   *
   * @throws IOException when keytool cannot be run or fails
   */
  public static DemoCertificates generate() throws IOException {
    Path dir = Files.createTempDirectory("apns-proxy-demo-tls");
    try {
      Path keystore = dir.resolve("courier.p12");
      char[] password = "demo-only".toCharArray();
      Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
      List<String> command =
          new ArrayList<>(
              List.of(
                  keytool.toString(),
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
                  "CN=courier.push.apple.com, O=apns-proxy demo",
                  "-ext",
                  "SAN=" + String.join(",", SERVER_NAMES.stream().map(n -> "dns:" + n).toList()),
                  "-storetype",
                  "PKCS12",
                  "-keystore",
                  keystore.toString(),
                  "-storepass",
                  new String(password),
                  "-keypass",
                  new String(password)));
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      byte[] out;
      try (InputStream in = p.getInputStream()) {
        out = in.readAllBytes();
      }
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException(
            "keytool failed: " + new String(out, java.nio.charset.StandardCharsets.UTF_8));
      }
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(keystore)) {
        ks.load(in, password);
      }
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, password);
      SSLContext server = SSLContext.getInstance("TLSv1.3");
      server.init(kmf.getKeyManagers(), null, null);

      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("courier", ks.getCertificate("courier"));
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext client = SSLContext.getInstance("TLSv1.3");
      client.init(null, tmf.getTrustManagers(), null);
      return new DemoCertificates(server, client, trust);
    } catch (GeneralSecurityException e) {
      throw new IOException("could not build the demo TLS contexts", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running keytool", e);
    } finally {
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(f);
        }
      }
    }
  }

  /** The couriers' TLS context (holds the private key). */
  public SSLContext server() {
    return server;
  }

  /** A trust store holding only the demo certificate (for {@code probe --trust-store} in tests). */
  public KeyStore trustStore() {
    return trust;
  }

  /** The devices' TLS context: trusts only the demo certificate. */
  public SSLContext client() {
    return client;
  }
}
