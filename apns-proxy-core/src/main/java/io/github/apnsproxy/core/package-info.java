// SPDX-License-Identifier: Apache-2.0
/**
 * APNs host names ({@link io.github.apnsproxy.core.ApnsHost}, {@link
 * io.github.apnsproxy.core.HostNames}), the one {@link io.github.apnsproxy.core.AddressPlan} that
 * maps upstream hosts to virtual addresses for both the DNS and the TCP side, the {@link
 * io.github.apnsproxy.core.AddressPolicy}, the {@link io.github.apnsproxy.core.UpstreamResolver}
 * SPI. Typed configuration keys and value types are in {@code io.github.apnsproxy.core.config}.
 */
@NullMarked
package io.github.apnsproxy.core;

import org.jspecify.annotations.NullMarked;
