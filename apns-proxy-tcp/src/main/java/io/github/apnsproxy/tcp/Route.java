// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Where a connection goes: an upstream host name (for logs) and the ordered candidate addresses to
 * try, or a rejection. Immutable; made with {@link #to}, {@link #toHost} or {@link #reject}.
 *
 * <p>A candidate may be unresolved ({@link InetSocketAddress#createUnresolved}): a host name and
 * port that only an {@link Egress egress proxy} can reach (the proxy resolves it). With direct
 * egress an unresolved candidate fails its connect attempt; through a proxy, resolved candidates
 * are asked for by {@link #host()} when it is set.
 *
 * @param host the upstream host name, for logs (empty for a rejection)
 * @param candidates the addresses to try in order (empty for a rejection)
 * @param rejection why the connection is refused, or {@code null} for a route
 * @param detail a human-readable detail for logs (empty when there is none)
 * @param feedback told how each candidate fared; {@code null} for none
 */
public record Route(
    String host,
    List<InetSocketAddress> candidates,
    @Nullable RejectReason rejection,
    String detail,
    @Nullable ConnectFeedback feedback) {

  /** Checks the arguments: a route has at least one candidate, a rejection none. */
  public Route {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(detail, "detail");
    candidates = List.copyOf(candidates);
    if (rejection == null && candidates.isEmpty()) {
      throw new IllegalArgumentException(
          "route to '" + host + "' has no candidates (expected at least one)");
    }
    if (rejection != null && !candidates.isEmpty()) {
      throw new IllegalArgumentException(
          "rejection " + rejection + " with candidates (expected none)");
    }
  }

  /** A route or rejection without feedback. */
  public Route(
      String host,
      List<InetSocketAddress> candidates,
      @Nullable RejectReason rejection,
      String detail) {
    this(host, candidates, rejection, detail, null);
  }

  /** A route to {@code host} trying {@code candidates} in order (at least one). */
  public static Route to(String host, List<InetSocketAddress> candidates) {
    return new Route(host, candidates, null, "");
  }

  /**
   * A route to {@code host} trying {@code candidates} in order, telling {@code feedback} how each
   * fared.
   */
  public static Route to(
      String host, List<InetSocketAddress> candidates, ConnectFeedback feedback) {
    return new Route(host, candidates, null, "", Objects.requireNonNull(feedback, "feedback"));
  }

  /**
   * A route to {@code host:port} by name, not resolved here: for egress through a proxy, which
   * resolves the name itself (internal networks often cannot resolve external names).
   */
  public static Route toHost(String host, int port) {
    Objects.requireNonNull(host, "host");
    if (host.isEmpty()) {
      throw new IllegalArgumentException("route to an empty host name (expected a name)");
    }
    return new Route(host, List.of(InetSocketAddress.createUnresolved(host, port)), null, "");
  }

  /** A rejection for {@code reason}. */
  public static Route reject(RejectReason reason) {
    return reject(reason, "");
  }

  /** A rejection for {@code reason}, with a detail for logs. */
  public static Route reject(RejectReason reason, String detail) {
    return new Route("", List.of(), Objects.requireNonNull(reason, "reason"), detail);
  }

  /** A rejection with reason {@link RejectReason#NO_ROUTE} and {@code detail} for logs. */
  public static Route reject(String detail) {
    return reject(RejectReason.NO_ROUTE, detail);
  }

  /** Whether this is a rejection. */
  public boolean isRejected() {
    return rejection != null;
  }
}
