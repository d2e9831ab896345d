// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static io.github.apnsproxy.dns.DnsTestSupport.LOOPBACK_ANY_PORT;
import static io.github.apnsproxy.dns.DnsTestSupport.chain;
import static io.github.apnsproxy.dns.DnsTestSupport.ip;
import static io.github.apnsproxy.dns.DnsTestSupport.plan;
import static io.github.apnsproxy.dns.DnsTestSupport.query;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.dns.DnsTestSupport.TcpClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * DNS over TCP at its limits and through a failing selector, on real loopback sockets: clients
 * outside the policy, one address holding many idle connections, a full table, a {@code select()}
 * that throws.
 */
@Timeout(60)
class DnsTcpServerIT {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private final List<DnsServer> servers = new ArrayList<>();
  private final List<AutoCloseable> clients = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : clients) {
      c.close();
    }
    servers.forEach(DnsServer::close);
    for (DnsServer s : servers) {
      assertThat(s.isServing()).isFalse();
      assertThat(s.tcpConnections()).isZero();
    }
  }

  private DnsServer start(UnaryOperator<DnsServer.Builder> custom) throws IOException {
    DnsServer s =
        custom.apply(DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(chain(plan()))).build();
    servers.add(s);
    return s.start();
  }

  private TcpClient client(DnsServer server, String local) throws IOException {
    TcpClient c = new TcpClient(server.tcpAddresses().get(0), ip(local), WAIT);
    clients.add(c);
    return c;
  }

  private static void assertAnswered(TcpClient c) throws IOException {
    c.send(query("1-courier.push.apple.com", Type.A).toWire());
    Message r = c.receive();
    assertThat(r.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(r.getSection(Section.ANSWER)).isNotEmpty();
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(5);
    }
  }

  @Test
  void manyIdleConnectionsFromOneAddressDoNotShutOutAnotherClient() throws Exception {
    DnsServer server =
        start(b -> b.tcpIdleTimeout(Duration.ZERO)); // defaults: 256 in all, 64 per client
    InetSocketAddress dns = server.tcpAddresses().get(0);
    for (int i = 0; i < 256; i++) {
      SocketChannel flood = SocketChannel.open();
      clients.add(flood);
      flood.bind(new InetSocketAddress(ip("127.0.0.1"), 0));
      flood.connect(dns);
    }
    assertAnswered(client(server, "127.0.0.2"));
    // the flood's newcomers closed its own longest-idle connections: it holds its 64, never more
    await("the flood at its cap", () -> server.tcpConnections() == 64 + 1);
    assertThat(server.stats().dropped()).isZero();
    assertThat(server.isServing()).isTrue();
  }

  @Test
  void aClientAtItsCapWithEveryConnectionBusyGetsNoMore() throws Exception {
    DnsAnswerHandler neverAnswers = q -> new CompletableFuture<>();
    DnsServer server =
        start(
            b ->
                b.maxTcpConnectionsPerClient(2)
                    .responder(
                        DnsResponder.builder(neverAnswers)
                            .handlerTimeout(Duration.ofMinutes(5))
                            .build()));
    TcpClient a = client(server, "127.0.0.1");
    TcpClient b = client(server, "127.0.0.1");
    a.send(query("1-courier.push.apple.com", Type.A).toWire());
    b.send(query("1-courier.push.apple.com", Type.A).toWire());
    await("both queries being answered", () -> server.stats().tcpQueries() == 2);
    assertThat(client(server, "127.0.0.1").closedByServer()).isTrue();
    assertThat(server.stats().dropped()).isEqualTo(1);
    TcpClient other = client(server, "127.0.0.2"); // another address still gets in
    other.send(query("1-courier.push.apple.com", Type.A).toWire());
    await("its query being answered", () -> server.stats().tcpQueries() == 3);
    assertThat(server.tcpConnections()).isEqualTo(3);
  }

  @Test
  void aFullTableClosesTheLongestIdleConnectionForANewcomer() throws Exception {
    DnsServer server =
        start(
            b ->
                b.tcpIdleTimeout(Duration.ZERO).maxTcpConnections(3).maxTcpConnectionsPerClient(0));
    TcpClient a = client(server, "127.0.0.1");
    TcpClient b = client(server, "127.0.0.1");
    TcpClient c = client(server, "127.0.0.1");
    await("three connections", () -> server.tcpConnections() == 3);
    assertAnswered(a); // a is now the most recently active; b the longest idle
    assertAnswered(c);
    TcpClient d = client(server, "127.0.0.2");
    assertAnswered(d);
    assertThat(b.closedByServer()).isTrue();
    assertAnswered(a);
    assertAnswered(c);
    assertThat(server.tcpConnections()).isEqualTo(3);
    assertThat(server.stats().dropped()).isZero();
  }

  @Test
  void aNewcomerIsClosedOnlyWhenEveryConnectionIsBusy() throws Exception {
    DnsAnswerHandler neverAnswers = q -> new CompletableFuture<>();
    DnsServer server =
        start(
            b ->
                b.maxTcpConnections(2)
                    .responder(
                        DnsResponder.builder(neverAnswers)
                            .handlerTimeout(Duration.ofMinutes(5))
                            .build()));
    TcpClient a = client(server, "127.0.0.1");
    TcpClient b = client(server, "127.0.0.1");
    a.send(query("1-courier.push.apple.com", Type.A).toWire());
    b.send(query("1-courier.push.apple.com", Type.A).toWire());
    await("both queries being answered", () -> server.stats().tcpQueries() == 2);
    TcpClient third = client(server, "127.0.0.2");
    assertThat(third.closedByServer()).isTrue();
    assertThat(server.stats().dropped()).isEqualTo(1);
    assertThat(server.tcpConnections()).isEqualTo(2);
  }

  @Test
  void aClientOutsideThePolicyIsClosedAtAccept() throws Exception {
    AddressPolicy onlyOne =
        new AddressPolicy(CidrSet.parse("127.0.0.1/32"), AddressPolicy.APPLE_APNS);
    // no idle timeout: before the check at accept, the denied connection was held open for good
    DnsServer server =
        start(
            b ->
                b.tcpIdleTimeout(Duration.ZERO)
                    .responder(DnsResponder.builder(chain(plan())).policy(onlyOne).build()));
    TcpClient denied = client(server, "127.0.0.2");
    assertThat(denied.closedByServer()).isTrue();
    assertThat(server.stats().dropped()).isEqualTo(1);
    assertThat(server.stats().tcpQueries()).isZero();
    assertAnswered(client(server, "127.0.0.1"));
    assertThat(server.tcpConnections()).isEqualTo(1);
  }

  @Test
  void aFailingSelectRebuildsTheSelectorAndConnectionsCarryOn() throws Exception {
    DnsServer server = start(b -> b.tcpIdleTimeout(Duration.ZERO));
    TcpClient live = client(server, "127.0.0.1");
    assertAnswered(live);
    server.failNextTcpSelect();
    await("the selector rebuilt", () -> server.tcpSelectorRebuilds() == 1);
    assertThat(server.isServing()).isTrue();
    assertAnswered(live); // registered again on the new selector
    assertAnswered(client(server, "127.0.0.2")); // the listener too
    assertThat(server.tcpConnections()).isEqualTo(2);
  }

  @Test
  void isServingFollowsTheLifecycle() throws Exception {
    DnsServer server = DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(chain(plan())).build();
    servers.add(server);
    assertThat(server.isServing()).isFalse();
    server.start();
    assertThat(server.isServing()).isTrue();
    server.close();
    assertThat(server.isServing()).isFalse();
  }
}
