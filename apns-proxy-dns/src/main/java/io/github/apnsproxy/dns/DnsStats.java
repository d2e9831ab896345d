// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import java.util.Map;

/**
 * A snapshot of a {@link DnsResponder}'s (and so a {@link DnsServer}'s) counters since it was
 * built.
 *
 * @param udpQueries packets received over UDP, including those dropped
 * @param tcpQueries messages received over TCP, including those dropped
 * @param answersByRcode responses sent, by rcode name ({@code NOERROR}, {@code NXDOMAIN}, {@code
 *     SERVFAIL}, ...)
 * @param truncated UDP responses sent truncated (TC set)
 * @param dropped queries not answered: shorter than a header, responses (QR set), denied clients
 *     when configured to drop, and (server only) TCP connections closed at accept: clients outside
 *     the policy, over the per-client limit, or with every connection of a full table busy
 * @param handlerErrors handlers that threw or failed (answered SERVFAIL)
 * @param handlerTimeouts handlers that did not complete in time (answered SERVFAIL)
 */
public record DnsStats(
    long udpQueries,
    long tcpQueries,
    Map<String, Long> answersByRcode,
    long truncated,
    long dropped,
    long handlerErrors,
    long handlerTimeouts) {
  public DnsStats {
    answersByRcode = Map.copyOf(answersByRcode);
  }

  /** Responses sent with {@code rcode} (a name such as {@code NXDOMAIN}, any case); 0 when none. */
  public long answers(String rcode) {
    return answersByRcode.getOrDefault(rcode.toUpperCase(java.util.Locale.ROOT), 0L);
  }

  /** Every query received. */
  public long queries() {
    return udpQueries + tcpQueries;
  }
}
