// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Which resolved upstream addresses direct egress tries, and in which order (config key {@code
 * upstream.family}). Networks without working IPv6 egress otherwise wait for connects to Apple's
 * IPv6 addresses to time out before falling back. Does not apply through an {@link Egress egress
 * proxy}, which resolves the names itself.
 */
public enum AddressFamily {
  /** Every address, in the order the resolver returned them (the default). */
  ANY,
  /** IPv4 addresses only. */
  IPV4,
  /** IPv6 addresses only. */
  IPV6,
  /** Every address, IPv4 ones first (each family in resolver order). */
  IPV4_FIRST,
  /** Every address, IPv6 ones first (each family in resolver order). */
  IPV6_FIRST;

  /**
   * The config text: {@code any}, {@code ipv4}, {@code ipv6}, {@code ipv4-first}, {@code
   * ipv6-first}.
   */
  public String text() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /**
   * Parses the config text (case-insensitive).
   *
   * @throws IllegalArgumentException naming the value and the expected ones
   */
  public static AddressFamily parse(String text) {
    Objects.requireNonNull(text, "text");
    String t = text.strip().toLowerCase(Locale.ROOT);
    for (AddressFamily f : values()) {
      if (f.text().equals(t)) {
        return f;
      }
    }
    throw new IllegalArgumentException(
        "address family '"
            + (text.length() > 40 ? text.substring(0, 40) + "..." : text)
            + "' (expected any, ipv4, ipv6, ipv4-first or ipv6-first)");
  }

  /**
   * The candidates this family keeps, in its order; unresolved candidates (names for a proxy) are
   * kept in place. Returns {@code candidates} itself when nothing changes (no copy on the common
   * path).
   */
  public List<InetSocketAddress> apply(List<InetSocketAddress> candidates) {
    Objects.requireNonNull(candidates, "candidates");
    if (this == ANY || candidates.isEmpty()) {
      return candidates;
    }
    List<InetSocketAddress> v4 = new ArrayList<>(candidates.size());
    List<InetSocketAddress> v6 = new ArrayList<>(candidates.size());
    for (InetSocketAddress a : candidates) {
      if (a.getAddress() instanceof Inet6Address) {
        v6.add(a);
      } else {
        v4.add(a); // IPv4, and unresolved names (which only a proxy reaches)
      }
    }
    List<InetSocketAddress> out =
        switch (this) {
          case IPV4 -> v4;
          case IPV6 -> {
            List<InetSocketAddress> only = new ArrayList<>(v6);
            for (InetSocketAddress a : v4) {
              if (!(a.getAddress() instanceof Inet4Address)) {
                only.add(a);
              }
            }
            yield only;
          }
          case IPV4_FIRST -> {
            v4.addAll(v6);
            yield v4;
          }
          case IPV6_FIRST -> {
            v6.addAll(v4);
            yield v6;
          }
          default -> candidates;
        };
    return out.equals(candidates) ? candidates : List.copyOf(out);
  }
}
