// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

/**
 * A measurement window: wall time and the target's CPU time between {@link #open} and {@link #close}, so every
 * rate comes with the CPU the target spent on it. Used by one thread.
 */
final class Window {
  private final Target target;
  private long startNanos;
  private double startCpu;
  private long endNanos;
  private double endCpu;
  private boolean open;
  private boolean closed;

  Window(Target target) {
    this.target = target;
  }

  void open() {
    startCpu = target.cpu();
    startNanos = System.nanoTime();
    open = true;
  }

  void close() {
    endNanos = System.nanoTime();
    endCpu = target.cpu();
    closed = true;
  }

  boolean isOpen() {
    return open && !closed;
  }

  double seconds() {
    return (endNanos - startNanos) / 1e9;
  }

  /** The target's CPU seconds in the window (NaN without a process). */
  double cpuSeconds() {
    return endCpu - startCpu;
  }

  /** The target's CPU use in the window as percent of one core. */
  double cpuPercent() {
    return 100 * cpuSeconds() / seconds();
  }

  /** CPU microseconds per operation, for {@code ops} operations in the window. */
  double cpuMicrosPer(double ops) {
    return ops > 0 ? cpuSeconds() * 1e6 / ops : Double.NaN;
  }
}
