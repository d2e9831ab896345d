// SPDX-License-Identifier: Apache-2.0
/**
 * The TCP side of apns-proxy: a non-blocking selector splicer that accepts connections on the
 * virtual addresses, routes each to its upstream APNs host, connects with failover and splices
 * bytes both ways with backpressure, half-close, timeouts and limits. TLS stays end to end.
 */
@NullMarked
package io.github.apnsproxy.tcp;

import org.jspecify.annotations.NullMarked;
