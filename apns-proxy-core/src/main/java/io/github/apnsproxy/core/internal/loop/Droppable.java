// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal.loop;

/**
 * A task that owns something (an accepted channel) which must be released when the loop stops
 * before running it.
 */
public interface Droppable extends Runnable {
  /**
   * The loop stopped before running this task; called on any thread, at most once, instead of
   * {@link #run}.
   */
  void dropped();
}
