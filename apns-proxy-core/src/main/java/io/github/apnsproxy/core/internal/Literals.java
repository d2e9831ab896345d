// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * Parses IP address and socket address literals without ever asking DNS ({@link
 * InetAddress#getByName} would look up anything that is not a literal).
 */
public final class Literals {
  private Literals() {}

  /**
   * Parses an IPv4 dotted quad or an IPv6 literal (brackets optional).
   *
   * @throws IllegalArgumentException naming the input when it is not an address literal
   */
  public static InetAddress parseAddress(String text) {
    String s = text.strip();
    boolean bracketed = s.startsWith("[") && s.endsWith("]");
    if (bracketed) {
      s = s.substring(1, s.length() - 1);
    }
    if (bracketed && s.indexOf(':') < 0) {
      throw new IllegalArgumentException(
          "'" + text + "' is not an IP address (brackets are for IPv6 only)");
    }
    if (s.indexOf(':') >= 0) {
      if (s.indexOf('%') >= 0) {
        throw new IllegalArgumentException(
            "'" + text + "' has a scope id (expected a plain IPv6 address)");
      }
      try {
        // in brackets the JDK parses an IPv6 literal or fails; it never falls back to a DNS lookup
        return InetAddress.getByName("[" + s + "]");
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException("'" + text + "' is not an IP address", e);
      }
    }
    byte[] bytes = parseIpv4(s);
    if (bytes == null) {
      throw new IllegalArgumentException("'" + text + "' is not an IP address");
    }
    try {
      return InetAddress.getByAddress(bytes);
    } catch (UnknownHostException e) {
      throw new AssertionError("4 bytes are always a valid address", e);
    }
  }

  private static byte @org.jspecify.annotations.Nullable [] parseIpv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] bytes = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3) {
        return null;
      }
      int v = 0;
      for (int j = 0; j < p.length(); j++) {
        char c = p.charAt(j);
        if (c < '0' || c > '9') {
          return null;
        }
        v = v * 10 + (c - '0');
      }
      if (v > 255) {
        return null;
      }
      bytes[i] = (byte) v;
    }
    return bytes;
  }

  /**
   * Parses {@code host:port}, {@code [v6]:port}, or an address alone (then {@code defaultPort}, if
   * it is not -1).
   *
   * @throws IllegalArgumentException naming the input when it is not an address with a port in
   *     0..65535
   */
  public static InetSocketAddress parseSocketAddress(String text, int defaultPort) {
    String s = text.strip();
    String host;
    String port = null;
    if (s.startsWith("[")) {
      int close = s.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("'" + text + "' has no closing ']'");
      }
      host = s.substring(1, close);
      if (host.indexOf(':') < 0) {
        throw new IllegalArgumentException(
            "'" + text + "' is not an IP address (brackets are for IPv6 only)");
      }
      String rest = s.substring(close + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw new IllegalArgumentException("'" + text + "' is not [address]:port");
        }
        port = rest.substring(1);
      }
    } else {
      int colon = s.indexOf(':');
      if (colon >= 0 && colon == s.lastIndexOf(':')) {
        host = s.substring(0, colon);
        port = s.substring(colon + 1);
      } else {
        host = s; // no colon, or a bare IPv6 literal
      }
    }
    InetAddress address = parseAddress(host);
    int p;
    if (port == null) {
      if (defaultPort < 0) {
        throw new IllegalArgumentException("'" + text + "' has no port (expected address:port)");
      }
      p = defaultPort;
    } else {
      p = parsePort(port, text);
    }
    return new InetSocketAddress(address, p);
  }

  /** Parses a port number 0..65535; {@code context} names the input in the error. */
  public static int parsePort(String port, String context) {
    if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException(
          "'" + context + "' has a bad port '" + port + "' (expected 0..65535)");
    }
    int p = Integer.parseInt(port);
    if (p > 65535) {
      throw new IllegalArgumentException(
          "'" + context + "' has a bad port '" + port + "' (expected 0..65535)");
    }
    return p;
  }

  /** Formats an address as a literal, IPv6 in brackets when {@code bracketV6}. */
  public static String format(InetAddress address, boolean bracketV6) {
    String s = address.getHostAddress();
    return bracketV6 && address instanceof Inet6Address ? "[" + s + "]" : s;
  }

  /** Formats a socket address as {@code 1.2.3.4:5} or {@code [::1]:5}, never with a host name. */
  public static String format(InetSocketAddress address) {
    InetAddress a = address.getAddress();
    String host = a == null ? address.getHostString() : format(a, true);
    return host + ":" + address.getPort();
  }
}
