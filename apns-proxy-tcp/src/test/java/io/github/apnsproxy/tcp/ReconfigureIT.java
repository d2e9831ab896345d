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
