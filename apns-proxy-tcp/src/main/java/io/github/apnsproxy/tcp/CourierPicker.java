// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.ApnsHost.Environment;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.HostNames;
import io.github.apnsproxy.core.HostPattern;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Chooses numbered couriers for an unnumbered courier name. Devices send the TLS server name {@code
 * courier.push.apple.com} (or {@code courier2...}, {@code courier.sandbox...}), never a number, and
 * those names do not resolve upstream; couriers are interchangeable, so the proxy picks numbers
 * itself: spread round robin over {@code 0..count} of the plan, skipping for {@code penalty} a
 * courier whose resolution or connection just failed. Thread-safe; shared by all loops.
 *
 * <p>Use: {@link #poolOf(String)} recognises an unnumbered name; {@link #pick(Pool, int)} gives
 * couriers to try in order (try the addresses of the first, then of the next: a failed connect
 * moves on to another number); {@link #failed(ApnsHost)} reports a courier that did not resolve or
 * connect. {@link Router#fromPlan} uses one internally for server names and explicit targets (an
 * HTTP CONNECT to {@code courier.push.apple.com:5223} routes through the stock router and so picks
 * a numbered courier as well); a custom router can make its own with {@link #of(AddressPlan)}.
 */
public final class CourierPicker {
  /** The unnumbered courier pool a name stands for: environment and variant. */
  public record Pool(Environment environment, String variant) {
    /** Checks the arguments. */
    public Pool {
      Objects.requireNonNull(environment, "environment");
      Objects.requireNonNull(variant, "variant");
    }
  }

  private final AddressPlan plan;
  private final long penaltyNanos;
  private final LongSupplier clock;
  private final Map<String, Pool> pools = new ConcurrentHashMap<>();
  private final Map<Pool, AtomicInteger> next = new ConcurrentHashMap<>();

  /** Couriers that failed, with the time until which they are skipped. */
  private final Map<ApnsHost, Long> failedUntil = new ConcurrentHashMap<>();

  private CourierPicker(AddressPlan plan, Duration penalty, LongSupplier clock) {
    this.plan = Objects.requireNonNull(plan, "plan");
    this.penaltyNanos = Objects.requireNonNull(penalty, "penalty").toNanos();
    this.clock = Objects.requireNonNull(clock, "clock");
    if (penalty.isNegative()) {
      throw new IllegalArgumentException("penalty " + penalty + " (expected zero or positive)");
    }
    // every unnumbered form: each courier pattern without its "{n}-" or "{n}." prefix, for each
    // variant
    for (HostPattern p : plan.hostNames().patterns()) {
      String t = p.template();
      if (p.kind() != Kind.COURIER || !(t.startsWith("{n}-") || t.startsWith("{n}."))) {
        continue;
      }
      for (String v : plan.variants()) {
        pools.putIfAbsent(t.substring(4).replace("{courier}", v), new Pool(p.environment(), v));
      }
    }
  }

  /** A picker over {@code plan}'s couriers skipping failed ones for 30 s. */
  public static CourierPicker of(AddressPlan plan) {
    return of(plan, Duration.ofSeconds(30), System::nanoTime);
  }

  /**
   * A picker skipping failed couriers for {@code penalty}, with {@code clock} giving nanoseconds
   * (for tests).
   */
  public static CourierPicker of(AddressPlan plan, Duration penalty, LongSupplier clock) {
    return new CourierPicker(plan, penalty, clock);
  }

  /**
   * The pool an unnumbered courier name (case-insensitive, optional trailing dot) stands for, if it
   * is one.
   */
  public Optional<Pool> poolOf(String name) {
    Optional<String> n = HostNames.normalize(Objects.requireNonNull(name, "name"));
    return n.map(s -> pools.get(s.toLowerCase(Locale.ROOT)));
  }

  /**
   * Up to {@code n} distinct numbered couriers of {@code pool} to try in order: the next ones in
   * rotation that have not failed recently, then (when fewer are healthy) the failed ones, so a
   * pool never runs dry.
   */
  public List<ApnsHost> pick(Pool pool, int n) {
    Objects.requireNonNull(pool, "pool");
    int count = plan.courierCount() + 1;
    int want = Math.max(1, Math.min(n, count));
    int start =
        Math.floorMod(
            next.computeIfAbsent(pool, k -> new AtomicInteger()).getAndIncrement(), count);
    long now = clock.getAsLong();
    List<ApnsHost> healthy = new ArrayList<>(want);
    List<ApnsHost> sick = new ArrayList<>();
    for (int i = 0; i < count && healthy.size() < want; i++) {
      ApnsHost h = ApnsHost.courier(pool.environment(), pool.variant(), (start + i) % count);
      Long until = failedUntil.get(h);
      if (until != null && until - now > 0) {
        if (sick.size() < want) {
          sick.add(h);
        }
      } else {
        if (until != null) {
          failedUntil.remove(h, until);
        }
        healthy.add(h);
      }
    }
    for (int i = 0; healthy.size() < want && i < sick.size(); i++) {
      healthy.add(sick.get(i));
    }
    return healthy;
  }

  /**
   * Reports that {@code courier} did not resolve or connect: it is skipped for the penalty time.
   */
  public void failed(ApnsHost courier) {
    if (courier.isCourier() && penaltyNanos > 0) {
      failedUntil.put(courier, clock.getAsLong() + penaltyNanos);
    }
  }

  /** Whether {@code courier} is being skipped now. */
  public boolean isSkipped(ApnsHost courier) {
    Long until = failedUntil.get(courier);
    return until != null && until - clock.getAsLong() > 0;
  }
}
