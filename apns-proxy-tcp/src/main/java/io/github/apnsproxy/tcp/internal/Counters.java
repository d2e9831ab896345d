// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.Preface;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.ServerNameKind;
import io.github.apnsproxy.tcp.SpliceStats;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/** The splicer's counters, updated by all loops. Thread-safe. */
@SuppressWarnings(
    "EnumOrdinal") // ordinals index the per-reason arrays only; snapshots name each reason
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

  /**
   * Connections routed by their dialled address without a preface: the common path, one adder of
   * its own.
   */
  private final LongAdder routedByAddress = new LongAdder();

  /**
   * Routed connections by front door name, then by name kind (ordinal); doors of the listeners
   * present from start.
   */
  private final ConcurrentHashMap<String, AtomicLongArray> routed = new ConcurrentHashMap<>();

  Counters(List<? extends @Nullable FrontDoor> doors) {
    routed.put(Preface.ADDRESS, new AtomicLongArray(ServerNameKind.values().length));
    for (FrontDoor d : doors) {
      if (d != null) {
        routed.computeIfAbsent(d.name(), k -> new AtomicLongArray(ServerNameKind.values().length));
      }
    }
  }

  /** A connection without a preface was routed (by its dialled address). */
  void routedByAddress() {
    routedByAddress.increment();
  }

  /** A connection whose preface was read by {@code door} was routed by a name of {@code kind}. */
  void routed(String door, ServerNameKind kind) {
    AtomicLongArray a = routed.get(door);
    if (a == null) {
      a = routed.computeIfAbsent(door, k -> new AtomicLongArray(ServerNameKind.values().length));
    }
    a.incrementAndGet(kind.ordinal());
  }

  void rejected(RejectReason r) {
    rejected.incrementAndGet(r.ordinal());
  }

  void closed(CloseReason r) {
    closed.incrementAndGet(r.ordinal());
  }

  SpliceStats snapshot(int outstandingBuffers, long prefaceBytes) {
    Map<RejectReason, Long> rej = new EnumMap<>(RejectReason.class);
    for (RejectReason r : RejectReason.values()) {
      rej.put(r, rejected.get(r.ordinal()));
    }
    Map<CloseReason, Long> clo = new EnumMap<>(CloseReason.class);
    for (CloseReason r : CloseReason.values()) {
      clo.put(r, closed.get(r.ordinal()));
    }
    Map<String, Map<ServerNameKind, Long>> byDoor = new LinkedHashMap<>();
    routed.forEach(
        (door, counts) -> {
          Map<ServerNameKind, Long> byKind = new EnumMap<>(ServerNameKind.class);
          for (ServerNameKind k : ServerNameKind.values()) {
            long n = counts.get(k.ordinal());
            if (door.equals(Preface.ADDRESS) && k == ServerNameKind.NONE) {
              n += routedByAddress.sum();
            }
            byKind.put(k, n);
          }
          byDoor.put(door, byKind);
        });
    return new SpliceStats(
        active.get(),
        accepted.sum(),
        rej,
        connectFailures.sum(),
        bytesUp.sum(),
        bytesDown.sum(),
        clo,
        outstandingBuffers,
        byDoor,
        prefaceBytes,
        proxyFailures.sum(),
        proxyRefusals.sum(),
        selfLoops.sum());
  }
}
