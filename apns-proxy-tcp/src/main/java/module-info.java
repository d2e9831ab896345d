// SPDX-License-Identifier: Apache-2.0
/**
 * apns-proxy TCP: a java.nio selector TCP splicer that relays connections on virtual addresses to
 * the real APNs hosts, TLS untouched.
 */
module io.github.apnsproxy.tcp {
  requires static transitive org.jspecify;
  requires transitive io.github.apnsproxy.core;
  requires org.slf4j;
  requires jdk.net;

  exports io.github.apnsproxy.tcp;
}
