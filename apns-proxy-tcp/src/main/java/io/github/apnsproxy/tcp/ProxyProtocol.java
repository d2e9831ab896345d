// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

/**
 * Which PROXY protocol header (HAProxy's, versions 1 and 2) the listeners require from a balancer
 * in front of the splicer. With a header, its source address is the client (for the client
 * allow-list, per-client limits, the listener and logs) and its destination address is the dialled
 * address (for routing).
 */
public enum ProxyProtocol {
  /** No header expected; the socket's addresses are used. */
  OFF,
  /** The text header {@code PROXY TCP4 ...\r\n} is required. */
  V1,
  /** The binary header (signature {@code \r\n\r\n\0\r\nQUIT\n}) is required. */
  V2,
  /** Either version is required. */
  ANY
}
