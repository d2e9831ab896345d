// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import java.net.InetAddress;
import java.util.Objects;

/**
 * Who may use the proxy and where it may connect to. Immutable and thread-safe.
 *
 * <p>The upstream list is what keeps the proxy from being an open relay: a resolved address outside
 * it is refused, so poisoned DNS cannot turn the proxy into a path into the internal network. Its
 * default is Apple's published APNs ranges ({@link #APPLE_APNS}); tests set loopback.
 *
 * @param clients the networks allowed to use the proxy (DNS and TCP)
 * @param upstreams the networks the proxy may connect to
 */
public record AddressPolicy(CidrSet clients, CidrSet upstreams) {

  /**
   * Apple's published APNs address ranges: 17.0.0.0/8 and the IPv6 blocks 2620:149:a44::/48,
   * 2403:300:a42::/48, 2403:300:a51::/48 and 2a01:b740:a42::/48.
   */
  public static final CidrSet APPLE_APNS =
      CidrSet.parse(
          "17.0.0.0/8,2620:149:a44::/48,2403:300:a42::/48,2403:300:a51::/48,2a01:b740:a42::/48");

  /** Private (RFC 1918), loopback and unique-local (fc00::/7) networks: the default client list. */
  public static final CidrSet PRIVATE_NETWORKS =
      CidrSet.parse("10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7");

  public AddressPolicy {
    Objects.requireNonNull(clients, "clients");
    Objects.requireNonNull(upstreams, "upstreams");
  }

  /** The defaults: clients from private networks, upstream only to Apple's APNs ranges. */
  public static AddressPolicy defaults() {
    return new AddressPolicy(PRIVATE_NETWORKS, APPLE_APNS);
  }

  /** True when {@code client} may use the proxy. */
  public boolean allowsClient(InetAddress client) {
    return clients.contains(client);
  }

  /** True when the proxy may connect to {@code upstream}. */
  public boolean allowsUpstream(InetAddress upstream) {
    return upstreams.contains(upstream);
  }
}
