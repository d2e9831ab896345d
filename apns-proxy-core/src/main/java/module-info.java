// SPDX-License-Identifier: Apache-2.0
/**
 * apns-proxy core: APNs host names, the address plan that the DNS and TCP sides share, the address
 * policy, the upstream resolver SPI and a small toolkit for text configuration (typed keys, value
 * types). No sockets, no third-party runtime dependencies but jspecify and slf4j-api.
 *
 * <p>The loop kernel is exported only to the DNS and TCP modules, which are built after this one
 * (so the compiler does not know them yet: hence the suppressed "module not found" warning).
 */
@SuppressWarnings("module")
module io.github.apnsproxy.core {
  requires static transitive org.jspecify;
  requires org.slf4j;

  exports io.github.apnsproxy.core;
  exports io.github.apnsproxy.core.config;
  exports io.github.apnsproxy.core.internal.loop to
      io.github.apnsproxy.dns,
      io.github.apnsproxy.tcp;
}
