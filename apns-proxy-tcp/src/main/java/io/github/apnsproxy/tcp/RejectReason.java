// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

/**
 * Why a connection was refused before any upstream connection was attempted; counted in {@link
 * SpliceStats}.
 */
public enum RejectReason {
  /** The client address is outside the policy's client allow-list. */
  CLIENT_DENIED,
  /** The maximum number of concurrent splices was reached. */
  MAX_CONNECTIONS,
  /** The maximum number of concurrent splices from one client address was reached. */
  MAX_PER_CLIENT,
  /** The local address and port the client dialled map to no upstream host. */
  NO_ROUTE,
  /** The upstream host name could not be resolved. */
  RESOLVE_FAILED,
  /** Every resolved upstream address is outside the policy's upstream allow-list. */
  REFUSED_TARGET,
  /** The router did not answer within the route timeout. */
  ROUTE_TIMEOUT,
  /** The router threw or failed its stage with an unexpected exception. */
  ROUTER_ERROR,
  /**
   * The front door refused the preface: not its protocol (non-TLS bytes on a TLS door), malformed,
   * larger than the door's cap, or a request it does not allow.
   */
  PREFACE_REFUSED,
  /** The preface was not complete within the preface timeout. */
  PREFACE_TIMEOUT,
  /** Buffering the preface would have taken the splicer past its aggregate preface budget. */
  PREFACE_BUDGET,
  /**
   * PROXY protocol: the header was missing or malformed, or came from a peer outside the trusted
   * balancers.
   */
  PROXY_HEADER,
  /**
   * Every upstream candidate was this proxy's own address (a plan or listen address): connecting
   * would splice the proxy to itself. Typically a hosts line or an upstream DNS answer pointing an
   * APNs name back at the proxy.
   */
  SELF_LOOP
}
