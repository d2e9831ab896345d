// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.util.Locale;

/**
 * The kind of name a connection was routed by, for the splicer's counters ({@link
 * SpliceStats#routed()}): the TLS server name or explicit target its preface carried, as the {@link
 * Router#nameKind(String)} classifies it.
 */
public enum ServerNameKind {
  /** A numbered courier name, e.g. {@code 3-courier.push.apple.com} (custom clients). */
  COURIER,
  /** An unnumbered courier name as devices send it, e.g. {@code courier.push.apple.com}. */
  COURIER_UNNUMBERED,
  /** A configuration-bag host, e.g. {@code init.push.apple.com}. */
  INIT,
  /** The provider API, e.g. {@code api.push.apple.com}. */
  API,
  /** A name the router does not classify (a custom router routing other names). */
  OTHER,
  /**
   * No name: routed by the dialled address (no front door, or a ClientHello without a server name).
   */
  NONE;

  /** The kind as a lower-case label, e.g. {@code courier-unnumbered}, for logs and metrics. */
  public String label() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }
}
