// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CookieOption;
import org.xbill.DNS.DClass;
import org.xbill.DNS.EDNSOption;
import org.xbill.DNS.ExtendedFlags;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The responder's fast path gives byte for byte the answer of the full path: two responders over
 * equal, fresh chains - one with the fast path, one without - get the same queries (names, types,
 * EDNS variants, letter case, RD, clients of different sites, both transports, each query twice so
 * the second is answered from the template) and must send the same bytes.
 */
class DnsFastPathTest {
  private static final InetSocketAddress SITE_A_CLIENT = new InetSocketAddress("127.0.0.1", 5353);
  private static final InetSocketAddress SITE_B_CLIENT = new InetSocketAddress("127.0.9.9", 5353);

  /**
   * Two sites with IPv6, one for every client and one for 127.0.9.0/24 too; three IPv4 and IPv6
   * each for B.
   */
  private static AddressPlan twoSites() {
    return AddressPlan.builder()
        .site(
            new AddressPlan.Site(
                "a", Cidr.parse("127.100.100.0/24"), Cidr.parse("fd00:100::/64"), CidrSet.any()))
        .site(
            new AddressPlan.Site(
                "b",
                Cidr.parse("127.100.101.0/24"),
                Cidr.parse("fd00:101::/64"),
                CidrSet.parse("127.0.9.0/24")))
        .site(
            new AddressPlan.Site(
                "c",
                Cidr.parse("127.100.102.0/24"),
                Cidr.parse("fd00:102::/64"),
                CidrSet.parse("127.0.9.0/24")))
        .build();
  }

  private static final List<String> NAMES =
      List.of(
          "17-courier.push.apple.com",
          "0-courier.push.apple.com",
          "50-courier2.push.apple.com",
          "3-courier.sandbox.push.apple.com",
          "17.courier.push.apple.com",
          "0017-courier.push.apple.com",
          "51-courier.push.apple.com",
          "99999-courier.push.apple.com",
          "init.push.apple.com",
          "init.sandbox.push.apple.com",
          "api.push.apple.com",
          "api.sandbox.push.apple.com",
          "push.apple.com",
          "sandbox.push.apple.com",
          "courier.push.apple.com",
          "x.push.apple.com",
          "a_b.push.apple.com",
          "www.example.org",
          "apple.com",
          "17-courier.push.apple.com.example");
  private static final int[] TYPES = {
    Type.A,
    Type.AAAA,
    Type.HTTPS,
    Type.SVCB,
    Type.TXT,
    Type.SOA,
    Type.NS,
    Type.MX,
    Type.ANY,
    Type.CNAME,
    Type.AXFR
  };

  private interface Edns {
    void apply(Message m);
  }

  private static final List<Edns> EDNS =
      List.of(
          m -> {},
          m -> m.addRecord(new OPTRecord(512, 0, 0), Section.ADDITIONAL),
          m -> m.addRecord(new OPTRecord(1232, 0, 0, ExtendedFlags.DO), Section.ADDITIONAL),
          m -> m.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL),
          m -> m.addRecord(new OPTRecord(100, 0, 0), Section.ADDITIONAL),
          m -> m.addRecord(new OPTRecord(1232, 0, 1), Section.ADDITIONAL), // version 1: BADVERS
          m ->
              m.addRecord(
                  new OPTRecord(1232, 0, 0, 0, List.<EDNSOption>of(new CookieOption(new byte[8]))),
                  Section.ADDITIONAL));

  private static String caseOf(String name, int pattern, Random random) {
    return switch (pattern) {
      case 0 -> name;
      case 1 -> name.toUpperCase(Locale.ROOT);
      default -> {
        StringBuilder b = new StringBuilder();
        for (char c : name.toCharArray()) {
          b.append(random.nextBoolean() ? Character.toUpperCase(c) : c);
        }
        yield b.toString();
      }
    };
  }

  private static byte[] respond(
      DnsResponder r, byte[] q, InetSocketAddress client, DnsTransport t) {
    CompletableFuture<Optional<byte[]>> f = r.respond(q, client, t).toCompletableFuture();
    assertThat(f).as("answered at once").isDone();
    return f.join().orElse(new byte[0]);
  }

  /**
   * Compares both paths over every combination; returns the number of queries the fast path
   * answered.
   */
  private static long compare(
      Supplier<DnsAnswerHandler> chain, @org.jspecify.annotations.Nullable AddressPolicy policy)
      throws Exception {
    DnsResponder fast = DnsResponder.builder(chain.get()).policy(policy).build();
    DnsResponder full = DnsResponder.builder(chain.get()).policy(policy).fastPath(false).build();
    Random random = new Random(42);
    int compared = 0;
    for (String name : NAMES) {
      for (int type : TYPES) {
        for (int e = 0; e < EDNS.size(); e++) {
          for (int pattern = 0; pattern < 3; pattern++) {
            Message m =
                Message.newQuery(
                    Record.newRecord(
                        Name.fromString(caseOf(name, pattern, random) + "."), type, DClass.IN));
            m.getHeader().setID(random.nextInt(0x10000));
            if (random.nextBoolean()) {
              m.getHeader().unsetFlag(Flags.RD);
            }
            EDNS.get(e).apply(m);
            byte[] q = m.toWire();
            for (InetSocketAddress client : List.of(SITE_A_CLIENT, SITE_B_CLIENT)) {
              for (DnsTransport t : DnsTransport.values()) {
                for (int again = 0; again < 2; again++) {
                  byte[] expected = respond(full, q, client, t);
                  byte[] actual = respond(fast, q, client, t);
                  if (java.util.Arrays.equals(actual, expected)) {
                    compared++;
                    continue;
                  }
                  assertThat(HexFormat.of().formatHex(actual))
                      .as(
                          "%s %s EDNS variant %d from %s over %s, try %d",
                          name, Type.string(type), e, client, t, again)
                      .isEqualTo(HexFormat.of().formatHex(expected));
                  compared++;
                }
              }
            }
          }
        }
      }
    }
    assertThat(compared).isGreaterThan(10_000);
    assertThat(fast.stats()).isEqualTo(full.stats());
    return fast.fastAnswers();
  }

  @Test
  void theFastPathAnswersTheSameBytesAsTheFullPath() throws Exception {
    long fastAnswers =
        compare(
            () ->
                DnsAnswerHandler.firstOf(
                    PlanHostsHandler.builder(twoSites()).build(),
                    ZoneApexHandler.builder(twoSites())
                        .nsAddress(DnsTestSupport.ip("127.0.0.53"))
                        .build(),
                    DnsAnswerHandler.refusing()),
            null);
    assertThat(fastAnswers).as("the fast path was used").isGreaterThan(5_000);
  }

  @Test
  void theFastPathKeepsTheClientPolicy() throws Exception {
    AddressPolicy policy = new AddressPolicy(CidrSet.parse("127.0.0.0/24"), CidrSet.any());
    long fastAnswers = compare(() -> DnsTestSupport.chain(DnsTestSupport.plan()), policy);
    assertThat(fastAnswers).isPositive();
  }

  @Test
  void aHandlerOfItsOwnBeforeThePlanIsNeverBypassed() throws Exception {
    // answers 17-courier itself: the plan handler after it must not answer from a template
    DnsAnswerHandler own =
        q -> {
          if (!q.question().getName().toString().equalsIgnoreCase("17-courier.push.apple.com.")) {
            return CompletableFuture.completedFuture(Optional.empty());
          }
          Message m = new Message();
          m.addRecord(
              new ARecord(q.question().getName(), DClass.IN, 5, DnsTestSupport.ip("127.0.0.77")),
              Section.ANSWER);
          return CompletableFuture.completedFuture(Optional.of(m));
        };
    long fastAnswers =
        compare(
            () -> DnsAnswerHandler.firstOf(own, DnsTestSupport.chain(DnsTestSupport.plan())), null);
    assertThat(fastAnswers).isZero();
  }

  @Test
  void anUpstreamCheckOrAForwardedZoneTakesTheFullPath() throws Exception {
    AddressPlan plan = DnsTestSupport.plan();
    DnsAnswerHandler checked =
        DnsAnswerHandler.firstOf(
            PlanHostsHandler.builder(plan)
                .upstreamCheck(
                    host ->
                        CompletableFuture.completedFuture(List.of(DnsTestSupport.ip("17.0.0.1"))))
                .build(),
            DnsAnswerHandler.refusing());
    DnsResponder r = DnsResponder.builder(checked).build();
    byte[] q = DnsTestSupport.query("17-courier.push.apple.com", Type.A).toWire();
    for (int i = 0; i < 3; i++) {
      assertThat(
              new Message(respond(r, q, SITE_A_CLIENT, DnsTransport.UDP))
                  .getSection(Section.ANSWER))
          .hasSize(1);
    }
    assertThat(r.fastAnswers()).isZero();
  }

  @Test
  void severalAddressesRotateAsOnTheFullPath() throws Exception {
    DnsResponder fast =
        DnsResponder.builder(DnsAnswerHandler.firstOf(PlanHostsHandler.builder(twoSites()).build()))
            .build();
    byte[] q = DnsTestSupport.query("17-courier.push.apple.com", Type.A).toWire();
    List<String> firsts = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Message m = new Message(respond(fast, q, SITE_B_CLIENT, DnsTransport.UDP));
      firsts.add(((ARecord) m.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress());
    }
    // the client is in sites b and c (the sites that list it)
    assertThat(firsts)
        .containsExactly("127.100.101.18", "127.100.102.18", "127.100.101.18", "127.100.102.18");
    assertThat(fast.fastAnswers()).isEqualTo(3);
  }

  @Test
  void aTimedChainKeepsTheFastPathAndTimesEveryAnswer() throws Exception {
    java.util.concurrent.atomic.AtomicLong timed = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicLong negative = new java.util.concurrent.atomic.AtomicLong();
    AnswerTimer timer =
        (transport, nanos) -> {
          timed.incrementAndGet();
          if (nanos < 0) {
            negative.incrementAndGet();
          }
        };
    // same bytes as the untimed full path over every combination, and most of them fast
    long fastAnswers =
        compare(
            () -> DnsAnswerHandler.timed(DnsTestSupport.chain(DnsTestSupport.plan()), timer), null);
    assertThat(fastAnswers).as("the fast path was used").isGreaterThan(5_000);
    assertThat(timed.get()).as("every answer of the timed responder is timed").isPositive();
    assertThat(negative.get()).isZero();

    // exactly one report per answer, fast or full
    timed.set(0);
    DnsResponder r =
        DnsResponder.builder(
                DnsAnswerHandler.timed(DnsTestSupport.chain(DnsTestSupport.plan()), timer))
            .build();
    byte[] courier = DnsTestSupport.query("17-courier.push.apple.com", Type.A).toWire();
    byte[] other = DnsTestSupport.query("www.example.com", Type.A).toWire();
    for (int i = 0; i < 5; i++) {
      respond(r, courier, SITE_A_CLIENT, DnsTransport.UDP);
      respond(r, other, SITE_A_CLIENT, DnsTransport.TCP);
    }
    // the first query of each (the courier's A, the refusal of a name outside the zone) builds
    // its template; the other four of each are fast
    assertThat(r.fastAnswers()).isEqualTo(8);
    assertThat(timed.get()).isEqualTo(10);
  }
}
