// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.HostNames;
import java.net.InetAddress;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Which explicit-proxy targets are allowed: the names of the zone the plan serves on their ports,
 * and, only when enabled, address literals inside the upstream allow-list. Immutable and
 * thread-safe.
 *
 * <ul>
 *   <li>a numbered courier the plan serves ({@code 17-courier.push.apple.com}), on the courier
 *       ports;
 *   <li>an unnumbered courier name ({@code courier.push.apple.com}, {@code courier2...}, {@code
 *       courier.sandbox...}) of a variant the plan serves, on the courier ports: the proxy picks a
 *       numbered courier;
 *   <li>init hosts on the init ports, and {@code init-p01st} also on 80 (the old bag URL);
 *   <li>the provider API on the provider ports;
 *   <li>an IPv4 or IPv6 literal only when {@code allowAddresses}, inside the policy's upstream
 *       list, on any plan port.
 * </ul>
 */
public final class Targets {
  /** The kind of a requested target, for metrics. */
  public enum Kind {
    COURIER("courier"),
    UNNUMBERED_COURIER("courier-unnumbered"),
    INIT("init"),
    PROVIDER("api"),
    ADDRESS("address"),
    OTHER("other");

    private final String label;

    Kind(String label) {
      this.label = label;
    }

    /** The metric label. */
    public String label() {
      return label;
    }
  }

  /**
   * A verdict: {@code host} is the plan host (for an unnumbered courier: courier 0 of its variant
   * and environment, standing for all of them), {@code address} the literal; {@code refusal} is
   * null when allowed.
   */
  public record Verdict(
      Kind kind,
      @Nullable ApnsHost host,
      @Nullable InetAddress address,
      int port,
      @Nullable String refusal) {
    /** Whether the target is allowed. */
    public boolean allowed() {
      return refusal == null;
    }
  }

  private static final java.util.regex.Pattern NUMBERED =
      java.util.regex.Pattern.compile("[0-9]+[-.]courier");
  private final AddressPlan plan;
  private final AddressPolicy policy;
  private final boolean allowAddresses;

  /**
   * The policy for {@code plan}; literals are refused unless {@code allowAddresses}, then checked
   * by policy.
   */
  public Targets(AddressPlan plan, AddressPolicy policy, boolean allowAddresses) {
    this.plan = Objects.requireNonNull(plan, "plan");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.allowAddresses = allowAddresses;
  }

  /** The plan. */
  public AddressPlan plan() {
    return plan;
  }

  /**
   * Judges a target: {@code literal} set for an address literal, else {@code host} is a
   * (lower-case) name.
   */
  public Verdict judge(String host, @Nullable InetAddress literal, int port) {
    if (literal != null) {
      if (!allowAddresses) {
        return refuse(
            Kind.ADDRESS,
            port,
            "address literals are not allowed (expected an APNs host name, or"
                + " connect.allow-addresses=true)");
      }
      if (!policy.allowsUpstream(literal)) {
        return refuse(
            Kind.ADDRESS, port, literal.getHostAddress() + " is outside the upstream allow-list");
      }
      if (!plan.allPorts().contains(port)) {
        return refuse(
            Kind.ADDRESS,
            port,
            "port " + port + " is not an APNs port (expected one of " + plan.allPorts() + ")");
      }
      return new Verdict(Kind.ADDRESS, null, literal, port, null);
    }
    Optional<String> normalized = HostNames.normalize(host);
    if (normalized.isEmpty()) {
      return refuse(Kind.OTHER, port, "'" + HttpHead.printable(host) + "' is not a host name");
    }
    String name = normalized.get();
    HostNames names = plan.hostNames();
    Optional<ApnsHost> parsed = names.tryParse(name);
    Kind kind;
    ApnsHost h;
    if (parsed.isPresent()) {
      h = parsed.get();
      kind =
          switch (h.kind()) {
            case COURIER -> Kind.COURIER;
            case INIT -> Kind.INIT;
            case PROVIDER -> Kind.PROVIDER;
          };
    } else {
      // an unnumbered courier name is what a numbered one is without "N-": courier.push.apple.com
      Optional<ApnsHost> numbered =
          names.zoneOf(name).isPresent() ? names.tryParse("0-" + name) : Optional.empty();
      if (numbered.isEmpty() || !numbered.get().isCourier()) {
        if (NUMBERED.matcher(name).lookingAt() && names.zoneOf(name).isPresent()) {
          return refuse(
              Kind.COURIER,
              port,
              name
                  + " is not a courier this proxy serves (numbers 0.."
                  + plan.courierCount()
                  + ")");
        }
        return refuse(Kind.OTHER, port, name + " is not an APNs host name this proxy serves");
      }
      h = numbered.get();
      kind = Kind.UNNUMBERED_COURIER;
    }
    if (!plan.serves(h)) {
      return refuse(
          kind,
          port,
          name
              + " is not served by this proxy's plan (courier numbers 0.."
              + plan.courierCount()
              + ", variants "
              + plan.variants()
              + ")");
    }
    List<Integer> ports = plan.ports(h.kind());
    boolean oldBag =
        h.kind() == ApnsHost.Kind.INIT && h.variant().equals("init-p01st") && port == 80;
    if (!ports.contains(port) && !oldBag) {
      TreeSet<Integer> expected = new TreeSet<>(ports);
      if (h.kind() == ApnsHost.Kind.INIT && h.variant().equals("init-p01st")) {
        expected.add(80);
      }
      return refuse(
          kind,
          port,
          "port " + port + " is not served for " + name + " (expected " + expected + ")");
    }
    return new Verdict(kind, h, null, port, null);
  }

  private static Verdict refuse(Kind kind, int port, String why) {
    return new Verdict(kind, null, null, port, why);
  }
}
