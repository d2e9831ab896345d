// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Egress through in-test HTTP CONNECT and SOCKS5 proxies: asked by name, failover, configuration
 * problems.
 */
class EgressIT extends SplicerTestSupport {
  private static final String COURIER = "17-courier.push.apple.com";
  private static final Router BY_NAME =
      c -> CompletableFuture.completedFuture(Route.toHost(COURIER, 5223));

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private TestServer echo() throws IOException {
    return track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
  }

  private TestEgressProxy proxy(TestEgressProxy.Kind kind, InetSocketAddress target)
      throws IOException {
    return track(TestEgressProxy.to(kind, target));
  }

  private void roundTrip(TcpSplicer sp, String text) throws IOException {
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii(text));
    assertThat(readN(c.getInputStream(), text.length())).isEqualTo(ascii(text));
    c.close();
  }

  private static InetSocketAddress refusingAddress() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.1.3"))) {
      return (InetSocketAddress) s.getLocalSocketAddress(); // closed again: connections are refused
    }
  }

  @Test
  void httpConnectAsksForTheHostNameAndPortNeverAnAddress() throws Exception {
    TestServer up = echo();
    TestEgressProxy px = proxy(TestEgressProxy.Kind.HTTP, up.address());
    TcpSplicer sp = start(builder(BY_NAME).egress(Egress.through(px.egress(null, null))));
    roundTrip(sp, "hello through the proxy");
    assertThat(px.requested).containsExactly(COURIER + ":5223");
    assertThat(px.details).containsExactly(COURIER + ":5223"); // the Host header
    assertThat(px.credentials).isEmpty();
    assertThat(up.accepted.get()).isEqualTo(1);
    assertQuiet(sp);
  }

  @Test
  void socks5AsksWithADomainNameAndSendsRfc1929Credentials() throws Exception {
    TestServer up = echo();
    TestEgressProxy px = proxy(TestEgressProxy.Kind.SOCKS5, up.address());
    px.requireUser = "apns";
    px.requirePass = "s3cret pass";
    TcpSplicer sp =
        start(builder(BY_NAME).egress(Egress.through(px.egress("apns", "s3cret pass"))));
    roundTrip(sp, "socks");
    assertThat(px.requested).containsExactly(COURIER + ":5223");
    assertThat(px.details).containsExactly("3"); // address type 3: a domain name
    assertThat(px.credentials).containsExactly("apns:s3cret pass");
    assertQuiet(sp);
  }

  @Test
  void httpBasicCredentialsAreSentAndNeverLogged() throws Exception {
    TestServer up = echo();
    TestEgressProxy good = proxy(TestEgressProxy.Kind.HTTP, up.address());
    good.requireUser = "apns";
    good.requirePass = "pa:ss@word";
    TestEgressProxy wrong = proxy(TestEgressProxy.Kind.HTTP, up.address());
    wrong.requireUser = "apns";
    wrong.requirePass = "other";
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    TcpSplicer sp;
    System.setErr(new PrintStream(new TeeStream(err, captured), true, StandardCharsets.UTF_8));
    try {
      // the first proxy rejects the credentials (407, logged at WARN), the second takes them
      Egress egress =
          Egress.through(wrong.egress("apns", "pa:ss@word"), good.egress("apns", "pa:ss@word"));
      sp = start(builder(BY_NAME).egress(egress));
      roundTrip(sp, "authorized");
      assertQuiet(sp);
      assertThat(egress.toString()).contains("apns:***@").doesNotContain("pa:ss@word");
    } finally {
      System.setErr(err);
    }
    String basic = "Basic " + Base64.getEncoder().encodeToString(ascii("apns:pa:ss@word"));
    assertThat(good.credentials).containsExactly(basic);
    assertThat(sp.stats().egressProxyRefusals()).isEqualTo(1);
    String log = captured.toString(StandardCharsets.UTF_8);
    assertThat(log).contains("rejected the credentials of user 'apns'");
    assertThat(log).doesNotContain("pa:ss@word").doesNotContain(basic.substring(6));
    assertThat(sp.stats().toString()).doesNotContain("pa:ss@word");
  }

  @Test
  void failsOverToTheSecondProxyWhenTheFirstRefusesTheConnection() throws Exception {
    TestServer up = echo();
    TestEgressProxy second = proxy(TestEgressProxy.Kind.HTTP, up.address());
    InetSocketAddress dead = refusingAddress();
    EgressProxy first =
        EgressProxy.of(EgressProxy.Scheme.HTTP, dead.getAddress().getHostAddress(), dead.getPort());
    TcpSplicer sp =
        start(builder(BY_NAME).egress(Egress.through(first, second.egress(null, null))));
    roundTrip(sp, "failover");
    assertThat(second.requested).containsExactly(COURIER + ":5223");
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);
    // the dead proxy is remembered: the next connection goes to the second one first
    roundTrip(sp, "again");
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);
    assertQuiet(sp);
  }

  @Test
  void failsOverWhenTheFirstProxyStallsOrAnswers5xx() throws Exception {
    TestServer up = echo();
    TestEgressProxy stalling = proxy(TestEgressProxy.Kind.HTTP, up.address());
    stalling.stall = true;
    TestEgressProxy failing = proxy(TestEgressProxy.Kind.HTTP, up.address());
    failing.answer = 503;
    TestEgressProxy working = proxy(TestEgressProxy.Kind.SOCKS5, up.address());
    TcpSplicer sp =
        start(
            builder(BY_NAME)
                .connectTimeout(Duration.ofMillis(500))
                .egress(
                    Egress.through(
                        stalling.egress(null, null),
                        failing.egress(null, null),
                        working.egress(null, null))));
    roundTrip(sp, "stall then 503 then socks");
    assertThat(stalling.requested).containsExactly(COURIER + ":5223");
    assertThat(failing.requested).containsExactly(COURIER + ":5223");
    assertThat(working.requested).containsExactly(COURIER + ":5223");
    assertThat(sp.stats().egressProxyFailures()).isEqualTo(2);
    assertThat(sp.stats().egressProxyRefusals()).isZero();
    assertQuiet(sp);
  }

  @Test
  void forbiddenAndAuthenticationRequiredAreConfigurationProblems() throws Exception {
    TestServer up = echo();
    TestEgressProxy forbidding = proxy(TestEgressProxy.Kind.HTTP, up.address());
    forbidding.answer = 403;
    TestEgressProxy authing = proxy(TestEgressProxy.Kind.HTTP, up.address());
    authing.requireUser = "u";
    authing.requirePass = "p";
    TestEgressProxy socksDenying = proxy(TestEgressProxy.Kind.SOCKS5, up.address());
    socksDenying.answer = 2; // not allowed by ruleset
    TcpSplicer sp =
        start(
            builder(BY_NAME)
                .egress(
                    Egress.through(
                        forbidding.egress(null, null),
                        authing.egress(null, null),
                        socksDenying.egress(null, null))));
    Socket c = connect(entry(sp));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    assertQuiet(sp);
    assertThat(sp.stats().egressProxyRefusals()).isEqualTo(3);
    assertThat(sp.stats().egressProxyFailures()).isZero();
    assertThat(sp.stats().closed(CloseReason.CONNECT_FAILED)).isEqualTo(1);
    assertThat(up.accepted.get()).isZero();
  }

  @Test
  void socksGeneralFailureMovesOnAndIsNotAConfigurationProblem() throws Exception {
    TestServer up = echo();
    TestEgressProxy failing = proxy(TestEgressProxy.Kind.SOCKS5, up.address());
    failing.answer = 1;
    TestEgressProxy working = proxy(TestEgressProxy.Kind.HTTP, up.address());
    TcpSplicer sp =
        start(
            builder(BY_NAME)
                .egress(Egress.through(failing.egress(null, null), working.egress(null, null))));
    roundTrip(sp, "general failure");
    assertThat(sp.stats().egressProxyFailures()).isEqualTo(1);
    assertThat(sp.stats().egressProxyRefusals()).isZero();
    assertQuiet(sp);
  }

  @Test
  void upstreamBytesArrivingWithTheProxyAnswerReachTheClientFirst() throws Exception {
    TestServer up = echo();
    for (TestEgressProxy.Kind kind : TestEgressProxy.Kind.values()) {
      TestEgressProxy px = proxy(kind, up.address());
      px.afterOk = ascii("GREETING");
      TcpSplicer sp = start(builder(BY_NAME).egress(Egress.through(px.egress(null, null))));
      Socket c = connect(entry(sp));
      assertThat(readN(c.getInputStream(), 8)).isEqualTo(ascii("GREETING"));
      c.getOutputStream().write(ascii("then echo"));
      assertThat(readN(c.getInputStream(), 9)).isEqualTo(ascii("then echo"));
      c.close();
      assertQuiet(sp);
    }
  }

  @Test
  void clientBytesSentWhileTheTunnelOpensAreForwarded() throws Exception {
    TestServer up = echo();
    TestEgressProxy px = proxy(TestEgressProxy.Kind.HTTP, up.address());
    TcpSplicer sp = start(builder(BY_NAME).egress(Egress.through(px.egress(null, null))));
    Socket c = connect(entry(sp));
    byte[] early = new byte[100_000];
    for (int i = 0; i < early.length; i++) {
      early[i] = (byte) (i * 31);
    }
    c.getOutputStream().write(early); // written at once, before the tunnel is up
    assertThat(readN(c.getInputStream(), early.length)).isEqualTo(early);
    c.close();
    assertQuiet(sp);
  }

  @Test
  void thePlanRouterDoesNotResolveNamesTheProxyReaches() throws Exception {
    TestServer up = echo();
    TestEgressProxy px = proxy(TestEgressProxy.Kind.HTTP, up.address());
    AtomicInteger lookups = new AtomicInteger();
    UpstreamResolver resolver =
        host -> {
          lookups.incrementAndGet();
          return CompletableFuture.failedFuture(new java.net.UnknownHostException(host));
        };
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
      port = probe.getLocalPort();
    }
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .courierVariants(List.of("courier"))
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .build();
    InetAddress virtual =
        plan.addressesFor(ApnsHost.courier(2), InetAddress.getLoopbackAddress()).get(0);
    Egress egress = Egress.through(px.egress(null, null));
    AddressPolicy policy = new AddressPolicy(CidrSet.any(), AddressPolicy.APPLE_APNS);
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(new InetSocketAddress(virtual, port))
                .loops(1)
                .router(Router.fromPlan(plan, resolver, policy, egress))
                .egress(egress));
    roundTrip(sp, "plan host by name");
    assertThat(px.requested).containsExactly("2-courier.push.apple.com:" + port);
    assertThat(lookups.get()).isZero();
    assertQuiet(sp);
  }

  @Test
  void aNameWithoutAProxyFailsClearlyWithDirectEgress() throws Exception {
    TcpSplicer sp = start(builder(BY_NAME));
    Socket c = connect(entry(sp));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    assertQuiet(sp);
    assertThat(sp.stats().closed(CloseReason.CONNECT_FAILED)).isEqualTo(1);
  }

  @Test
  void aDeadFirstAddressIsTriedLastForAWhile() throws Exception {
    TestServer up = echo();
    InetSocketAddress dead = refusingAddress();
    TcpSplicer sp = start(builder(fixed(dead, up.address())));
    roundTrip(sp, "one");
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);
    roundTrip(sp, "two");
    roundTrip(sp, "three");
    // before: every connection paid for the dead address first (3 failures)
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);
    assertQuiet(sp);
  }

  @Test
  void withoutMemoryEveryConnectionTriesTheDeadAddressFirst() throws Exception {
    TestServer up = echo();
    InetSocketAddress dead = refusingAddress();
    TcpSplicer sp = start(builder(fixed(dead, up.address())).failedUpstreamMemory(Duration.ZERO));
    roundTrip(sp, "one");
    roundTrip(sp, "two");
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(2);
    assertQuiet(sp);
  }

  @Test
  void anUpstreamAnswerPointingAtThePlanIsRefusedNotSplicedToItself() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
      port = probe.getLocalPort();
    }
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .courierVariants(List.of("courier"))
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .build();
    InetAddress virtual =
        plan.addressesFor(ApnsHost.courier(1), InetAddress.getLoopbackAddress()).get(0);
    // a hosts line or a forwarding resolver that sends the courier name back to this proxy's
    // virtual address
    UpstreamResolver loopingDns = host -> CompletableFuture.completedFuture(List.of(virtual));
    AddressPolicy policy = new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8"));
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(new InetSocketAddress(virtual, port))
                .loops(1)
                .maxConnections(50)
                .router(Router.fromPlan(plan, loopingDns, policy)));
    Socket c = connect(entry(sp));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    assertQuiet(sp);
    assertThat(sp.stats().accepted())
        .isEqualTo(1); // before: one hop per accepted connection, up to the limit
    assertThat(sp.stats().rejected(RejectReason.SELF_LOOP)).isEqualTo(1);
    assertThat(sp.stats().selfLoopRefusals()).isEqualTo(1);
    assertThat(sp.stats().closed(CloseReason.TARGET_REFUSED)).isEqualTo(1);
  }

  @Test
  void aPlanSwappedInIsGuardedAgainstSelfLoopsToo() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
      port = probe.getLocalPort();
    }
    AddressPlan before =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .courierVariants(List.of("courier"))
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .build();
    // a reload adds a site: the new plan's addresses are this proxy as well
    AddressPlan after =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .site(Cidr.parse("127.100.103.0/24"))
            .courierCount(3)
            .courierVariants(List.of("courier"))
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .build();
    InetAddress virtual =
        before.addressesFor(ApnsHost.courier(1), InetAddress.getLoopbackAddress()).get(0);
    InetAddress newSite = InetAddress.getByName("127.100.103.2");
    // a resolver that answers the courier name with an address of the site the reload added
    UpstreamResolver loopingDns = host -> CompletableFuture.completedFuture(List.of(newSite));
    AddressPolicy policy = new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8"));
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(new InetSocketAddress(virtual, port))
                .loops(1)
                .maxConnections(50)
                .router(Router.fromPlan(before, loopingDns, policy)));
    sp.update(Router.fromPlan(after, loopingDns, policy), policy);
    Socket c = connect(entry(sp));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    assertQuiet(sp);
    assertThat(sp.stats().rejected(RejectReason.SELF_LOOP)).isEqualTo(1);
    assertThat(sp.stats().upstreamConnectFailures()).isZero(); // never even tried
  }

  @Test
  void configuredNetworksOfOtherNodesAreNeverConnectedTo() throws Exception {
    TestServer other = track(TestServer.echo(TestServer.at("127.0.2.9", 0)));
    TcpSplicer sp =
        start(builder(fixed(other.address())).neverConnectTo(CidrSet.parse("127.0.2.0/24")));
    Socket c = connect(entry(sp));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    assertQuiet(sp);
    assertThat(sp.stats().rejected(RejectReason.SELF_LOOP)).isEqualTo(1);
    assertThat(other.accepted.get()).isZero();
  }

  @Test
  void theSplicersOwnListenAddressIsNeverAnUpstream() throws Exception {
    // a router that sends connections to the splicer's own listen address (bound before the route
    // is known)
    InetSocketAddress[] self = new InetSocketAddress[1];
    Router router = c -> CompletableFuture.completedFuture(Route.to("loop", List.of(self[0])));
    TcpSplicer sp = start(builder(router).maxConnections(50));
    self[0] = entry(sp);
    Socket c = connect(entry(sp));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    assertQuiet(sp);
    assertThat(sp.stats().accepted()).isEqualTo(1);
    assertThat(sp.stats().rejected(RejectReason.SELF_LOOP)).isEqualTo(1);
  }

  /** Writes to two streams. */
  private static final class TeeStream extends java.io.OutputStream {
    private final java.io.OutputStream a;
    private final java.io.OutputStream b;

    TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public void write(int c) throws IOException {
      a.write(c);
      synchronized (b) {
        b.write(c);
      }
    }

    @Override
    public void write(byte[] buf, int off, int len) throws IOException {
      a.write(buf, off, len);
      synchronized (b) {
        b.write(buf, off, len);
      }
    }
  }
}
