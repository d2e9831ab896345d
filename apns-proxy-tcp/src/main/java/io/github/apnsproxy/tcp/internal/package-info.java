// SPDX-License-Identifier: Apache-2.0
/**
 * Internals of apns-proxy TCP: the splicer's side of the selector loops (on the shared kernel in
 * {@code io.github.apnsproxy.core.internal.loop}), splices, the buffer pool, and the coarse timer
 * (each loop scans its splice list when the earliest known deadline passes). Not exported.
 */
@NullMarked
package io.github.apnsproxy.tcp.internal;

import org.jspecify.annotations.NullMarked;
