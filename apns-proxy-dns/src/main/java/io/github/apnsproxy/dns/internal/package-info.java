// SPDX-License-Identifier: Apache-2.0
/** Internals of apns-proxy DNS. Not exported. */
@NullMarked
package io.github.apnsproxy.dns.internal;

import org.jspecify.annotations.NullMarked;
