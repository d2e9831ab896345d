// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.tcp.SpliceListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The values of {@code log.level}: the level of the {@code io.github.apnsproxy} loggers in the
 * runnable proxy, applied at start and at every reload ({@link #apply}). The access logger ({@code
 * io.github.apnsproxy.access}) is not governed by it but by {@code log.access}.
 */
public enum LogLevel {
  ERROR,
  WARN,
  INFO,
  DEBUG,
  TRACE;

  /** The logger {@code log.level} governs, with everything under it. */
  static final String ROOT = "io.github.apnsproxy";

  /**
   * The access log's logger: INFO whatever {@code log.level} says; {@code log.access} turns it off.
   */
  static final String ACCESS = SpliceListener.ACCESS_LOGGER;

  private static final Logger LOG = LoggerFactory.getLogger(LogLevel.class);
  private static final java.util.concurrent.atomic.AtomicBoolean WARNED =
      new java.util.concurrent.atomic.AtomicBoolean();

  /**
   * Sets the {@code io.github.apnsproxy} loggers to this level, keeping the access logger at INFO.
   * Needs the bundled logback binding; with another slf4j binding (a host that embeds {@link
   * ProxyNode} with its own), the host's logging configuration decides and the first call logs one
   * warning. Any thread.
   *
   * @return whether the level was applied
   */
  boolean apply() {
    if (!(LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext ctx)) {
      if (WARNED.getAndSet(true)) {
        return false;
      }
      LOG.warn(
          "log.level = {} not applied: the slf4j binding is not logback (its own configuration"
              + " decides)",
          name().toLowerCase(java.util.Locale.ROOT));
      return false;
    }
    ctx.getLogger(ROOT).setLevel(ch.qos.logback.classic.Level.toLevel(name()));
    ch.qos.logback.classic.Logger access = ctx.getLogger(ACCESS);
    if (access.getLevel() == null) {
      // without a level of its own the access logger would follow log.level (nothing at warn)
      access.setLevel(ch.qos.logback.classic.Level.INFO);
    }
    return true;
  }
}
