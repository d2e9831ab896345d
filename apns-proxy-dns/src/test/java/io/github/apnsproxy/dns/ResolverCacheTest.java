// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link CachingResolver} against a real upstream DNS stub on loopback, with a manual clock for TTLs. */
class ResolverCacheTest {
  private static final String COURIER = "17-courier.push.apple.com";

  private final List<AutoCloseable> resources = new ArrayList<>();
  private final ManualClock clock = new ManualClock();

  /** A clock the test moves by hand. */
  static final class ManualClock implements InstantSource {
    private final AtomicLong millis = new AtomicLong(1_700_000_000_000L);

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }

    @Override
    public long millis() {
      return millis.get();
    }

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }
  }

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : resources) {
      c.close();
    }
  }

  private UpstreamDnsStub stub() throws IOException {
    UpstreamDnsStub s = new UpstreamDnsStub();
    resources.add(s);
    return s;
  }

  private InetSocketAddress dead() throws IOException {
    DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    resources.add(s);
    return (InetSocketAddress) s.getLocalSocketAddress();
  }

  private CachingResolver.Builder resolver(InetSocketAddress... servers) {
    return CachingResolver.builder().servers(List.of(servers)).clock(clock).timeout(Duration.ofMillis(400))
        .ttlFloor(Duration.ZERO).prefetch(false);
  }

  private CachingResolver build(CachingResolver.Builder b) {
    CachingResolver r = b.build();
    resources.add(r);
    return r;
  }

  private static <T> T get(java.util.concurrent.CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  private static List<String> text(List<InetAddress> addresses) {
    return addresses.stream().map(InetAddress::getHostAddress).toList();
  }

  @Test
  void aThousandConcurrentLookupsOfOneNameSendOneQueryPerType() throws Exception {
    UpstreamDnsStub up = stub().a(COURIER, 60, "127.0.1.1", "127.0.1.2");
    CachingResolver r = build(resolver(up.address()));
    up.hold();
    List<CompletableFuture<List<InetAddress>>> all = new ArrayList<>();
    List<Thread> callers = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Thread caller = new Thread(() -> {
        for (int i = 0; i < 250; i++) {
          CompletableFuture<List<InetAddress>> f = r.resolve(COURIER).toCompletableFuture();
          synchronized (all) {
            all.add(f);
          }
        }
      });
      callers.add(caller);
      caller.start();
    }
    for (Thread c : callers) {
      c.join(5000);
    }
    assertThat(all).hasSize(1000);
    assertThat(all).noneMatch(CompletableFuture::isDone);
    up.release();
    for (CompletableFuture<List<InetAddress>> f : all) {
      assertThat(text(f.get(5, TimeUnit.SECONDS))).containsExactly("127.0.1.1", "127.0.1.2");
    }
    assertThat(up.queries()).containsExactlyInAnyOrder(COURIER + ". A", COURIER + ". AAAA");
    ResolverStats s = r.stats();
    assertThat(s.misses()).isEqualTo(1000);
    assertThat(s.coalesced()).isEqualTo(999);
    assertThat(s.upstreamQueries()).isEqualTo(2);
    // and the next one is a hit
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.1.1", "127.0.1.2");
    assertThat(r.stats().hits()).isEqualTo(1);
    assertThat(up.queryCount()).isEqualTo(2);
  }

  @Test
  void entriesExpireWithTheirTtlAndAreAskedAgain() throws Exception {
    UpstreamDnsStub up = stub().a(COURIER, 30, "127.0.1.1");
    CachingResolver r = build(resolver(up.address()));
    CachingResolver.Answer first = get(r.lookup(COURIER));
    assertThat(first.fromCache()).isFalse();
    assertThat(first.ttl()).isEqualTo(Duration.ofSeconds(30));
    clock.advance(Duration.ofSeconds(10));
    CachingResolver.Answer hit = get(r.lookup(COURIER));
    assertThat(hit.fromCache()).isTrue();
    assertThat(hit.ttl()).isEqualTo(Duration.ofSeconds(20));
    assertThat(up.queryCount()).isEqualTo(2);
    up.clear(COURIER).a(COURIER, 30, "127.0.1.5");
    clock.advance(Duration.ofSeconds(21));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.1.5");
    assertThat(up.queryCount()).isEqualTo(4);
  }

  @Test
  void theTtlIsRaisedToTheFloorAndCutToTheCeiling() throws Exception {
    UpstreamDnsStub up = stub().a("short.test", 1, "127.0.1.1").a("long.test", 86400, "127.0.1.2");
    CachingResolver r = build(resolver(up.address()).ttlFloor(Duration.ofSeconds(10))
        .ttlCeiling(Duration.ofSeconds(60)));
    get(r.resolve("short.test"));
    get(r.resolve("long.test"));
    assertThat(up.queryCount()).isEqualTo(4);
    clock.advance(Duration.ofSeconds(5));
    get(r.resolve("short.test"));
    assertThat(up.queryCount()).as("1 s TTL held for the 10 s floor").isEqualTo(4);
    clock.advance(Duration.ofSeconds(56));
    get(r.resolve("long.test"));
    assertThat(up.queryCount()).as("1 day TTL cut to the 60 s ceiling").isEqualTo(6);
    assertThatThrownBy(() -> CachingResolver.builder().servers(List.of(up.address()))
        .ttlFloor(Duration.ofMinutes(2)).ttlCeiling(Duration.ofMinutes(1)).build())
        .hasMessageContaining("ttlFloor");
  }

  @Test
  void whenEveryUpstreamFailsTheExpiredAnswerIsServedUntilTheStaleLimit() throws Exception {
    UpstreamDnsStub up = stub().a(COURIER, 30, "127.0.1.1");
    CachingResolver r = build(resolver(up.address()).serveStale(Duration.ofMinutes(5)));
    get(r.resolve(COURIER));
    up.close(); // the upstream is gone
    clock.advance(Duration.ofSeconds(31));
    CachingResolver.Answer stale = get(r.lookup(COURIER));
    assertThat(stale.stale()).isTrue();
    assertThat(text(stale.addresses())).containsExactly("127.0.1.1");
    assertThat(stale.ttl()).isZero();
    assertThat(r.stats().staleServed()).isEqualTo(1);
    assertThat(r.stats().upstreamFailures()).isGreaterThanOrEqualTo(2);
    clock.advance(Duration.ofMinutes(10));
    assertThatThrownBy(() -> get(r.resolve(COURIER))).isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(IOException.class).hasMessageContaining("no upstream DNS server answered");
  }

  @Test
  void aDeadOrFailingFirstServerFailsOverToTheNext() throws Exception {
    UpstreamDnsStub up = stub().a(COURIER, 30, "127.0.1.3");
    CachingResolver r = build(resolver(dead(), up.address()));
    assertThat(text(get(r.resolve(COURIER)))).containsExactly("127.0.1.3");
    assertThat(r.stats().upstreamFailures()).isEqualTo(2); // A and AAAA each timed out once
    assertThat(r.stats().upstreamQueries()).isEqualTo(4);

    UpstreamDnsStub broken = stub();
    broken.servfail(true);
    UpstreamDnsStub good = stub().a("x.test", 30, "127.0.1.4");
    CachingResolver r2 = build(resolver(broken.address(), good.address()));
    assertThat(text(get(r2.resolve("x.test")))).containsExactly("127.0.1.4");
    assertThat(broken.queryCount()).isEqualTo(2);
  }

  @Test
  void cnameChainsAreFollowedInTheAnswerAndWithFurtherQueries() throws Exception {
    UpstreamDnsStub up = stub().cname(COURIER, 300, "courier.push-apple.com.akadns.test")
        .cname("courier.push-apple.com.akadns.test", 20, "edge.test").a("edge.test", 45, "127.0.1.7");
    CachingResolver r = build(resolver(up.address()));
    CachingResolver.Answer a = get(r.lookup(COURIER));
    assertThat(text(a.addresses())).containsExactly("127.0.1.7");
    assertThat(a.ttl()).isLessThanOrEqualTo(Duration.ofSeconds(20));
    assertThat(up.queryCount()).isEqualTo(2);

    UpstreamDnsStub partial = stub().cname("alias.test", 60, "target.test").a("target.test", 60, "127.0.1.8");
    partial.followChains(false);
    CachingResolver r2 = build(resolver(partial.address()));
    assertThat(text(get(r2.resolve("alias.test")))).containsExactly("127.0.1.8");
    assertThat(partial.queries()).contains("alias.test. A", "target.test. A");
  }

  @Test
  void nxdomainFailsWithUnknownHostAndIsCachedForTheNegativeTtl() throws Exception {
    UpstreamDnsStub up = stub();
    CachingResolver r = build(resolver(up.address()));
    assertThatThrownBy(() -> get(r.resolve("99-courier.push.apple.com"))).isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(UnknownHostException.class);
    assertThat(up.queryCount()).isEqualTo(2);
    clock.advance(Duration.ofSeconds(30));
    CachingResolver.Answer cached = get(r.lookup("99-courier.push.apple.com"));
    assertThat(cached.exists()).isFalse();
    assertThat(cached.fromCache()).isTrue();
    assertThat(r.stats().negativeHits()).isEqualTo(1);
    assertThat(up.queryCount()).isEqualTo(2);
    clock.advance(Duration.ofSeconds(31)); // past the SOA minimum of 60 s
    get(r.lookup("99-courier.push.apple.com"));
    assertThat(up.queryCount()).isEqualTo(4);
  }

  @Test
  void aAddressesComeBeforeAaaaAndAaaaAloneWorks() throws Exception {
    UpstreamDnsStub up = stub().a("dual.test", 60, "127.0.1.9").aaaa("dual.test", 60, "::1")
        .aaaa("six.test", 60, "::1");
    CachingResolver r = build(resolver(up.address()));
    assertThat(text(get(r.resolve("dual.test")))).containsExactly("127.0.1.9", "0:0:0:0:0:0:0:1");
    assertThat(text(get(r.resolve("six.test.")))).containsExactly("0:0:0:0:0:0:0:1");
    CachingResolver.Answer nodata = get(r.lookup("nothing.test").exceptionally(t -> null));
    assertThat(nodata).isNotNull();
    assertThat(nodata.exists()).isFalse();
  }

  @Test
  void aHitInTheLastTenthOfItsLifePrefetchesInTheBackground() throws Exception {
    UpstreamDnsStub up = stub().a(COURIER, 100, "127.0.1.1");
    CachingResolver r = build(resolver(up.address()).prefetch(true));
    get(r.resolve(COURIER));
    up.clear(COURIER).a(COURIER, 100, "127.0.1.2");
    clock.advance(Duration.ofSeconds(50));
    get(r.resolve(COURIER));
    assertThat(r.stats().prefetches()).isZero();
    clock.advance(Duration.ofSeconds(45));
    assertThat(text(get(r.resolve(COURIER)))).as("answered from cache at once").containsExactly("127.0.1.1");
    assertThat(r.stats().prefetches()).isEqualTo(1);
    assertThat(up.awaitAnswered(4, Duration.ofSeconds(5))).as("prefetch queries answered").isTrue();
    // the answers are stored on the resolver's completion thread right after they arrive: a hit shows the new one
    CachingResolver.Answer refreshed = get(r.lookup(COURIER));
    for (int i = 0; i < 100 && !refreshed.addresses().equals(List.of(DnsTestSupport.ip("127.0.1.2"))); i++) {
      TimeUnit.MILLISECONDS.sleep(10); // bounded: the store follows the answer within microseconds
      refreshed = get(r.lookup(COURIER));
    }
    assertThat(text(refreshed.addresses())).containsExactly("127.0.1.2");
    assertThat(refreshed.fromCache()).isTrue();
    assertThat(r.stats().misses()).isEqualTo(1);
  }
}
