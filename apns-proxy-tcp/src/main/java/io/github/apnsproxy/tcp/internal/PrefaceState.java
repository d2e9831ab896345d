// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.PrefaceDecision;
import io.github.apnsproxy.tcp.PrefaceParser;
import io.github.apnsproxy.tcp.ProxyProtocol;
import io.github.apnsproxy.tcp.UpstreamFailure;
import io.github.apnsproxy.tcp.UpstreamReplies;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * The preface stage of one connection: its bytes buffered so far (a heap array allocated when the
 * first bytes arrive, grown by doubling up to the cap, its capacity accounted in the loop's preface
 * budget), the parser, a pending reply, and what the routed connection still needs from the stage
 * (the bytes to forward, the upstream replies). Dropped by the splice once connected or closed: an
 * established splice holds none of this. Loop thread only.
 */
final class PrefaceState {
  private static final int MIN_CAPACITY = 256;

  final @Nullable FrontDoor door;
  @Nullable PrefaceParser parser;

  /** True while a PROXY protocol header is still expected before the door's preface. */
  boolean proxyPending;

  /**
   * The PROXY protocol mode this connection was accepted with ({@code OFF}: none); a later change
   * applies to connections accepted after it.
   */
  ProxyProtocol proxyMode = ProxyProtocol.OFF;

  /**
   * The most bytes buffered at once for the current step (the PROXY header's or the door's cap).
   */
  int cap;

  private byte @Nullable [] buf;
  private int start;
  private int end;

  /**
   * A deferred parser decision not yet applied (the client is not read meanwhile); null when none.
   */
  PrefaceDecision.@Nullable Later pending;

  /**
   * Bytes going to the client now (a parser's reply or an upstream outcome reply); null when none.
   */
  @Nullable ByteBuffer reply;

  /** Answers the client after the upstream outcome; null for transparent doors. */
  @Nullable UpstreamReplies replies;

  /** Why the connection closes once the reply is sent (REPLYING state). */
  CloseReason closeReason = CloseReason.PREFACE_REFUSED;

  /** The reply is sent and output shut down: reading only to discard until EOF or the deadline. */
  boolean lingering;

  /** The class of the last upstream connect failure, for {@link UpstreamReplies#failed}. */
  UpstreamFailure.Kind lastFailure = UpstreamFailure.Kind.ERROR;

  PrefaceState(@Nullable FrontDoor door, int cap) {
    this.door = door;
    this.cap = cap;
  }

  /** Bytes buffered and not consumed. */
  int size() {
    return end - start;
  }

  /** Room left under the cap. */
  int room() {
    return cap - size();
  }

  /**
   * Appends the remaining bytes of {@code src}, growing the array within the loop's budget.
   *
   * @return false when growing would take the loop past its budget (nothing appended)
   */
  boolean append(Loop loop, ByteBuffer src) {
    int n = src.remaining();
    byte[] b = buf;
    if (b == null || b.length - end < n) {
      int need = size() + n;
      int capacity = b == null ? MIN_CAPACITY : b.length;
      while (capacity < need) {
        capacity *= 2;
      }
      capacity = Math.max(need, Math.min(capacity, cap));
      int held = b == null ? 0 : b.length;
      if (capacity != held) {
        if (!loop.reservePreface(capacity - held)) {
          return false;
        }
        byte[] grown = new byte[capacity];
        if (b != null) {
          System.arraycopy(b, start, grown, 0, size());
        }
        end = size();
        start = 0;
        buf = grown;
        b = grown;
      } else if (b != null) {
        System.arraycopy(b, start, b, 0, size()); // compact: consumed bytes make room
        end = size();
        start = 0;
      }
    }
    src.get(b, end, n);
    end += n;
    return true;
  }

  /** A read-only view of the buffered bytes (position 0); valid until the next change. */
  ByteBuffer view() {
    byte[] b = buf;
    return b == null
        ? ByteBuffer.allocate(0).asReadOnlyBuffer()
        : ByteBuffer.wrap(b, start, end - start).slice().asReadOnlyBuffer();
  }

  /** Drops the first {@code n} buffered bytes (at most all). */
  void consume(int n) {
    start += Math.min(Math.max(n, 0), size());
    if (start == end) {
      start = 0;
      end = 0;
    }
  }

  /** Copies the buffered bytes into {@code dst}. */
  void copyTo(ByteBuffer dst) {
    byte[] b = buf;
    if (b != null) {
      dst.put(b, start, size());
    }
  }

  /** Frees the array and gives its capacity back to the loop's budget. Idempotent. */
  void release(Loop loop) {
    byte[] b = buf;
    if (b != null) {
      buf = null;
      loop.releasePreface(b.length);
    }
    start = 0;
    end = 0;
  }

  /** Classifies a failed connect attempt from its description. */
  static UpstreamFailure.Kind classify(String why) {
    if (why.contains("timed out")) {
      return UpstreamFailure.Kind.TIMED_OUT;
    }
    if (why.contains("ConnectException") || why.contains("refused")) {
      return UpstreamFailure.Kind.REFUSED;
    }
    if (why.contains("NoRouteToHost") || why.contains("unreachable")) {
      return UpstreamFailure.Kind.UNREACHABLE;
    }
    return UpstreamFailure.Kind.ERROR;
  }
}
