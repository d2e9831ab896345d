// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.jspecify.annotations.Nullable;

/** Address literals parsed without ever asking DNS. */
final class Addresses {
  private Addresses() {}

  /** A strict dotted-quad IPv4 literal (four decimal parts 0..255, no leading zeros), or null. */
  static @Nullable InetAddress ipv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] b = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')) {
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
      b[i] = (byte) v;
    }
    return of(b);
  }

  /** An IPv6 literal without brackets and without a scope id, or null. */
  static @Nullable InetAddress ipv6(String s) {
    if (s.isEmpty() || s.indexOf(':') < 0 || s.indexOf('%') >= 0 || s.length() > 45) {
      return null;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9')
          || (c >= 'a' && c <= 'f')
          || (c >= 'A' && c <= 'F')
          || c == ':'
          || c == '.')) {
        return null;
      }
    }
    try {
      // in brackets the JDK parses an IPv6 literal or fails; it never falls back to a DNS lookup
      InetAddress a = InetAddress.getByName("[" + s + "]");
      return a instanceof Inet6Address || s.indexOf(':') >= 0 ? a : null;
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** The address of 4 or 16 raw bytes. */
  static InetAddress of(byte[] raw) {
    try {
      return InetAddress.getByAddress(raw);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(
          "address of " + raw.length + " bytes (expected 4 or 16)", e);
    }
  }
}
