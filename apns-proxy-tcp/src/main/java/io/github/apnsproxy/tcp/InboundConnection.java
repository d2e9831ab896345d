// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * An accepted client connection as the router and the listener see it: who connected, and which local (virtual)
 * address and port it dialled. Immutable.
 *
 * @param client the client's address and port
 * @param local the local address and port the client connected to (the virtual address, also with a wildcard
 *     listener)
 */
public record InboundConnection(InetSocketAddress client, InetSocketAddress local) {
  /** Checks the arguments. */
  public InboundConnection {
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(local, "local");
  }
}
