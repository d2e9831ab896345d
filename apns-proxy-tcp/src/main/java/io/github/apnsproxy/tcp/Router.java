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
 * <p>Threading: {@link #route} is called on the loop thread that owns the connection and must not
 * block; it returns a stage that may complete on any thread (completing inline, as a cache hit
 * does, is cheapest). Implementations must be thread-safe: all loops call the same router. A stage
 * that fails, or a method that throws, refuses the connection ({@link RejectReason#ROUTER_ERROR} or
 * {@link RejectReason#RESOLVE_FAILED}).
 */
@FunctionalInterface
public interface Router {

  /** Returns the route for {@code connection}, or a rejection. */
  CompletionStage<Route> route(InboundConnection connection);

  /**
   * The kind of {@code name} (a TLS server name or explicit target host a connection was routed
   * by), for the splicer's per-kind counters ({@link SpliceStats#routed()}). Called on the loop
   * thread after {@link #route} succeeded for a connection whose preface carried a name; must not
   * block. The default says {@link ServerNameKind#OTHER}; the stock router classifies by its plan's
   * names.
   */
  default ServerNameKind nameKind(String name) {
    return ServerNameKind.OTHER;
  }

  /**
   * The stock router. When the preface found a name - an explicit target ({@link Preface#target()},
   * on its port) or a TLS server name ({@link Preface#serverName()}, on the dialled port) - the
   * name decides: a plan host (numbered courier, init, provider API) goes to itself when the plan
   * serves it on that port; an unnumbered courier name ({@code courier.push.apple.com}, {@code
   * courier2...}, {@code courier.sandbox...}) goes to numbered couriers of its variant and
   * environment chosen by a {@link CourierPicker} (their addresses in order, so a failed connect
   * moves on to another number; couriers that failed to resolve or connect are skipped for a
   * while); any other name is refused ({@link RejectReason#NO_ROUTE}). A connection on a
   * single-style address without a name is refused. Otherwise it maps the dialled local address and
   * port through {@code plan} to a plan host (none: {@link RejectReason#NO_ROUTE}); picks its
   * upstream host (for a pooled plan, the members in rotation); resolves the upstream host's name
   * with {@code resolver} (failure: {@link RejectReason#RESOLVE_FAILED}); keeps the addresses
   * {@code policy} allows as upstreams (none: {@link RejectReason#REFUSED_TARGET}); and yields
   * them, on the port the client dialled, as the ordered candidates.
   */
  static Router fromPlan(AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy) {
    return new PlanRouter(plan, resolver, policy, CourierPicker.of(plan), Egress.direct());
  }

  /**
   * Like {@link #fromPlan(AddressPlan, UpstreamResolver, AddressPolicy)}, with {@code picker}
   * choosing numbered couriers for unnumbered names (share one picker between splicers so they skip
   * the same failed couriers).
   */
  static Router fromPlan(
      AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy, CourierPicker picker) {
    return new PlanRouter(plan, resolver, policy, picker, Egress.direct());
  }

  /**
   * The stock router for a splicer whose {@link TcpSplicer.Builder#egress egress} is {@code
   * egress}: as {@link #fromPlan(AddressPlan, UpstreamResolver, AddressPolicy, CourierPicker)},
   * except that an upstream host the egress sends through a proxy is not resolved: the route names
   * it ({@link Route#toHost}) and the proxy resolves it. The upstream allow-list then cannot be
   * checked on addresses (the proxy alone sees them): only plan host names are ever requested.
   */
  static Router fromPlan(
      AddressPlan plan,
      UpstreamResolver resolver,
      AddressPolicy policy,
      CourierPicker picker,
      Egress egress) {
    return new PlanRouter(plan, resolver, policy, picker, egress);
  }

  /**
   * {@link #fromPlan(AddressPlan, UpstreamResolver, AddressPolicy, CourierPicker, Egress)} with the
   * plan's picker.
   */
  static Router fromPlan(
      AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy, Egress egress) {
    return new PlanRouter(plan, resolver, policy, CourierPicker.of(plan), egress);
  }
}
