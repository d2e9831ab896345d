// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * A loop's pool of direct buffers for bytes a peer could not take yet. Used by the loop thread
 * only; the outstanding count is volatile so other threads (metrics, tests) may read it.
 */
@SuppressWarnings(
    "NonAtomicVolatileUpdate") // one writer, the loop thread; the volatile only publishes the count
final class BufferPool {
  private static final int MAX_FREE = 32;
  private final int size;
  private final ArrayDeque<ByteBuffer> free = new ArrayDeque<>();
  private volatile int outstanding;

  BufferPool(int size) {
    this.size = size;
  }

  ByteBuffer acquire() {
    ByteBuffer b = free.pollFirst();
    if (b == null) {
      b = ByteBuffer.allocateDirect(size);
    }
    outstanding = outstanding + 1; // single writer: the loop thread
    b.clear();
    return b;
  }

  void release(ByteBuffer b) {
    outstanding = outstanding - 1;
    if (free.size() < MAX_FREE) {
      free.addFirst(b);
    }
  }

  int outstanding() {
    return outstanding;
  }

  void clear() {
    free.clear();
  }
}
