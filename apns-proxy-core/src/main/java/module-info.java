// SPDX-License-Identifier: Apache-2.0
/**
 * apns-proxy core: APNs host names, the address plan that the DNS and TCP sides share, the address policy, the
 * upstream resolver SPI and a small toolkit for text configuration (typed keys, value types). No sockets, no third-party runtime dependencies but jspecify
 * and slf4j-api.
 */
module io.github.apnsproxy.core {
  requires static transitive org.jspecify;
  requires org.slf4j;

  exports io.github.apnsproxy.core;
  exports io.github.apnsproxy.core.config;
}
