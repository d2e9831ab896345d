// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Type;

/**
 * {@link CachingResolver} against {@link FakeUpstreamDns}, a real DNS server on 127.0.0.1:
 * coalescing, TTLs with a manual clock, serve-stale, failover, CNAME chains, negative caching and
 * address order.
 */
class CachingResolverTest {
  private static final String COURIER = "17-courier.push.apple.com";

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final ManualTicker clock = new ManualTicker();

  /**
   * A nanosecond ticker the test moves by hand. It starts five minutes before {@code long} wraps,
   * as {@link System#nanoTime()} may: every test that moves it further checks that only differences
   * are used.
   */
  static final class ManualTicker implements java.util.function.LongSupplier {
    private final AtomicLong nanos =
        new AtomicLong(Long.MAX_VALUE - Duration.ofMinutes(5).toNanos());

    @Override
    public long getAsLong() {
      return nanos.get();
    }

    void advance(Duration d) {
      nanos.addAndGet(d.toNanos());
    }
  }

  @AfterEach
  void closeAll() throws Exception {
    Exception first = null;
    for (int i = closeables.size() - 1; i >= 0; i--) {
      AutoCloseable c = closeables.get(i);
      try {
        c.close();
      } catch (Exception e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private FakeUpstreamDns fake() throws IOException {
    FakeUpstreamDns f = new FakeUpstreamDns();
    closeables.add(f);
    return f;
  }

  /** A bound loopback UDP socket nobody reads: queries to it time out. */
  private InetSocketAddress deadServer() throws IOException {
    DatagramSocket s =
        new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    closeables.add(s);
    return (InetSocketAddress) s.getLocalSocketAddress();
  }

  /** Manual clock, no TTL floor, 300 ms per try, the other settings at their defaults. */
  private CachingResolver.Builder builder(InetSocketAddress... servers) {
    return CachingResolver.builder()
        .servers(List.of(servers))
        .ticker(clock)
        .ttlFloor(Duration.ZERO)
        .timeout(Duration.ofMillis(300));
  }

  private CachingResolver build(CachingResolver.Builder b) {
    CachingResolver r = b.build();
    closeables.add(r);
    return r;
  }

  private static <T> T get(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(5, SECONDS);
  }

  /** The failure of {@code stage}, unwrapped from {@link ExecutionException}. */
  private static Throwable failure(CompletionStage<?> stage) throws Exception {
    try {
      Object v = stage.toCompletableFuture().get(5, SECONDS);
      throw new AssertionError("expected a failure, got " + v);
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  private static List<String> text(List<InetAddress> addresses) {
    return addresses.stream().map(InetAddress::getHostAddress).toList();
  }

  @Test
  void aThousandConcurrentResolvesCauseOneQueryPerType() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 60, "127.0.2.1", "127.0.2.2").aaaa(COURIER, 60, "::1");
    CachingResolver r = build(builder(up.address()).timeout(Duration.ofSeconds(5)));
    up.hold();

    int threads = 8;
    int perThread = 125;
    List<CompletableFuture<List<InetAddress>>> stages = new ArrayList<>();
    CountDownLatch start = new CountDownLatch(1);
    AtomicReference<Throwable> callerFailure = new AtomicReference<>();
    List<Thread> callers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread caller =
          new Thread(
              () -> {
                try {
                  start.await(5, SECONDS);
                  for (int i = 0; i < perThread; i++) {
                    CompletableFuture<List<InetAddress>> f =
                        r.resolve(COURIER).toCompletableFuture();
                    synchronized (stages) {
                      stages.add(f);
                    }
                  }
                } catch (Throwable e) {
                  callerFailure.set(e);
                }
              },
              "resolve-caller-" + t);
      caller.start();
      callers.add(caller);
    }
    start.countDown();
    for (Thread c : callers) {
      c.join(5000);
      assertThat(c.isAlive()).as("caller %s finished", c.getName()).isFalse();
    }
    assertThat(callerFailure.get()).isNull();
    assertThat(stages).hasSize(1000);
    assertThat(up.awaitQueries(2, Duration.ofSeconds(5))).as("A and AAAA queries arrived").isTrue();
    assertThat(stages)
        .as("nothing completes while the upstream holds its replies")
        .noneMatch(CompletableFuture::isDone);

    up.release();
    for (CompletableFuture<List<InetAddress>> f : stages) {
      assertThat(text(f.get(5, SECONDS)))
          .containsExactly("127.0.2.1", "127.0.2.2", "0:0:0:0:0:0:0:1");
    }
    assertThat(up.queries(COURIER, Type.A)).isEqualTo(1);
    assertThat(up.queries(COURIER, Type.AAAA)).isEqualTo(1);
    assertThat(up.totalQueries()).isEqualTo(2);
    ResolverStats s = r.stats();
    assertThat(s.misses()).isEqualTo(1000);
    assertThat(s.coalesced()).isEqualTo(999);
    assertThat(s.hits()).isZero();
    assertThat(s.upstreamQueries()).isEqualTo(2);
    assertThat(s.upstreamFailures()).isZero();
  }

  @Test
  void anExpiredEntryIsAskedAgainAndTheNewAddressesReturned() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.1").nodata(COURIER, 30);
    CachingResolver r = build(builder(up.address()));

    CachingResolver.Answer first = get(r.lookup(COURIER));
    assertThat(text(first.addresses())).containsExactly("127.0.2.1");
    assertThat(first.fromCache()).isFalse();
    assertThat(first.ttl()).isEqualTo(Duration.ofSeconds(30));
    assertThat(up.queries(COURIER, Type.A)).isEqualTo(1);

    clock.advance(Duration.ofSeconds(10));
    CachingResolver.Answer hit = get(r.lookup(COURIER));
    assertThat(hit.fromCache()).isTrue();
    assertThat(text(hit.addresses())).containsExactly("127.0.2.1");
    assertThat(hit.ttl()).isEqualTo(Duration.ofSeconds(20));
    assertThat(up.totalQueries()).as("a hit sends nothing").isEqualTo(2);

    up.remove(COURIER).a(COURIER, 30, "127.0.2.9").nodata(COURIER, 30);
    clock.advance(Duration.ofSeconds(21)); // +31 s
    CachingResolver.Answer again = get(r.lookup(COURIER));
    assertThat(again.fromCache()).isFalse();
    assertThat(text(again.addresses())).containsExactly("127.0.2.9");
    assertThat(up.queries(COURIER, Type.A)).isEqualTo(2);
    assertThat(up.queries(COURIER, Type.AAAA)).isEqualTo(2);
    ResolverStats s = r.stats();
    assertThat(s.hits()).isEqualTo(1);
    assertThat(s.misses()).isEqualTo(2);
    assertThat(s.prefetches()).isZero();
  }

  @Test
  void theTtlIsRaisedToTheFloorAndCutToTheCeiling() throws Exception {
    FakeUpstreamDns up =
        fake()
            .a("short.test", 1, "127.0.2.1")
            .nodata("short.test", 1)
            .a("long.test", 86400, "127.0.2.2")
            .nodata("long.test", 86400);
    CachingResolver r =
        build(
            builder(up.address())
                .ttlFloor(Duration.ofSeconds(10))
                .ttlCeiling(Duration.ofSeconds(60)));

    assertThat(get(r.lookup("short.test")).ttl()).isEqualTo(Duration.ofSeconds(10));
    assertThat(get(r.lookup("long.test")).ttl()).isEqualTo(Duration.ofSeconds(60));
    assertThat(up.totalQueries()).isEqualTo(4);

    clock.advance(Duration.ofSeconds(5));
    CachingResolver.Answer held = get(r.lookup("short.test"));
    assertThat(held.fromCache()).as("a 1 s TTL is kept for the 10 s floor").isTrue();
    assertThat(text(held.addresses())).containsExactly("127.0.2.1");
    assertThat(up.queries("short.test", Type.A)).isEqualTo(1);

    clock.advance(Duration.ofSeconds(56)); // +61 s
    CachingResolver.Answer cut = get(r.lookup("long.test"));
    assertThat(cut.fromCache()).as("a 1 day TTL is cut to the 60 s ceiling").isFalse();
    assertThat(text(cut.addresses())).containsExactly("127.0.2.2");
    assertThat(up.queries("long.test", Type.A)).isEqualTo(2);
    assertThat(up.queries("long.test", Type.AAAA)).isEqualTo(2);
  }

  @Test
  void whenTheUpstreamStopsAnsweringTheExpiredAnswerIsServedUntilTheStaleLimit() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.1", "127.0.2.2").nodata(COURIER, 30);
    CachingResolver r = build(builder(up.address()).serveStale(Duration.ofMinutes(5)));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.1", "127.0.2.2");

    up.silent(true); // still bound, never answers: every try times out
    clock.advance(Duration.ofSeconds(31));
    CachingResolver.Answer stale = get(r.lookup(COURIER));
    assertThat(stale.stale()).isTrue();
    assertThat(stale.fromCache()).isFalse();
    assertThat(stale.exists()).isTrue();
    assertThat(stale.ttl()).isZero();
    assertThat(text(stale.addresses())).containsExactly("127.0.2.1", "127.0.2.2");
    assertThat(up.totalQueries()).as("the expired entry was asked for again").isEqualTo(4);
    ResolverStats s = r.stats();
    assertThat(s.staleServed()).isEqualTo(1);
    assertThat(s.upstreamFailures()).isEqualTo(2); // A and AAAA timed out

    clock.advance(Duration.ofMinutes(10)); // expired 10 min 1 s ago: beyond the 5 min limit
    Throwable t = failure(r.lookup(COURIER));
    assertThat(t)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no upstream DNS server answered");
    assertThat(r.stats().staleServed()).isEqualTo(1);
  }

  @Test
  void aClosedUpstreamAlsoLeadsToTheStaleAnswer() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.1").nodata(COURIER, 30);
    CachingResolver r = build(builder(up.address()).serveStale(Duration.ofMinutes(5)));
    get(r.resolve(COURIER));
    up.close(); // the port is gone (ICMP port unreachable, or a timeout)
    clock.advance(Duration.ofSeconds(31));
    CachingResolver.Answer stale = get(r.lookup(COURIER));
    assertThat(stale.stale()).isTrue();
    assertThat(text(stale.addresses())).containsExactly("127.0.2.1");
    assertThat(r.stats().staleServed()).isEqualTo(1);
    // resolve() serves the stale addresses too, at once: the refresh failed a moment ago (RFC 8767
    // failure recheck)
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.1");
    assertThat(r.stats().staleServed()).isEqualTo(2);
    assertThat(r.stats().upstreamFailures()).isEqualTo(2);
  }

  @Test
  void aDeadFirstServerIsPassedOverForTheSecond() throws Exception {
    FakeUpstreamDns live = fake().a(COURIER, 60, "127.0.2.3").aaaa(COURIER, 60, "::1");
    CachingResolver r = build(builder(deadServer(), live.address()));
    CachingResolver.Answer a = get(r.lookup(COURIER));
    assertThat(text(a.addresses())).containsExactly("127.0.2.3", "0:0:0:0:0:0:0:1");
    assertThat(a.stale()).isFalse();
    assertThat(live.queries(COURIER, Type.A)).isEqualTo(1);
    assertThat(live.queries(COURIER, Type.AAAA)).isEqualTo(1);
    ResolverStats s = r.stats();
    assertThat(s.upstreamFailures()).isEqualTo(2); // one timeout per type
    assertThat(s.upstreamQueries()).isEqualTo(4);
  }

  @Test
  void aServfailFromTheFirstServerIsPassedOverForTheSecondServersAnswer() throws Exception {
    FakeUpstreamDns broken = fake().a(COURIER, 60, "127.0.2.66").forceRcode(Rcode.SERVFAIL);
    FakeUpstreamDns good = fake().a(COURIER, 60, "127.0.2.4").nodata(COURIER, 60);
    CachingResolver r = build(builder(broken.address(), good.address()));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.4");
    assertThat(broken.totalQueries()).isEqualTo(2);
    assertThat(good.totalQueries()).isEqualTo(2);
    assertThat(r.stats().upstreamFailures()).isEqualTo(2);
    assertThat(r.stats().upstreamQueries()).isEqualTo(4);
  }

  @Test
  void aCnameChainInsideOneAnswerGivesTheFinalAddressesWithTheSmallestTtl() throws Exception {
    FakeUpstreamDns up =
        fake()
            .cname(COURIER, 300, "alias1.push-apple.test")
            .cname("alias1.push-apple.test", 20, "alias2.push-apple.test")
            .a("alias2.push-apple.test", 45, "127.0.2.7", "127.0.2.8")
            .nodata("alias2.push-apple.test", 600);
    CachingResolver r = build(builder(up.address()));
    CachingResolver.Answer a = get(r.lookup(COURIER));
    assertThat(text(a.addresses())).containsExactly("127.0.2.7", "127.0.2.8");
    assertThat(a.name()).isEqualTo(COURIER);
    assertThat(a.ttl()).isPositive().isLessThanOrEqualTo(Duration.ofSeconds(20));
    assertThat(up.log())
        .as("the chain came whole: no further query")
        .containsExactlyInAnyOrder(COURIER + " A", COURIER + " AAAA");

    clock.advance(Duration.ofSeconds(19));
    assertThat(get(r.lookup(COURIER)).fromCache()).isTrue();
    clock.advance(Duration.ofSeconds(2)); // +21 s: past the CNAME's 20 s
    assertThat(get(r.lookup(COURIER)).fromCache()).isFalse();
    assertThat(up.queries(COURIER, Type.A)).isEqualTo(2);
  }

  @Test
  void aCnameTheServerLeftUnfinishedIsFollowedWithAFurtherQuery() throws Exception {
    FakeUpstreamDns up =
        fake()
            .chaseCnames(false)
            .cname(COURIER, 15, "edge.push-apple.test")
            .a("edge.push-apple.test", 40, "127.0.2.9")
            .nodata("edge.push-apple.test", 600);
    CachingResolver r = build(builder(up.address()));
    CachingResolver.Answer a = get(r.lookup(COURIER));
    assertThat(text(a.addresses())).containsExactly("127.0.2.9");
    assertThat(a.ttl()).isPositive().isLessThanOrEqualTo(Duration.ofSeconds(15));
    assertThat(up.queries(COURIER, Type.A)).isEqualTo(1);
    assertThat(up.queries("edge.push-apple.test", Type.A))
        .as("the resolver asked for the target")
        .isEqualTo(1);
    assertThat(up.queries("edge.push-apple.test", Type.AAAA)).isEqualTo(1);
    assertThat(up.totalQueries()).isEqualTo(4);
  }

  @Test
  void nxdomainFailsWithUnknownHostAndIsCachedForTheNegativeTtl() throws Exception {
    String missing = "99-courier.push.apple.com";
    FakeUpstreamDns up = fake().nxdomain(missing, 60);
    CachingResolver r = build(builder(up.address()));

    assertThat(failure(r.resolve(missing)))
        .isInstanceOf(UnknownHostException.class)
        .hasMessageContaining(missing)
        .hasMessageContaining("NXDOMAIN");
    assertThat(up.totalQueries()).isEqualTo(2);

    clock.advance(Duration.ofSeconds(30)); // within the SOA minimum of 60 s (its own TTL is 3600)
    assertThat(failure(r.resolve(missing))).isInstanceOf(UnknownHostException.class);
    assertThat(up.totalQueries()).as("the negative answer was cached").isEqualTo(2);
    ResolverStats s = r.stats();
    assertThat(s.negativeHits()).isEqualTo(1);
    assertThat(s.hits()).isEqualTo(1);

    CachingResolver.Answer cached = get(r.lookup(missing));
    assertThat(cached.exists()).isFalse();
    assertThat(cached.addresses()).isEmpty();
    assertThat(cached.fromCache()).isTrue();
    assertThat(cached.ttl()).isEqualTo(Duration.ofSeconds(30));

    clock.advance(Duration.ofSeconds(31)); // +61 s: the negative entry expired
    assertThat(failure(r.resolve(missing))).isInstanceOf(UnknownHostException.class);
    assertThat(up.totalQueries()).isEqualTo(4);
  }

  @Test
  void aNameWithOnlyAaaaGivesItsIpv6Address() throws Exception {
    FakeUpstreamDns up = fake().aaaa("six.test", 60, "fd00::17").nodata("six.test", 5);
    CachingResolver r = build(builder(up.address()));
    List<InetAddress> addresses = get(r.resolve("six.test"));
    assertThat(addresses).hasSize(1);
    assertThat(addresses.get(0)).isInstanceOf(java.net.Inet6Address.class);
    assertThat(addresses.get(0)).isEqualTo(InetAddress.getByName("fd00::17"));
    // the A NODATA (negative TTL 5 s) does not shorten the AAAA's 60 s life (50 s: before the
    // prefetch tenth)
    clock.advance(Duration.ofSeconds(50));
    assertThat(get(r.lookup("six.test")).fromCache()).isTrue();
    assertThat(up.totalQueries()).isEqualTo(2);
  }

  @Test
  void aNameWithAAndAaaaGivesTheAAddressesFirst() throws Exception {
    // the AAAA records are in the table first, and the AAAA answer comes back first: order is still
    // A, then AAAA
    FakeUpstreamDns up =
        fake()
            .aaaa("dual.test", 60, "fd00::2", "fd00::1")
            .a("dual.test", 60, "127.0.2.20", "127.0.2.10");
    CachingResolver r = build(builder(up.address()));
    assertThat(text(get(r.resolve("dual.test"))))
        .containsExactly("127.0.2.20", "127.0.2.10", "fd00:0:0:0:0:0:0:2", "fd00:0:0:0:0:0:0:1");
    // and from the cache, in any letter case, with a trailing dot
    assertThat(text(get(r.resolve("DUAL.Test."))))
        .containsExactly("127.0.2.20", "127.0.2.10", "fd00:0:0:0:0:0:0:2", "fd00:0:0:0:0:0:0:1");
    assertThat(up.totalQueries()).isEqualTo(2);
  }

  // ---- beyond the basics

  @Test
  void aTruncatedUdpAnswerIsAskedAgainOverTcp() throws Exception {
    FakeUpstreamDns up =
        fake().truncateUdp(true).a(COURIER, 60, "127.0.2.31", "127.0.2.32").nodata(COURIER, 60);
    CachingResolver r = build(builder(up.address()));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.31", "127.0.2.32");
    assertThat(up.udpQueries()).isEqualTo(2);
    assertThat(up.tcpQueries()).isEqualTo(2);
    assertThat(r.stats().upstreamFailures()).isZero();
  }

  @Test
  void nodataForBothTypesFailsWithUnknownHostAndIsCached() throws Exception {
    FakeUpstreamDns up = fake().nodata("empty.test", 40);
    CachingResolver r = build(builder(up.address()));
    assertThat(failure(r.resolve("empty.test")))
        .isInstanceOf(UnknownHostException.class)
        .hasMessageContaining("no A or AAAA records");
    CachingResolver.Answer a = get(r.lookup("empty.test"));
    assertThat(a.exists()).isTrue();
    assertThat(a.addresses()).isEmpty();
    assertThat(a.fromCache()).isTrue();
    assertThat(a.ttl()).isEqualTo(Duration.ofSeconds(40));
    assertThat(r.stats().negativeHits()).isEqualTo(1);
    assertThat(up.totalQueries()).isEqualTo(2);
  }

  @Test
  void aFailingAaaaDoesNotHideTheAAddresses() throws Exception {
    FakeUpstreamDns up =
        fake()
            .a(COURIER, 60, "127.0.2.41")
            .aaaa(COURIER, 60, "fd00::41")
            .forceRcode(Type.AAAA, Rcode.SERVFAIL);
    CachingResolver r = build(builder(up.address()));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.41");
    assertThat(r.stats().upstreamFailures()).isEqualTo(1);
  }

  /**
   * The A query fails on every server (SERVFAIL) while AAAA gets a NODATA: nothing is known about
   * the IPv4 addresses, so this must not become a cached "no addresses" answer (nor an {@link
   * UnknownHostException}, which means the name does not exist, for the caller and for {@code
   * UpstreamResolver.orElse}).
   */
  @Test
  void aFailedAQueryWithAnAaaaNodataIsAFailureNotANegativeAnswer() throws Exception {
    FakeUpstreamDns up =
        fake().a(COURIER, 60, "127.0.2.51").nodata(COURIER, 60).forceRcode(Type.A, Rcode.SERVFAIL);
    CachingResolver r = build(builder(up.address()));
    Throwable t = failure(r.resolve(COURIER));
    assertThat(t)
        .as("a transient upstream failure")
        .isInstanceOf(IOException.class)
        .isNotInstanceOf(UnknownHostException.class);
    CachingResolver.Answer again = get(r.lookup(COURIER).exceptionally(x -> null));
    assertThat(again).as("nothing cached: the next lookup asks again and fails too").isNull();
  }

  /**
   * The same, with an expired entry: the stale addresses should stand in, as when every query
   * fails.
   */
  @Test
  void aFailedAQueryWithAnAaaaNodataServesTheStaleAddresses() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.61").nodata(COURIER, 30);
    CachingResolver r = build(builder(up.address()));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.61");
    up.forceRcode(Type.A, Rcode.SERVFAIL);
    clock.advance(Duration.ofSeconds(31));
    CachingResolver.Answer a = get(r.lookup(COURIER).exceptionally(x -> null));
    assertThat(a).as("a stale answer, not a failure").isNotNull();
    assertThat(a.stale()).as("served stale; got %s", a).isTrue();
    assertThat(text(a.addresses())).containsExactly("127.0.2.61");
  }

  @Test
  void whenEveryServerAnswersServfailTheExpiredAnswerIsServed() throws Exception {
    FakeUpstreamDns first = fake().a(COURIER, 30, "127.0.2.71").nodata(COURIER, 30);
    FakeUpstreamDns second = fake().a(COURIER, 30, "127.0.2.72").nodata(COURIER, 30);
    CachingResolver r = build(builder(first.address(), second.address()));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.71");
    first.forceRcode(Rcode.SERVFAIL);
    second.forceRcode(Rcode.REFUSED);
    clock.advance(Duration.ofSeconds(31));
    CachingResolver.Answer a = get(r.lookup(COURIER));
    assertThat(a.stale()).isTrue();
    assertThat(text(a.addresses())).containsExactly("127.0.2.71");
    assertThat(second.totalQueries()).isEqualTo(2);
    assertThat(r.stats().staleServed()).isEqualTo(1);
    assertThat(r.stats().upstreamFailures()).isEqualTo(4);
  }

  @Test
  void lookupsJoinedOnAFailingResolutionAllFailWithOneQueryPerType() throws Exception {
    FakeUpstreamDns up = fake().silent(true);
    CachingResolver r = build(builder(up.address()));
    List<CompletableFuture<List<InetAddress>>> stages = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      stages.add(r.resolve(COURIER).toCompletableFuture());
    }
    for (CompletableFuture<List<InetAddress>> f : stages) {
      assertThat(failure(f))
          .isInstanceOf(IOException.class)
          .hasMessageContaining(up.address().toString());
    }
    assertThat(up.totalQueries()).isEqualTo(2);
    assertThat(r.stats().coalesced()).isEqualTo(99);
    assertThat(r.cachedNames()).isZero();
  }

  @Test
  void aCnameLoopFailsInsteadOfLoopingForever() throws Exception {
    FakeUpstreamDns inAnswer =
        fake().cname("loop1.test", 60, "loop2.test").cname("loop2.test", 60, "loop1.test");
    CachingResolver r = build(builder(inAnswer.address()));
    assertThat(failure(r.resolve("loop1.test")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("CNAME");

    FakeUpstreamDns byQueries =
        fake()
            .chaseCnames(false)
            .cname("loop1.test", 60, "loop2.test")
            .cname("loop2.test", 60, "loop1.test");
    CachingResolver r2 = build(builder(byQueries.address()));
    assertThat(failure(r2.resolve("loop1.test")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("CNAME");
    assertThat(byQueries.totalQueries()).as("bounded by the 8-link limit").isBetween(2, 2 * 10);
  }

  @Test
  void invalidNamesAndAClosedResolverFailWithoutAsking() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 60, "127.0.2.81");
    CachingResolver r = build(builder(up.address()));
    assertThat(failure(r.resolve("not a host name"))).isInstanceOf(UnknownHostException.class);
    assertThat(up.totalQueries()).isZero();
    r.close();
    assertThat(failure(r.resolve(COURIER))).isInstanceOf(IllegalStateException.class);
    assertThat(up.totalQueries()).isZero();
  }

  @Test
  void aHitInTheLastTenthOfItsLifeIsRefreshedInTheBackground() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 100, "127.0.2.91");
    CachingResolver r = build(builder(up.address()).prefetch(true));
    get(r.resolve(COURIER));
    up.remove(COURIER).a(COURIER, 100, "127.0.2.92");
    clock.advance(Duration.ofSeconds(50));
    get(r.resolve(COURIER));
    assertThat(r.stats().prefetches()).as("not yet in the last tenth").isZero();
    clock.advance(Duration.ofSeconds(45));
    assertThat(get(r.resolve(COURIER)))
        .as("answered from the cache at once")
        .containsExactly(InetAddress.getByName("127.0.2.91"));
    assertThat(r.stats().prefetches()).isEqualTo(1);
    assertThat(up.awaitQueries(4, Duration.ofSeconds(5)))
        .as("the refresh asked A and AAAA")
        .isTrue();
    // the refreshed entry is stored on the resolver's completion thread just after the answers
    // arrive
    List<InetAddress> seen = get(r.resolve(COURIER));
    for (int i = 0; i < 5_000 && !seen.equals(List.of(InetAddress.getByName("127.0.2.92"))); i++) {
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // at most 5 s in all
      seen = get(r.resolve(COURIER));
    }
    assertThat(seen).containsExactly(InetAddress.getByName("127.0.2.92"));
    assertThat(r.stats().misses()).as("every later lookup was a hit").isEqualTo(1);
  }

  @Test
  void
      aSlowUpstreamGetsTheExpiredAnswerAfterTheStaleAnswerTimeoutAndItsLateAnswerRefreshesTheCache()
          throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.1").nodata(COURIER, 30);
    // each try may take 20 s: only the stale-answer timer can answer within get()'s 5 s
    CachingResolver r =
        build(
            builder(up.address())
                .timeout(Duration.ofSeconds(20))
                .staleAnswerTimeout(Duration.ofMillis(100)));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.2.1");

    up.remove(COURIER).a(COURIER, 30, "127.0.2.9").nodata(COURIER, 30);
    up.hold();
    clock.advance(Duration.ofSeconds(31));
    CachingResolver.Answer stale = get(r.lookup(COURIER));
    assertThat(stale.stale()).isTrue();
    assertThat(stale.ttl()).isZero();
    assertThat(text(stale.addresses())).containsExactly("127.0.2.1");
    assertThat(r.stats().staleServed()).isEqualTo(1);
    assertThat(r.stats().upstreamFailures())
        .as("nothing failed: the upstream is only slow")
        .isZero();
    assertThat(up.awaitQueries(4, Duration.ofSeconds(5)))
        .as("the refresh is still asking")
        .isTrue();

    up.release();
    // lookups made before the late answer is stored get the stale answer again (at once: the
    // refresh is known to
    // be slow)
    int staleAgain = 0;
    CachingResolver.Answer a = get(r.lookup(COURIER));
    for (int i = 0; i < 5_000 && (!a.fromCache() || a.stale()); i++) {
      staleAgain += a.stale() ? 1 : 0;
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // at most 5 s in all
      a = get(r.lookup(COURIER));
    }
    assertThat(a.fromCache()).as("the late answer was cached").isTrue();
    assertThat(a.stale()).isFalse();
    assertThat(text(a.addresses())).containsExactly("127.0.2.9");
    assertThat(up.totalQueries()).as("no query beyond the one refresh").isEqualTo(4);
    assertThat(r.stats().staleServed()).isEqualTo(1 + staleAgain);
  }

  @Test
  void anExpiredNegativeAnswerWaitsForTheServersInsteadOfStandingIn() throws Exception {
    String missing = "99-courier.push.apple.com";
    FakeUpstreamDns up = fake().nxdomain(missing, 30);
    CachingResolver r =
        build(
            builder(up.address())
                .timeout(Duration.ofSeconds(20))
                .staleAnswerTimeout(Duration.ofMillis(50)));
    assertThat(failure(r.resolve(missing))).isInstanceOf(UnknownHostException.class);

    up.remove(missing).a(missing, 30, "127.0.2.7").nodata(missing, 30); // the name exists now
    up.hold();
    clock.advance(Duration.ofSeconds(31));
    CompletableFuture<CachingResolver.Answer> pending = r.lookup(missing).toCompletableFuture();
    assertThat(up.awaitQueries(4, Duration.ofSeconds(5))).isTrue();
    // six stale-answer timeouts pass: an expired NXDOMAIN must not stand in for the slow servers
    assertThatThrownBy(() -> pending.get(300, MILLISECONDS)).isInstanceOf(TimeoutException.class);
    up.release();
    CachingResolver.Answer a = get(pending);
    assertThat(a.stale()).isFalse();
    assertThat(text(a.addresses())).containsExactly("127.0.2.7");
    assertThat(r.stats().staleServed()).isZero();
  }

  // ---- issue 12 part 4 and issue 18: threads, build order, monotonic time, the stale timers

  @Test
  void lookupsCompleteOnTheResolversOwnThreadNeverOnTheCommonPool() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 60, "127.0.2.1").nodata(COURIER, 60);
    CachingResolver r = build(builder(up.address(), deadServer()));
    // the answer is held until the stage below is attached: a fast answer would otherwise run it
    // on this thread, which would prove nothing
    up.hold();
    CompletableFuture<String> answered =
        r.lookup(COURIER).thenApply(a -> Thread.currentThread().getName()).toCompletableFuture();
    up.release();
    String upstreamThread = get(answered);
    assertThat(upstreamThread).as("an upstream answer").isEqualTo("apns-proxy-dns-resolver");
    String hitThread = get(r.lookup(COURIER).thenApply(a -> Thread.currentThread().getName()));
    assertThat(hitThread)
        .as("a cache hit completes on the caller")
        .isEqualTo(Thread.currentThread().getName());

    CachingResolver dead = build(builder(deadServer()));
    CompletableFuture<String> failed =
        dead.lookup("timeout.test")
            .handle(
                (a, t) -> {
                  assertThat(t).isNotNull();
                  return Thread.currentThread().getName();
                })
            .toCompletableFuture();
    assertThat(failed.get(5, SECONDS))
        .as("a timeout (dnsjava's I/O thread fails it)")
        .isEqualTo("apns-proxy-dns-resolver");
  }

  @Test
  void aRefusedBuildStartsNoThread() {
    java.util.Set<String> before = DnsTestSupport.dnsThreads();
    assertThatThrownBy(
            () ->
                CachingResolver.builder()
                    .servers(List.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 5353)))
                    .ttlFloor(Duration.ofMinutes(2))
                    .ttlCeiling(Duration.ofMinutes(1))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttlFloor");
    assertThatThrownBy(() -> CachingResolver.builder().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no upstream DNS servers");
    assertThat(DnsTestSupport.dnsThreads()).isEqualTo(before);
  }

  @Test
  void entriesAgeByTheTickerNotTheWallClock() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.1").nodata(COURIER, 30);
    // no prefetch: the hit in the entry's last second below would refresh it in the background,
    // and the refreshed entry could answer the last lookup before the expiry is seen
    CachingResolver r = build(builder(up.address()).prefetch(false));
    get(r.lookup(COURIER));
    // the ticker crosses Long.MAX_VALUE here (it started 5 minutes before): the entry is still 29 s
    // fresh...
    clock.advance(Duration.ofMinutes(5).minusSeconds(1));
    assertThat(get(r.lookup(COURIER)).fromCache()).isFalse();
    clock.advance(Duration.ofSeconds(29));
    CachingResolver.Answer hit = get(r.lookup(COURIER));
    assertThat(hit.fromCache()).isTrue();
    assertThat(hit.ttl()).isEqualTo(Duration.ofSeconds(1));
    clock.advance(Duration.ofSeconds(1));
    assertThat(get(r.lookup(COURIER)).fromCache())
        .as("...and expires on time across the wrap")
        .isFalse();
  }

  /**
   * Issue 18: while the upstream hangs, a lookup waits the smaller of the stale-answer timeout and
   * the upstream tries; once an expired answer has stood in, later lookups get it at once for the
   * failure recheck time instead of each waiting again.
   */
  @Test
  void whileTheUpstreamHangsLaterLookupsGetTheStaleAnswerAtOnce() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.1").nodata(COURIER, 30);
    // the stale-answer timeout is far beyond get()'s 5 s: the 300 ms upstream timeout is the
    // smaller and must apply
    CachingResolver r = build(builder(up.address()).staleAnswerTimeout(Duration.ofMinutes(1)));
    get(r.lookup(COURIER));
    up.silent(true);
    clock.advance(Duration.ofSeconds(31));
    CachingResolver.Answer first = get(r.lookup(COURIER));
    assertThat(first.stale()).isTrue();
    assertThat(up.totalQueries()).isEqualTo(4);

    clock.advance(Duration.ofSeconds(10));
    CompletableFuture<CachingResolver.Answer> next = r.lookup(COURIER).toCompletableFuture();
    assertThat(next.isDone()).as("answered at once, without waiting for another timeout").isTrue();
    assertThat(next.join().stale()).isTrue();
    assertThat(text(next.join().addresses())).containsExactly("127.0.2.1");
    assertThat(up.totalQueries()).as("no query within the 30 s failure recheck time").isEqualTo(4);

    clock.advance(Duration.ofSeconds(21)); // 31 s after the failure: ask again
    up.silent(false);
    CachingResolver.Answer fresh = get(r.lookup(COURIER));
    assertThat(fresh.stale()).isFalse();
    assertThat(up.totalQueries()).isEqualTo(6);
    assertThat(r.stats().staleServed()).isEqualTo(2);
  }

  @Test
  void aSlowUpstreamMakesLaterLookupsTakeTheStaleAnswerAtOnceToo() throws Exception {
    FakeUpstreamDns up = fake().a(COURIER, 30, "127.0.2.1").nodata(COURIER, 30);
    CachingResolver r =
        build(
            builder(up.address())
                .timeout(Duration.ofSeconds(20))
                .staleAnswerTimeout(Duration.ofMillis(100)));
    get(r.lookup(COURIER));
    up.hold();
    clock.advance(Duration.ofSeconds(31));
    assertThat(get(r.lookup(COURIER)).stale()).isTrue(); // after the 100 ms stale-answer timeout
    CompletableFuture<CachingResolver.Answer> next = r.lookup(COURIER).toCompletableFuture();
    assertThat(next.isDone()).as("the refresh is known to hang: no second wait").isTrue();
    assertThat(next.join().stale()).isTrue();
    up.release();
  }
}
