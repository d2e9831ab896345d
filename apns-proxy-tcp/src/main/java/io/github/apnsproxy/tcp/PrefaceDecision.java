// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import org.jspecify.annotations.Nullable;

/**
 * A {@link PrefaceParser}'s answer for the bytes buffered so far. Immutable values made by the
 * static factories.
 *
 * <ul>
 *   <li>{@link #needMore()}: read more (within the size cap and the {@code prefaceTimeout}).
 *   <li>{@link #reply(ByteBuffer, int)}: send these bytes, drop the first {@code consumed} buffered
 *       bytes and read on (a SOCKS5 method selection or authentication reply).
 *   <li>{@link #route(Preface, int)} / {@link #route(Preface, int, UpstreamReplies)}: the preface
 *       is complete; the router decides with what was found; the buffered bytes after the first
 *       {@code skip} are forwarded upstream first, before any byte the client sends later. The
 *       optional {@link UpstreamReplies} answers the client after the upstream outcome (an HTTP 200
 *       or 502, a SOCKS5 success or failure reply).
 *   <li>{@link #refuse(String)} / {@link #refuse(String, ByteBuffer)}: not acceptable (counted as
 *       {@link RejectReason#PREFACE_REFUSED}); optionally an answer is sent before the close (an
 *       HTTP 400).
 *   <li>{@link #answer(String, ByteBuffer)}: the door answered the connection itself and closes it,
 *       nothing is wrong (a PAC file, a health check); closed as {@link CloseReason#ANSWERED}, not
 *       counted as a rejection.
 *   <li>{@link #later(CompletionStage)}: the decision needs work that must not run on the loop
 *       thread (a slow password hash); the splicer stops reading the client and applies the stage's
 *       decision once it completes.
 * </ul>
 */
public sealed interface PrefaceDecision {

  /** Wait for more bytes. */
  static PrefaceDecision needMore() {
    return NeedMore.INSTANCE;
  }

  /**
   * Send {@code bytes} (its remaining bytes, copied), drop the first {@code consumed} buffered
   * bytes, read on.
   */
  static PrefaceDecision reply(ByteBuffer bytes, int consumed) {
    return new Reply(copy(bytes), consumed);
  }

  /**
   * Route with what was found, forwarding the buffered bytes after the first {@code skip} upstream
   * first.
   */
  static PrefaceDecision route(Preface found, int skip) {
    return new Proceed(found, skip, null);
  }

  /**
   * Like {@link #route(Preface, int)}, answering the client after the upstream outcome with {@code
   * replies}.
   */
  static PrefaceDecision route(Preface found, int skip, UpstreamReplies replies) {
    return new Proceed(found, skip, Objects.requireNonNull(replies, "replies"));
  }

  /** Refuse and close, with {@code detail} for the DEBUG log. */
  static PrefaceDecision refuse(String detail) {
    return new Close(detail, ByteBuffer.allocate(0), true);
  }

  /** Refuse, send {@code reply} (its remaining bytes, copied), then close. */
  static PrefaceDecision refuse(String detail, ByteBuffer reply) {
    return new Close(detail, copy(reply), true);
  }

  /** Answer with {@code reply} (copied) and close; not a refusal. */
  static PrefaceDecision answer(String detail, ByteBuffer reply) {
    return new Close(detail, copy(reply), false);
  }

  /**
   * Decide later: the splicer stops reading the client until {@code decision} completes, then
   * applies its decision on the connection's loop thread as if {@link PrefaceParser#parse} had
   * returned it (a {@link Reply} drops its bytes and the parser is called again with the rest, as
   * usual). The parser is not called while the stage is pending, so the stage may update the
   * parser's state before it completes; that completion happens-before the next {@code parse} call.
   * A stage that fails (or completes with {@code null}) refuses the connection. The {@code
   * prefaceTimeout} keeps running: a connection that times out or goes away meanwhile is closed and
   * the late decision is ignored. The stage must not use the {@code buffered} view it was made from
   * (copy what it needs).
   */
  static PrefaceDecision later(CompletionStage<PrefaceDecision> decision) {
    return new Later(Objects.requireNonNull(decision, "decision"));
  }

  private static ByteBuffer copy(ByteBuffer b) {
    Objects.requireNonNull(b, "bytes");
    ByteBuffer c = ByteBuffer.allocate(b.remaining());
    c.put(b.duplicate()).flip();
    return c.asReadOnlyBuffer();
  }

  /** Wait for more bytes. */
  enum NeedMore implements PrefaceDecision {
    /** The one instance. */
    INSTANCE
  }

  /**
   * Send {@code bytes}, drop {@code consumed} buffered bytes, read on.
   *
   * @param bytes the reply (read-only)
   * @param consumed how many of the buffered bytes the parser is done with (0 to all)
   */
  record Reply(ByteBuffer bytes, int consumed) implements PrefaceDecision {
    /** Checks the arguments. */
    public Reply {
      Objects.requireNonNull(bytes, "bytes");
      if (consumed < 0) {
        throw new IllegalArgumentException("consumed " + consumed + " (expected 0 or more)");
      }
    }
  }

  /**
   * The preface is complete: route.
   *
   * @param found what the preface said, handed to the router in {@link InboundConnection#preface()}
   * @param skip how many buffered bytes not to forward (0: forward every buffered byte, as for a
   *     ClientHello)
   * @param replies answers the client after the upstream outcome; {@code null} for none
   *     (transparent doors)
   */
  record Proceed(Preface found, int skip, @Nullable UpstreamReplies replies)
      implements PrefaceDecision {
    /** Checks the arguments. */
    public Proceed {
      Objects.requireNonNull(found, "found");
      if (skip < 0) {
        throw new IllegalArgumentException("skip " + skip + " (expected 0 or more)");
      }
    }
  }

  /**
   * Close, after sending {@code reply} (may be empty).
   *
   * @param detail why, for the DEBUG log
   * @param reply bytes to send first (read-only; empty for none)
   * @param refused true for a refusal ({@link RejectReason#PREFACE_REFUSED}), false for an answer
   *     ({@link CloseReason#ANSWERED})
   */
  record Close(String detail, ByteBuffer reply, boolean refused) implements PrefaceDecision {
    /** Checks the arguments. */
    public Close {
      Objects.requireNonNull(detail, "detail");
      Objects.requireNonNull(reply, "reply");
    }
  }

  /**
   * Decide once {@code decision} completes; see {@link #later(CompletionStage)}.
   *
   * @param decision completes with the decision (any thread)
   */
  record Later(CompletionStage<PrefaceDecision> decision) implements PrefaceDecision {
    /** Checks the argument. */
    public Later {
      Objects.requireNonNull(decision, "decision");
    }
  }
}
