// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.ProxyConfig;
import java.net.InetAddress;
import java.util.List;
import java.util.stream.Collectors;

/** Prints a plan for an operator to review: every virtual address, what it maps to, and what DNS answers. */
final class PlanReport {
  private PlanReport() {}

  static String describe(ProxyConfig config) {
    AddressPlan plan = config.addressPlan();
    StringBuilder out = new StringBuilder();
    out.append("config OK\n");
    out.append("plan: ").append(plan.style().name().toLowerCase(java.util.Locale.ROOT)).append(", couriers 0..")
        .append(plan.courierCount()).append(" of ").append(String.join(", ", plan.variants()))
        .append(", production and sandbox\n");
    for (AddressPlan.Site s : plan.sites()) {
      out.append("site ").append(s.name()).append(": ").append(s.ipv4())
          .append(s.ipv6() == null ? "" : " + " + s.ipv6()).append(", clients ")
          .append(s.clients()).append('\n');
    }
    out.append("ports: courier ").append(ports(plan.ports(ApnsHost.Kind.COURIER))).append(", init ")
        .append(ports(plan.ports(ApnsHost.Kind.INIT))).append(", api ")
        .append(ports(plan.ports(ApnsHost.Kind.PROVIDER))).append('\n');
    out.append("clients allowed: ").append(config.addressPolicy().clients()).append('\n');
    out.append("upstream targets allowed: ").append(config.addressPolicy().upstreams()).append('\n');
    out.append("DNS: listen ").append(config.dnsListen()).append(", TTL ").append(config.dnsTtl().toSeconds())
        .append("s, TXT push.apple.com \"count=").append(config.dnsTxtCount()).append("\", names outside the zone: ")
        .append(config.dnsForward().isEmpty() ? "REFUSED" : "forwarded to " + config.dnsForward()).append('\n');
    out.append("upstream: DNS ").append(config.upstreamDns()).append(config.upstreamHosts()
        .map(p -> ", hosts file " + p).orElse("")).append('\n');
    out.append('\n').append(String.format("%-40s %-6s %s%n", "virtual address", "site", "answers for / splices to"));
    if (plan.style() == AddressPlan.Style.SINGLE) {
      for (InetAddress a : plan.singleAddresses()) {
        out.append(String.format("%-40s %-6s %s  ports %s%n", literal(a), siteOf(plan, a),
            "every name of the zone (" + plan.hosts().size() + " hosts); the TLS server name decides",
            ports(plan.allPorts())));
      }
      out.append('\n').append(plan.singleAddresses().size()).append(" virtual addresses, ")
          .append(plan.listenAddresses().size()).append(" listening sockets")
          .append(config.tcpListen().isEmpty() ? "" : " (the splicer listens on " + config.tcpListen()
              + " instead)").append('\n');
      out.append("\neffective configuration (every key, defaults included):\n");
      config.effectiveValues().forEach((k, v) -> out.append(k).append(" = ").append(v).append('\n'));
      return out.toString();
    }
    for (AddressPlan.Entry e : plan.entries()) {
      List<ApnsHost> upstreams = plan.upstreamsFor(e.host());
      String target = upstreams.size() == 1 ? upstreams.get(0).name()
          : "pool of " + upstreams.size() + " couriers (" + upstreams.get(0).name() + " .. "
              + upstreams.get(upstreams.size() - 1).name() + ")";
      out.append(String.format("%-40s %-6s %s  ports %s%n", literal(e.address()), e.site().name(), target,
          ports(plan.ports(e.host().kind()))));
    }
    out.append('\n').append(plan.entries().size()).append(" virtual addresses, ")
        .append(plan.listenAddresses().size()).append(" listening sockets")
        .append(config.tcpListen().isEmpty() ? "" : " (the splicer listens on " + config.tcpListen()
            + " instead)").append('\n');
    out.append("\neffective configuration (every key, defaults included):\n");
    config.effectiveValues().forEach((k, v) -> out.append(k).append(" = ").append(v).append('\n'));
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
