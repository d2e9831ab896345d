// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The runnable proxy's own settings, those no library builder has: where DNS listens by default,
 * the metrics endpoint, the stats line and the drain on SIGTERM. Each default is here, once.
 * Immutable.
 *
 * @param dnsListen the DNS listen addresses
 * @param metricsListen the {@code /metrics} endpoint, if any
 * @param statsInterval the interval of the stats log line; zero = off
 * @param drainTimeout how long a graceful shutdown waits for open splices
 */
public record AppSettings(
    List<InetSocketAddress> dnsListen,
    Optional<InetSocketAddress> metricsListen,
    Duration statsInterval,
    Duration drainTimeout) {
  /** Copies and checks. */
  public AppSettings {
    dnsListen = List.copyOf(dnsListen);
    Objects.requireNonNull(metricsListen, "metricsListen");
    Objects.requireNonNull(statsInterval, "statsInterval");
    Objects.requireNonNull(drainTimeout, "drainTimeout");
  }

  /** A builder with the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds {@link AppSettings}; not thread-safe. */
  public static final class Builder {
    private List<InetSocketAddress> dnsListen = List.of(new InetSocketAddress("0.0.0.0", 53));
    private @Nullable InetSocketAddress metricsListen;
    private Duration statsInterval = Duration.ofMinutes(1);
    private Duration drainTimeout = Duration.ofSeconds(30);

    private Builder() {}

    /** DNS listen addresses, UDP and TCP; default {@code 0.0.0.0:53}. */
    public Builder dnsListen(List<InetSocketAddress> addresses) {
      if (addresses.isEmpty()) {
        throw new IllegalArgumentException("no DNS listen address (expected at least one)");
      }
      this.dnsListen = List.copyOf(addresses);
      return this;
    }

    /** The metrics endpoint; default none. */
    public Builder metricsListen(Optional<InetSocketAddress> address) {
      this.metricsListen = address.orElse(null);
      return this;
    }

    /** The stats line interval; default 1 min, zero = off. */
    public Builder statsInterval(Duration interval) {
      this.statsInterval = nonNegative(interval, "stats interval");
      return this;
    }

    /** The drain on a graceful shutdown; default 30 s. */
    public Builder drainTimeout(Duration drain) {
      this.drainTimeout = nonNegative(drain, "drain timeout");
      return this;
    }

    /** The settings. */
    public AppSettings build() {
      return new AppSettings(
          dnsListen, Optional.ofNullable(metricsListen), statsInterval, drainTimeout);
    }

    private static Duration nonNegative(Duration d, String what) {
      if (Objects.requireNonNull(d, what).isNegative()) {
        throw new IllegalArgumentException(what + " " + d + " (expected zero or more)");
      }
      return d;
    }
  }
}
