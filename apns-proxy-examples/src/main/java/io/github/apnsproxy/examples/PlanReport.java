// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Prints a plan for an operator to review: every virtual address, what it maps to, and what DNS
 * answers.
 */
final class PlanReport {
  private PlanReport() {}

  static String describe(ProxySetup setup) {
    AddressPlan plan = setup.plan();
    Map<String, String> effective = setup.effectiveValues();
    StringBuilder out = new StringBuilder();
    out.append("config OK\n");
    out.append("plan: ")
        .append(plan.style().name().toLowerCase(java.util.Locale.ROOT))
        .append(", couriers 0..")
        .append(plan.courierCount())
        .append(" of ")
        .append(String.join(", ", plan.variants()))
        .append(", production and sandbox\n");
    for (AddressPlan.Site s : plan.sites()) {
      out.append("site ")
          .append(s.name())
          .append(": ")
          .append(s.ipv4())
          .append(s.ipv6() == null ? "" : " + " + s.ipv6())
          .append(", clients ")
          .append(s.clients())
          .append('\n');
    }
    out.append("ports: courier ")
        .append(ports(plan.ports(ApnsHost.Kind.COURIER)))
        .append(", init ")
        .append(ports(plan.ports(ApnsHost.Kind.INIT)))
        .append(", api ")
        .append(ports(plan.ports(ApnsHost.Kind.PROVIDER)))
        .append('\n');
    out.append("clients allowed: ").append(setup.policy().clients()).append('\n');
    out.append("upstream targets allowed: ").append(setup.policy().upstreams()).append('\n');
    String forward = effective.get(ProxyKeys.DNS_FORWARD.name());
    out.append("DNS: listen ")
        .append(effective.get(ProxyKeys.DNS_LISTEN.name()))
        .append(", TTL ")
        .append(effective.get(ProxyKeys.DNS_TTL.name()))
        .append(", TXT push.apple.com \"count=")
        .append(effective.get(ProxyKeys.DNS_TXT_COUNT.name()))
        .append("\", names outside the zone: ")
        .append(forward.isEmpty() ? "REFUSED" : "forwarded to " + forward)
        .append('\n');
    out.append("upstream: DNS ")
        .append(effective.get(ProxyKeys.UPSTREAM_DNS.name()))
        .append(setup.hosts().map(h -> ", hosts file " + h.path()).orElse(""))
        .append('\n');
    // Egress.toString masks passwords
    out.append("egress: ")
        .append(setup.splicer().egress())
        .append(", address family ")
        .append(setup.splicer().family().text())
        .append('\n');
    out.append("splicer: at most ")
        .append(effective.get(ProxyKeys.TCP_MAX_CONNECTIONS.name()))
        .append(" connections at once")
        .append(
            setup.configuredMaxConnections()
                    > Integer.parseInt(effective.get(ProxyKeys.TCP_MAX_CONNECTIONS.name()))
                ? " (tcp.max-connections = "
                    + setup.configuredMaxConnections()
                    + ", capped by the open-file limit)"
                : "")
        .append('\n');
    for (String w : setup.warnings()) {
      out.append("warning: ").append(w).append('\n');
    }
    out.append('\n')
        .append(
            String.format(
                "%-40s %-6s %s%n", "virtual address", "site", "answers for / splices to"));
    if (plan.style() == AddressPlan.Style.SINGLE) {
      for (InetAddress a : plan.singleAddresses()) {
        out.append(
            String.format(
                "%-40s %-6s %s  ports %s%n",
                literal(a),
                siteOf(plan, a),
                "every name of the zone ("
                    + plan.hosts().size()
                    + " hosts); the TLS server name decides",
                ports(plan.allPorts())));
      }
      out.append('\n')
          .append(plan.singleAddresses().size())
          .append(" virtual addresses, ")
          .append(plan.listenAddresses().size())
          .append(" listening sockets")
          .append(
              setup.tcpListen().isEmpty()
                  ? ""
                  : " (the splicer listens on " + setup.tcpListen() + " instead)")
          .append('\n');
      out.append("\neffective configuration (every key, defaults included):\n");
      effective.forEach((k, v) -> out.append(k).append(" = ").append(v).append('\n'));
      return out.toString();
    }
    for (AddressPlan.Entry e : plan.entries()) {
      List<ApnsHost> upstreams = plan.upstreamsFor(e.host());
      String target =
          upstreams.size() == 1
              ? upstreams.get(0).name()
              : "pool of "
                  + upstreams.size()
                  + " couriers ("
                  + upstreams.get(0).name()
                  + " .. "
                  + upstreams.get(upstreams.size() - 1).name()
                  + ")";
      out.append(
          String.format(
              "%-40s %-6s %s  ports %s%n",
              literal(e.address()), e.site().name(), target, ports(plan.ports(e.host().kind()))));
    }
    out.append('\n')
        .append(plan.entries().size())
        .append(" virtual addresses, ")
        .append(plan.listenAddresses().size())
        .append(" listening sockets")
        .append(
            setup.tcpListen().isEmpty()
                ? ""
                : " (the splicer listens on " + setup.tcpListen() + " instead)")
        .append('\n');
    out.append("\neffective configuration (every key, defaults included):\n");
    effective.forEach((k, v) -> out.append(k).append(" = ").append(v).append('\n'));
    return out.toString();
  }

  private static String siteOf(AddressPlan plan, InetAddress a) {
    for (AddressPlan.Site s : plan.sites()) {
      if (s.ipv4().contains(a) || (s.ipv6() != null && s.ipv6().contains(a))) {
        return s.name();
      }
    }
    return "?";
  }

  private static String ports(List<Integer> ports) {
    return ports.stream().map(String::valueOf).collect(Collectors.joining(","));
  }

  private static String literal(InetAddress a) {
    return a.getHostAddress();
  }
}
