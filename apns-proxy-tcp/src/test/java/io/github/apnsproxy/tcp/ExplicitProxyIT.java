// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Authenticator;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PasswordAuthentication;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JDK's own HTTP and SOCKS clients through the explicit-proxy listeners to a TLS host reached
 * by name.
 */
class ExplicitProxyIT extends SplicerTestSupport {
  private static final AddressPolicy LOOPBACK =
      new AddressPolicy(CidrSet.parse("127.0.0.0/8"), CidrSet.parse("127.0.0.0/8"));
  private static final String USERS_PASSWORD = "s3cret";

  @TempDir Path dir;
  private HttpsServer https;
  private SSLContext clientTls;
  private int port;

  @BeforeEach
  void tlsHost() throws Exception {
    TestTls tls =
        TestTls.forNames(
            dir, List.of("api.push.apple.com", "courier.push.apple.com", "*.push.apple.com"));
    SSLContext serverTls = tls.server;
    clientTls = tls.client;
    https = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.2.1"), 0), 50);
    https.setHttpsConfigurator(new HttpsConfigurator(serverTls));
    https.createContext(
        "/",
        ex -> {
          byte[] body =
              ("hello " + ex.getRequestURI().getPath()).getBytes(StandardCharsets.US_ASCII);
          ex.sendResponseHeaders(200, body.length);
          try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
          }
        });
    https.start();
    port = https.getAddress().getPort();
  }

  @AfterEach
  void stopTlsHost() {
    https.stop(0);
    Authenticator.setDefault(null);
  }

  private ExplicitProxy proxy(ProxyUsers users) {
    return proxyBuilder(users).build();
  }

  private ExplicitProxy.Builder proxyBuilder(ProxyUsers users) {
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .ports(ApnsHost.Kind.PROVIDER, List.of(port, 2197))
            .build();
    Map<String, List<InetAddress>> table = new HashMap<>();
    InetAddress host = https.getAddress().getAddress();
    table.put("api.push.apple.com", List.of(host));
    for (int n = 0; n <= 3; n++) {
      table.put(ApnsHost.courier(n).name(), List.of(host));
    }
    table.put(
        "api.sandbox.push.apple.com",
        List.of(InetAddress.getLoopbackAddress())); // nothing listens there
    return ExplicitProxy.builder(plan, UpstreamResolver.fixed(table), LOOPBACK).users(users);
  }

  private TcpSplicer splicer(ExplicitProxy proxy) throws Exception {
    return start(
        TcpSplicer.builder()
            .router(
                c -> {
                  throw new AssertionError("only explicit-proxy connections here");
                })
            .policy(LOOPBACK)
            .loops(2)
            .connectTimeout(Duration.ofSeconds(2))
            .connectListen(List.of(TestServer.at("127.0.0.1", 0)), proxy)
            .socksListen(List.of(TestServer.at("127.0.0.1", 0)), proxy));
  }

  @Test
  void httpClientThroughConnectReachesTheApiHostByNameWithItsCertificateVerified()
      throws Exception {
    ExplicitProxy proxy = proxy(ProxyUsers.none());
    TcpSplicer sp = splicer(proxy);
    HttpClient client =
        HttpClient.newBuilder()
            .proxy(ProxySelector.of(sp.boundAddresses().get(0)))
            .sslContext(clientTls)
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    HttpResponse<String> r =
        client.send(
            HttpRequest.newBuilder(
                    URI.create("https://api.push.apple.com:" + port + "/3/device/abc"))
                .timeout(Duration.ofSeconds(20))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("hello /3/device/abc");
    assertThat(proxy.requests()).containsEntry("http-connect 200 api", 1L);
  }

  @Test
  void socksSocketWithCredentialsReachesAnUnnumberedCourierByName() throws Exception {
    ProxyUsers users =
        ProxyUsers.parse(List.of(ProxyUsers.line("mdm", USERS_PASSWORD.toCharArray(), 1_000)), "t");
    ExplicitProxy proxy = proxy(users);
    TcpSplicer sp = splicer(proxy);
    Authenticator.setDefault(
        new Authenticator() {
          @Override
          protected PasswordAuthentication getPasswordAuthentication() {
            return new PasswordAuthentication("mdm", USERS_PASSWORD.toCharArray());
          }
        });
    Socket raw = track(new Socket(new Proxy(Proxy.Type.SOCKS, sp.boundAddresses().get(1))));
    raw.setSoTimeout(20_000);
    raw.connect(InetSocketAddress.createUnresolved("courier.push.apple.com", port), 10_000);
    try (SSLSocket tls =
        (SSLSocket)
            clientTls.getSocketFactory().createSocket(raw, "courier.push.apple.com", port, true)) {
      SSLParameters params = tls.getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS");
      tls.setSSLParameters(params);
      tls.startHandshake();
      tls.getOutputStream()
          .write(
              ("GET /courier HTTP/1.1\r\nHost: courier.push.apple.com\r\nConnection: close"
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      tls.getOutputStream().flush();
      String response = new String(tls.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello /courier");
    }
    assertThat(proxy.requests()).containsEntry("socks5 0 courier-unnumbered", 1L);
  }

  private String exchange(TcpSplicer sp, String request) throws Exception {
    Socket s = connect(sp.boundAddresses().get(0));
    s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
    return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
  }

  @Test
  void everyHttpStatus() throws Exception {
    ProxyUsers users =
        ProxyUsers.parse(List.of(ProxyUsers.line("mdm", USERS_PASSWORD.toCharArray(), 1_000)), "t");
    TcpSplicer sp = splicer(proxy(users));
    String good =
        "Proxy-Authorization: Basic "
            + Base64.getEncoder()
                .encodeToString(("mdm:" + USERS_PASSWORD).getBytes(StandardCharsets.UTF_8))
            + "\r\n";
    String bad =
        "Proxy-Authorization: Basic "
            + Base64.getEncoder().encodeToString("mdm:nope".getBytes(StandardCharsets.UTF_8))
            + "\r\n";
    assertThat(exchange(sp, "CONNECT api.push.apple.com HTTP/1.1\r\nHost: x\r\n" + good + "\r\n"))
        .startsWith("HTTP/1.1 400 ");
    assertThat(exchange(sp, "CONNECT www.example.com:443 HTTP/1.1\r\nHost: x\r\n" + good + "\r\n"))
        .startsWith("HTTP/1.1 403 ")
        .contains("not an APNs host name");
    assertThat(
            exchange(sp, "CONNECT 127.0.2.1:" + port + " HTTP/1.1\r\nHost: x\r\n" + good + "\r\n"))
        .startsWith("HTTP/1.1 403 ")
        .contains("address literals are not allowed");
    assertThat(exchange(sp, "POST / HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 405 ")
        .contains("\r\nAllow: CONNECT");
    assertThat(exchange(sp, "CONNECT api.push.apple.com:" + port + " HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 407 ")
        .contains("Proxy-Authenticate: Basic realm=\"apns-proxy\"");
    assertThat(
            exchange(
                sp,
                "CONNECT api.push.apple.com:" + port + " HTTP/1.1\r\nHost: x\r\n" + bad + "\r\n"))
        .startsWith("HTTP/1.1 407 ");
    Socket tunnel = connect(sp.boundAddresses().get(0));
    tunnel
        .getOutputStream()
        .write(
            ("CONNECT 3-courier.push.apple.com:"
                    + port
                    + " HTTP/1.1\r\nHost: x\r\n"
                    + good
                    + "\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    String established = "HTTP/1.1 200 Connection established\r\n\r\n";
    assertThat(
            new String(
                readN(tunnel.getInputStream(), established.length()), StandardCharsets.US_ASCII))
        .isEqualTo(established);
    tunnel.close();
    assertThat(
            exchange(
                sp,
                "CONNECT api.sandbox.push.apple.com:2197 HTTP/1.1\r\nHost: x\r\n" + good + "\r\n"))
        .startsWith("HTTP/1.1 502 ");
    assertThat(
            exchange(sp, "CONNECT a:1 HTTP/1.1\r\nHost: x\r\nX: " + "a".repeat(9000) + "\r\n\r\n"))
        .startsWith("HTTP/1.1 431 ");
    assertThat(exchange(sp, "GET /proxy.pac HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 200 OK")
        .contains("PROXY 127.0.0.1:" + sp.boundAddresses().get(0).getPort());
    assertQuiet(sp);
  }

  @Test
  void headOneByteAtATimeThenEarlyBytesAreForwardedAfterThe200() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.2.2", 0)));
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .ports(ApnsHost.Kind.PROVIDER, List.of(echo.address().getPort()))
            .build();
    ExplicitProxy proxy =
        ExplicitProxy.builder(
                plan,
                UpstreamResolver.fixed(
                    Map.of("api.push.apple.com", List.of(echo.address().getAddress()))),
                LOOPBACK)
            .build();
    TcpSplicer sp = splicer(proxy);
    Socket s = connect(sp.boundAddresses().get(0));
    byte[] head =
        ("CONNECT api.push.apple.com:"
                + echo.address().getPort()
                + " HTTP/1.1\r\nHost: api\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);
    OutputStream o = s.getOutputStream();
    for (int i = 0; i < head.length - 1; i++) {
      o.write(head[i]);
      o.flush();
    }
    o.write(
        new byte[] {
          head[head.length - 1], 'e', 'a', 'r', 'l', 'y'
        }); // the last head byte and early data
    o.flush();
    String established = "HTTP/1.1 200 Connection established\r\n\r\n";
    assertThat(
            new String(
                readN(s.getInputStream(), established.length() + 5), StandardCharsets.US_ASCII))
        .isEqualTo(established + "early");
    s.close();
    assertQuiet(sp);
  }

  /** Issue 17: a reload swaps the users; the old password is refused, the new one accepted. */
  @Test
  void updatedUsersApplyToNewRequestsWhileAnOpenTunnelGoesOn() throws Exception {
    ExplicitProxy proxy =
        proxy(ProxyUsers.parse(List.of(ProxyUsers.line("mdm", "old".toCharArray(), 1_000)), "t"));
    TcpSplicer sp = splicer(proxy);
    Socket open = connect(sp.boundAddresses().get(0));
    assertThat(connectThrough(open, "mdm:old")).startsWith("HTTP/1.1 200 ");

    proxy.update(
        proxyBuilder(
            ProxyUsers.parse(List.of(ProxyUsers.line("mdm", "new".toCharArray(), 1_000)), "t")));

    Socket oldPassword = connect(sp.boundAddresses().get(0));
    assertThat(connectThrough(oldPassword, "mdm:old")).startsWith("HTTP/1.1 407 ");
    Socket newPassword = connect(sp.boundAddresses().get(0));
    assertThat(connectThrough(newPassword, "mdm:new")).startsWith("HTTP/1.1 200 ");
    assertThat(get(newPassword, "/after")).endsWith("hello /after");
    // the tunnel opened before the update still carries its TLS session to the host
    assertThat(get(open, "/before")).endsWith("hello /before");
    assertThat(proxy.failedLogins()).isEqualTo(1);
    assertThat(proxy.requests())
        .containsEntry("http-connect 200 api", 2L)
        .containsEntry("http-connect 407 -", 1L);
    open.close();
    oldPassword.close();
    newPassword.close();
    assertQuiet(sp);
  }

  /** Sends a CONNECT for the api host with Basic {@code credentials}; the reply head. */
  private String connectThrough(Socket s, String credentials) throws Exception {
    s.getOutputStream()
        .write(
            ("CONNECT api.push.apple.com:"
                    + port
                    + " HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic "
                    + Base64.getEncoder()
                        .encodeToString(credentials.getBytes(StandardCharsets.UTF_8))
                    + "\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
    StringBuilder head = new StringBuilder();
    InputStream in = s.getInputStream();
    while (head.indexOf("\r\n\r\n") < 0) {
      int c = in.read();
      if (c < 0) {
        break;
      }
      head.append((char) c);
    }
    return head.toString();
  }

  /** One HTTPS request over an established tunnel; the whole response. */
  private String get(Socket tunnel, String path) throws Exception {
    SSLSocket tls =
        (SSLSocket)
            clientTls.getSocketFactory().createSocket(tunnel, "api.push.apple.com", port, false);
    tls.startHandshake();
    tls.getOutputStream()
        .write(
            ("GET " + path + " HTTP/1.1\r\nHost: api.push.apple.com\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    tls.getOutputStream().flush();
    return new String(tls.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
  }
}
