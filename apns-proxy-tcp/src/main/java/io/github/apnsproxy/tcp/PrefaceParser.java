// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.nio.ByteBuffer;

/**
 * Reads the first bytes of one connection and decides what happens to it: route it, reply and read
 * on, reply and close, refuse it, or wait for more bytes. Made per connection by {@link
 * FrontDoor#open}; a parser that keeps no state between calls may be one shared instance.
 *
 * <p>Threading: {@link #parse} is called on the loop thread that owns the connection, one call at a
 * time; it must not block (it runs among every other connection of that loop) and should only look
 * at the bytes. An exception it throws refuses the connection ({@link
 * RejectReason#PREFACE_REFUSED}, logged at DEBUG); an {@link Error} other than the JVM failing is
 * contained the same way.
 */
@FunctionalInterface
public interface PrefaceParser {

  /**
   * Called each time bytes arrived, with every byte buffered and not yet consumed.
   *
   * @param buffered a read-only view: position 0, limit the number of bytes (at least 1); bytes a
   *     previous {@link PrefaceDecision.Reply} consumed are gone, the rest are there again,
   *     followed by the new ones. Valid only during this call (the splicer reuses and moves its
   *     storage)
   * @return the decision; {@link PrefaceDecision#needMore()} to be called again when more bytes
   *     arrive
   */
  PrefaceDecision parse(ByteBuffer buffered);
}
