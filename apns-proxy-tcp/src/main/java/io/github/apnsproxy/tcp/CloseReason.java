// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

/** Why a splice (or an accepted connection that never became one) ended. */
public enum CloseReason {
  /** Both directions reached end of stream and were flushed and propagated. */
  COMPLETED,
  /** The client reset the connection; the upstream was reset too. */
  CLIENT_RESET,
  /** The upstream reset the connection; the client was reset too. */
  UPSTREAM_RESET,
  /** No byte moved either way for the idle timeout. */
  IDLE_TIMEOUT,
  /** The router did not answer within the route timeout. */
  ROUTE_TIMEOUT,
  /** The router rejected the connection (no plan host, resolution failed, router error). */
  ROUTE_REJECTED,
  /** Every resolved upstream address was outside the policy's upstream allow-list. */
  TARGET_REFUSED,
  /** Every candidate upstream address refused the connection or timed out. */
  CONNECT_FAILED,
  /**
   * The client closed before sending a single byte (typically while the upstream was still being
   * reached).
   */
  CLIENT_GONE,
  /** Closed at accept: the connection limit or the per-client limit was reached. */
  LIMIT,
  /** Closed at accept: the client address is outside the policy's client allow-list. */
  CLIENT_DENIED,
  /** The splicer was closed while the splice was live. */
  SHUTDOWN,
  /** An unexpected error on this connection (logged at WARN). */
  ERROR,
  /**
   * Closed during the preface stage: the front door refused the preface, it was too large or over
   * the aggregate budget, or a required PROXY protocol header was missing or untrusted ({@link
   * SpliceStats#rejected} says which).
   */
  PREFACE_REFUSED,
  /** The preface was not complete within the preface timeout. */
  PREFACE_TIMEOUT,
  /**
   * The front door answered the connection itself and closed it, nothing wrong (a PROXY protocol v2
   * LOCAL health check, a PAC file).
   */
  ANSWERED
}
