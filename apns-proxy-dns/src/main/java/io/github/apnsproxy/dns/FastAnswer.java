// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.dns.internal.Responses;
import java.net.InetAddress;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;

/**
 * What a stock handler would do with a question, decided from the name, type and client alone, for
 * the {@link DnsResponder}'s fast path: {@link #PASS} (the handler passes the query on), or an
 * answer that is fixed for {@link #key()} - the responder then answers from the bytes the full path
 * gave for the same key, with the ID, the question's letter case and, for several addresses, their
 * rotation patched in. A handler that cannot promise that (an upstream check, forwarding, a handler
 * the responder does not know) makes the whole query take the full path.
 *
 * <p>A fixed answer must not depend on anything but the key, the question's name (lower case),
 * type, RD bit and EDNS shape; {@link #rotation()} is the handler's own counter, advanced once per
 * answer as the full path does.
 */
final class FastAnswer {
  /** The handler passes the query to the next one. */
  static final FastAnswer PASS = new FastAnswer("pass", List.of(), null);

  private final Object key;
  private final List<byte[]> rotated;
  private final @Nullable AtomicInteger rotation;

  private FastAnswer(Object key, List<byte[]> rotated, @Nullable AtomicInteger rotation) {
    this.key = key;
    this.rotated = rotated;
    this.rotation = rotation;
  }

  /** An answer fixed for {@code key}. */
  static FastAnswer fixed(Object key) {
    return new FastAnswer(Objects.requireNonNull(key, "key"), List.of(), null);
  }

  /**
   * An answer fixed for {@code key} except for the order of its answer records: {@code rdata} (A or
   * AAAA addresses, in the handler's base order) rotated by {@code rotation}, one step per answer.
   */
  static FastAnswer rotating(Object key, List<byte[]> rdata, AtomicInteger rotation) {
    return new FastAnswer(Objects.requireNonNull(key, "key"), List.copyOf(rdata), rotation);
  }

  Object key() {
    return key;
  }

  /** The addresses that rotate; empty when the answer does not rotate. */
  List<byte[]> rotated() {
    return rotated;
  }

  @Nullable AtomicInteger rotation() {
    return rotation;
  }

  /**
   * The fast decision of {@code handler} for a question, or null when it cannot be decided without
   * running it.
   *
   * @param name the question's name, lower case, without the trailing dot (only letters, digits,
   *     '-' and '_')
   */
  static @Nullable FastAnswer decide(
      DnsAnswerHandler handler, String name, int type, InetAddress client) {
    if (handler instanceof Chain c) {
      return c.decide(name, type, client);
    }
    if (handler instanceof Timed t) {
      return decide(t.handler, name, type, client);
    }
    if (handler instanceof PlanHostsHandler p) {
      return p.fast(name, type, client);
    }
    if (handler instanceof ZoneApexHandler z) {
      return z.fast(name, type);
    }
    if (handler instanceof Refusing) {
      return fixed(Refusing.class);
    }
    return null;
  }

  /** What {@link DnsAnswerHandler#timed} builds. */
  static final class Timed implements DnsAnswerHandler {
    final DnsAnswerHandler handler;
    final AnswerTimer timer;

    Timed(DnsAnswerHandler handler, AnswerTimer timer) {
      this.handler = handler;
      this.timer = timer;
    }

    @Override
    public CompletionStage<Optional<Message>> answer(DnsQuery query) {
      long start = System.nanoTime();
      DnsTransport transport = query.transport();
      return handler
          .answer(query)
          .whenComplete((answer, failure) -> timer.answered(transport, System.nanoTime() - start));
    }
  }

  /** The chain {@link DnsAnswerHandler#firstOf} builds. */
  static final class Chain implements DnsAnswerHandler {
    private final List<DnsAnswerHandler> handlers;

    Chain(List<DnsAnswerHandler> handlers) {
      this.handlers = handlers;
    }

    @Override
    public CompletionStage<Optional<Message>> answer(DnsQuery query) {
      return next(handlers, 0, query);
    }

    private static CompletionStage<Optional<Message>> next(
        List<DnsAnswerHandler> chain, int index, DnsQuery query) {
      for (int i = index; i < chain.size(); i++) {
        CompletionStage<Optional<Message>> stage = chain.get(i).answer(query);
        CompletableFuture<Optional<Message>> f = Responses.future(stage);
        if (f.isDone() && !f.isCompletedExceptionally()) {
          Optional<Message> answer = f.join();
          if (answer.isPresent()) {
            return f;
          }
          continue; // answered "pass" at once: no need to chain stages
        }
        int following = i + 1;
        return f.thenCompose(
            answer ->
                answer.isPresent()
                    ? CompletableFuture.completedFuture(answer)
                    : next(chain, following, query));
      }
      return CompletableFuture.completedFuture(Optional.empty());
    }

    /**
     * The first handler's decision that is not {@link #PASS}; null as soon as one cannot decide.
     */
    @Nullable FastAnswer decide(String name, int type, InetAddress client) {
      for (DnsAnswerHandler h : handlers) {
        FastAnswer f = FastAnswer.decide(h, name, type, client);
        if (f != PASS) {
          return f;
        }
      }
      return PASS;
    }
  }

  /** {@link DnsAnswerHandler#refusing()}. */
  static final class Refusing implements DnsAnswerHandler {
    @Override
    public CompletionStage<Optional<Message>> answer(DnsQuery query) {
      return CompletableFuture.completedFuture(Optional.of(Responses.error(Rcode.REFUSED)));
    }
  }
}
