// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.net.InetSocketAddress;
import java.util.List;

/**
 * One thing the bench measures: a TCP front address per courier (or none, for a DNS-only peer), the
 * processes whose CPU and memory are sampled (none for {@code direct}), an optional DNS server
 * address, and whether it is a JVM whose heap can be read with jcmd. A peer proxy is just a front
 * map plus PIDs.
 *
 * @param fronts courier N's front address at index N; empty for a DNS-only target
 * @param dns the DNS server to query, or null when the target has none
 * @param core the CPU the target is pinned to alone (its CPU is that core's busy time), or -1 when
 *     not pinned (its CPU is then its processes' CPU time)
 * @param loadCore the CPU of the load generators and upstream servers, or -1 when not pinned
 */
record Target(
    String name,
    List<InetSocketAddress> fronts,
    List<Long> pids,
    InetSocketAddress dns,
    boolean jvm,
    int core,
    int loadCore) {
  boolean tcp() {
    return !fronts.isEmpty();
  }

  boolean hasDns() {
    return dns != null;
  }

  boolean isDirect() {
    return name.equals(Options.DIRECT);
  }

  /**
   * The target's CPU seconds so far: its core's busy time when pinned (what its work costs the
   * machine, kernel work on its behalf included), else its processes' CPU time (NaN for direct).
   */
  double cpu() {
    return core >= 0 ? ProcStats.coreBusySeconds(core) : ProcStats.cpuSeconds(pids);
  }

  /** The target's processes' own CPU time (utime + stime) so far; NaN without a process. */
  double processCpu() {
    return ProcStats.cpuSeconds(pids);
  }

  /** The load CPU's busy seconds so far; NaN when not pinned. */
  double loadCpu() {
    return loadCore >= 0 ? ProcStats.coreBusySeconds(loadCore) : Double.NaN;
  }

  InetSocketAddress front(int i) {
    return fronts.get(Math.floorMod(i, fronts.size()));
  }
}
