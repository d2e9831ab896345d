// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal.loop;

/**
 * What a server plugs into a {@link SelectorLoop}: its timers and its part of the loop's lifecycle.
 * Every method runs on the loop thread and must not block.
 */
public interface LoopHandler {
  /**
   * The loop woke up at {@code now} ({@link System#nanoTime()}); called once per turn, before any
   * key or task of that turn is handled.
   */
  default void awoke(long now) {}

  /**
   * The deadline given to {@link SelectorLoop#schedule} has passed: fire what is due (containing
   * each connection's failure) and return the next deadline, {@link Long#MAX_VALUE} for none.
   * Deadlines scheduled meanwhile count too.
   */
  long timersDue(long now);

  /**
   * The selector was closed under the loop, so its registrations are gone; the loop goes on with a
   * new selector (listeners included) and the handler closes the connections it holds, whose keys
   * are no longer valid.
   */
  void selectorLost();

  /**
   * The loop is stopping, normally or because the JVM failed under it: close every connection. The
   * listeners are closed already and the tasks queued before the stop have run; later tasks are
   * dropped ({@link Droppable}).
   */
  void stopping();
}
