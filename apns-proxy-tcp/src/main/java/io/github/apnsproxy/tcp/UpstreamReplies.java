// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * An explicit-proxy front door's answers to its client once the upstream outcome is known, carried
 * by {@link PrefaceDecision#route(Preface, int, UpstreamReplies)}. Exactly one method is called per
 * connection that was routed with it, unless the client went away first (then none).
 *
 * <p>Threading: called on the loop thread that owns the connection; must not block. An exception
 * thrown is logged and closes the connection (without a reply).
 */
public interface UpstreamReplies {

  /**
   * The upstream is connected: the returned bytes (its remaining ones, e.g. {@code HTTP/1.1 200
   * Connection established}) go to the client first, then the splice starts.
   *
   * @param upstream the upstream address connected to
   * @param local the proxy's local address of the upstream connection (SOCKS5 reports it as
   *     BND.ADDR)
   */
  ByteBuffer connected(InetSocketAddress upstream, InetSocketAddress local);

  /**
   * The connection could not be made: the returned bytes (e.g. {@code HTTP/1.1 502 Bad Gateway}) go
   * to the client, then the connection is closed.
   */
  ByteBuffer failed(UpstreamFailure failure);
}
