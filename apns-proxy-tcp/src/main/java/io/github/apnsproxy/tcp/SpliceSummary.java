// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a finished connection did. Immutable.
 *
 * @param bytesClientToUpstream bytes read from the client (and written, or attempted, to the
 *     upstream)
 * @param bytesUpstreamToClient bytes read from the upstream
 * @param duration time from accept to close
 * @param reason why it ended
 * @param upstream the upstream address it was connected to (through an egress proxy: the proxy's
 *     address), or {@code null} if it never connected
 * @param upstreamHost the upstream host name the router chose ({@link Route#host()}); empty when it
 *     was refused or closed before a route
 * @param rejection why it was refused ({@link SpliceStats#rejected} counts the same reason); {@code
 *     null} when it was not refused
 */
public record SpliceSummary(
    long bytesClientToUpstream,
    long bytesUpstreamToClient,
    Duration duration,
    CloseReason reason,
    @Nullable InetSocketAddress upstream,
    String upstreamHost,
    @Nullable RejectReason rejection) {
  /** Checks the arguments. */
  public SpliceSummary {
    Objects.requireNonNull(duration, "duration");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(upstreamHost, "upstreamHost");
  }

  /** A summary without an upstream host name and without a rejection. */
  public SpliceSummary(
      long bytesClientToUpstream,
      long bytesUpstreamToClient,
      Duration duration,
      CloseReason reason,
      @Nullable InetSocketAddress upstream) {
    this(bytesClientToUpstream, bytesUpstreamToClient, duration, reason, upstream, "", null);
  }
}
