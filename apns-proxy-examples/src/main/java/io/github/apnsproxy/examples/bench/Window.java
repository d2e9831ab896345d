// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

/**
 * A measurement window: wall time and the target's CPU time (core and process, see {@link
 * Target#cpu}) and the load CPU's busy time between {@link #open} and {@link #close}, so every rate
 * comes with the CPU the target spent on it. Used by one thread.
 */
final class Window {
  private final Target target;
  private long startNanos;
  private double startCpu;
  private long endNanos;
  private double endCpu;
  private double startProc;
  private double endProc;
  private double startLoad;
  private double endLoad;
  private boolean open;
  private boolean closed;

  Window(Target target) {
    this.target = target;
  }

  void open() {
    startProc = target.processCpu();
    startLoad = target.loadCpu();
    startCpu = target.cpu();
    startNanos = System.nanoTime();
    open = true;
  }

  void close() {
    endNanos = System.nanoTime();
    endCpu = target.cpu();
    endLoad = target.loadCpu();
    endProc = target.processCpu();
    closed = true;
  }

  boolean isOpen() {
    return open && !closed;
  }

  double seconds() {
    return (endNanos - startNanos) / 1e9;
  }

  /** The target's processes' own CPU seconds in the window (NaN without a process). */
  double processCpuSeconds() {
    return endProc - startProc;
  }

  /** The target's processes' own CPU microseconds per operation. */
  double processCpuMicrosPer(double ops) {
    return ops > 0 ? processCpuSeconds() * 1e6 / ops : Double.NaN;
  }

  /** The load CPU's busy share in the window, percent (NaN when not pinned). */
  double loadPercent() {
    return 100 * (endLoad - startLoad) / seconds();
  }

  /**
   * The target's CPU seconds in the window: its core's busy time when pinned, else its processes'
   * CPU time (NaN without a process).
   */
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
