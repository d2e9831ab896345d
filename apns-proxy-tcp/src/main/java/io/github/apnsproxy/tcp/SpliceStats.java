// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.util.Map;
import java.util.Objects;

/**
 * A snapshot of a {@link TcpSplicer}'s counters, taken by {@link TcpSplicer#stats()}. Immutable; the counters are
 * read one by one without a global lock, so a snapshot taken under load may be off by in-flight connections.
 *
 * @param active live connections (accepted and not yet closed)
 * @param accepted connections accepted since start
 * @param rejected connections refused before any upstream connection was attempted, by reason (every reason present)
 * @param upstreamConnectFailures failed upstream connection attempts (one per candidate address that failed)
 * @param bytesClientToUpstream bytes read from clients
 * @param bytesUpstreamToClient bytes read from upstreams
 * @param closed closed connections by reason (every reason present)
 * @param outstandingBuffers buffers held for peers that cannot take bytes yet, over all loops (0 when every
 *     connection is idle or closed: an idle splice holds no buffer)
 * @param egressProxyFailures proxy handshakes that failed for a passing reason (5xx, SOCKS failure or unreachable,
 *     no answer in time, connection closed); also counted in {@code upstreamConnectFailures}
 * @param egressProxyRefusals proxy handshakes refused for a configuration reason (403, 407 and other 4xx, SOCKS
 *     "not allowed" or authentication failed); also counted in {@code upstreamConnectFailures}
 * @param selfLoopRefusals upstream candidates that were this proxy's own address (its plan or listen addresses), not
 *     connected to
 */
public record SpliceStats(long active, long accepted, Map<RejectReason, Long> rejected, long upstreamConnectFailures,
    long bytesClientToUpstream, long bytesUpstreamToClient, Map<CloseReason, Long> closed,
    int outstandingBuffers, long egressProxyFailures, long egressProxyRefusals, long selfLoopRefusals) {

  /** Copies the maps. */
  public SpliceStats {
    rejected = Map.copyOf(Objects.requireNonNull(rejected, "rejected"));
    closed = Map.copyOf(Objects.requireNonNull(closed, "closed"));
  }

  /** The number of connections rejected for {@code reason}. */
  public long rejected(RejectReason reason) {
    return rejected.getOrDefault(reason, 0L);
  }

  /** The number of connections closed for {@code reason}. */
  public long closed(CloseReason reason) {
    return closed.getOrDefault(reason, 0L);
  }
}
