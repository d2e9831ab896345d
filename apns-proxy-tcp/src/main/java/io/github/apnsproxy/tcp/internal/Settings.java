// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.tcp.AddressFamily;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.ProxyProtocol;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.SpliceListener;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The validated, immutable configuration of a splicer; times in nanoseconds ({@code 0} = off for
 * the idle timeout, keepalive seconds {@code 0} = system default). {@code doors} runs parallel to
 * {@code listen} (null: no front door on that listener).
 */
public record Settings(
    List<InetSocketAddress> listen,
    Router router,
    AddressPolicy policy,
    int loops,
    long connectTimeoutNanos,
    long idleTimeoutNanos,
    long routeTimeoutNanos,
    int maxConnections,
    int maxConnectionsPerClient,
    int bufferSize,
    int keepAliveIdleSeconds,
    int keepAliveIntervalSeconds,
    boolean reusePort,
    SpliceListener listener,
    List<@Nullable FrontDoor> doors,
    long prefaceTimeoutNanos,
    long prefaceBudgetBytes,
    ProxyProtocol proxyProtocol,
    CidrSet proxyProtocolFrom,
    Egress egress,
    AddressFamily family,
    CidrSet neverConnectTo,
    long failedAddressMemoryNanos) {
  /** Copies the lists. */
  public Settings {
    listen = List.copyOf(listen);
    doors = Collections.unmodifiableList(new ArrayList<>(doors));
    if (doors.size() != listen.size()) {
      throw new IllegalArgumentException(
          "doors " + doors.size() + " for " + listen.size() + " listen addresses");
    }
  }

  /**
   * Why {@code door} cannot read its prefaces into buffers of {@code bufferSize} bytes; null when
   * it can.
   */
  public static @Nullable String doorMismatch(FrontDoor door, int bufferSize) {
    int max = door.maxPrefaceBytes();
    return max >= 1 && max <= bufferSize
        ? null
        : "front door "
            + door.name()
            + " takes prefaces of up to "
            + max
            + " bytes (expected 1.."
            + bufferSize
            + ", the buffer size)";
  }

  /** Whether any connection may need the preface stage (a front door or PROXY protocol). */
  public boolean usesPreface() {
    return proxyProtocol != ProxyProtocol.OFF || doors.stream().anyMatch(d -> d != null);
  }
}
