// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A snapshot of a {@link TcpSplicer}'s counters, taken by {@link TcpSplicer#stats()}. Immutable;
 * the counters are read one by one without a global lock, so a snapshot taken under load may be off
 * by in-flight connections.
 *
 * @param active live connections (accepted and not yet closed)
 * @param accepted connections accepted since start
 * @param rejected connections refused before any upstream connection was attempted, by reason
 *     (every reason present)
 * @param upstreamConnectFailures failed upstream connection attempts (one per candidate address
 *     that failed)
 * @param bytesClientToUpstream bytes read from clients
 * @param bytesUpstreamToClient bytes read from upstreams
 * @param closed closed connections by reason (every reason present)
 * @param outstandingBuffers buffers held for peers that cannot take bytes yet, over all loops (0
 *     when every connection is idle or closed: an idle splice holds no buffer)
 * @param routed connections routed (the router gave a route), by front door name ({@link
 *     Preface#frontDoor()}, {@code address} for listeners without one) and then by the kind of name
 *     they were routed by; every door of the splicer's listeners and {@code address} present, each
 *     with every kind
 * @param prefaceBytes bytes held now by connections waiting for their preface ({@link
 *     TcpSplicer#prefaceBytes()})
 * @param egressProxyFailures proxy handshakes that failed for a passing reason (5xx, SOCKS failure
 *     or unreachable, no answer in time, connection closed); also counted in {@code
 *     upstreamConnectFailures}
 * @param egressProxyRefusals proxy handshakes refused for a configuration reason (403, 407 and
 *     other 4xx, SOCKS "not allowed" or authentication failed); also counted in {@code
 *     upstreamConnectFailures}
 * @param selfLoopRefusals upstream candidates that were this proxy's own address (its plan or
 *     listen addresses), not connected to
 */
public record SpliceStats(
    long active,
    long accepted,
    Map<RejectReason, Long> rejected,
    long upstreamConnectFailures,
    long bytesClientToUpstream,
    long bytesUpstreamToClient,
    Map<CloseReason, Long> closed,
    int outstandingBuffers,
    Map<String, Map<ServerNameKind, Long>> routed,
    long prefaceBytes,
    long egressProxyFailures,
    long egressProxyRefusals,
    long selfLoopRefusals) {

  /** Copies the maps. */
  public SpliceStats {
    rejected = Map.copyOf(Objects.requireNonNull(rejected, "rejected"));
    closed = Map.copyOf(Objects.requireNonNull(closed, "closed"));
    Map<String, Map<ServerNameKind, Long>> copy = new LinkedHashMap<>();
    Objects.requireNonNull(routed, "routed")
        .forEach((door, byKind) -> copy.put(door, Map.copyOf(byKind)));
    routed = Collections.unmodifiableMap(copy);
  }

  /** A snapshot without routed counts and preface bytes (as before those existed). */
  public SpliceStats(
      long active,
      long accepted,
      Map<RejectReason, Long> rejected,
      long upstreamConnectFailures,
      long bytesClientToUpstream,
      long bytesUpstreamToClient,
      Map<CloseReason, Long> closed,
      int outstandingBuffers) {
    this(
        active,
        accepted,
        rejected,
        upstreamConnectFailures,
        bytesClientToUpstream,
        bytesUpstreamToClient,
        closed,
        outstandingBuffers,
        Map.of(),
        0,
        0,
        0,
        0);
  }

  /** The number of connections routed through front door {@code door} by a name of {@code kind}. */
  public long routed(String door, ServerNameKind kind) {
    Map<ServerNameKind, Long> byKind = routed.get(door);
    return byKind == null ? 0 : byKind.getOrDefault(kind, 0L);
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
