// SPDX-License-Identifier: Apache-2.0
/**
 * apns-proxy DNS: the DNS answer handler SPI and stock handlers, an embeddable UDP+TCP DNS server,
 * and a caching upstream resolver, on dnsjava.
 */
module io.github.apnsproxy.dns {
  requires static transitive org.jspecify;
  requires transitive io.github.apnsproxy.core;
  requires transitive org.dnsjava;
  requires org.slf4j;

  exports io.github.apnsproxy.dns;
}
