// SPDX-License-Identifier: Apache-2.0
/** Internals of apns-proxy TCP: selector loops, splices, buffer pool, timer wheel. Not exported. */
@NullMarked
package io.github.apnsproxy.tcp.internal;

import org.jspecify.annotations.NullMarked;
