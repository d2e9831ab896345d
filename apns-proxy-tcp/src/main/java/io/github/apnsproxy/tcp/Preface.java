// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a connection's preface said about where it goes, as the {@link Router} sees it in {@link
 * InboundConnection#preface()}: which front door read it, and what that door found. Immutable.
 *
 * <p>A connection on a listener without a front door has {@link #NONE}: the dialled address
 * decides. A TLS front door ({@link FrontDoor#tlsServerName()}) fills {@link #serverName} (when the
 * ClientHello carries one) and {@link #alpn}; an explicit-proxy door (HTTP CONNECT, SOCKS5) fills
 * {@link #target} with the requested host and port.
 *
 * @param frontDoor the {@link FrontDoor#name()} of the door that read the preface; {@code
 *     "address"} for none
 * @param serverName the TLS server name (SNI), lower case without a trailing dot; {@code null} when
 *     none was sent
 * @param alpn the ALPN protocol names offered, in the client's order; empty when none
 * @param target the host and port the client asked for explicitly (unresolved for a name, resolved
 *     for an address literal); {@code null} when the door has no such request
 */
public record Preface(
    String frontDoor,
    @Nullable String serverName,
    List<String> alpn,
    @Nullable InetSocketAddress target) {

  /** The front door name of connections routed by their dialled address. */
  public static final String ADDRESS = "address";

  /** No preface: the connection is routed by the address it dialled. */
  public static final Preface NONE = new Preface(ADDRESS, null, List.of(), null);

  /** Checks the arguments and copies the list. */
  public Preface {
    Objects.requireNonNull(frontDoor, "frontDoor");
    alpn = List.copyOf(alpn);
  }

  /** What a TLS door found: the server name (or {@code null}) and the ALPN list. */
  public static Preface tls(String frontDoor, @Nullable String serverName, List<String> alpn) {
    return new Preface(frontDoor, serverName, alpn, null);
  }

  /** What an explicit-proxy door found: the requested target host (unresolved) and port. */
  public static Preface target(String frontDoor, InetSocketAddress target) {
    return new Preface(frontDoor, null, List.of(), Objects.requireNonNull(target, "target"));
  }
}
