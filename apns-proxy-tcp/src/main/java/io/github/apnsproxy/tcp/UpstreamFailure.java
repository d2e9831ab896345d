// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Why a routed connection could not reach its upstream, as {@link UpstreamReplies#failed} is told.
 *
 * @param kind the class of failure, what a reply code is chosen from
 * @param rejection the router's rejection reason when the router refused; {@code null} when the
 *     connect failed
 * @param detail a human-readable detail for logs (may name addresses: do not send it to untrusted
 *     clients as is)
 */
public record UpstreamFailure(Kind kind, @Nullable RejectReason rejection, String detail) {

  /** Checks the arguments. */
  public UpstreamFailure {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(detail, "detail");
  }

  /** The class of failure. */
  public enum Kind {
    /**
     * The router refused the target: no plan host, not an allowed name or address (HTTP 403, SOCKS
     * 0x02).
     */
    NOT_ALLOWED,
    /** The host name did not resolve (HTTP 502, SOCKS 0x04). */
    UNRESOLVABLE,
    /** Every upstream address refused the connection (HTTP 502, SOCKS 0x05). */
    REFUSED,
    /** No route to any upstream address (HTTP 502, SOCKS 0x03 or 0x04). */
    UNREACHABLE,
    /** Routing or connecting timed out (HTTP 504, SOCKS 0x06). */
    TIMED_OUT,
    /** Anything else: a router error, a local failure (HTTP 502, SOCKS 0x01). */
    ERROR
  }
}
