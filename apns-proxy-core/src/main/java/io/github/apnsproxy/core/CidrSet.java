// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A set of IPv4 and IPv6 networks, or "any address". Immutable. An empty set contains nothing:
 * nothing is allowed by accident, "everything" must be said with {@link #any()} (or {@code any} in
 * a config file).
 */
public final class CidrSet {
  private static final CidrSet ANY = new CidrSet(List.of(), true);
  private static final CidrSet NONE = new CidrSet(List.of(), false);

  private final List<Cidr> networks;
  private final boolean any;

  private CidrSet(List<Cidr> networks, boolean any) {
    this.networks = List.copyOf(networks);
    this.any = any;
  }

  /** The set of every address. */
  public static CidrSet any() {
    return ANY;
  }

  /** The empty set. */
  public static CidrSet none() {
    return NONE;
  }

  /** The set of the given networks. */
  public static CidrSet of(List<Cidr> networks) {
    Objects.requireNonNull(networks, "networks");
    return networks.isEmpty() ? NONE : new CidrSet(networks, false);
  }

  /** The set of the given networks. */
  public static CidrSet of(Cidr... networks) {
    return of(List.of(networks));
  }

  /**
   * Parses a comma-separated list of CIDRs, or {@code any}. An empty string is the empty set.
   *
   * @throws IllegalArgumentException naming the bad element
   */
  public static CidrSet parse(String text) {
    Objects.requireNonNull(text, "text");
    String s = text.strip();
    if (s.equalsIgnoreCase("any")) {
      return ANY;
    }
    List<Cidr> list = new ArrayList<>();
    for (String part : s.split(",", -1)) {
      String p = part.strip();
      if (p.isEmpty()) {
        if (s.isEmpty()) {
          break;
        }
        throw new IllegalArgumentException("empty element in '" + text + "'");
      }
      if (p.equalsIgnoreCase("any")) {
        throw new IllegalArgumentException(
            "'any' must stand alone, not in a list ('" + text + "')");
      }
      list.add(Cidr.parse(p));
    }
    return of(list);
  }

  /** True when the address is in one of the networks, or this is {@link #any()}. */
  public boolean contains(InetAddress address) {
    if (any) {
      return true;
    }
    for (Cidr c : networks) {
      if (c.contains(address)) {
        return true;
      }
    }
    return false;
  }

  /** True for {@link #any()}. */
  public boolean isAny() {
    return any;
  }

  /** True for the set that contains no address. */
  public boolean isEmpty() {
    return !any && networks.isEmpty();
  }

  /** The networks (empty for {@link #any()}). */
  public List<Cidr> networks() {
    return networks;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CidrSet other && other.any == any && other.networks.equals(networks);
  }

  @Override
  public int hashCode() {
    return Objects.hash(networks, any);
  }

  /** {@code any}, or the comma-separated networks: the form {@link #parse} reads. */
  @Override
  public String toString() {
    return any ? "any" : networks.stream().map(Cidr::toString).collect(Collectors.joining(","));
  }
}
