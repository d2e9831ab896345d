// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.internal.loop.SelectorLoop;

/** Which throwables from user code (listener, router) or one connection are contained. */
final class Errors {
  private Errors() {}

  /**
   * Rethrows only the JVM failing, by the loop kernel's rule ({@link SelectorLoop#rethrowFatal}).
   */
  static void rethrowFatal(Throwable t) {
    SelectorLoop.rethrowFatal(t);
  }
}
