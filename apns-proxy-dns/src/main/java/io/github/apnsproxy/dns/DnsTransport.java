// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

/** The transport a DNS query arrived on. */
public enum DnsTransport {
  UDP,
  TCP
}
