// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

/**
 * What a DNS server or responder does with queries from clients outside the policy's client list.
 */
public enum DeniedClients {
  /** Answer REFUSED. */
  REFUSE,
  /** Drop the query without an answer. */
  DROP
}
