// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.xbill.DNS.Message;

/**
 * Answers a DNS query, or passes it on.
 *
 * <p>A handler returns a stage that completes with the response, or with {@link Optional#empty()}
 * to let the next handler of a {@link #firstOf chain} answer. The response needs only what the
 * handler decides: rcode, the AA and RA flags and the answer, authority and additional sections.
 * The {@link DnsResponder} copies the query's ID, opcode, RD flag and question (with the client's
 * letter case) into it, sets QR, adds EDNS and truncates for UDP, so a handler can answer with a
 * fresh {@code new Message()}.
 *
 * <p>Handlers are called concurrently from the server's threads and must be thread-safe. They must
 * not block: answer at once (the stock plan handlers do) or complete the stage later from another
 * thread (forwarding does). A handler that throws or fails its stage makes the responder answer
 * SERVFAIL and log one WARN line; a handler that never completes is answered SERVFAIL after the
 * responder's handler timeout.
 */
@FunctionalInterface
public interface DnsAnswerHandler {

  /**
   * Answers {@code query}.
   *
   * @return a stage completing with the response, or empty to pass the query to the next handler
   */
  CompletionStage<Optional<Message>> answer(DnsQuery query);

  /**
   * A chain: each handler in turn until one answers; empty when all pass. A handler that fails ends
   * the chain with that failure.
   */
  static DnsAnswerHandler firstOf(DnsAnswerHandler... handlers) {
    return firstOf(List.of(handlers));
  }

  /** {@link #firstOf(DnsAnswerHandler...)} for a list. */
  static DnsAnswerHandler firstOf(List<? extends DnsAnswerHandler> handlers) {
    List<DnsAnswerHandler> chain = List.copyOf(handlers);
    chain.forEach(h -> Objects.requireNonNull(h, "handler"));
    return new FastAnswer.Chain(chain);
  }

  /**
   * {@code handler} with the time of each answer reported to {@code timer} (a metrics histogram,
   * say). Unlike a wrapper of your own, it keeps the {@link DnsResponder}'s precomputed answers for
   * the plan's names (which a handler it does not know turns off): those are timed too.
   */
  static DnsAnswerHandler timed(DnsAnswerHandler handler, AnswerTimer timer) {
    return new FastAnswer.Timed(
        Objects.requireNonNull(handler, "handler"), Objects.requireNonNull(timer, "timer"));
  }

  /** Answers every query with REFUSED: the end of a chain for names the proxy does not serve. */
  static DnsAnswerHandler refusing() {
    return new FastAnswer.Refusing();
  }
}
