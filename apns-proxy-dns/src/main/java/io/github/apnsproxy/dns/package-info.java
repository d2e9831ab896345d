// SPDX-License-Identifier: Apache-2.0
/**
 * The DNS side of apns-proxy: a pluggable DNS answer handler that answers APNs names with the
 * virtual addresses of the core address plan, an embeddable UDP+TCP DNS server that hosts a handler
 * chain, and a caching upstream resolver for the real Apple names.
 */
@NullMarked
package io.github.apnsproxy.dns;

import org.jspecify.annotations.NullMarked;
