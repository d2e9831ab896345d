// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.tcp.internal.PlanRouter;
import java.util.concurrent.CompletionStage;

/**
 * Decides where an accepted connection goes.
 *
 * <p>Threading: {@link #route} is called on the loop thread that owns the connection and must not block; it returns
 * a stage that may complete on any thread (completing inline, as a cache hit does, is cheapest). Implementations
 * must be thread-safe: all loops call the same router. A stage that fails, or a method that throws, refuses the
 * connection ({@link RejectReason#ROUTER_ERROR} or {@link RejectReason#RESOLVE_FAILED}).
 */
@FunctionalInterface
public interface Router {

  /** Returns the route for {@code connection}, or a rejection. */
  CompletionStage<Route> route(InboundConnection connection);

  /**
   * The stock router: maps the dialled local address and port through {@code plan} to a plan host (none:
   * {@link RejectReason#NO_ROUTE}); picks its upstream host (for a pooled plan, the members in rotation); resolves
   * the upstream host's name with {@code resolver} (failure: {@link RejectReason#RESOLVE_FAILED}); keeps the
   * addresses {@code policy} allows as upstreams (none: {@link RejectReason#REFUSED_TARGET}); and yields them, on
   * the port the client dialled, as the ordered candidates.
   */
  static Router fromPlan(AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy) {
    return new PlanRouter(plan, resolver, policy, Egress.direct());
  }

  /**
   * The stock router for a splicer whose {@link TcpSplicer.Builder#egress egress} is {@code egress}: as
   * {@link #fromPlan(AddressPlan, UpstreamResolver, AddressPolicy)}, except that an upstream host the egress sends
   * through a proxy is not resolved: the route names it ({@link Route#toHost}) and the proxy resolves it. The
   * upstream allow-list then cannot be checked on addresses (the proxy alone sees them): only plan host names are
   * ever requested.
   */
  static Router fromPlan(AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy, Egress egress) {
    return new PlanRouter(plan, resolver, policy, egress);
  }
}
