// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal.loop;

import java.nio.channels.SocketChannel;

/** Takes over the channels a {@link SelectorLoop} accepts on one listener. */
@FunctionalInterface
public interface Acceptor {
  /**
   * {@code ch} was just accepted (still in blocking mode). Runs on the loop thread, must not block;
   * it owns the channel from here on. A throw closes the channel and the loop goes on.
   */
  void accepted(SocketChannel ch);
}
