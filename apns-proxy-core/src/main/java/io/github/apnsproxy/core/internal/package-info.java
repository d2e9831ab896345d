// SPDX-License-Identifier: Apache-2.0
/**
 * Internals of apns-proxy core: literal address parsing, hosts files, duration parsing. Not
 * exported.
 */
@NullMarked
package io.github.apnsproxy.core.internal;

import org.jspecify.annotations.NullMarked;
