// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;

/**
 * Observes the life of each connection through a {@link TcpSplicer}; every method has a no-op default.
 *
 * <p>Threading: every method is called on the selector loop thread that owns the connection
 * ({@code apns-proxy-tcp-loop-N}); calls for one connection are ordered (accepted, routed, connected, closed, where
 * a connection refused early skips the middle ones). Methods must not block and should be quick: they delay every
 * connection on that loop. An exception thrown by a method is logged at WARN and otherwise ignored; it never
 * affects the connection. The same listener is called from all loops concurrently, so it must be thread-safe.
 */
public interface SpliceListener {

  /** A client connection was accepted (also called for connections then refused by a limit or the policy). */
  default void accepted(InboundConnection connection) {}

  /** The router chose where the connection goes. */
  default void routed(InboundConnection connection, Route route) {}

  /**
   * The upstream connection to {@code upstream} is established (through an {@link Egress egress proxy}: the tunnel
   * is open, and {@code upstream} is the proxy's address); bytes start flowing.
   */
  default void connected(InboundConnection connection, InetSocketAddress upstream) {}

  /**
   * The connection is over, both legs; called exactly once per accepted connection. The loop releases the sockets
   * at the end of its current turn, so the peers may see the FIN or reset just after this call.
   */
  default void closed(InboundConnection connection, SpliceSummary summary) {}
}
