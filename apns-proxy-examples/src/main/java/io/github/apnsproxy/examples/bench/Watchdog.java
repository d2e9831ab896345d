// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Bounds a blocking step: unless closed first, runs an action (closing a channel, killing a
 * process) after a timeout, which makes the blocked call fail. One daemon thread {@code
 * apns-proxy-bench-watchdog} serves every watchdog.
 */
final class Watchdog implements AutoCloseable {
  private static final ScheduledExecutorService TIMER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "apns-proxy-bench-watchdog");
            t.setDaemon(true);
            return t;
          });

  private final ScheduledFuture<?> task;
  private volatile boolean fired;

  Watchdog(Duration timeout, Runnable action) {
    this.task =
        TIMER.schedule(
            () -> {
              fired = true;
              action.run();
            },
            timeout.toNanos(),
            TimeUnit.NANOSECONDS);
  }

  /** Closes {@code c} after the timeout. */
  static Watchdog closing(Duration timeout, Closeable c) {
    return new Watchdog(
        timeout,
        () -> {
          try {
            c.close();
          } catch (IOException e) {
            // closing only to unblock a stuck call; the caller reports the failure it then sees
          }
        });
  }

  /** Whether the timeout passed and the action ran. */
  boolean fired() {
    return fired;
  }

  @Override
  public void close() {
    task.cancel(false);
  }
}
