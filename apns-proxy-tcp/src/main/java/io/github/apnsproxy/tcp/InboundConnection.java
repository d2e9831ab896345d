// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An accepted client connection as the router and the listener see it: who connected, which local
 * (virtual) address and port it dialled, and what its preface said. Immutable.
 *
 * <p>Behind a balancer speaking PROXY protocol ({@link TcpSplicer.Builder#proxyProtocol}), {@code
 * client} and {@code local} are the header's source and destination, and {@code balancer} is the
 * socket's peer.
 *
 * @param client the client's address and port
 * @param local the local address and port the client connected to (the virtual address, also with a
 *     wildcard listener)
 * @param preface what the listener's front door found ({@link Preface#NONE} without a front door)
 * @param balancer the balancer that sent a PROXY protocol header for this connection; {@code null}
 *     without one
 */
public record InboundConnection(
    InetSocketAddress client,
    InetSocketAddress local,
    Preface preface,
    @Nullable InetSocketAddress balancer) {
  /** Checks the arguments. */
  public InboundConnection {
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(local, "local");
    Objects.requireNonNull(preface, "preface");
  }

  /** A connection routed by its dialled address, without a balancer. */
  public InboundConnection(InetSocketAddress client, InetSocketAddress local) {
    this(client, local, Preface.NONE, null);
  }

  /** This connection with what the preface found. */
  public InboundConnection withPreface(Preface found) {
    return new InboundConnection(client, local, found, balancer);
  }
}
