// SPDX-License-Identifier: Apache-2.0
/**
 * The benchmark behind {@code apns-proxy bench}: JDK-only load generators (bulk, ping-pong,
 * connection setups, idle splices, DNS over UDP) run against the proxy as a separate JVM, against a
 * direct loopback connection and against peer proxies, with the proxy's CPU and memory read from
 * {@code /proc}. Loopback addresses only.
 */
package io.github.apnsproxy.examples.bench;
