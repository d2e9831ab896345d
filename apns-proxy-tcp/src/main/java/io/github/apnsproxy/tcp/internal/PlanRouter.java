// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.Router;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;

/** The stock {@link Router}: address plan, then resolver, then upstream policy. Thread-safe. */
public final class PlanRouter implements Router {
  private final AddressPlan plan;
  private final UpstreamResolver resolver;
  private final AddressPolicy policy;
  private final Egress egress;
  private final AtomicInteger rotation = new AtomicInteger();
  /** Upstream host names per plan host, formatted once: routing runs on every accepted connection. */
  private final java.util.concurrent.ConcurrentMap<ApnsHost, List<String>> upstreamNames =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** Makes the router. */
  public PlanRouter(AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy, Egress egress) {
    this.plan = Objects.requireNonNull(plan, "plan");
    this.resolver = Objects.requireNonNull(resolver, "resolver");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.egress = Objects.requireNonNull(egress, "egress");
  }

  /** The plan's virtual networks (every site, IPv4 and IPv6): addresses the splicer must never connect to. */
  public List<Cidr> planNetworks() {
    List<Cidr> out = new ArrayList<>();
    for (AddressPlan.Site s : plan.sites()) {
      out.add(s.ipv4());
      Cidr v6 = s.ipv6();
      if (v6 != null) {
        out.add(v6);
      }
    }
    return out;
  }

  @Override
  public CompletionStage<Route> route(InboundConnection connection) {
    InetSocketAddress local = connection.local();
    Optional<ApnsHost> planHost = plan.hostFor(local);
    if (planHost.isEmpty()) {
      return CompletableFuture.completedFuture(Route.reject(RejectReason.NO_ROUTE, "no plan host for " + local));
    }
    List<String> members = upstreamNames.computeIfAbsent(planHost.get(),
        h -> plan.upstreamsFor(h).stream().map(ApnsHost::name).toList());
    if (members.isEmpty()) {
      return CompletableFuture.completedFuture(
          Route.reject(RejectReason.NO_ROUTE, "no upstream for " + planHost.get()));
    }
    String name = members.size() == 1
        ? members.get(0) : members.get(Math.floorMod(rotation.getAndIncrement(), members.size()));
    int port = local.getPort();
    if (!egress.isDirect() && egress.isProxied(name, port)) {
      // the proxy resolves the name: internal networks often cannot, and it must be asked by name anyway
      return CompletableFuture.completedFuture(Route.toHost(name, port));
    }
    CompletionStage<List<InetAddress>> resolved;
    try {
      resolved = resolver.resolve(name);
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(Route.reject(RejectReason.RESOLVE_FAILED, name + ": " + e));
    }
    return resolved.handle((addresses, failure) -> {
      if (failure != null) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause() : failure;
        String why = cause instanceof UnknownHostException ? "unknown host" : cause.toString();
        return Route.reject(RejectReason.RESOLVE_FAILED, name + ": " + why);
      }
      List<InetSocketAddress> candidates = new ArrayList<>(addresses.size());
      for (InetAddress a : addresses) {
        if (policy.allowsUpstream(a)) {
          candidates.add(new InetSocketAddress(a, port));
        }
      }
      if (candidates.isEmpty()) {
        return Route.reject(RejectReason.REFUSED_TARGET, name + " resolved to " + addresses
            + ", none in the upstream allow-list");
      }
      return Route.to(name, candidates);
    });
  }
}
