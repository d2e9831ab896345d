// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

/** What {@link ZoneApexHandler} answers for other names inside the APNs zones. */
public enum ZoneOther {
  /** NXDOMAIN with the synthesized SOA. */
  NXDOMAIN,
  /** Forward to the handler given with it (the upstream DNS servers). */
  FORWARD
}
