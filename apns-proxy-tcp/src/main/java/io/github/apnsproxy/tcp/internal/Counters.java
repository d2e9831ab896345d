// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.SpliceStats;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/** The splicer's counters, updated by all loops. Thread-safe. */
@SuppressWarnings("EnumOrdinal") // ordinals index the per-reason arrays only; snapshots name each reason
final class Counters {
  final AtomicInteger active = new AtomicInteger();
  final LongAdder accepted = new LongAdder();
  final LongAdder connectFailures = new LongAdder();
  final LongAdder bytesUp = new LongAdder();
  final LongAdder bytesDown = new LongAdder();
  final LongAdder proxyFailures = new LongAdder();
  final LongAdder proxyRefusals = new LongAdder();
  final LongAdder selfLoops = new LongAdder();
  private final AtomicLongArray rejected = new AtomicLongArray(RejectReason.values().length);
  private final AtomicLongArray closed = new AtomicLongArray(CloseReason.values().length);

  void rejected(RejectReason r) {
    rejected.incrementAndGet(r.ordinal());
  }

  void closed(CloseReason r) {
    closed.incrementAndGet(r.ordinal());
  }

  SpliceStats snapshot(int outstandingBuffers) {
    Map<RejectReason, Long> rej = new EnumMap<>(RejectReason.class);
    for (RejectReason r : RejectReason.values()) {
      rej.put(r, rejected.get(r.ordinal()));
    }
    Map<CloseReason, Long> clo = new EnumMap<>(CloseReason.class);
    for (CloseReason r : CloseReason.values()) {
      clo.put(r, closed.get(r.ordinal()));
    }
    return new SpliceStats(active.get(), accepted.sum(), rej, connectFailures.sum(), bytesUp.sum(), bytesDown.sum(),
        clo, outstandingBuffers, proxyFailures.sum(), proxyRefusals.sum(), selfLoops.sum());
  }
}
