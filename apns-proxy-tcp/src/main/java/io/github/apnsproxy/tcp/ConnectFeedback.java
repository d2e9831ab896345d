// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;

/**
 * Tells a router how the candidates of its {@link Route} fared, so it can steer later routes away
 * from upstreams that just failed (the stock router's {@link CourierPicker} does). Carried by
 * {@link Route#to(String, java.util.List, ConnectFeedback)}.
 *
 * <p>Threading: called on the loop thread that owns the connection; must not block; must be
 * thread-safe (all loops call it). An exception thrown is logged and ignored.
 */
public interface ConnectFeedback {

  /** The connection attempt to {@code candidate} failed (refused, timed out, unreachable). */
  void failed(InetSocketAddress candidate, String why);

  /** The connection to {@code candidate} is established. */
  default void connected(InetSocketAddress candidate) {}
}
