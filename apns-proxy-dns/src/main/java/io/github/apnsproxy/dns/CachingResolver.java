// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.core.HostNames;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.dns.internal.Responses;
import io.github.apnsproxy.dns.internal.UpstreamClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * Resolves the real addresses of names (the APNs hosts) through upstream DNS servers, with a cache.
 *
 * <ul>
 *   <li>Servers are tried in order, each with the timeout; a timeout, network error, SERVFAIL or
 *       REFUSED moves on.
 *   <li>A and AAAA are asked together; the result is the A addresses, then the AAAA addresses, in
 *       the order the server gave them. CNAME chains are followed (in the answer, and with further
 *       queries when the server left the chain unfinished), up to 8 links.
 *   <li>Entries live for the smallest TTL of the records used, raised to the floor and cut to the
 *       ceiling. NXDOMAIN and NODATA are cached too, for the SOA's negative TTL (RFC 2308) within
 *       the same bounds. When one type's query fails, the other type's addresses are used but kept
 *       for at most 5 s (or the floor); when it has no addresses either, the lookup fails (a stale
 *       entry may stand in) rather than caching "no addresses".
 *   <li><b>Coalescing</b>: while a name is being resolved, every other lookup of it waits for that
 *       resolution, so any number of concurrent lookups cause one upstream query per type.
 *   <li><b>Prefetch</b>: a hit in the last tenth of an entry's life refreshes it in the background.
 *   <li><b>Serve-stale</b> (RFC 8767): when every upstream fails, an entry expired less than the
 *       serve-stale age ago answers instead (logged once per name at WARN until a fresh answer
 *       arrives). When such an entry exists, a lookup also stops waiting after the stale-answer
 *       timeout (RFC 8767's client response timer, default 1.8 s) and gets the expired answer,
 *       while the resolution goes on and refreshes the cache when it completes. Once an expired
 *       answer has stood in, further lookups of the name get it at once, without asking upstream,
 *       for the next 30 s (RFC 8767's failure recheck timer), so a hanging upstream does not delay
 *       every connection; a fresh answer ends that at once.
 * </ul>
 *
 * Times are measured with a monotonic ticker ({@link System#nanoTime()} unless {@linkplain
 * Builder#ticker given}), so changes of the wall clock do not expire or extend entries.
 *
 * <p>Threads: a cache hit (and a stale answer within the failure recheck time) completes at once on
 * the calling thread. Every other lookup completes on the resolver's own thread {@code
 * apns-proxy-dns-resolver} (started on first use), which parses upstream answers, takes over
 * upstream failures from dnsjava's I/O thread and runs the stale-answer timer: never on the
 * JVM-wide common pool. Stages chained to a lookup without an executor run on that thread and must
 * not block. After {@link #close()}, lookups still in flight complete on dnsjava's I/O thread.
 * Thread-safe. Addresses are not filtered: the caller (the TCP router) applies its policy.
 */
public final class CachingResolver implements UpstreamResolver, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CachingResolver.class);
  private static final int MAX_CNAME_LINKS = 8;

  /**
   * How long an answer is kept when one of its two types (A, AAAA) failed, unless the TTL floor is
   * longer.
   */
  private static final long PARTIAL_TTL_NANOS = TimeUnit.SECONDS.toNanos(5);

  /**
   * RFC 8767 section 4: after a failed refresh, stale data is used at once for this long before
   * asking again.
   */
  private static final long FAILURE_RECHECK_NANOS = TimeUnit.SECONDS.toNanos(30);

  /**
   * Durations are capped here (about 73 years), so that sums of a time and two durations cannot
   * overflow.
   */
  private static final long MAX_NANOS = 1L << 61;

  /**
   * The result of a lookup.
   *
   * @param name the name asked, lower case without trailing dot
   * @param addresses A then AAAA addresses; empty for a name without addresses (NXDOMAIN or NODATA)
   * @param ttl how long the answer stays fresh from now (zero when stale)
   * @param exists false for NXDOMAIN
   * @param stale true when served from an expired entry: every upstream failed, or none answered
   *     within the stale-answer timeout
   * @param fromCache true when no upstream query was needed (or joined) for this lookup
   */
  public record Answer(
      String name,
      List<InetAddress> addresses,
      Duration ttl,
      boolean exists,
      boolean stale,
      boolean fromCache) {
    public Answer {
      addresses = List.copyOf(addresses);
    }
  }

  private final UpstreamClient client;
  private final long floorNanos;
  private final long ceilingNanos;
  private final long staleNanos;
  private final long staleAnswerNanos;
  private final boolean prefetch;
  private final int maxEntries;
  private final LongSupplier ticker;
  private final Map<String, Entry> cache = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Entry>> inFlight = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * The resolver's thread: upstream completions and the stale-answer timer; its one thread starts
   * on first use.
   */
  private final ScheduledThreadPoolExecutor executor;

  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder staleServed = new LongAdder();
  private final LongAdder coalesced = new LongAdder();
  private final LongAdder negativeHits = new LongAdder();
  private final LongAdder prefetches = new LongAdder();

  /**
   * A cached answer; immutable except for the once-per-name stale log flag, the prefetch flag and
   * the failure recheck time. Times are ticker values: compare them by their difference only (the
   * ticker may wrap).
   */
  private static final class Entry {
    final List<InetAddress> addresses;
    final boolean exists;
    final long storedAt;
    final long expiresAt;
    final AtomicBoolean staleLogged = new AtomicBoolean();
    final AtomicBoolean prefetching = new AtomicBoolean();

    /**
     * Set when this entry stood in for a failed or slow refresh: until {@link #recheckAt}, it
     * stands in at once.
     */
    volatile boolean failing;

    volatile long recheckAt;

    Entry(List<InetAddress> addresses, boolean exists, long storedAt, long expiresAt) {
      this.addresses = List.copyOf(addresses);
      this.exists = exists;
      this.storedAt = storedAt;
      this.expiresAt = expiresAt;
    }

    boolean fresh(long now) {
      return now - expiresAt < 0;
    }

    boolean rechecking(long now) {
      return failing && now - recheckAt < 0;
    }

    boolean negative() {
      return addresses.isEmpty();
    }
  }

  /**
   * Called by {@link Builder#build()} after every check: nothing here throws, and the executor
   * comes last.
   */
  private CachingResolver(Builder b, ScheduledThreadPoolExecutor executor) {
    this.floorNanos = nanos(b.ttlFloor);
    this.ceilingNanos = nanos(b.ttlCeiling);
    this.staleNanos = nanos(b.serveStale);
    this.staleAnswerNanos = nanos(b.staleAnswerTimeout);
    this.prefetch = b.prefetch;
    this.maxEntries = b.maxEntries;
    this.ticker = b.ticker;
    this.executor = executor;
    this.client = new UpstreamClient(b.servers, b.timeout, UpstreamClient.orInline(executor));
  }

  /** {@code d} in nanoseconds, at most {@link #MAX_NANOS}. */
  private static long nanos(Duration d) {
    return d.compareTo(Duration.ofNanos(MAX_NANOS)) >= 0 ? MAX_NANOS : d.toNanos();
  }

  /** A builder; {@link Builder#servers} is required. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public CompletionStage<List<InetAddress>> resolve(String host) {
    return lookup(host)
        .thenCompose(
            a -> {
              if (!a.addresses().isEmpty()) {
                return CompletableFuture.completedFuture(a.addresses());
              }
              return CompletableFuture.failedFuture(
                  new UnknownHostException(
                      a.name()
                          + (a.exists()
                              ? " has no A or AAAA records"
                              : " does not exist (NXDOMAIN)")));
            });
  }

  /**
   * Looks up {@code host}'s addresses with the cache's details. The stage fails only when every
   * upstream failed and no stale entry can stand in ({@link IOException} naming the servers), or
   * the name is not a valid host name ({@link UnknownHostException}).
   */
  // the futures that whenComplete returns are dropped: each callback settles a future of this class
  // itself
  @SuppressWarnings("FutureReturnValueIgnored")
  public CompletionStage<Answer> lookup(String host) {
    Objects.requireNonNull(host, "host");
    if (closed.get()) {
      return CompletableFuture.failedFuture(new IllegalStateException("resolver closed"));
    }
    String name = HostNames.normalize(host).orElse(null);
    if (name == null) {
      return CompletableFuture.failedFuture(
          new UnknownHostException("'" + host + "' is not a host name"));
    }
    long now = ticker.getAsLong();
    Entry e = cache.get(name);
    if (e != null && e.fresh(now)) {
      hits.increment();
      if (e.negative()) {
        negativeHits.increment();
      }
      if (prefetch
          && !e.negative()
          && e.expiresAt - now <= (e.expiresAt - e.storedAt) / 10
          && e.prefetching.compareAndSet(false, true)) {
        prefetches.increment();
        resolveShared(name); // refreshes the entry in the background; failures keep the current one
      }
      return CompletableFuture.completedFuture(answer(name, e, now, false, true));
    }
    if (e != null && e.rechecking(now) && now - e.expiresAt <= staleNanos) {
      // RFC 8767 section 4: a refresh failed (or hung) a moment ago; do not make this caller wait
      // for another one
      staleServed.increment();
      return CompletableFuture.completedFuture(answer(name, e, now, true, true));
    }
    misses.increment();
    CompletableFuture<Answer> result = new CompletableFuture<>();
    // the resolution and the stale-answer timer race to settle the lookup; the first one counts and
    // completes
    AtomicBoolean settled = new AtomicBoolean();
    resolveShared(name)
        .whenComplete(
            (fresh, failure) -> {
              if (failure == null) {
                if (settled.compareAndSet(false, true)) {
                  result.complete(answer(name, fresh, ticker.getAsLong(), false, false));
                }
              } else if (!serveStale(
                      result, settled, name, String.valueOf(Responses.unwrap(failure).getMessage()))
                  && settled.compareAndSet(false, true)) {
                result.completeExceptionally(Responses.unwrap(failure));
              }
            });
    if (staleAnswerNanos > 0
        && !settled.get()
        && e != null
        && !e.negative()
        && now - e.expiresAt <= staleNanos) {
      // RFC 8767's client response timer: do not keep the caller waiting on slow upstreams when
      // expired addresses
      // can stand in (an expired NXDOMAIN or NODATA waits for the servers); the resolution goes on
      // and refreshes
      // the entry. The timer goes as soon as the lookup is settled.
      try {
        ScheduledFuture<?> task =
            executor.schedule(
                () ->
                    serveStale(
                        result,
                        settled,
                        name,
                        "no answer within " + staleAnswerNanos / 1_000_000 + " ms"),
                staleAnswerNanos,
                TimeUnit.NANOSECONDS);
        result.whenComplete((a, f) -> task.cancel(false));
      } catch (RejectedExecutionException closedMeanwhile) {
        // the resolver was closed: the lookup waits for the servers like any other
      }
    }
    return result;
  }

  /**
   * Settles {@code result} with {@code name}'s expired entry if it is within the serve-stale age
   * and the lookup is not settled yet (counted, and logged once per entry). False when there is no
   * such entry.
   */
  private boolean serveStale(
      CompletableFuture<Answer> result, AtomicBoolean settled, String name, String why) {
    long t = ticker.getAsLong();
    Entry old = cache.get(name);
    if (old == null || t - old.expiresAt > staleNanos) {
      return false;
    }
    if (!settled.compareAndSet(false, true)) {
      return true;
    }
    if (old.fresh(t)) {
      result.complete(
          answer(name, old, t, false, false)); // refreshed meanwhile: a fresh answer after all
      return true;
    }
    old.recheckAt = t + FAILURE_RECHECK_NANOS;
    old.failing = true;
    staleServed.increment();
    if (old.staleLogged.compareAndSet(false, true)) {
      LOG.warn(
          "no fresh upstream DNS answer for {}; serving the answer that expired {} s ago ({})",
          name,
          Math.max(0, (t - old.expiresAt) / 1000),
          why);
    }
    result.complete(answer(name, old, t, true, false));
    return true;
  }

  private static Answer answer(String name, Entry e, long now, boolean stale, boolean fromCache) {
    Duration ttl = stale ? Duration.ZERO : Duration.ofNanos(Math.max(0, e.expiresAt - now));
    return new Answer(name, e.addresses, ttl, e.exists, stale, fromCache);
  }

  /** Starts, or joins, the one resolution of {@code name}; a joined one counts as coalesced. */
  @SuppressWarnings("FutureReturnValueIgnored") // the callback settles mine, which is returned
  private CompletableFuture<Entry> resolveShared(String name) {
    CompletableFuture<Entry> mine = new CompletableFuture<>();
    CompletableFuture<Entry> running = inFlight.putIfAbsent(name, mine);
    if (running != null) {
      coalesced.increment();
      return running;
    }
    resolveNow(name)
        .whenComplete(
            (entry, failure) -> {
              if (failure == null) {
                store(name, entry);
              }
              inFlight.remove(name, mine);
              if (failure == null) {
                mine.complete(entry);
              } else {
                mine.completeExceptionally(Responses.unwrap(failure));
              }
            });
    return mine;
  }

  private void store(String name, Entry entry) {
    if (cache.size() >= maxEntries && !cache.containsKey(name)) {
      long now = ticker.getAsLong();
      cache.entrySet().removeIf(x -> now - x.getValue().expiresAt > staleNanos);
      if (cache.size() >= maxEntries) {
        LOG.debug("resolver cache full ({} names); {} not cached", maxEntries, name);
        return;
      }
    }
    cache.put(name, entry);
  }

  /** Asks A and AAAA, follows CNAMEs, builds the entry. */
  private CompletableFuture<Entry> resolveNow(String name) {
    Name qname = Responses.absolute(name);
    CompletableFuture<TypeResult> a = chase(qname, Type.A, 0, Long.MAX_VALUE);
    CompletableFuture<TypeResult> aaaa = chase(qname, Type.AAAA, 0, Long.MAX_VALUE);
    return a.handle((ra, fa) -> new Object[] {ra, fa})
        .thenCombine(
            aaaa.handle((r6, f6) -> new Object[] {r6, f6}),
            (x, y) -> {
              TypeResult r4 = (TypeResult) x[0];
              TypeResult r6 = (TypeResult) y[0];
              Throwable f4 = (Throwable) x[1];
              Throwable f6 = (Throwable) y[1];
              if (r4 == null && r6 == null) {
                throw new java.util.concurrent.CompletionException(
                    Responses.unwrap(f4 != null ? f4 : f6));
              }
              // one type failing (a broken AAAA path, say) does not hide the other
              List<InetAddress> addresses = new ArrayList<>();
              long positiveTtl = Long.MAX_VALUE;
              long negativeTtl = Long.MAX_VALUE;
              boolean nxdomain = false;
              for (TypeResult r : new TypeResult[] {r4, r6}) {
                if (r == null) {
                  continue;
                }
                addresses.addAll(r.addresses);
                if (r.addresses.isEmpty()) {
                  negativeTtl = Math.min(negativeTtl, r.ttlSeconds);
                } else {
                  positiveTtl = Math.min(positiveTtl, r.ttlSeconds);
                }
                nxdomain |= r.nxdomain;
              }
              boolean partial = f4 != null || f6 != null;
              if (addresses.isEmpty() && partial && !nxdomain) {
                // one type failed and the other has no records: that says nothing about the name,
                // so it is a failure
                // (not cached; a stale entry may stand in), never a negative answer
                throw new java.util.concurrent.CompletionException(
                    Responses.unwrap(f4 != null ? f4 : f6));
              }
              // a NODATA for one type (no AAAA, say) must not shorten the life of the other type's
              // addresses
              long ttlSeconds = addresses.isEmpty() ? negativeTtl : positiveTtl;
              long now = ticker.getAsLong();
              long ttl =
                  Math.max(
                      floorNanos,
                      Math.min(
                          ceilingNanos,
                          ttlSeconds == Long.MAX_VALUE
                              ? floorNanos
                              : TimeUnit.SECONDS.toNanos(ttlSeconds)));
              if (partial) {
                // addresses of one type only because the other type's query failed: keep them
                // briefly, ask again soon
                ttl = Math.min(ttl, Math.max(floorNanos, PARTIAL_TTL_NANOS));
              }
              boolean exists = !(nxdomain && addresses.isEmpty());
              return new Entry(addresses, exists, now, now + ttl);
            });
  }

  /** One type's result: addresses, the smallest TTL seen, and whether the name does not exist. */
  private record TypeResult(List<InetAddress> addresses, long ttlSeconds, boolean nxdomain) {}

  private CompletableFuture<TypeResult> chase(Name name, int type, int links, long ttlSoFar) {
    return Responses.future(client.query(name, type))
        .thenCompose(
            m -> {
              int rcode = m.getRcode();
              if (rcode != Rcode.NOERROR && rcode != Rcode.NXDOMAIN) {
                return CompletableFuture.failedFuture(
                    new IOException(
                        "upstream DNS answered "
                            + Rcode.string(rcode)
                            + " for "
                            + name
                            + " "
                            + Type.string(type)));
              }
              long ttl = ttlSoFar;
              Name current = name;
              List<InetAddress> addresses = new ArrayList<>();
              int followed = links;
              // walk the chain inside this answer
              boolean moved = true;
              while (moved) {
                moved = false;
                for (Record r : m.getSection(Section.ANSWER)) {
                  if (!r.getName().equals(current)) {
                    continue;
                  }
                  if (r.getType() == type) {
                    addresses.add(
                        r instanceof ARecord ar ? ar.getAddress() : ((AAAARecord) r).getAddress());
                    ttl = Math.min(ttl, r.getTTL());
                  } else if (r.getType() == Type.CNAME && addresses.isEmpty()) {
                    if (++followed > MAX_CNAME_LINKS) {
                      return CompletableFuture.failedFuture(
                          new IOException(
                              "CNAME chain of " + name + " longer than " + MAX_CNAME_LINKS));
                    }
                    current = ((CNAMERecord) r).getTarget();
                    ttl = Math.min(ttl, r.getTTL());
                    moved = true;
                    break;
                  }
                }
              }
              if (!addresses.isEmpty()) {
                return CompletableFuture.completedFuture(new TypeResult(addresses, ttl, false));
              }
              if (rcode == Rcode.NOERROR && !current.equals(name) && !hasSoa(m)) {
                // the server stopped at a CNAME without saying the target has no such records: ask
                // for the target
                return chase(current, type, followed, ttl);
              }
              long negative = negativeTtl(m);
              return CompletableFuture.completedFuture(
                  new TypeResult(List.of(), Math.min(ttl, negative), rcode == Rcode.NXDOMAIN));
            });
  }

  private static boolean hasSoa(Message m) {
    for (Record r : m.getSection(Section.AUTHORITY)) {
      if (r instanceof SOARecord) {
        return true;
      }
    }
    return false;
  }

  /** RFC 2308: the smaller of the SOA's TTL and its minimum; the floor when there is no SOA. */
  private long negativeTtl(Message m) {
    for (Record r : m.getSection(Section.AUTHORITY)) {
      if (r instanceof SOARecord soa) {
        return Math.min(soa.getTTL(), soa.getMinimum());
      }
    }
    return TimeUnit.NANOSECONDS.toSeconds(floorNanos);
  }

  /** The counters. */
  public ResolverStats stats() {
    return new ResolverStats(
        hits.sum(),
        misses.sum(),
        staleServed.sum(),
        coalesced.sum(),
        client.queries(),
        client.failures(),
        negativeHits.sum(),
        prefetches.sum());
  }

  /** Names cached now, fresh or stale. */
  public int cachedNames() {
    return cache.size();
  }

  /** Drops the cache; later lookups fail. In-flight lookups still complete. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      cache.clear();
      executor.shutdownNow();
    }
  }

  /** Builds a {@link CachingResolver}. */
  public static final class Builder {
    private List<InetSocketAddress> servers = List.of();
    private Duration timeout = Duration.ofSeconds(2);
    private Duration ttlFloor = Duration.ofSeconds(10);
    private Duration ttlCeiling = Duration.ofHours(1);
    private Duration serveStale = Duration.ofDays(1);
    private Duration staleAnswerTimeout = Duration.ofMillis(1800);
    private boolean prefetch = true;
    private int maxEntries = 10_000;
    private LongSupplier ticker = System::nanoTime;

    private Builder() {}

    /** The upstream servers, tried in order; required. */
    public Builder servers(List<InetSocketAddress> servers) {
      this.servers = List.copyOf(Objects.requireNonNull(servers, "servers"));
      return this;
    }

    /** Timeout of one try at one server; default 2 s. */
    public Builder timeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** The shortest time an answer is cached, whatever its TTL; default 10 s. */
    public Builder ttlFloor(Duration floor) {
      this.ttlFloor = Responses.nonNegative(floor, "ttlFloor");
      return this;
    }

    /** The longest time an answer is cached, whatever its TTL; default 1 h. */
    public Builder ttlCeiling(Duration ceiling) {
      this.ttlCeiling = Responses.nonNegative(ceiling, "ttlCeiling");
      return this;
    }

    /**
     * How long after expiry an answer may still be served when every upstream fails; default 1 day;
     * 0 for never.
     */
    public Builder serveStale(Duration maxAge) {
      this.serveStale = Responses.nonNegative(maxAge, "serveStale");
      return this;
    }

    /**
     * How long a lookup of an expired name waits for the upstream servers before it is answered
     * with the expired entry (within the serve-stale age; the resolution goes on and refreshes the
     * cache); default 1.8 s, the client response timer RFC 8767 suggests; 0 to wait until every
     * upstream has failed.
     */
    public Builder staleAnswerTimeout(Duration timeout) {
      this.staleAnswerTimeout = Responses.nonNegative(timeout, "staleAnswerTimeout");
      return this;
    }

    /** Refresh entries hit in the last tenth of their life in the background; default on. */
    public Builder prefetch(boolean prefetch) {
      this.prefetch = prefetch;
      return this;
    }

    /** The most names cached; default 10,000. */
    public Builder maxEntries(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxEntries " + max + " (expected 1 or more)");
      }
      this.maxEntries = max;
      return this;
    }

    /**
     * The monotonic time source for TTLs and serve-stale ages, in nanoseconds with an arbitrary
     * origin, like {@link System#nanoTime()} (the default; tests use a manual one). Only
     * differences of its values are used.
     */
    public Builder ticker(LongSupplier nanoTime) {
      this.ticker = Objects.requireNonNull(nanoTime, "nanoTime");
      return this;
    }

    /** The upstream servers set. */
    public List<InetSocketAddress> servers() {
      return servers;
    }

    /** The timeout of one upstream try. */
    public Duration timeout() {
      return timeout;
    }

    /** The TTL floor. */
    public Duration ttlFloor() {
      return ttlFloor;
    }

    /** The TTL ceiling. */
    public Duration ttlCeiling() {
      return ttlCeiling;
    }

    /** The longest an expired answer is served when upstream fails; zero = off. */
    public Duration serveStale() {
      return serveStale;
    }

    /** RFC 8767's client response timer; zero = an expired answer only once every server failed. */
    public Duration staleAnswerTimeout() {
      return staleAnswerTimeout;
    }

    /**
     * The resolver. Every check comes before anything is started, so a refused build leaves no
     * thread behind.
     *
     * @throws IllegalArgumentException when no server is given, the timeout is not positive or the
     *     floor is above the ceiling
     */
    public CachingResolver build() {
      Responses.positive(timeout, "timeout");
      if (servers.isEmpty()) {
        throw new IllegalArgumentException("no upstream DNS servers (expected at least one)");
      }
      if (ttlFloor.compareTo(ttlCeiling) > 0) {
        throw new IllegalArgumentException(
            "ttlFloor " + ttlFloor + " is above ttlCeiling " + ttlCeiling);
      }
      ScheduledThreadPoolExecutor executor =
          new ScheduledThreadPoolExecutor(
              1,
              r -> {
                Thread t = new Thread(r, "apns-proxy-dns-resolver");
                t.setDaemon(true);
                return t;
              });
      executor.setRemoveOnCancelPolicy(true);
      return new CachingResolver(this, executor);
    }
  }
}
