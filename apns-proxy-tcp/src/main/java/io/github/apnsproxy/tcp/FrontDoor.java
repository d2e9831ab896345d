// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import io.github.apnsproxy.tcp.internal.TlsFrontDoor;

/**
 * How the connections of a listener say where they go, read from their first bytes before routing:
 * a TLS ClientHello's server name ({@link #tlsServerName()}), an HTTP CONNECT or SOCKS5 request.
 * Set per listener with {@link TcpSplicer.Builder#listen(java.util.List, FrontDoor)}; listeners
 * without one route by the dialled address and pay nothing for this stage.
 *
 * <p>A connection's life is accept, then (with a front door, or PROXY protocol) the preface stage,
 * then route, connect, splice. The preface stage reads the client into a small buffer of its own
 * (at most {@link #maxPrefaceBytes()}, allocated only when bytes arrive and accounted in the
 * splicer's {@code prefaceBudget}), hands the buffered bytes to this door's {@link PrefaceParser}
 * after every read, and ends with the parser's {@link PrefaceDecision} or the {@code
 * prefaceTimeout}. After routing the buffer is released.
 *
 * <p>Threading: {@link #open} is called on the loop thread that owns the new connection; it must
 * not block. Implementations must be thread-safe (all loops share one door).
 */
public interface FrontDoor {

  /**
   * The door's name for logs, metrics and {@link Preface#frontDoor()}, e.g. {@code tls}, {@code
   * http-connect}.
   */
  String name();

  /**
   * The most bytes a preface may take before the parser decides; more is refused ({@link
   * RejectReason#PREFACE_REFUSED}). At most the splicer's {@code bufferSize}. Default 16 KiB.
   */
  default int maxPrefaceBytes() {
    return 16 * 1024;
  }

  /**
   * The parser for one new connection; a stateless parser may be one shared instance.
   *
   * @param connection the accepted connection (with PROXY protocol: the addresses from its header)
   */
  PrefaceParser open(InboundConnection connection);

  /**
   * The TLS door: reads the ClientHello (TLS 1.0 to 1.3 framing, reassembled across reads and
   * records, at most 16 KiB) and routes with its server name and ALPN list in {@link
   * InboundConnection#preface()}, forwarding the whole hello upstream unchanged. A ClientHello
   * without a server name routes with {@code serverName} null (the router decides). Anything that
   * is not a well-formed ClientHello is refused.
   */
  static FrontDoor tlsServerName() {
    return TlsFrontDoor.INSTANCE;
  }
}
