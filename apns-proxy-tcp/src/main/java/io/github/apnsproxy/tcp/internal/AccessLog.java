// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.Preface;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.SpliceListener;
import io.github.apnsproxy.tcp.SpliceSummary;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stock access log: one logfmt line per finished or refused connection, written on {@link
 * #closed}. Stateless apart from the sink and the clock; thread-safe when the sink is.
 */
public final class AccessLog implements SpliceListener {
  /** The logger name of the stock access log. */
  public static final String LOGGER = SpliceListener.ACCESS_LOGGER;

  private final Consumer<String> sink;
  private final Clock clock;
  private final @Nullable Logger logger;

  private AccessLog(Consumer<String> sink, Clock clock, @Nullable Logger logger) {
    this.sink = sink;
    this.clock = clock;
    this.logger = logger;
  }

  /**
   * Lines at INFO on the logger {@value #LOGGER}; nothing is formatted while that logger is off for
   * INFO.
   */
  public static AccessLog toLogger() {
    Logger log = LoggerFactory.getLogger(LOGGER);
    return new AccessLog(log::info, Clock.systemUTC(), log);
  }

  /** Lines to {@code sink}, stamped with {@code clock}. */
  public static AccessLog to(Consumer<String> sink, Clock clock) {
    return new AccessLog(
        Objects.requireNonNull(sink, "sink"), Objects.requireNonNull(clock, "clock"), null);
  }

  @Override
  public void closed(InboundConnection connection, SpliceSummary summary) {
    Logger log = logger;
    if (log != null && !log.isInfoEnabled()) {
      return;
    }
    sink.accept(line(Instant.now(clock), connection, summary));
  }

  /** The line for one connection; see the README's access log section for the fields. */
  static String line(Instant time, InboundConnection c, SpliceSummary s) {
    StringBuilder b = new StringBuilder(256);
    Preface p = c.preface();
    field(b, "time", DateTimeFormatter.ISO_INSTANT.format(time.truncatedTo(ChronoUnit.MILLIS)));
    field(b, "client", address(c.client()));
    field(b, "balancer", address(c.balancer()));
    field(b, "door", p.frontDoor());
    field(b, "local", address(c.local()));
    field(b, "sni", p.serverName());
    field(b, "target", address(p.target()));
    field(b, "host", s.upstreamHost().isEmpty() ? null : s.upstreamHost());
    field(b, "upstream", address(s.upstream()));
    field(b, "bytes_up", Long.toString(s.bytesClientToUpstream()));
    field(b, "bytes_down", Long.toString(s.bytesUpstreamToClient()));
    field(b, "duration_ms", Long.toString(s.duration().toMillis()));
    field(b, "reason", s.reason().name().toLowerCase(Locale.ROOT));
    RejectReason r = s.rejection();
    field(b, "refused", r == null ? null : r.name().toLowerCase(Locale.ROOT));
    return b.toString();
  }

  private static @Nullable String address(@Nullable InetSocketAddress a) {
    if (a == null) {
      return null;
    }
    InetAddress ip = a.getAddress();
    String host = a.isUnresolved() || ip == null ? a.getHostString() : ip.getHostAddress();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /**
   * Appends {@code name=value}; {@code -} for none, quoted and escaped when the value is not plain.
   */
  private static void field(StringBuilder b, String name, @Nullable String value) {
    if (b.length() > 0) {
      b.append(' ');
    }
    b.append(name).append('=');
    if (value == null || value.isEmpty()) {
      b.append('-');
      return;
    }
    if (plain(value)) {
      b.append(value);
      return;
    }
    b.append('"');
    for (int i = 0; i < value.length(); i++) {
      char ch = value.charAt(i);
      if (ch == '"' || ch == '\\') {
        b.append('\\').append(ch);
      } else if (ch < 0x20 || ch == 0x7f) {
        b.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
      } else {
        b.append(ch);
      }
    }
    b.append('"');
  }

  private static boolean plain(String v) {
    if (v.equals("-")) {
      return false;
    }
    for (int i = 0; i < v.length(); i++) {
      char ch = v.charAt(i);
      boolean ok =
          (ch >= 'a' && ch <= 'z')
              || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9')
              || ch == '.'
              || ch == '-'
              || ch == '_'
              || ch == ':'
              || ch == '['
              || ch == ']'
              || ch == '%'
              || ch == '/';
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
