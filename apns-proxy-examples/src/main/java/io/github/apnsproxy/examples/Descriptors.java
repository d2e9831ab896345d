// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.util.OptionalLong;

/**
 * The open-file arithmetic of a proxy process: each splice holds two descriptors (the client's
 * socket and the upstream socket, also while the upstream connect is in flight), so {@code
 * tcp.max-connections} beyond what the open-file limit (RLIMIT_NOFILE) holds would let clients
 * complete the TCP handshake and then hang. The effective limit is {@code (open-file limit -
 * listeners - dns.tcp-max-connections - RESERVE) / 2}.
 */
final class Descriptors {
  /**
   * Descriptors kept for everything that is not a splice or a listener: the JVM's own files (jars,
   * stdio), the selectors of the loops, upstream DNS sockets and the metrics endpoint's
   * connections.
   */
  static final int RESERVE = 128;

  private Descriptors() {}

  /** The process's open-file limit, when the platform tells it (Unix JDKs do). */
  static OptionalLong openFileLimit() {
    OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      long max = unix.getMaxFileDescriptorCount();
      return max > 0 ? OptionalLong.of(max) : OptionalLong.empty();
    }
    return OptionalLong.empty();
  }

  /**
   * The most splices {@code openFiles} descriptors hold next to {@code listeners} listening sockets
   * and {@code dnsTcpConnections} DNS-over-TCP connections; at least 1.
   */
  static int maxSplices(long openFiles, int listeners, int dnsTcpConnections) {
    long free = openFiles - listeners - (long) dnsTcpConnections - RESERVE;
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, free / 2));
  }
}
