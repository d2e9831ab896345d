// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.net.InetSocketAddress;
import java.util.List;

/**
 * One thing the bench measures: a TCP front address per courier (or none, for a DNS-only peer), the processes
 * whose CPU and memory are sampled (none for {@code direct}), an optional DNS server address, and whether it is a
 * JVM whose heap can be read with jcmd. A peer proxy is just a front map plus PIDs.
 *
 * @param fronts courier N's front address at index N; empty for a DNS-only target
 * @param dns the DNS server to query, or null when the target has none
 */
record Target(String name, List<InetSocketAddress> fronts, List<Long> pids, InetSocketAddress dns, boolean jvm) {
  boolean tcp() {
    return !fronts.isEmpty();
  }

  boolean hasDns() {
    return dns != null;
  }

  boolean isDirect() {
    return name.equals(Options.DIRECT);
  }

  /** The proxy's CPU seconds so far (NaN for direct). */
  double cpu() {
    return ProcStats.cpuSeconds(pids);
  }

  InetSocketAddress front(int i) {
    return fronts.get(Math.floorMod(i, fronts.size()));
  }
}
