// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Reconfiguring a running splicer: router and policy swap, listeners added and removed, limits;
 * live splices stay.
 */
class ReconfigureIT extends SplicerTestSupport {

  @Test
  void routerSwapLeavesLiveSplicesAndRoutesNewConnections() throws Exception {
    TestServer a = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    TestServer b = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    TcpSplicer s = start(builder(fixed(a.address())));
    List<Socket> live = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Socket c = connect(entry(s));
      echo(c, i);
      live.add(c);
    }
    Router toB = fixed(b.address());
    AddressPolicy same = s.policy();
    s.update(toB, same);
    assertThat(s.router()).isSameAs(toB);
    for (int i = 0; i < live.size(); i++) {
      echo(live.get(i), 100 + i); // still spliced to a
    }
    Socket fresh = connect(entry(s));
    echo(fresh, 7);
    assertThat(a.accepted.get()).isEqualTo(20);
    assertThat(b.accepted.get()).isEqualTo(1);
    for (Socket c : live) {
      c.close();
    }
    fresh.close();
    assertQuiet(s);
  }

  @Test
  void policySwapRefusesNewClientsOnly() throws Exception {
    TestServer a = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    TcpSplicer s = start(builder(fixed(a.address())));
    Socket before = connect(entry(s));
    echo(before, 1);
    s.update(s.router(), new AddressPolicy(CidrSet.parse("10.0.0.0/8"), CidrSet.any()));
    Socket denied = connect(entry(s));
    assertThat(denied.getInputStream().read()).isEqualTo(-1);
    echo(before, 2);
    await(
        "the refusal counted",
        () -> s.stats().rejected().getOrDefault(RejectReason.CLIENT_DENIED, 0L) == 1);
    before.close();
    assertQuiet(s);
  }

  @Test
  void removedListenerStopsAcceptingWhileItsSplicesGoOn() throws Exception {
    TestServer a = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    TcpSplicer s = start(builder(fixed(a.address())));
    InetSocketAddress first = entry(s);
    List<InetSocketAddress> added =
        s.addListeners(
            List.of(TestServer.at("127.100.100.2", 0), TestServer.at("127.100.100.3", 0)));
    assertThat(added).hasSize(2);
    assertThat(s.boundAddresses()).containsExactly(first, added.get(0), added.get(1));
    Socket onSecond = connect(added.get(0));
    echo(onSecond, 1);
    Socket onFirst = connect(first);
    echo(onFirst, 2);

    s.removeListeners(List.of(first, added.get(0)));
    assertThat(s.boundAddresses()).containsExactly(added.get(1));
    assertThatThrownBy(() -> connectOnce(first)).isInstanceOf(ConnectException.class);
    assertThatThrownBy(() -> connectOnce(added.get(0))).isInstanceOf(ConnectException.class);
    echo(onFirst, 3); // splices accepted on a removed listener go on
    echo(onSecond, 4);
    Socket onThird = connect(added.get(1));
    echo(onThird, 5);

    assertThatThrownBy(() -> s.removeListeners(List.of(first)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(first.toString());
    assertThatThrownBy(() -> s.addListeners(List.of(added.get(1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("already listening");
    // the address is free again: it can come back
    List<InetSocketAddress> back = s.addListeners(List.of(first));
    assertThat(back).containsExactly(first);
    Socket again = connect(first);
    echo(again, 6);
    again.close();
    onFirst.close();
    onSecond.close();
    onThird.close();
    assertQuiet(s);
  }

  @Test
  void addedListenerWithAFrontDoorReadsThePreface() throws Exception {
    TestServer a =
        track(
            new TestServer(
                TestServer.at("127.0.0.1", 0), sock -> sock.getInputStream().readAllBytes()));
    List<Preface> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    Router router =
        c -> {
          seen.add(c.preface());
          return java.util.concurrent.CompletableFuture.completedFuture(
              Route.to("x", List.of(a.address())));
        };
    TcpSplicer s = start(builder(router));
    List<InetSocketAddress> tls =
        s.addListeners(List.of(TestServer.at("127.100.100.4", 0)), FrontDoor.tlsServerName());
    Socket c = connect(tls.get(0));
    c.getOutputStream().write(ClientHellos.jdk("courier.push.apple.com", List.of()));
    await("routed", () -> !seen.isEmpty());
    assertThat(seen.get(0).frontDoor()).isEqualTo("tls");
    assertThat(seen.get(0).serverName()).isEqualTo("courier.push.apple.com");
    c.close();
    assertQuiet(s);
  }

  @Test
  void limitsChangeForNewConnections() throws Exception {
    TestServer a = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    TcpSplicer s = start(builder(fixed(a.address())));
    Socket first = connect(entry(s)); // accepted without a per-client limit: not counted
    echo(first, 1);
    s.limits(100, 1);
    Socket second = connect(entry(s));
    echo(second, 2);
    Socket third = connect(entry(s));
    assertThat(third.getInputStream().read()).isEqualTo(-1);
    await(
        "the refusal counted",
        () -> s.stats().rejected().getOrDefault(RejectReason.MAX_PER_CLIENT, 0L) == 1);
    first.close(); // releasing an uncounted connection leaves the count alone
    await("first closed", () -> s.stats().active() == 1);
    Socket fourth = connect(entry(s));
    assertThat(fourth.getInputStream().read()).isEqualTo(-1);
    second.close();
    await("second closed", () -> s.stats().active() == 0);
    Socket last = connect(entry(s));
    echo(last, 3);
    last.close();
    assertThatThrownBy(() -> s.limits(0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("max connections 0");
    assertQuiet(s);
  }

  @Test
  void egressSwapSendsNewConnectionsThroughTheProxyAndBackWhileLiveSplicesGoOn() throws Exception {
    TestServer a = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    TestEgressProxy proxy = track(TestEgressProxy.to(TestEgressProxy.Kind.HTTP, a.address()));
    TcpSplicer s = start(builder(fixed(a.address())));
    Socket direct = connect(entry(s));
    echo(direct, 1);

    Egress through = Egress.through(proxy.egress(null, null));
    s.egress(through, AddressFamily.IPV4_FIRST);
    assertThat(s.egress()).isEqualTo(through);
    assertThat(s.family()).isEqualTo(AddressFamily.IPV4_FIRST);
    Socket proxied = connect(entry(s));
    echo(proxied, 2);
    assertThat(proxy.requested)
        .containsExactly("test-upstream:" + a.address().getPort()); // asked by the route's name
    echo(direct, 3); // the splice made before the swap still goes straight to a

    s.egress(Egress.direct(), AddressFamily.ANY);
    Socket directAgain = connect(entry(s));
    echo(directAgain, 4);
    assertThat(proxy.requested).hasSize(1);
    echo(proxied, 5); // the tunnel made through the proxy goes on after the swap back
    echo(direct, 6);
    assertThat(a.accepted.get()).isEqualTo(3); // direct, via the proxy, direct again
    direct.close();
    proxied.close();
    directAgain.close();
    assertQuiet(s);
  }

  @Test
  void proxyProtocolSwapAppliesToNewConnectionsOnly() throws Exception {
    TestServer a = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    List<InboundConnection> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    Router recording =
        c -> {
          seen.add(c);
          return java.util.concurrent.CompletableFuture.completedFuture(
              Route.to("x", List.of(a.address())));
        };
    TcpSplicer s = start(builder(recording));
    Socket plain = connect(entry(s));
    echo(plain, 1);

    s.proxyProtocol(ProxyProtocol.V1, CidrSet.parse("127.0.0.0/8"));
    assertThat(s.proxyProtocol()).isEqualTo(ProxyProtocol.V1);
    Socket balanced = connect(entry(s));
    balanced
        .getOutputStream()
        .write(
            ("PROXY TCP4 10.1.2.3 127.100.100.1 40000 " + entry(s).getPort() + "\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    echo(balanced, 2);
    assertThat(seen.get(seen.size() - 1).client().getAddress().getHostAddress())
        .isEqualTo("10.1.2.3");
    Socket headerless = connect(entry(s));
    headerless
        .getOutputStream()
        .write("GET / HTTP/1.1\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    ProxyProtocolIT.assertClosed(headerless);
    await(
        "the refusal counted",
        () -> s.stats().rejected().getOrDefault(RejectReason.PROXY_HEADER, 0L) == 1);
    echo(plain, 3); // accepted before the swap: no header was ever expected of it

    assertThatThrownBy(() -> s.proxyProtocol(ProxyProtocol.V2, CidrSet.none()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("without trusted balancers");
    s.proxyProtocol(ProxyProtocol.OFF, CidrSet.none());
    Socket plainAgain = connect(entry(s));
    echo(plainAgain, 4);
    echo(balanced, 5);
    plain.close();
    balanced.close();
    headerless.close();
    plainAgain.close();
    assertQuiet(s);
  }

  @Test
  void doorSwapOnABoundListenerWithoutRebinding() throws Exception {
    TestServer a = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    List<Preface> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    Router router =
        c -> {
          seen.add(c.preface());
          return java.util.concurrent.CompletableFuture.completedFuture(
              Route.to("x", List.of(a.address())));
        };
    TcpSplicer s = start(builder(router));
    InetSocketAddress listener = entry(s);
    Socket byAddress = connect(listener);
    echo(byAddress, 1);
    assertThat(seen.get(0).frontDoor()).isEqualTo(Preface.ADDRESS);

    s.door(List.of(listener), FrontDoor.tlsServerName());
    assertThat(s.door(listener)).map(FrontDoor::name).contains("tls");
    assertThat(s.boundAddresses()).containsExactly(listener); // the same socket, not rebound
    Socket tls = connect(listener);
    byte[] hello = ClientHellos.jdk("courier.push.apple.com", List.of());
    tls.getOutputStream().write(hello);
    assertThat(readN(tls.getInputStream(), hello.length)).isEqualTo(hello); // echoed after routing
    assertThat(seen.get(1).frontDoor()).isEqualTo("tls");
    assertThat(seen.get(1).serverName()).isEqualTo("courier.push.apple.com");
    echo(byAddress, 2); // routed before the swap, untouched

    s.door(List.of(listener), null);
    assertThat(s.door(listener)).isEmpty();
    Socket again = connect(listener);
    echo(again, 3);
    assertThat(seen.get(2).frontDoor()).isEqualTo(Preface.ADDRESS);
    echo(tls, 4);

    InetSocketAddress unbound = TestServer.at("127.100.100.9", 1);
    assertThatThrownBy(() -> s.door(List.of(unbound), null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not listening on");
    byAddress.close();
    tls.close();
    again.close();
    assertQuiet(s);
  }

  private static void echo(Socket c, int n) throws IOException {
    byte[] msg = ("message-" + n).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    c.getOutputStream().write(msg);
    assertThat(readN(c.getInputStream(), msg.length)).isEqualTo(msg);
  }

  private static void connectOnce(InetSocketAddress a) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(a, 5_000);
    }
  }
}
