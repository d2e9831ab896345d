// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.tcp.ConnectFeedback;
import io.github.apnsproxy.tcp.CourierPicker;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.Preface;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.ServerNameKind;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The stock {@link Router}: a name the preface found (TLS server name, explicit target) or else the
 * dialled address, through the plan, then the resolver, then the upstream policy. Thread-safe.
 */
public final class PlanRouter implements Router {
  /**
   * How many numbered couriers an unnumbered name is tried with (a failed connect moves on to the
   * next number).
   */
  static final int COURIERS_PER_ROUTE = 3;

  private final AddressPlan plan;
  private final UpstreamResolver resolver;
  private final AddressPolicy policy;
  private final Egress egress;
  private final CourierPicker picker;
  private final AtomicInteger rotation = new AtomicInteger();

  /** The kinds of names routed so far (a bounded cache: classifying parses the name). */
  private final ConcurrentMap<String, ServerNameKind> kinds = new ConcurrentHashMap<>();

  private static final int MAX_CACHED_KINDS = 4096;

  /**
   * Upstream host names per plan host, formatted once: routing runs on every accepted connection.
   */
  private final ConcurrentMap<ApnsHost, List<String>> upstreamNames = new ConcurrentHashMap<>();

  /** Makes the router. */
  public PlanRouter(
      AddressPlan plan,
      UpstreamResolver resolver,
      AddressPolicy policy,
      CourierPicker picker,
      Egress egress) {
    this.plan = Objects.requireNonNull(plan, "plan");
    this.resolver = Objects.requireNonNull(resolver, "resolver");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.picker = Objects.requireNonNull(picker, "picker");
    this.egress = Objects.requireNonNull(egress, "egress");
  }

  /**
   * The plan's virtual networks (every site, IPv4 and IPv6): addresses the splicer must never
   * connect to.
   */
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
    Preface found = connection.preface();
    InetSocketAddress target = found.target();
    if (target != null) {
      return byName(target.getHostString(), target.getPort());
    }
    String sni = found.serverName();
    if (sni != null) {
      return byName(sni, connection.local().getPort());
    }
    if (plan.style() == AddressPlan.Style.SINGLE
        && plan.isSingleAddress(connection.local().getAddress())) {
      return done(Route.reject(RejectReason.NO_ROUTE, "no server name on the single address"));
    }
    return byAddress(connection.local());
  }

  /**
   * A plan host name by its kind, an unnumbered courier name as such, anything else {@link
   * ServerNameKind#OTHER}. Routed names only reach here, so the cache holds at most the plan's
   * names.
   */
  @Override
  public ServerNameKind nameKind(String name) {
    ServerNameKind k = kinds.get(name);
    if (k == null) {
      Optional<ApnsHost> host = plan.hostNames().tryParse(name);
      if (host.isPresent()) {
        k =
            switch (host.get().kind()) {
              case COURIER -> ServerNameKind.COURIER;
              case INIT -> ServerNameKind.INIT;
              case PROVIDER -> ServerNameKind.API;
            };
      } else {
        k =
            picker.poolOf(name).isPresent()
                ? ServerNameKind.COURIER_UNNUMBERED
                : ServerNameKind.OTHER;
      }
      if (kinds.size() < MAX_CACHED_KINDS) {
        kinds.put(name, k);
      }
    }
    return k;
  }

  private static CompletionStage<Route> done(Route r) {
    return CompletableFuture.completedFuture(r);
  }

  private CompletionStage<Route> byAddress(InetSocketAddress local) {
    Optional<ApnsHost> planHost = plan.hostFor(local);
    if (planHost.isEmpty()) {
      return done(Route.reject(RejectReason.NO_ROUTE, "no plan host for " + local));
    }
    List<String> members =
        upstreamNames.computeIfAbsent(
            planHost.get(), h -> plan.upstreamsFor(h).stream().map(ApnsHost::name).toList());
    if (members.isEmpty()) {
      return done(Route.reject(RejectReason.NO_ROUTE, "no upstream for " + planHost.get()));
    }
    String name =
        members.size() == 1
            ? members.get(0)
            : members.get(Math.floorMod(rotation.getAndIncrement(), members.size()));
    return resolveOne(name, local.getPort());
  }

  /**
   * Routes by a host name: a plan host (numbered courier, init, provider API) goes to itself on
   * {@code port} when its kind is served there; an unnumbered courier name goes to numbered
   * couriers the picker chooses; any other name is refused.
   */
  private CompletionStage<Route> byName(String name, int port) {
    Optional<ApnsHost> host = plan.hostNames().tryParse(name);
    if (host.isPresent()) {
      ApnsHost h = host.get();
      if (!plan.serves(h)) {
        return done(Route.reject(RejectReason.NO_ROUTE, name + " is not served by the plan"));
      }
      if (!plan.ports(h.kind()).contains(port)) {
        return done(
            Route.reject(
                RejectReason.NO_ROUTE,
                name + " on port " + port + " (served on " + plan.ports(h.kind()) + ")"));
      }
      return resolveOne(h.name(), port);
    }
    Optional<CourierPicker.Pool> pool = picker.poolOf(name);
    if (pool.isEmpty()) {
      return done(
          Route.reject(RejectReason.NO_ROUTE, "'" + name + "' is not an APNs name of the plan"));
    }
    if (!plan.ports(ApnsHost.Kind.COURIER).contains(port)) {
      return done(
          Route.reject(
              RejectReason.NO_ROUTE,
              name
                  + " on port "
                  + port
                  + " (served on "
                  + plan.ports(ApnsHost.Kind.COURIER)
                  + ")"));
    }
    return pickCouriers(pool.get(), port);
  }

  private CompletionStage<Route> resolveOne(String name, int port) {
    if (!egress.isDirect() && egress.isProxied(name, port)) {
      // the proxy resolves the name: internal networks often cannot, and it must be asked by name
      // anyway
      return done(Route.toHost(name, port));
    }
    CompletionStage<List<InetAddress>> resolved;
    try {
      resolved = resolver.resolve(name);
    } catch (RuntimeException e) {
      return done(Route.reject(RejectReason.RESOLVE_FAILED, name + ": " + e));
    }
    return resolved.handle(
        (addresses, failure) -> {
          if (failure != null) {
            return Route.reject(RejectReason.RESOLVE_FAILED, name + ": " + why(failure));
          }
          List<InetSocketAddress> candidates = allowed(addresses, port);
          if (candidates.isEmpty()) {
            return Route.reject(
                RejectReason.REFUSED_TARGET,
                name + " resolved to " + addresses + ", none in the upstream allow-list");
          }
          return Route.to(name, candidates);
        });
  }

  /**
   * Resolves a few numbered couriers of {@code pool} and yields their addresses, first courier
   * first; resolution and connect failures are reported to the picker.
   */
  private CompletionStage<Route> pickCouriers(CourierPicker.Pool pool, int port) {
    List<ApnsHost> couriers = picker.pick(pool, COURIERS_PER_ROUTE);
    if (!couriers.isEmpty()
        && !egress.isDirect()
        && egress.isProxied(couriers.get(0).name(), port)) {
      return done(
          Route.toHost(
              couriers.get(0).name(), port)); // the proxy resolves the picked courier's name
    }
    List<CompletableFuture<List<InetAddress>>> stages = new ArrayList<>(couriers.size());
    for (ApnsHost c : couriers) {
      CompletableFuture<List<InetAddress>> f;
      try {
        f = resolver.resolve(c.name()).toCompletableFuture();
      } catch (RuntimeException e) {
        f = CompletableFuture.failedFuture(e);
      }
      stages.add(f);
    }
    return CompletableFuture.allOf(stages.toArray(new CompletableFuture<?>[0]))
        .handle(
            (ignored, e) -> {
              Map<InetSocketAddress, ApnsHost> owner = new HashMap<>();
              LinkedHashSet<InetSocketAddress> candidates = new LinkedHashSet<>();
              String first = null;
              StringBuilder problems = new StringBuilder();
              for (int i = 0; i < couriers.size(); i++) {
                ApnsHost c = couriers.get(i);
                CompletableFuture<List<InetAddress>> f = stages.get(i);
                List<InetAddress> addresses;
                try {
                  addresses = f.join();
                } catch (CompletionException | java.util.concurrent.CancellationException ex) {
                  picker.failed(c);
                  problems
                      .append(problems.length() == 0 ? "" : "; ")
                      .append(c.name())
                      .append(": ")
                      .append(why(ex));
                  continue;
                }
                List<InetSocketAddress> allowed = allowed(addresses, port);
                if (allowed.isEmpty()) {
                  problems
                      .append(problems.length() == 0 ? "" : "; ")
                      .append(c.name())
                      .append(" resolved to ")
                      .append(addresses)
                      .append(", none in the upstream allow-list");
                  continue;
                }
                if (first == null) {
                  first = c.name();
                }
                for (InetSocketAddress a : allowed) {
                  if (candidates.add(a)) {
                    owner.put(a, c);
                  }
                }
              }
              if (first == null) {
                boolean refused = problems.indexOf("allow-list") >= 0;
                return Route.reject(
                    refused ? RejectReason.REFUSED_TARGET : RejectReason.RESOLVE_FAILED,
                    problems.toString());
              }
              ConnectFeedback feedback =
                  (candidate, why) -> {
                    ApnsHost c = owner.get(candidate);
                    if (c != null) {
                      picker.failed(c);
                    }
                  };
              return Route.to(first, List.copyOf(candidates), feedback);
            });
  }

  private List<InetSocketAddress> allowed(List<InetAddress> addresses, int port) {
    List<InetSocketAddress> out = new ArrayList<>(addresses.size());
    for (InetAddress a : addresses) {
      if (policy.allowsUpstream(a)) {
        out.add(new InetSocketAddress(a, port));
      }
    }
    return out;
  }

  private static String why(Throwable failure) {
    Throwable cause =
        failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    return cause instanceof UnknownHostException ? "unknown host" : cause.toString();
  }
}
