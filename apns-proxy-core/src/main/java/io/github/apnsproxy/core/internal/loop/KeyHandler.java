// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal.loop;

import java.nio.channels.SelectionKey;

/**
 * The attachment of every key registered on a {@link SelectorLoop}: one connection (or a part of
 * one). Every method runs on the loop thread and must not block.
 */
public interface KeyHandler {
  /** {@code key} is ready (its ready ops are set). */
  void onReady(SelectionKey key);

  /**
   * {@link #onReady} threw {@code failure} (an exception or an error other than the JVM failing):
   * close the connection this key belongs to. A throw from here closes the key's channel; the loop
   * goes on either way.
   */
  void onFailure(SelectionKey key, Throwable failure);

  /**
   * The selector was rebuilt: {@code replacement} (same channel, interest ops and attachment, on
   * the new selector) takes the place of {@code old}, which is no longer valid.
   */
  void keyReplaced(SelectionKey old, SelectionKey replacement);
}
