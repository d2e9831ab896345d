// SPDX-License-Identifier: Apache-2.0
/**
 * The explicit-proxy front doors: an HTTP CONNECT request-head parser (RFC 9110, 9112) and an RFC
 * 1928/1929 SOCKS5 server state machine, the target policy that keeps them to APNs names and ports,
 * and the PAC file. Pure byte codecs without sockets; the splicer's preface stage drives them. Not
 * exported.
 */
@NullMarked
package io.github.apnsproxy.tcp.internal.proxy;

import org.jspecify.annotations.NullMarked;
