// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.SpliceListener;
import io.github.apnsproxy.tcp.SpliceSummary;
import java.util.Objects;

/**
 * {@code log.access}: the stock access log ({@link SpliceListener#accessLog()}) behind a switch a
 * reload flips. The access log writes its line when a connection closes, so a switch applies to
 * every connection that closes after it. Thread-safe: the loops read the switch, any thread sets
 * it.
 */
final class AccessLogSwitch implements SpliceListener {
  private final SpliceListener log;
  private volatile boolean on;

  AccessLogSwitch(SpliceListener log, boolean on) {
    this.log = Objects.requireNonNull(log, "log");
    this.on = on;
  }

  /** Turns the access log on or off for connections that close from now on. */
  void set(boolean on) {
    this.on = on;
  }

  boolean isOn() {
    return on;
  }

  @Override
  public void closed(InboundConnection connection, SpliceSummary summary) {
    if (on) {
      log.closed(connection, summary);
    }
  }
}
