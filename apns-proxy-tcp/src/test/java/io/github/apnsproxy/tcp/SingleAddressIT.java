// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The single-address plan end to end: JDK TLS clients send only a server name to one address and reach a TLS server
 * of the right kind (certificate verified by name), through the stock plan router and its courier picker.
 */
class SingleAddressIT extends SplicerTestSupport {
  private static final List<String> NAMES = List.of("courier.push.apple.com", "courier2.push.apple.com",
      "courier.sandbox.push.apple.com", "init.push.apple.com", "api.push.apple.com", "api.sandbox.push.apple.com");
  private static SSLContext serverCtx;
  private static SSLContext clientCtx;

  @BeforeAll
  static void certificates(@TempDir Path dir) throws Exception {
    Path ks = dir.resolve("apns.p12");
    char[] pw = "changeit".toCharArray();
    StringBuilder san = new StringBuilder();
    for (String n : NAMES) {
      san.append(san.length() == 0 ? "SAN=" : ",").append("dns:").append(n);
    }
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
        "-genkeypair", "-alias", "apns", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
        "-dname", "CN=push.apple.com", "-ext", san.toString(), "-storetype", "PKCS12", "-keystore", ks.toString(),
        "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(ks)) {
      keys.load(in, pw);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, pw);
    serverCtx = SSLContext.getInstance("TLSv1.3");
    serverCtx.init(kmf.getKeyManagers(), null, null);
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("apns", keys.getCertificate("apns"));
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    clientCtx = SSLContext.getInstance("TLSv1.3");
    clientCtx.init(null, tmf.getTrustManagers(), null);
  }

  /** A TLS server on {@code ip:port} that answers every connection with {@code label} and the first line read. */
  private void tlsServer(String ip, int port, String label) throws Exception {
    SSLServerSocket server = track((SSLServerSocket) serverCtx.getServerSocketFactory().createServerSocket());
    server.bind(TestServer.at(ip, port));
    Thread t = new Thread(() -> {
      while (!server.isClosed()) {
        try (Socket s = server.accept()) {
          byte[] five = s.getInputStream().readNBytes(5);
          s.getOutputStream().write((label + " " + new String(five, US_ASCII)).getBytes(US_ASCII));
          s.getOutputStream().flush();
          s.getInputStream().read();
        } catch (Exception e) {
          // closed, or the client went away: the client side asserts
        }
      }
    }, "test-tls-" + label);
    t.setDaemon(true);
    t.start();
  }

  private String talk(InetSocketAddress entry, String sni) throws Exception {
    Socket raw = connect(entry);
    try (SSLSocket tls = (SSLSocket) clientCtx.getSocketFactory().createSocket(raw, sni, raw.getPort(), true)) {
      SSLParameters params = tls.getSSLParameters();
      params.setServerNames(List.of(new SNIHostName(sni)));
      params.setApplicationProtocols(new String[] {"apns-security-v3"});
      params.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must match the name
      tls.setSSLParameters(params);
      tls.startHandshake();
      tls.getOutputStream().write("hello".getBytes(US_ASCII));
      tls.getOutputStream().flush();
      byte[] buf = new byte[64];
      int n = tls.getInputStream().read(buf);
      return new String(buf, 0, n, US_ASCII);
    }
  }

  @Test
  void everyKindOfNameThroughOneAddressWithAFailingCourierSkipped() throws Exception {
    AtomicReference<Router> router = new AtomicReference<>();
    TcpSplicer sp = start(TcpSplicer.builder().listen(List.of(TestServer.at("127.101.0.1", 0)),
        FrontDoor.tlsServerName()).router(c -> router.get().route(c)).loops(2));
    InetSocketAddress entry = entry(sp);
    int port = entry.getPort();
    AddressPlan plan = AddressPlan.builder().style(AddressPlan.Style.SINGLE).site(Cidr.parse("127.101.0.0/24"))
        .courierCount(1).ports(ApnsHost.Kind.COURIER, List.of(port)).ports(ApnsHost.Kind.INIT, List.of(port))
        .ports(ApnsHost.Kind.PROVIDER, List.of(port)).build();
    assertThat(plan.singleAddresses()).containsExactly(entry.getAddress());
    tlsServer("127.0.2.1", port, "courier");
    tlsServer("127.0.2.2", port, "courier2");
    tlsServer("127.0.2.3", port, "sandbox");
    tlsServer("127.0.2.4", port, "init");
    tlsServer("127.0.2.5", port, "api");
    tlsServer("127.0.2.6", port, "api-sandbox");
    InetAddress dead = InetAddress.getByName("127.0.2.99"); // nothing listens: connection refused
    UpstreamResolver resolver = UpstreamResolver.fixed(Map.of(
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
    router.set(Router.fromPlan(plan, resolver, new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8")),
        picker));

    // the first pick of the production pool is courier 0, which refuses: the same connection goes on to courier 1
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
    AddressPlan plan = AddressPlan.builder().style(AddressPlan.Style.SINGLE).site(Cidr.parse("127.101.0.0/24"))
        .build();
    UpstreamResolver nothing = host -> CompletableFuture.failedFuture(new java.net.UnknownHostException(host));
    TcpSplicer sp = start(TcpSplicer.builder().listen(List.of(TestServer.at("127.101.0.1", 0)),
        FrontDoor.tlsServerName()).router(Router.fromPlan(plan, nothing, new AddressPolicy(CidrSet.any(),
            CidrSet.any()))).loops(1));
    List<byte[]> hellos = List.of(ClientHellos.jdk("www.example.com", List.of()),
        ClientHellos.jdk("push.apple.com", List.of()), ClientHellos.jdk(null, List.of()),
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
