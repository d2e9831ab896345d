// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

/**
 * A snapshot of a {@link CachingResolver}'s counters.
 *
 * @param hits lookups answered from a fresh cache entry (positive or negative)
 * @param misses lookups that needed an upstream resolution (including those that joined one in
 *     flight)
 * @param staleServed lookups answered from an expired entry because every upstream failed (RFC
 *     8767)
 * @param coalesced lookups that joined a resolution already in flight instead of sending their own
 * @param upstreamQueries queries sent upstream (one per server tried, A and AAAA counted
 *     separately)
 * @param upstreamFailures upstream tries that timed out, failed or got SERVFAIL/REFUSED
 * @param negativeHits the part of {@code hits} answered from a negative (NXDOMAIN/NODATA) entry
 * @param prefetches resolutions started before expiry because a popular entry was about to expire
 */
public record ResolverStats(
    long hits,
    long misses,
    long staleServed,
    long coalesced,
    long upstreamQueries,
    long upstreamFailures,
    long negativeHits,
    long prefetches) {}
