// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

/**
 * Receives how long each answer of a {@linkplain DnsAnswerHandler#timed timed} handler took: from
 * the responder asking the handler (or deciding on its precomputed answers) to the answer being
 * ready, without the network. Called on the thread that completed the answer (a server thread, or
 * the thread that completed a forwarded query); must be thread-safe, quick, and must not block or
 * throw.
 */
@FunctionalInterface
public interface AnswerTimer {

  /** One query answered over {@code transport} in {@code nanos} nanoseconds. */
  void answered(DnsTransport transport, long nanos);
}
