// SPDX-License-Identifier: Apache-2.0
/**
 * A small toolkit for text configuration that maps onto builders: typed keys ({@link ConfigKey}:
 * name, value type, description), the value types of apns-proxy's configuration ({@link
 * ValueTypes}: durations, CIDRs, socket addresses, ports, lists, hosts files, ...), and the
 * one-line {@link ConfigException}. Defaults are not here: they live in the builders the keys map
 * onto.
 */
@NullMarked
package io.github.apnsproxy.core.config;

import org.jspecify.annotations.NullMarked;
