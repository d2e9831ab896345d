// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.examples.demo.DemoCertificates;
import io.github.apnsproxy.examples.demo.SimulatedCourier;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.EgressProxy;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code probe} against simulated hosts: every host passing, directly and through a proxy; the
 * courier port blocked at the proxy; a name that does not resolve; a TLS server whose certificate
 * is not from the expected trust store - each reported with its own step and cause.
 */
class ProbeIT {
  private static DemoCertificates apple;
  private static DemoCertificates interceptor;
  private SimulatedCourier courier;
  private SimulatedCourier intercepting;
  private TestConnectProxy proxyServer;

  @BeforeAll
  static void certificates() throws IOException {
    apple = DemoCertificates.generate();
    interceptor =
        DemoCertificates.generate(); // same names, a different key: not in apple's trust store
  }

  @AfterEach
  void close() throws IOException {
    if (courier != null) {
      courier.close();
    }
    if (intercepting != null) {
      intercepting.close();
    }
    if (proxyServer != null) {
      proxyServer.close();
    }
  }

  private static UpstreamResolver hosts(Map<String, InetAddress> table) {
    return host -> {
      InetAddress a = table.get(host);
      return a == null
          ? CompletableFuture.failedFuture(new UnknownHostException(host))
          : CompletableFuture.completedFuture(List.of(a));
    };
  }

  private Probe probe(List<Probe.Target> targets, Egress egress, UpstreamResolver resolver)
      throws Exception {
    return new Probe(targets, egress, resolver, apple.trustStore(), Duration.ofSeconds(5));
  }

  /** The shared in-test CONNECT proxy ({@link TestConnectProxy}), closed after the test. */
  private EgressProxy connectProxy(Map<String, InetSocketAddress> table, Set<Integer> ports)
      throws IOException {
    proxyServer = TestConnectProxy.start(table, ports);
    return proxyServer.egress();
  }

  private void startCouriers() throws IOException {
    courier = SimulatedCourier.start("courier", new InetSocketAddress("127.0.1.1", 0), apple);
    intercepting =
        SimulatedCourier.start("intercepting", new InetSocketAddress("127.0.1.2", 0), interceptor);
  }

  @Test
  void everyHostPassesDirectlyAndThroughAProxy() throws Exception {
    startCouriers();
    int port = courier.address().getPort();
    List<Probe.Target> targets =
        List.of(
            new Probe.Target("courier", "1-courier.push.apple.com", port, "courier.push.apple.com"),
            new Probe.Target(
                "courier sandbox",
                "1-courier.sandbox.push.apple.com",
                port,
                "courier.sandbox.push.apple.com"));
    InetAddress at = courier.address().getAddress();
    List<Probe.Result> direct =
        probe(
                targets,
                Egress.direct(),
                hosts(
                    Map.of("1-courier.push.apple.com", at, "1-courier.sandbox.push.apple.com", at)))
            .run();
    assertThat(direct).allMatch(Probe.Result::passed, Probe.table(direct));
    assertThat(Probe.allPassed(direct)).isTrue();
    assertThat(Probe.table(direct)).contains("every host passed");

    EgressProxy proxy =
        connectProxy(
            Map.of(
                "1-courier.push.apple.com",
                courier.address(),
                "1-courier.sandbox.push.apple.com",
                courier.address()),
            Set.of(port));
    UpstreamResolver noDns = hosts(Map.of()); // through the proxy, nothing is resolved here
    List<Probe.Result> proxied = probe(targets, Egress.through(proxy), noDns).run();
    assertThat(proxied).allMatch(Probe.Result::passed, Probe.table(proxied));
    assertThat(proxied.get(0).via()).contains("proxy http://127.0.0.1:");
  }

  @Test
  void eachFaultIsReportedWithItsOwnCause() throws Exception {
    startCouriers();
    int port = courier.address().getPort();
    Probe.Target good =
        new Probe.Target("courier", "1-courier.push.apple.com", port, "courier.push.apple.com");
    Probe.Target unknown =
        new Probe.Target("courier2", "1-courier2.push.apple.com", port, "courier2.push.apple.com");
    Probe.Target intercepted =
        new Probe.Target(
            "courier sandbox",
            "1-courier.sandbox.push.apple.com",
            intercepting.address().getPort(),
            "courier.sandbox.push.apple.com");
    List<Probe.Result> r =
        probe(
                List.of(good, unknown, intercepted),
                Egress.direct(),
                hosts(
                    Map.of(
                        "1-courier.push.apple.com", courier.address().getAddress(),
                        "1-courier.sandbox.push.apple.com", intercepting.address().getAddress())))
            .run();
    String table = Probe.table(r);
    assertThat(r.get(0).passed()).as(table).isTrue();
    assertThat(r.get(1).failedStep()).as(table).isEqualTo("dns");
    assertThat(r.get(1).cause()).contains("DNS does not resolve 1-courier2.push.apple.com");
    assertThat(r.get(2).failedStep()).as(table).isEqualTo("tls");
    assertThat(r.get(2).cause()).contains("TLS intercepted (certificate not Apple's)");
    assertThat(Probe.allPassed(r)).isFalse();
    assertThat(table).contains("2 of 3 hosts failed");

    // the courier port blocked at the proxy (only 443 allowed, as Squid's default SSL_ports)
    EgressProxy proxy =
        connectProxy(Map.of("1-courier.push.apple.com", courier.address()), Set.of(443));
    List<Probe.Result> blocked = probe(List.of(good), Egress.through(proxy), hosts(Map.of())).run();
    assertThat(blocked.get(0).failedStep()).as(Probe.table(blocked)).isEqualTo("proxy CONNECT");
    assertThat(blocked.get(0).cause())
        .contains("the proxy admin must allow CONNECT to port " + port);
  }

  @Test
  void cachedResultsAreReusedWithinTheInterval() throws Exception {
    startCouriers();
    int[] lookups = {0};
    UpstreamResolver counting =
        host -> {
          synchronized (lookups) {
            lookups[0]++;
          }
          return CompletableFuture.completedFuture(List.of(courier.address().getAddress()));
        };
    Probe p =
        probe(
            List.of(
                new Probe.Target(
                    "courier",
                    "1-courier.push.apple.com",
                    courier.address().getPort(),
                    "courier.push.apple.com")),
            Egress.direct(),
            counting);
    List<Probe.Result> first = p.cached(Duration.ofMinutes(1));
    List<Probe.Result> second = p.cached(Duration.ofMinutes(1));
    assertThat(second).isSameAs(first);
    assertThat(lookups[0]).isEqualTo(1);
    p.cached(Duration.ZERO);
    assertThat(lookups[0]).isEqualTo(2);
  }
}
