// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import com.eatthepath.pushy.apns.ApnsClient;
import com.eatthepath.pushy.apns.ApnsClientBuilder;
import com.eatthepath.pushy.apns.PushNotificationResponse;
import com.eatthepath.pushy.apns.auth.ApnsSigningKey;
import com.eatthepath.pushy.apns.proxy.HttpProxyHandlerFactory;
import com.eatthepath.pushy.apns.proxy.ProxyHandlerFactory;
import com.eatthepath.pushy.apns.proxy.Socks5ProxyHandlerFactory;
import com.eatthepath.pushy.apns.server.AcceptAllPushNotificationHandlerFactory;
import com.eatthepath.pushy.apns.server.MockApnsServer;
import com.eatthepath.pushy.apns.server.MockApnsServerBuilder;
import com.eatthepath.pushy.apns.server.MockApnsServerListener;
import com.eatthepath.pushy.apns.server.RejectionReason;
import com.eatthepath.pushy.apns.util.SimpleApnsPushNotification;
import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pushy, as an MDM or push server on the isolated network would use it, sends notifications by name
 * through the HTTP CONNECT and SOCKS5 listeners to Pushy's own mock APNs server (HTTP/2 over TLS,
 * server certificate verified, token authentication).
 */
class PushyThroughProxyIT extends SplicerTestSupport {
  private static final AddressPolicy LOOPBACK =
      new AddressPolicy(CidrSet.parse("127.0.0.0/8"), CidrSet.parse("127.0.0.0/8"));
  private static final String TOKEN = "a1".repeat(32);
  private static final String TOPIC = "com.example.mdm";

  @TempDir Path dir;
  private MockApnsServer apns;
  private X509Certificate certificate;
  private int apnsPort;
  private final List<String> arrived = new CopyOnWriteArrayList<>();
  private ApnsClient client;

  @BeforeEach
  void mockApns() throws Exception {
    KeyStore keys = TestTls.keyStore(dir, List.of("api.push.apple.com"));
    certificate = (X509Certificate) keys.getCertificate("apns");
    PrivateKey key = (PrivateKey) keys.getKey("apns", TestTls.PASSWORD.toCharArray());
    apns =
        new MockApnsServerBuilder()
            .setServerCredentials(new X509Certificate[] {certificate}, key, null)
            .setHandlerFactory(new AcceptAllPushNotificationHandlerFactory())
            .setListener(
                new MockApnsServerListener() {
                  @Override
                  public void handlePushNotificationAccepted(
                      Http2Headers headers, ByteBuf payload) {
                    arrived.add(
                        headers.path()
                            + " "
                            + headers.get("apns-topic")
                            + " "
                            + payload.toString(StandardCharsets.UTF_8));
                  }

                  @Override
                  public void handlePushNotificationRejected(
                      Http2Headers headers,
                      ByteBuf payload,
                      RejectionReason reason,
                      Instant deviceTokenExpiration) {
                    arrived.add("rejected " + reason);
                  }
                })
            .build();
    apnsPort = apns.start(0).get(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stopMockApns() throws Exception {
    if (client != null) {
      client.close().get(30, TimeUnit.SECONDS);
    }
    apns.shutdown().get(30, TimeUnit.SECONDS);
  }

  private ExplicitProxy proxy() {
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .ports(ApnsHost.Kind.PROVIDER, List.of(apnsPort))
            .build();
    // the mock server listens on every address; the proxy reaches it on loopback by its APNs name
    return ExplicitProxy.builder(
            plan,
            UpstreamResolver.fixed(
                Map.of("api.push.apple.com", List.of(InetAddress.getLoopbackAddress()))),
            LOOPBACK)
        .users(
            ProxyUsers.parse(
                List.of(ProxyUsers.line("mdm", "s3cret".toCharArray(), 1_000)), "test users"))
        .build();
  }

  private TcpSplicer splicer(ExplicitProxy proxy) throws Exception {
    return start(
        TcpSplicer.builder()
            .router(
                c -> {
                  throw new AssertionError("only explicit-proxy connections here");
                })
            .policy(LOOPBACK)
            .loops(1)
            .connectTimeout(Duration.ofSeconds(5))
            .connectListen(List.of(TestServer.at("127.0.0.1", 0)), proxy)
            .socksListen(List.of(TestServer.at("127.0.0.1", 0)), proxy));
  }

  private void send(ProxyHandlerFactory through) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    ApnsSigningKey signingKey =
        new ApnsSigningKey(
            "KEY1234567", "TEAM123456", (ECPrivateKey) g.generateKeyPair().getPrivate());
    client =
        new ApnsClientBuilder()
            .setApnsServer("api.push.apple.com", apnsPort)
            .setTrustedServerCertificateChain(certificate)
            .setSigningKey(signingKey)
            .setProxyHandlerFactory(through)
            .setConnectionTimeout(Duration.ofSeconds(10))
            .build();
    PushNotificationResponse<SimpleApnsPushNotification> response =
        client
            .sendNotification(
                new SimpleApnsPushNotification(TOKEN, TOPIC, "{\"mdm\":\"push-magic\"}"))
            .get(60, TimeUnit.SECONDS);
    assertThat(response.isAccepted()).as("%s", response).isTrue();
    assertThat(arrived)
        .containsExactly("/3/device/" + TOKEN + " " + TOPIC + " {\"mdm\":\"push-magic\"}");
  }

  @Test
  void notificationThroughHttpConnect() throws Exception {
    ExplicitProxy proxy = proxy();
    TcpSplicer sp = splicer(proxy);
    send(new HttpProxyHandlerFactory(sp.boundAddresses().get(0), "mdm", "s3cret"));
    assertThat(proxy.requests()).containsEntry("http-connect 200 api", 1L);
    client.close().get(30, TimeUnit.SECONDS);
    client = null;
    assertQuiet(sp);
  }

  @Test
  void notificationThroughSocks5() throws Exception {
    ExplicitProxy proxy = proxy();
    TcpSplicer sp = splicer(proxy);
    InetSocketAddress socks = sp.boundAddresses().get(1);
    send(new Socks5ProxyHandlerFactory(socks, "mdm", "s3cret"));
    assertThat(proxy.requests()).containsEntry("socks5 0 api", 1L);
    client.close().get(30, TimeUnit.SECONDS);
    client = null;
    assertQuiet(sp);
  }
}
