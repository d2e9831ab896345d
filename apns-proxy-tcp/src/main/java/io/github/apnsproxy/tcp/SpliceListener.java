// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import io.github.apnsproxy.tcp.internal.AccessLog;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import java.util.function.Consumer;

/**
 * Observes the life of each connection through a {@link TcpSplicer}; every method has a no-op
 * default.
 *
 * <p>Threading: every method is called on the selector loop thread that owns the connection ({@code
 * apns-proxy-tcp-loop-N}); calls for one connection are ordered (accepted, routed, connected,
 * closed, where a connection refused early skips the middle ones). Methods must not block and
 * should be quick: they delay every connection on that loop. An exception thrown by a method is
 * logged at WARN and otherwise ignored; it never affects the connection. The same listener is
 * called from all loops concurrently, so it must be thread-safe.
 */
public interface SpliceListener {

  /**
   * A client connection was accepted (also called for connections then refused by a limit or the
   * policy).
   */
  default void accepted(InboundConnection connection) {}

  /** The router chose where the connection goes. */
  default void routed(InboundConnection connection, Route route) {}

  /**
   * The upstream connection to {@code upstream} is established (through an {@link Egress egress
   * proxy}: the tunnel is open, and {@code upstream} is the proxy's address); bytes start flowing.
   */
  default void connected(InboundConnection connection, InetSocketAddress upstream) {}

  /**
   * The connection is over, both legs; called exactly once per accepted connection. The loop
   * releases the sockets at the end of its current turn, so the peers may see the FIN or reset just
   * after this call.
   */
  default void closed(InboundConnection connection, SpliceSummary summary) {}

  /** The logger of the stock access log ({@link #accessLog()}): its lines are INFO there. */
  String ACCESS_LOGGER = "io.github.apnsproxy.access";

  /**
   * The stock access log: on {@link #closed}, one line per connection - finished, refused (policy,
   * limits, preface, router) or failed upstream alike - at INFO on the logger {@code
   * io.github.apnsproxy.access}, so a logging configuration can route it or turn it off (nothing is
   * formatted while that logger is off for INFO). The line is logfmt with fixed field names, each
   * present on every line ({@code -} when it does not apply), values with spaces, quotes or control
   * characters quoted: {@code time} (close time, ISO-8601 UTC), {@code client} (address:port, IPv6
   * in brackets), {@code balancer} (PROXY protocol peer), {@code door} ({@link
   * Preface#frontDoor()}), {@code local} (the dialled address:port), {@code sni} (TLS server name),
   * {@code target} (CONNECT/SOCKS host:port), {@code host} (upstream host name, {@link
   * SpliceSummary#upstreamHost()}), {@code upstream} (upstream address:port), {@code bytes_up}
   * (client to upstream), {@code bytes_down}, {@code duration_ms}, {@code reason} ({@link
   * CloseReason}, lower case) and {@code refused} ({@link RejectReason}, lower case).
   */
  static SpliceListener accessLog() {
    return AccessLog.toLogger();
  }

  /**
   * The access log of {@link #accessLog()} written to {@code sink} instead of the logger, stamped
   * with {@code clock}. The sink is called on the loop threads, concurrently: it must be
   * thread-safe and quick.
   */
  static SpliceListener accessLog(Consumer<String> sink, Clock clock) {
    return AccessLog.to(sink, clock);
  }

  /**
   * A listener that calls each of {@code listeners} in order. One that throws does not keep the
   * others from being called; the first exception is rethrown after them (and logged by the
   * splicer).
   */
  static SpliceListener all(List<SpliceListener> listeners) {
    List<SpliceListener> list = List.copyOf(listeners);
    return new SpliceListener() {
      @Override
      public void accepted(InboundConnection connection) {
        each(l -> l.accepted(connection));
      }

      @Override
      public void routed(InboundConnection connection, Route route) {
        each(l -> l.routed(connection, route));
      }

      @Override
      public void connected(InboundConnection connection, InetSocketAddress upstream) {
        each(l -> l.connected(connection, upstream));
      }

      @Override
      public void closed(InboundConnection connection, SpliceSummary summary) {
        each(l -> l.closed(connection, summary));
      }

      private void each(Consumer<SpliceListener> call) {
        RuntimeException first = null;
        for (SpliceListener l : list) {
          try {
            call.accept(l);
          } catch (RuntimeException e) {
            if (first == null) {
              first = e;
            } else {
              first.addSuppressed(e);
            }
          }
        }
        if (first != null) {
          throw first;
        }
      }
    };
  }
}
