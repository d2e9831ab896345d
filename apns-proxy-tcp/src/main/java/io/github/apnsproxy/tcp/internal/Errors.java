// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

/** Which throwables from user code (listener, router) or one connection are contained. */
final class Errors {
  private Errors() {}

  /**
   * Rethrows what must not be contained: the JVM running out of memory or failing internally. Everything else - a
   * runtime exception, an assertion, a linkage error, a stack overflow in a listener - is one connection's problem.
   */
  static void rethrowFatal(Throwable t) {
    if (t instanceof VirtualMachineError && !(t instanceof StackOverflowError)) {
      throw (VirtualMachineError) t;
    }
  }
}
