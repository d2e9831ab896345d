// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import java.net.Inet6Address;
import java.net.InetSocketAddress;

/** The proxy auto-configuration file: APNs names through this proxy, everything else direct. */
public final class Pac {
  private Pac() {}

  /**
   * The PAC text sending {@code *.push.apple.com} (and only that) to {@code proxy}, everything else
   * DIRECT.
   */
  public static String text(InetSocketAddress proxy) {
    return "// apns-proxy: only APNs (*.push.apple.com) goes through this proxy; everything else is DIRECT\n"
        + "function FindProxyForURL(url, host) {\n"
        + "  host = host.toLowerCase();\n"
        + "  if (dnsDomainIs(host, \".push.apple.com\")) {\n"
        + "    return \"PROXY "
        + hostPort(proxy)
        + "\";\n"
        + "  }\n"
        + "  return \"DIRECT\";\n"
        + "}\n";
  }

  /** {@code host:port}, an IPv6 address in brackets, a literal address without a name. */
  static String hostPort(InetSocketAddress a) {
    String host =
        a.isUnresolved() || a.getAddress() == null
            ? a.getHostString()
            : a.getAddress().getHostAddress();
    if (a.getAddress() instanceof Inet6Address || host.indexOf(':') >= 0) {
      int scope = host.indexOf('%');
      host = "[" + (scope >= 0 ? host.substring(0, scope) : host) + "]";
    }
    return host + ":" + a.getPort();
  }
}
