// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static io.github.apnsproxy.dns.DnsTestSupport.LOOPBACK_ANY_PORT;
import static io.github.apnsproxy.dns.DnsTestSupport.chain;
import static io.github.apnsproxy.dns.DnsTestSupport.ip;
import static io.github.apnsproxy.dns.DnsTestSupport.name;
import static io.github.apnsproxy.dns.DnsTestSupport.plan;
import static io.github.apnsproxy.dns.DnsTestSupport.query;
import static io.github.apnsproxy.dns.DnsTestSupport.resolver;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** The stock handlers with real upstream DNS servers (other {@link DnsServer}s) on loopback. */
class DnsHandlersTest {
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : resources) {
      c.close();
    }
  }

  /**
   * An upstream answering {@code *.example.org} and {@code 9-courier...} A 127.0.7.7, NXDOMAIN
   * otherwise.
   */
  private InetSocketAddress upstream(AtomicInteger queries) throws IOException {
    DnsAnswerHandler h =
        q -> {
          queries.incrementAndGet();
          Message m = new Message();
          m.getHeader().setFlag(Flags.RA);
          String n = q.question().getName().toString().toLowerCase(java.util.Locale.ROOT);
          if (n.endsWith("example.org.")
              || n.startsWith("9-courier.")
              || n.startsWith("other.push.")) {
            m.addRecord(
                new ARecord(q.question().getName(), DClass.IN, 42, ip("127.0.7.7")),
                Section.ANSWER);
          } else {
            m.getHeader().setRcode(Rcode.NXDOMAIN);
          }
          return CompletableFuture.completedFuture(Optional.of(m));
        };
    DnsServer s =
        DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(h).threads(1).build().start();
    resources.add(s);
    return s.udpAddresses().get(0);
  }

  /** A UDP socket that never answers: a dead upstream. */
  private InetSocketAddress dead() throws IOException {
    DatagramSocket s =
        new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    resources.add(s);
    return (InetSocketAddress) s.getLocalSocketAddress();
  }

  private InetSocketAddress serve(DnsAnswerHandler handler) throws IOException {
    DnsServer s =
        DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(handler).threads(1).build().start();
    resources.add(s);
    return s.udpAddresses().get(0);
  }

  @Test
  void forwardingRelaysTheAnswerWithTheClientsIdAndQuestionAndFailsOver() throws Exception {
    AtomicInteger upstreamQueries = new AtomicInteger();
    ForwardingHandler forwarder =
        ForwardingHandler.builder()
            .servers(List.of(dead(), upstream(upstreamQueries)))
            .timeout(Duration.ofMillis(300))
            .build();
    resources.add(forwarder);
    InetSocketAddress dns = serve(forwarderAfterPlan(forwarder));
    Message q = query("WwW.Example.ORG", Type.A);
    q.getHeader().setID(0x4242);
    Message r = resolver(dns, false).send(q);
    assertThat(r.getHeader().getID()).isEqualTo(0x4242);
    assertThat(r.getQuestion().getName().toString()).isEqualTo("WwW.Example.ORG.");
    assertThat(r.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(r.getHeader().getFlag(Flags.RA)).isTrue();
    assertThat(((ARecord) r.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress())
        .isEqualTo("127.0.7.7");
    assertThat(upstreamQueries.get()).isEqualTo(1);
    assertThat(forwarder.upstreamQueries()).isEqualTo(2); // the dead one, then the live one

    Message nx = resolver(dns, false).send(query("nothing.example.net", Type.A));
    assertThat(nx.getRcode()).isEqualTo(Rcode.NXDOMAIN);
    // plan names never leave the proxy
    Message planned = resolver(dns, false).send(query("1-courier.push.apple.com", Type.A));
    assertThat(((ARecord) planned.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress())
        .isEqualTo("127.100.100.2");
    assertThat(upstreamQueries.get()).isEqualTo(2);
  }

  private static DnsAnswerHandler forwarderAfterPlan(ForwardingHandler forwarder) {
    AddressPlan plan = plan();
    return DnsAnswerHandler.firstOf(
        PlanHostsHandler.builder(plan).build(), ZoneApexHandler.builder(plan).build(), forwarder);
  }

  @Test
  void zoneTransfersAndMailboxQueriesAreNotForwarded() throws Exception {
    AtomicInteger upstreamQueries = new AtomicInteger();
    ForwardingHandler forwarder =
        ForwardingHandler.builder().servers(List.of(upstream(upstreamQueries))).build();
    resources.add(forwarder);
    InetSocketAddress dns = serve(forwarder);
    for (int type : new int[] {Type.AXFR, Type.IXFR, Type.MAILA, Type.MAILB}) {
      // raw UDP: dnsjava's resolver would run its own zone-transfer client for AXFR
      Message r = DnsTestSupport.udpExchange(dns, query("example.org", type).toWire());
      assertThat(r.getRcode()).as(Type.string(type)).isEqualTo(Rcode.NOTIMP);
    }
    assertThat(upstreamQueries.get()).isZero();
    assertThat(resolver(dns, false).send(query("example.org", Type.A)).getRcode())
        .isEqualTo(Rcode.NOERROR);
  }

  @Test
  void aLabelWithAnEscapedDotIsNotInsideTheZone() throws Exception {
    InetSocketAddress dns =
        serve(
            DnsAnswerHandler.firstOf(
                ZoneApexHandler.builder(plan()).build(), DnsAnswerHandler.refusing()));
    // one label "x.push" under apple.com: its text form x\.push.apple.com only looks like a
    // push.apple.com name
    Name outside = Name.concatenate(new Name("x\\.push"), new Name("apple.com."));
    assertThat(outside.labels()).isEqualTo(4);
    Message r =
        resolver(dns, false).send(Message.newQuery(Record.newRecord(outside, Type.A, DClass.IN)));
    assertThat(r.getRcode()).isEqualTo(Rcode.REFUSED);
    Message inside = resolver(dns, false).send(query("x.push.apple.com", Type.A));
    assertThat(inside.getRcode()).isEqualTo(Rcode.NXDOMAIN);
  }

  @Test
  void forwardingWithEveryUpstreamDeadIsServfail() throws Exception {
    ForwardingHandler forwarder =
        ForwardingHandler.builder()
            .servers(List.of(dead(), dead()))
            .timeout(Duration.ofMillis(200))
            .build();
    resources.add(forwarder);
    InetSocketAddress dns = serve(forwarder);
    Message r = resolver(dns, false).send(query("www.example.org", Type.A));
    assertThat(r.getRcode()).isEqualTo(Rcode.SERVFAIL);
  }

  @Test
  void zoneNamesOutsideThePlanAreForwardedWhenConfigured() throws Exception {
    AtomicInteger upstreamQueries = new AtomicInteger();
    ForwardingHandler forwarder =
        ForwardingHandler.builder().servers(List.of(upstream(upstreamQueries))).build();
    resources.add(forwarder);
    AddressPlan plan = plan();
    InetSocketAddress dns =
        serve(
            DnsAnswerHandler.firstOf(
                PlanHostsHandler.builder(plan).build(),
                ZoneApexHandler.builder(plan).otherNames(ZoneOther.FORWARD, forwarder).build(),
                DnsAnswerHandler.refusing()));
    Message r = resolver(dns, false).send(query("other.push.apple.com", Type.A));
    assertThat(((ARecord) r.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress())
        .isEqualTo("127.0.7.7");
    Message outside = resolver(dns, false).send(query("www.example.org", Type.A));
    assertThat(outside.getRcode()).isEqualTo(Rcode.REFUSED);
    assertThat(upstreamQueries.get()).isEqualTo(1);
    assertThatThrownBy(() -> ZoneApexHandler.builder(plan).otherNames(ZoneOther.FORWARD, null))
        .hasMessageContaining("forwarder");
  }

  @Test
  void upstreamCheckGivesNxdomainForNamesTheRealDnsDoesNotKnowAndThePlanWhenUpstreamFails()
      throws Exception {
    AddressPlan plan = plan();
    UpstreamResolver known =
        UpstreamResolver.fixed(Map.of("9-courier.push.apple.com", List.of(ip("127.0.1.9"))));
    DnsAnswerHandler checked = PlanHostsHandler.builder(plan).upstreamCheck(known).build();
    InetSocketAddress dns = serve(checked);
    Message ok = resolver(dns, false).send(query("9-courier.push.apple.com", Type.A));
    assertThat(((ARecord) ok.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress())
        .isEqualTo("127.100.100.10");
    Message unknown = resolver(dns, false).send(query("8-courier.push.apple.com", Type.A));
    assertThat(unknown.getRcode()).isEqualTo(Rcode.NXDOMAIN);
    assertThat(unknown.getSection(Section.AUTHORITY)).hasSize(1);

    UpstreamResolver down =
        host -> CompletableFuture.failedFuture(new IOException("all upstreams down (test)"));
    InetSocketAddress fallback = serve(PlanHostsHandler.builder(plan).upstreamCheck(down).build());
    Message planAnswer = resolver(fallback, false).send(query("8-courier.push.apple.com", Type.A));
    assertThat(
            ((ARecord) planAnswer.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress())
        .isEqualTo("127.100.100.9");
  }

  @Test
  void theWireEntryAnswersBytesForAHostsOwnServer() throws Exception {
    DnsResponder responder = DnsResponder.builder(chain(plan())).build();
    InetSocketAddress client = new InetSocketAddress(ip("127.0.0.9"), 5353);
    Message q = query("2-courier.sandbox.push.apple.com", Type.A);
    byte[] reply =
        responder
            .respond(q.toWire(), client, DnsTransport.UDP)
            .toCompletableFuture()
            .get(2, TimeUnit.SECONDS)
            .orElseThrow();
    Message r = new Message(reply);
    assertThat(r.getHeader().getID()).isEqualTo(q.getHeader().getID());
    AddressPlan plan = plan();
    InetAddress expected =
        plan.addressesFor(
                plan.hostNames().parse("2-courier.sandbox.push.apple.com"), client.getAddress())
            .get(0);
    assertThat(((ARecord) r.getSection(Section.ANSWER).get(0)).getAddress()).isEqualTo(expected);
    // the caller's size limit is honoured even over TCP
    Message big = new Message();
    for (int i = 0; i < 50; i++) {
      big.addRecord(
          new ARecord(name("h" + i + ".x.test"), DClass.IN, 1, ip("127.0.8." + i)), Section.ANSWER);
    }
    DnsResponder bigResponder =
        DnsResponder.builder(x -> CompletableFuture.completedFuture(Optional.of(big))).build();
    byte[] wire = query("x.test", Type.A).toWire();
    byte[] cut =
        bigResponder
            .respond(wire, wire.length, client, DnsTransport.TCP, 300)
            .toCompletableFuture()
            .get(2, TimeUnit.SECONDS)
            .orElseThrow();
    assertThat(cut.length).isLessThanOrEqualTo(300);
    assertThat(new Message(cut).getHeader().getFlag(Flags.TC)).isTrue();
    assertThatThrownBy(
            () -> bigResponder.respond(wire, wire.length + 1, client, DnsTransport.UDP, 512))
        .isInstanceOf(IndexOutOfBoundsException.class);
    // fewer than 12 bytes: nothing to send
    assertThat(
            responder
                .respond(new byte[5], client, DnsTransport.UDP)
                .toCompletableFuture()
                .get(2, TimeUnit.SECONDS))
        .isEmpty();
  }

  @Test
  void theChainSkipsPassingHandlersAndStopsAtTheFirstAnswer() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    DnsAnswerHandler pass =
        q -> {
          calls.incrementAndGet();
          return CompletableFuture.completedFuture(Optional.empty());
        };
    CompletableFuture<Optional<Message>> later = new CompletableFuture<>();
    DnsAnswerHandler laterPass = q -> later;
    DnsAnswerHandler chain =
        DnsAnswerHandler.firstOf(pass, laterPass, pass, DnsAnswerHandler.refusing(), pass);
    DnsQuery q =
        new DnsQuery(
            query("a.test", Type.A), new InetSocketAddress(ip("127.0.0.1"), 1), DnsTransport.UDP);
    CompletableFuture<Optional<Message>> answer = chain.answer(q).toCompletableFuture();
    assertThat(answer).isNotDone();
    later.complete(Optional.empty());
    Message m = answer.get(2, TimeUnit.SECONDS).orElseThrow();
    assertThat(m.getRcode()).isEqualTo(Rcode.REFUSED);
    assertThat(calls.get()).isEqualTo(2);
    assertThat(DnsAnswerHandler.firstOf().answer(q).toCompletableFuture().get()).isEmpty();
    Record question = q.question();
    assertThat(question.getType()).isEqualTo(Type.A);
  }

  @Test
  void forwardedAnswersAndFailuresCompleteOnTheForwardersOwnThread() throws Exception {
    AtomicInteger upstreamQueries = new AtomicInteger();
    ForwardingHandler forwarder =
        ForwardingHandler.builder().servers(List.of(upstream(upstreamQueries))).build();
    resources.add(forwarder);
    InetSocketAddress client = new InetSocketAddress("127.0.0.1", 5353);
    String answered =
        forwarder
            .answer(new DnsQuery(query("www.example.org", Type.A), client, DnsTransport.UDP))
            .thenApply(m -> Thread.currentThread().getName())
            .toCompletableFuture()
            .get(5, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(answered).isEqualTo("apns-proxy-dns-forward");

    ForwardingHandler dead =
        ForwardingHandler.builder()
            .servers(List.of(dead()))
            .timeout(Duration.ofMillis(200))
            .build();
    resources.add(dead);
    String failed =
        dead.answer(new DnsQuery(query("www.example.org", Type.A), client, DnsTransport.UDP))
            .thenApply(m -> Thread.currentThread().getName())
            .toCompletableFuture()
            .get(5, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(failed)
        .as("a timeout, failed by dnsjava's I/O thread, is handed over")
        .isEqualTo("apns-proxy-dns-forward");
  }
}
