// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.tcp.AddressFamily;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.SpliceListener;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * The validated, immutable configuration of a splicer; times in nanoseconds ({@code 0} = off for the idle
 * timeout, keepalive seconds {@code 0} = system default).
 */
public record Settings(List<InetSocketAddress> listen, Router router, AddressPolicy policy, int loops,
    long connectTimeoutNanos, long idleTimeoutNanos, long routeTimeoutNanos, int maxConnections,
    int maxConnectionsPerClient, int bufferSize, int keepAliveIdleSeconds, int keepAliveIntervalSeconds,
    boolean reusePort, SpliceListener listener, Egress egress, AddressFamily family, CidrSet neverConnectTo,
    long failedAddressMemoryNanos) {
  /** Copies the list. */
  public Settings {
    listen = List.copyOf(listen);
  }
}
