// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static io.github.apnsproxy.dns.DnsTestSupport.LOOPBACK_ANY_PORT;
import static io.github.apnsproxy.dns.DnsTestSupport.chain;
import static io.github.apnsproxy.dns.DnsTestSupport.ip;
import static io.github.apnsproxy.dns.DnsTestSupport.name;
import static io.github.apnsproxy.dns.DnsTestSupport.plan;
import static io.github.apnsproxy.dns.DnsTestSupport.query;
import static io.github.apnsproxy.dns.DnsTestSupport.resolver;
import static io.github.apnsproxy.dns.DnsTestSupport.udp;
import static io.github.apnsproxy.dns.DnsTestSupport.udpExchange;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.dns.DnsTestSupport.TcpClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.ExtendedFlags;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.NSRecord;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

class DnsServerTest {
  private final List<DnsServer> servers = new ArrayList<>();

  @AfterEach
  void closeServers() {
    servers.forEach(DnsServer::close);
  }

  private DnsServer start(DnsAnswerHandler handler) throws IOException {
    return start(handler, b -> b);
  }

  private DnsServer start(DnsAnswerHandler handler, UnaryOperator<DnsServer.Builder> custom)
      throws IOException {
    DnsServer s =
        custom.apply(DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(handler)).build();
    servers.add(s);
    return s.start();
  }

  private InetSocketAddress startPlan() throws IOException {
    return start(chain(plan())).udpAddresses().get(0);
  }

  private static List<String> addresses(Message m) {
    List<String> out = new ArrayList<>();
    for (Record r : m.getSection(Section.ANSWER)) {
      if (r instanceof ARecord a) {
        out.add(a.getAddress().getHostAddress());
      } else if (r instanceof org.xbill.DNS.AAAARecord a) {
        out.add(a.getAddress().getHostAddress());
      }
    }
    return out;
  }

  private static SOARecord soa(Message m) {
    List<Record> auth = m.getSection(Section.AUTHORITY);
    assertThat(auth).hasSize(1);
    assertThat(auth.get(0)).isInstanceOf(SOARecord.class);
    return (SOARecord) auth.get(0);
  }

  @Test
  void answersACourierOverUdpAndTcpWithTheVirtualAddress() throws Exception {
    InetSocketAddress dns = startPlan();
    for (boolean tcp : new boolean[] {false, true}) {
      Message q = query("17-courier.push.apple.com", Type.A);
      Message r = resolver(dns, tcp).send(q);
      assertThat(r.getRcode()).isEqualTo(Rcode.NOERROR);
      assertThat(r.getHeader().getID()).isEqualTo(q.getHeader().getID());
      assertThat(r.getHeader().getFlag(Flags.QR)).isTrue();
      assertThat(r.getHeader().getFlag(Flags.AA)).isTrue();
      assertThat(r.getHeader().getFlag(Flags.RD)).isTrue();
      assertThat(r.getHeader().getFlag(Flags.RA)).isTrue();
      assertThat(r.getQuestion()).isEqualTo(q.getQuestion());
      assertThat(addresses(r)).containsExactly("127.100.100.18");
      assertThat(r.getSection(Section.ANSWER).get(0).getTTL()).isEqualTo(30);
    }
    DnsStats stats = servers.get(0).stats();
    assertThat(stats.udpQueries()).isEqualTo(1);
    assertThat(stats.tcpQueries()).isEqualTo(1);
    assertThat(stats.answers("noerror")).isEqualTo(2);
  }

  @Test
  void answersEveryNameFormOfThePlan() throws Exception {
    InetSocketAddress dns = startPlan();
    AddressPlan plan = plan();
    SimpleResolver r = resolver(dns, false);
    String[] names = {
      "0-courier.push.apple.com",
      "50-courier2.push.apple.com",
      "017.courier.push.apple.com",
      "3-courier.sandbox.push.apple.com",
      "init.push.apple.com",
      "init-p01st.push.apple.com",
      "init.sandbox.push.apple.com",
      "api.push.apple.com",
      "api.sandbox.push.apple.com"
    };
    for (String n : names) {
      Message m = r.send(query(n, Type.A));
      InetAddress expected = plan.addressesFor(plan.hostNames().parse(n), ip("127.0.0.1")).get(0);
      assertThat(addresses(m)).as(n).containsExactly(expected.getHostAddress());
    }
  }

  @Test
  void severalSitesGiveOneRecordEachInRotatingOrder() throws Exception {
    AddressPlan plan =
        AddressPlan.builder()
            .site(AddressPlan.Site.of("a", Cidr.parse("127.100.100.0/24")))
            .site(AddressPlan.Site.of("b", Cidr.parse("127.100.101.0/24")))
            .build();
    InetSocketAddress dns = start(chain(plan)).udpAddresses().get(0);
    Set<String> firsts = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      Message m = resolver(dns, false).send(query("1-courier.push.apple.com", Type.A));
      assertThat(addresses(m)).containsExactlyInAnyOrder("127.100.100.2", "127.100.101.2");
      firsts.add(addresses(m).get(0));
    }
    assertThat(firsts).hasSize(2);
  }

  @Test
  void aaaaIsTheIpv6AddressOrNodataWithSoa() throws Exception {
    InetSocketAddress v4only = startPlan();
    Message nodata = resolver(v4only, false).send(query("17-courier.push.apple.com", Type.AAAA));
    assertThat(nodata.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(nodata.getSection(Section.ANSWER)).isEmpty();
    SOARecord soa = soa(nodata);
    assertThat(soa.getName()).isEqualTo(name("push.apple.com"));
    assertThat(soa.getMinimum()).isEqualTo(30);
    assertThat(soa.getTTL()).isEqualTo(30);

    AddressPlan dual =
        AddressPlan.builder()
            .site(
                new AddressPlan.Site(
                    "main",
                    Cidr.parse("127.100.100.0/24"),
                    Cidr.parse("fd00:100::/120"),
                    CidrSet.any()))
            .build();
    InetSocketAddress dns = start(chain(dual)).udpAddresses().get(0);
    Message m = resolver(dns, false).send(query("17-courier.push.apple.com", Type.AAAA));
    assertThat(addresses(m)).containsExactly("fd00:100:0:0:0:0:0:12");
  }

  @Test
  void otherTypesOfPlanNamesAreNodataWithTheNegativeTtl() throws Exception {
    AddressPlan plan = plan();
    DnsAnswerHandler handler =
        DnsAnswerHandler.firstOf(
            PlanHostsHandler.builder(plan).negativeTtl(Duration.ofSeconds(45)).build(),
            DnsAnswerHandler.refusing());
    InetSocketAddress dns = start(handler).udpAddresses().get(0);
    for (int type : new int[] {Type.HTTPS, Type.SVCB, Type.TXT, Type.MX, Type.ANY, Type.CNAME}) {
      Message m = resolver(dns, false).send(query("5-courier.sandbox.push.apple.com", type));
      assertThat(m.getRcode()).as(Type.string(type)).isEqualTo(Rcode.NOERROR);
      assertThat(m.getSection(Section.ANSWER)).as(Type.string(type)).isEmpty();
      SOARecord soa = soa(m);
      assertThat(soa.getName()).isEqualTo(name("sandbox.push.apple.com"));
      assertThat(soa.getMinimum()).isEqualTo(45);
    }
  }

  @Test
  void couriersAboveTheCountAndUnknownZoneNamesAreNxdomainParentsAreNodata() throws Exception {
    InetSocketAddress dns = startPlan();
    SimpleResolver r = resolver(dns, false);
    for (String n :
        new String[] {
          "51-courier.push.apple.com",
          "99999999999-courier.push.apple.com",
          "1-courier7.push.apple.com",
          "www.push.apple.com",
          "x.y.sandbox.push.apple.com"
        }) {
      Message m = r.send(query(n, Type.A));
      assertThat(m.getRcode()).as(n).isEqualTo(Rcode.NXDOMAIN);
      assertThat(m.getHeader().getFlag(Flags.AA)).isTrue();
      soa(m);
    }
    Message parent = r.send(query("courier.push.apple.com", Type.A));
    assertThat(parent.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(parent.getSection(Section.ANSWER)).isEmpty();
    soa(parent);
  }

  @Test
  void zoneApexAnswersSoaNsWithGlueAndTxtCount() throws Exception {
    InetSocketAddress dns = startPlan();
    SimpleResolver r = resolver(dns, false);
    Message txt = r.send(query("push.apple.com", Type.TXT));
    assertThat(((TXTRecord) txt.getSection(Section.ANSWER).get(0)).getStrings())
        .containsExactly("count=50");
    Message sandboxTxt = r.send(query("sandbox.push.apple.com", Type.TXT));
    assertThat(((TXTRecord) sandboxTxt.getSection(Section.ANSWER).get(0)).getStrings())
        .containsExactly("count=50");
    Message soa = r.send(query("push.apple.com", Type.SOA));
    assertThat(soa.getSection(Section.ANSWER).get(0)).isInstanceOf(SOARecord.class);
    Message ns = r.send(query("sandbox.push.apple.com", Type.NS));
    assertThat(((NSRecord) ns.getSection(Section.ANSWER).get(0)).getTarget())
        .isEqualTo(name("ns.push.apple.com"));
    assertThat(ns.getSection(Section.ADDITIONAL))
        .anySatisfy(
            rec -> {
              assertThat(rec).isInstanceOf(ARecord.class);
              assertThat(((ARecord) rec).getAddress().getHostAddress()).isEqualTo("127.0.0.53");
            });
    Message apexA = r.send(query("push.apple.com", Type.A));
    assertThat(apexA.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(apexA.getSection(Section.ANSWER)).isEmpty();
    soa(apexA);

    AddressPlan plan = plan();
    InetSocketAddress custom =
        start(ZoneApexHandler.builder(plan).txtCount(7).build()).udpAddresses().get(0);
    Message seven = resolver(custom, false).send(query("push.apple.com", Type.TXT));
    assertThat(((TXTRecord) seven.getSection(Section.ANSWER).get(0)).getStrings())
        .containsExactly("count=7");
  }

  @Test
  void namesOutsideTheZonesAreRefused() throws Exception {
    Message m = resolver(startPlan(), false).send(query("example.com", Type.A));
    assertThat(m.getRcode()).isEqualTo(Rcode.REFUSED);
    assertThat(m.getHeader().getFlag(Flags.AA)).isFalse();
  }

  @Test
  void mixedCaseQuestionIsEchoedExactly() throws Exception {
    InetSocketAddress dns = startPlan();
    Message q = query("17-CoUrIeR.PuSh.aPPle.CoM", Type.A);
    byte[] reply = udp(dns, q.toWire(), Duration.ofSeconds(3)).orElseThrow();
    Message r = new Message(reply);
    assertThat(r.getQuestion().getName().toString()).isEqualTo("17-CoUrIeR.PuSh.aPPle.CoM.");
    assertThat(r.getSection(Section.ANSWER).get(0).getName().toString())
        .isEqualTo("17-CoUrIeR.PuSh.aPPle.CoM.");
    // the raw bytes too: the question section follows the 12-byte header
    byte[] qWire = q.toWire();
    int qLength = qWire.length - 12;
    assertThat(java.util.Arrays.copyOfRange(reply, 12, 12 + qLength))
        .isEqualTo(java.util.Arrays.copyOfRange(qWire, 12, 12 + qLength));
  }

  @Test
  void idAndRdAreEchoedAndRaMirrorsRd() throws Exception {
    InetSocketAddress dns = startPlan();
    Message q = query("3-courier.push.apple.com", Type.A);
    q.getHeader().unsetFlag(Flags.RD);
    q.getHeader().setID(0xBEEF);
    Message r = udpExchange(dns, q.toWire());
    assertThat(r.getHeader().getID()).isEqualTo(0xBEEF);
    assertThat(r.getHeader().getFlag(Flags.RD)).isFalse();
    assertThat(r.getHeader().getFlag(Flags.RA)).isFalse();
    assertThat(r.getHeader().getFlag(Flags.AA)).isTrue();
    assertThat(r.getHeader().getOpcode()).isEqualTo(Opcode.QUERY);
  }

  /**
   * A handler answering {@code big.example.} with 100 A records of distinct owners (one RRset each,
   * so truncation, which drops whole RRsets, fills the message up to the limit).
   */
  private static DnsAnswerHandler big() {
    return q -> {
      if (!q.question().getName().equals(name("big.example"))) {
        return CompletableFuture.completedFuture(Optional.empty());
      }
      Message m = new Message();
      for (int i = 0; i < 100; i++) {
        m.addRecord(
            new ARecord(name("h" + i + ".big.example"), DClass.IN, 60, ip("127.0.9." + i)),
            Section.ANSWER);
      }
      return CompletableFuture.completedFuture(Optional.of(m));
    };
  }

  private static byte[] withEdns(Message q, int payload, int version) {
    q.addRecord(new OPTRecord(payload, 0, version), Section.ADDITIONAL);
    return q.toWire();
  }

  @Test
  void udpSizeFollowsEdnsWithinLimitsAndTruncatesWithTc() throws Exception {
    InetSocketAddress dns =
        start(DnsAnswerHandler.firstOf(big(), chain(plan()))).udpAddresses().get(0);
    int[][] cases = {{-1, 512}, {100, 512}, {512, 512}, {1000, 1000}, {1232, 1232}, {4096, 1232}};
    for (int[] c : cases) {
      Message q = query("big.example", Type.A);
      byte[] wire = c[0] < 0 ? q.toWire() : withEdns(q, c[0], 0);
      byte[] reply = udp(dns, wire, Duration.ofSeconds(3)).orElseThrow();
      Message r = new Message(reply);
      assertThat(reply.length)
          .as("payload %d", c[0])
          .isLessThanOrEqualTo(c[1])
          .isGreaterThan(c[1] - 60);
      assertThat(r.getHeader().getFlag(Flags.TC)).isTrue();
      assertThat(r.getSection(Section.ANSWER).size()).isLessThan(100);
      if (c[0] < 0) {
        assertThat(r.getOPT()).isNull();
      } else {
        assertThat(r.getOPT()).as("OPT echoed").isNotNull();
        assertThat(r.getOPT().getPayloadSize()).isEqualTo(1232);
      }
    }
    assertThat(servers.get(0).stats().truncated()).isEqualTo(cases.length);
    // a normal client then retries over TCP and gets everything
    Message full = resolver(dns, false).send(query("big.example", Type.A));
    assertThat(full.getHeader().getFlag(Flags.TC)).isFalse();
    assertThat(full.getSection(Section.ANSWER)).hasSize(100);
  }

  @Test
  void theDoBitIsCopiedIntoTheAnswer() throws Exception {
    InetSocketAddress dns = startPlan();
    Message with = query("1-courier.push.apple.com", Type.A);
    with.addRecord(new OPTRecord(1232, 0, 0, ExtendedFlags.DO), Section.ADDITIONAL);
    Message r = udpExchange(dns, with.toWire());
    assertThat(r.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(r.getOPT().getFlags() & ExtendedFlags.DO)
        .as("DO copied (RFC 3225)")
        .isEqualTo(ExtendedFlags.DO);
    Message without =
        udpExchange(dns, withEdns(query("1-courier.push.apple.com", Type.A), 1232, 0));
    assertThat(without.getOPT().getFlags() & ExtendedFlags.DO).isZero();
  }

  @Test
  void ednsVersionAboveZeroGetsBadvers() throws Exception {
    InetSocketAddress dns = startPlan();
    Message r = udpExchange(dns, withEdns(query("1-courier.push.apple.com", Type.A), 1232, 1));
    assertThat(r.getRcode()).isEqualTo(Rcode.BADVERS);
    assertThat(r.getOPT()).isNotNull();
    assertThat(r.getOPT().getVersion()).isZero();
    assertThat(r.getSection(Section.ANSWER)).isEmpty();
  }

  @Test
  void malformedQueriesGetFormerrNotimpOrNothing() throws Exception {
    InetSocketAddress dns = startPlan();
    Duration shortWait = Duration.ofMillis(300);
    // fewer than 12 bytes: dropped
    assertThat(udp(dns, new byte[] {1, 2, 3, 4, 5}, shortWait)).isEmpty();
    // a response (QR=1): never answered
    Message response = query("1-courier.push.apple.com", Type.A);
    response.getHeader().setFlag(Flags.QR);
    assertThat(udp(dns, response.toWire(), shortWait)).isEmpty();
    // QDCOUNT 0 and 2: FORMERR
    Message none = new Message(0x1111);
    assertThat(udpExchange(dns, none.toWire()).getRcode()).isEqualTo(Rcode.FORMERR);
    Message two = query("1-courier.push.apple.com", Type.A);
    two.addRecord(
        Record.newRecord(name("2-courier.push.apple.com"), Type.A, DClass.IN), Section.QUESTION);
    Message formerr = udpExchange(dns, two.toWire());
    assertThat(formerr.getRcode()).isEqualTo(Rcode.FORMERR);
    assertThat(formerr.getHeader().getID()).isEqualTo(two.getHeader().getID());
    // a header that parses, a body that does not: FORMERR with the ID
    byte[] truncatedBody =
        java.util.Arrays.copyOf(query("1-courier.push.apple.com", Type.A).toWire(), 20);
    truncatedBody[0] = 0x12;
    truncatedBody[1] = 0x34;
    Message broken = udpExchange(dns, truncatedBody);
    assertThat(broken.getRcode()).isEqualTo(Rcode.FORMERR);
    assertThat(broken.getHeader().getID()).isEqualTo(0x1234);
    // another opcode: NOTIMP
    for (int opcode : new int[] {Opcode.NOTIFY, Opcode.UPDATE, Opcode.STATUS, 3, 15}) {
      Message q = query("1-courier.push.apple.com", Type.A);
      q.getHeader().setOpcode(opcode);
      Message r = udpExchange(dns, q.toWire());
      assertThat(r.getRcode()).as("opcode %d", opcode).isEqualTo(Rcode.NOTIMP);
      assertThat(r.getHeader().getOpcode()).isEqualTo(opcode);
    }
    DnsStats stats = servers.get(0).stats();
    assertThat(stats.dropped()).isEqualTo(2);
    assertThat(stats.answers("FORMERR")).isEqualTo(3);
    assertThat(stats.answers("NOTIMP")).isEqualTo(5);
    // and it still answers
    assertThat(addresses(udpExchange(dns, query("1-courier.push.apple.com", Type.A).toWire())))
        .containsExactly("127.100.100.2");
  }

  @Test
  void clientsOutsideThePolicyAreRefusedOrDropped() throws Exception {
    AddressPolicy onlyTen =
        new AddressPolicy(CidrSet.parse("10.0.0.0/8"), AddressPolicy.APPLE_APNS);
    InetSocketAddress refusing =
        start(
                chain(plan()),
                b -> b.responder(DnsResponder.builder(chain(plan())).policy(onlyTen).build()))
            .udpAddresses()
            .get(0);
    Message r = udpExchange(refusing, query("1-courier.push.apple.com", Type.A).toWire());
    assertThat(r.getRcode()).isEqualTo(Rcode.REFUSED);
    assertThat(r.getSection(Section.ANSWER)).isEmpty();

    InetSocketAddress dropping =
        start(
                chain(plan()),
                b ->
                    b.responder(
                        DnsResponder.builder(chain(plan()))
                            .policy(onlyTen)
                            .deniedClients(DeniedClients.DROP)
                            .build()))
            .udpAddresses()
            .get(0);
    assertThat(
            udp(
                dropping,
                query("1-courier.push.apple.com", Type.A).toWire(),
                Duration.ofMillis(300)))
        .isEmpty();
    assertThat(servers.get(1).stats().dropped()).isEqualTo(1);

    AddressPolicy loopback =
        new AddressPolicy(CidrSet.parse("127.0.0.0/8"), AddressPolicy.APPLE_APNS);
    InetSocketAddress allowed =
        start(
                chain(plan()),
                b -> b.responder(DnsResponder.builder(chain(plan())).policy(loopback).build()))
            .udpAddresses()
            .get(0);
    assertThat(udpExchange(allowed, query("1-courier.push.apple.com", Type.A).toWire()).getRcode())
        .isEqualTo(Rcode.NOERROR);
  }

  @Test
  void aThrowingOrFailingOrSilentHandlerGivesServfailAndTheServerLivesOn() throws Exception {
    DnsAnswerHandler handler =
        q -> {
          String n = q.question().getName().toString();
          if (n.startsWith("throw.")) {
            throw new IllegalStateException("boom (expected by the test)");
          }
          if (n.startsWith("fail.")) {
            return CompletableFuture.failedFuture(new IOException("failed (expected by the test)"));
          }
          if (n.startsWith("never.")) {
            return new CompletableFuture<>();
          }
          if (n.startsWith("error.")) {
            throw new AssertionError("a handler bug that is an Error (expected by the test)");
          }
          return chain(plan()).answer(q);
        };
    DnsServer server =
        start(
            handler,
            b ->
                b.responder(
                    DnsResponder.builder(handler).handlerTimeout(Duration.ofMillis(200)).build()));
    InetSocketAddress dns = server.udpAddresses().get(0);
    for (String n :
        new String[] {"throw.example", "fail.example", "never.example", "error.example"}) {
      for (boolean tcp : new boolean[] {false, true}) {
        Message r = resolver(dns, tcp).send(query(n, Type.A));
        assertThat(r.getRcode()).as(n).isEqualTo(Rcode.SERVFAIL);
      }
    }
    DnsStats stats = server.stats();
    assertThat(stats.handlerErrors()).isEqualTo(6);
    assertThat(stats.handlerTimeouts()).isEqualTo(2);
    assertThat(stats.answers("SERVFAIL")).isEqualTo(8);
    assertThat(addresses(resolver(dns, false).send(query("1-courier.push.apple.com", Type.A))))
        .containsExactly("127.100.100.2");
  }

  @Test
  void pipelinedTcpQueriesAreAnsweredAsTheyComplete() throws Exception {
    CompletableFuture<Optional<Message>> slow = new CompletableFuture<>();
    DnsAnswerHandler plan = chain(plan());
    DnsAnswerHandler handler =
        q -> q.question().getName().equals(name("slow.example")) ? slow : plan.answer(q);
    InetSocketAddress dns = start(handler).tcpAddresses().get(0);
    try (TcpClient c = new TcpClient(dns)) {
      Message first = query("slow.example", Type.A);
      Message second = query("2-courier.push.apple.com", Type.A);
      Message third = query("3-courier.push.apple.com", Type.A);
      byte[] a = TcpClient.frame(first.toWire());
      byte[] b = TcpClient.frame(second.toWire());
      byte[] d = TcpClient.frame(third.toWire());
      byte[] all = new byte[a.length + b.length + d.length];
      System.arraycopy(a, 0, all, 0, a.length);
      System.arraycopy(b, 0, all, a.length, b.length);
      System.arraycopy(d, 0, all, a.length + b.length, d.length);
      c.sendRaw(all);
      Message r2 = c.receive();
      Message r3 = c.receive();
      assertThat(List.of(r2.getHeader().getID(), r3.getHeader().getID()))
          .containsExactlyInAnyOrder(second.getHeader().getID(), third.getHeader().getID());
      Message answer = new Message();
      answer.addRecord(
          new ARecord(name("slow.example"), DClass.IN, 5, ip("127.0.9.9")), Section.ANSWER);
      slow.complete(Optional.of(answer));
      Message r1 = c.receive();
      assertThat(r1.getHeader().getID()).isEqualTo(first.getHeader().getID());
      assertThat(addresses(r1)).containsExactly("127.0.9.9");
    }
  }

  @Test
  void tcpAnswersAfterTheClientHalfCloses() throws Exception {
    InetSocketAddress dns = startPlan();
    try (TcpClient c = new TcpClient(dns)) {
      Message q = query("4-courier.push.apple.com", Type.A);
      c.send(q.toWire());
      c.socket.shutdownOutput();
      assertThat(addresses(c.receive())).containsExactly("127.100.100.5");
      assertThat(c.closedByServer()).isTrue();
    }
  }

  @Test
  void idleAndHalfSentTcpConnectionsAreClosedAfterTheIdleTimeout() throws Exception {
    InetSocketAddress dns =
        start(chain(plan()), b -> b.tcpIdleTimeout(Duration.ofMillis(300))).tcpAddresses().get(0);
    try (TcpClient idle = new TcpClient(dns);
        TcpClient halfSent = new TcpClient(dns);
        TcpClient working = new TcpClient(dns)) {
      halfSent.sendRaw(new byte[] {0, 40, 1, 2, 3}); // promises 40 bytes, sends 3
      working.send(query("6-courier.push.apple.com", Type.A).toWire());
      assertThat(addresses(working.receive())).containsExactly("127.100.100.7");
      assertThat(idle.closedByServer()).isTrue();
      assertThat(halfSent.closedByServer()).isTrue();
    }
  }

  @Test
  void aMessageTricklingInDoesNotKeepItsConnectionOpen() throws Exception {
    InetSocketAddress dns =
        start(chain(plan()), b -> b.tcpIdleTimeout(Duration.ofMillis(300))).tcpAddresses().get(0);
    try (TcpClient slow = new TcpClient(dns)) {
      slow.sendRaw(
          new byte[] {
            0, 100
          }); // promises 100 bytes, then one byte every 100 ms: each within the timeout
      ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
      var unused =
          trickle.scheduleAtFixedRate(
              () -> {
                try {
                  slow.sendRaw(new byte[] {1});
                } catch (IOException e) {
                  throw new UncheckedIOException(e); // closed by the server: stops the schedule
                }
              },
              100,
              100,
              TimeUnit.MILLISECONDS);
      try {
        assertThat(slow.closedByServer())
            .as("closed within 3 s although a byte arrives every 100 ms")
            .isTrue();
      } finally {
        trickle.shutdownNow();
      }
    }
  }

  @Test
  void aClientThatSendsButNeverReadsIsHeldBackAndThenEverythingIsAnswered() throws Exception {
    DnsServer server = start(chain(plan()));
    byte[] frame = TcpClient.frame(query("1-courier.push.apple.com", Type.A).toWire());
    try (SocketChannel ch = SocketChannel.open()) {
      ch.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
      ch.setOption(StandardSocketOptions.SO_SNDBUF, 8192);
      ch.connect(server.tcpAddresses().get(0));
      ch.configureBlocking(false);
      // write queries without reading until the server stops reading them: writes make no progress
      // for 300 ms
      int sent = 0;
      ByteBuffer current = ByteBuffer.wrap(frame);
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      long stalledSince = 0;
      while (true) {
        long now = System.nanoTime();
        assertThat(now - deadline)
            .as("the server kept reading for 10 s from a client that reads nothing")
            .isNegative();
        if (ch.write(current) > 0) {
          stalledSince = 0;
          if (!current.hasRemaining()) {
            sent++;
            current = ByteBuffer.wrap(frame);
          }
        } else if (stalledSince == 0) {
          stalledSince = now;
        } else if (now - stalledSince > 300_000_000L) {
          break;
        }
      }
      // reading resumes the server: every query written, the partial one included, gets its answer
      int expected = sent + (current.position() > 0 ? 1 : 0);
      ByteBuffer rest = current;
      ByteBuffer in = ByteBuffer.allocate(1 << 16);
      int answers = 0;
      int nxOrError = 0;
      deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (answers < expected) {
        assertThat(System.nanoTime() - deadline)
            .as("answers so far %d of %d", answers, expected)
            .isNegative();
        if (rest.position() > 0 && rest.hasRemaining()) {
          ch.write(rest);
        }
        if (ch.read(in) == 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(200_000L);
          continue;
        }
        in.flip();
        while (in.remaining() >= 2 && in.remaining() >= 2 + (in.getShort(in.position()) & 0xffff)) {
          byte[] m = new byte[in.getShort() & 0xffff];
          in.get(m);
          nxOrError += new Message(m).getRcode() == Rcode.NOERROR ? 0 : 1;
          answers++;
        }
        in.compact();
      }
      assertThat(sent).as("queries the client got in before it was held back").isGreaterThan(64);
      assertThat(answers).isEqualTo(expected);
      assertThat(nxOrError).isZero();
    }
  }

  @Test
  void portZeroGivesOneRealPortForUdpAndTcp() throws Exception {
    DnsServer server = start(chain(plan()));
    InetSocketAddress udp = server.udpAddresses().get(0);
    InetSocketAddress tcp = server.tcpAddresses().get(0);
    assertThat(udp.getPort()).isPositive().isEqualTo(tcp.getPort());
    assertThat(udp.getAddress()).isEqualTo(InetAddress.getLoopbackAddress());
  }

  @Test
  void listensOnSeveralAddressesIpv4AndIpv6() throws Exception {
    InetSocketAddress v6 = new InetSocketAddress(ip("::1"), 0);
    InetSocketAddress second = new InetSocketAddress(ip("127.0.0.2"), 0);
    DnsServer server;
    try {
      server = start(chain(plan()), b -> b.listen(second, v6));
    } catch (IOException e) {
      // no IPv6 loopback on this machine: the IPv4 addresses must still work
      server = start(chain(plan()), b -> b.listen(second));
    }
    for (InetSocketAddress a : server.udpAddresses()) {
      assertThat(addresses(resolver(a, false).send(query("8-courier.push.apple.com", Type.A))))
          .as("UDP %s", a)
          .containsExactly("127.100.100.9");
    }
    for (InetSocketAddress a : server.tcpAddresses()) {
      assertThat(addresses(resolver(a, true).send(query("8-courier.push.apple.com", Type.A))))
          .as("TCP %s", a)
          .containsExactly("127.100.100.9");
    }
    assertThat(server.udpAddresses().size()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void anAddressInUseFailsStartNamingItAndLeavesNothingBound() throws Exception {
    DnsServer first = start(chain(plan()));
    InetSocketAddress taken = first.udpAddresses().get(0);
    Set<String> before = DnsTestSupport.dnsThreads();
    DnsServer second =
        DnsServer.builder()
            .listen(new InetSocketAddress(ip("127.0.0.3"), 0), taken)
            .handler(chain(plan()))
            .threads(1)
            .build();
    assertThatThrownBy(second::start)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("127.0.0.1:" + taken.getPort());
    assertThat(DnsTestSupport.dnsThreads()).isEqualTo(before);
    assertThat(second.udpAddresses()).isEmpty();
  }

  @Test
  void closeIsIdempotentBoundedAndLeavesNoThreads() throws Exception {
    Set<String> before = DnsTestSupport.dnsThreads();
    DnsServer server =
        DnsServer.builder()
            .listen(LOOPBACK_ANY_PORT)
            .handler(chain(plan()))
            .threads(3)
            .build()
            .start();
    InetSocketAddress dns = server.udpAddresses().get(0);
    assertThat(DnsTestSupport.dnsThreads()).hasSizeGreaterThanOrEqualTo(before.size() + 4);
    try (TcpClient open = new TcpClient(server.tcpAddresses().get(0))) {
      long start = System.nanoTime();
      server.close();
      server.close();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(open.closedByServer()).isTrue();
    }
    assertThat(DnsTestSupport.dnsThreads()).isEqualTo(before);
    assertThat(udp(dns, query("1-courier.push.apple.com", Type.A).toWire(), Duration.ofMillis(200)))
        .isEmpty();
    assertThatThrownBy(server::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    DnsServer never = DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(chain(plan())).build();
    never.close();
    assertThatThrownBy(never::start).isInstanceOf(IllegalStateException.class);
    assertThat(DnsTestSupport.dnsThreads())
        .as("a start after close binds nothing")
        .isEqualTo(before);
  }

  @Test
  void builderRejectsMissingParts() {
    assertThatThrownBy(() -> DnsServer.builder().listen(LOOPBACK_ANY_PORT).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("handler");
    assertThatThrownBy(() -> DnsServer.builder().handler(DnsAnswerHandler.refusing()).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("address");
    assertThatThrownBy(() -> DnsServer.builder().threads(0)).hasMessageContaining("threads 0");
  }

  /**
   * Issue 18: a zone transfer of the proxy's zones (or of a plan name) gets NOTIMP, as forwarded
   * transfers do.
   */
  @Test
  void zoneTransfersOfTheZonesAreNotImplementedOverUdpAndTcp() throws Exception {
    DnsServer server = start(chain(plan()));
    InetSocketAddress udp = server.udpAddresses().get(0);
    for (String name :
        List.of(
            "push.apple.com",
            "sandbox.push.apple.com",
            "17-courier.push.apple.com",
            "courier.push.apple.com",
            "nothing.push.apple.com")) {
      for (int type : new int[] {Type.AXFR, Type.IXFR}) {
        byte[] q = query(name, type).toWire();
        Message overUdp = DnsTestSupport.udpExchange(udp, q);
        assertThat(overUdp.getRcode())
            .as("%s %s over UDP", name, Type.string(type))
            .isEqualTo(Rcode.NOTIMP);
        assertThat(overUdp.getSection(Section.ANSWER)).isEmpty();
        try (DnsTestSupport.TcpClient tcp =
            new DnsTestSupport.TcpClient(server.tcpAddresses().get(0))) {
          tcp.send(q);
          Message overTcp = tcp.receive();
          assertThat(overTcp.getRcode())
              .as("%s %s over TCP", name, Type.string(type))
              .isEqualTo(Rcode.NOTIMP);
          assertThat(overTcp.getQuestion().getName()).isEqualTo(DnsTestSupport.name(name));
        }
      }
    }
  }
}
