// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.ProxyProtocol;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Parses a PROXY protocol header (HAProxy's "PROXY protocol" specification, versions 1 and 2) from
 * the first bytes of a connection. Stateless; any thread.
 */
public final class ProxyHeader {
  /** The v1 header's maximum length, CRLF included (spec section 2.1). */
  static final int V1_MAX = 107;

  /**
   * The largest v2 header accepted: 16 fixed bytes plus addresses and TLVs (balancers send a few
   * hundred).
   */
  static final int V2_MAX = 16 + 2048;

  private static final byte[] V2_SIG = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
  };
  private static final byte[] V1_SIG = "PROXY ".getBytes(StandardCharsets.US_ASCII);

  /** What the parser made of the bytes so far. */
  enum Status {
    /** The header is incomplete. */
    NEED_MORE,
    /** Not a valid header (or not the version required). */
    INVALID,
    /** A v2 LOCAL command (a balancer's health check): no client behind it. */
    LOCAL,
    /** A header that keeps the socket's own addresses (v1 UNKNOWN, v2 UNSPEC). */
    UNKNOWN,
    /** A header with the client's source and the dialled destination. */
    PROXIED
  }

  /**
   * The outcome.
   *
   * @param status what was found
   * @param length the header's length in bytes (to drop before the payload); 0 unless complete
   * @param source the client address (PROXIED only)
   * @param destination the dialled address (PROXIED only)
   * @param detail why it is invalid, for the DEBUG log
   */
  record Result(
      Status status,
      int length,
      @Nullable InetSocketAddress source,
      @Nullable InetSocketAddress destination,
      String detail) {}

  private static final Result NEED_MORE = new Result(Status.NEED_MORE, 0, null, null, "");

  private ProxyHeader() {}

  /**
   * The longest header {@code mode} accepts: the cap of the preface buffer while the header is
   * read.
   */
  static int maxLength(ProxyProtocol mode) {
    return mode == ProxyProtocol.V1 ? V1_MAX : V2_MAX;
  }

  /** Parses the header at the start of {@code b} (position 0 to limit), as {@code mode} allows. */
  static Result parse(ByteBuffer b, ProxyProtocol mode) {
    int n = b.limit();
    if (n == 0) {
      return NEED_MORE;
    }
    boolean v2 = b.get(0) == V2_SIG[0];
    if (v2 ? mode == ProxyProtocol.V1 : mode == ProxyProtocol.V2) {
      return invalid(
          "not a PROXY protocol " + (mode == ProxyProtocol.V1 ? "v1" : "v2") + " header");
    }
    byte[] sig = v2 ? V2_SIG : V1_SIG;
    for (int i = 0; i < Math.min(n, sig.length); i++) {
      if (b.get(i) != sig[i]) {
        return invalid("no PROXY protocol header");
      }
    }
    return v2 ? parseV2(b) : parseV1(b);
  }

  private static Result invalid(String detail) {
    return new Result(Status.INVALID, 0, null, null, detail);
  }

  private static Result parseV1(ByteBuffer b) {
    int n = Math.min(b.limit(), V1_MAX);
    int end = -1;
    for (int i = V1_SIG.length; i < n; i++) {
      byte c = b.get(i);
      if (c == '\r') {
        if (i + 1 >= b.limit()) {
          return NEED_MORE;
        }
        if (b.get(i + 1) != '\n') {
          return invalid("v1 header: CR without LF");
        }
        end = i;
        break;
      }
      if (c < 0x20 || c > 0x7e) {
        return invalid("v1 header: byte " + (c & 0xff) + " at " + i);
      }
    }
    if (end < 0) {
      return b.limit() >= V1_MAX ? invalid("v1 header over " + V1_MAX + " bytes") : NEED_MORE;
    }
    byte[] text = new byte[end];
    b.get(0, text);
    String[] f = new String(text, StandardCharsets.US_ASCII).split(" ", -1);
    int length = end + 2;
    if (f.length >= 2 && f[1].equals("UNKNOWN")) {
      return new Result(
          Status.UNKNOWN, length, null, null, ""); // spec: the rest of the line is ignored
    }
    if (f.length != 6 || !(f[1].equals("TCP4") || f[1].equals("TCP6"))) {
      return invalid("v1 header: expected 'PROXY TCP4|TCP6 src dst sport dport'");
    }
    boolean v4 = f[1].equals("TCP4");
    InetAddress src = literal(f[2], v4);
    InetAddress dst = literal(f[3], v4);
    int sport = port(f[4]);
    int dport = port(f[5]);
    if (src == null || dst == null || sport < 0 || dport < 0) {
      return invalid("v1 header: bad address or port in '" + String.join(" ", f) + "'");
    }
    return new Result(
        Status.PROXIED,
        length,
        new InetSocketAddress(src, sport),
        new InetSocketAddress(dst, dport),
        "");
  }

  private static @Nullable InetAddress literal(String s, boolean v4) {
    if (s.isEmpty() || s.length() > 45) {
      return null;
    }
    if (v4) {
      String[] parts = s.split("\\.", -1);
      if (parts.length != 4) {
        return null;
      }
      byte[] a = new byte[4];
      for (int i = 0; i < 4; i++) {
        int v = number(parts[i], 3);
        if (v < 0 || v > 255) {
          return null;
        }
        a[i] = (byte) v;
      }
      try {
        return InetAddress.getByAddress(a);
      } catch (UnknownHostException e) {
        return null; // cannot happen for 4 bytes
      }
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(c == ':'
          || c == '.'
          || (c >= '0' && c <= '9')
          || (c >= 'a' && c <= 'f')
          || (c >= 'A' && c <= 'F'))) {
        return null;
      }
    }
    if (s.indexOf(':') < 0) {
      return null;
    }
    try {
      // only hex digits, colons and dots: an IPv6 literal, never a name lookup
      InetAddress a = InetAddress.getByName(s);
      return a instanceof Inet6Address ? a : null;
    } catch (UnknownHostException e) {
      return null;
    }
  }

  private static int port(String s) {
    int v = number(s, 5);
    return v > 65535 ? -1 : v;
  }

  /**
   * A decimal number of 1 to {@code maxDigits} digits without a leading zero (the spec forbids
   * them), or -1.
   */
  private static int number(String s, int maxDigits) {
    if (s.isEmpty() || s.length() > maxDigits || (s.length() > 1 && s.charAt(0) == '0')) {
      return -1;
    }
    int v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  private static Result parseV2(ByteBuffer b) {
    if (b.limit() < 16) {
      return NEED_MORE;
    }
    int verCmd = b.get(12) & 0xff;
    int fam = b.get(13) & 0xff;
    int len = b.getShort(14) & 0xffff;
    if (verCmd >> 4 != 2) {
      return invalid("v2 header: version " + (verCmd >> 4));
    }
    int cmd = verCmd & 0x0f;
    if (cmd > 1) {
      return invalid("v2 header: command " + cmd);
    }
    if (16 + len > V2_MAX) {
      return invalid("v2 header: " + (16 + len) + " bytes (at most " + V2_MAX + ")");
    }
    if (b.limit() < 16 + len) {
      return NEED_MORE;
    }
    int length = 16 + len;
    if (cmd == 0) {
      return new Result(
          Status.LOCAL, length, null, null, ""); // spec: LOCAL ignores the address block
    }
    int af = fam >> 4;
    int proto = fam & 0x0f;
    if (af == 0) {
      return new Result(Status.UNKNOWN, length, null, null, "");
    }
    if (proto != 1 || (af != 1 && af != 2)) {
      return invalid(
          "v2 header: family/protocol 0x"
              + Integer.toHexString(fam)
              + " (expected TCP over IPv4 or IPv6)");
    }
    int alen = af == 1 ? 4 : 16;
    if (len < 2 * alen + 4) {
      return invalid(
          "v2 header: address block of "
              + len
              + " bytes (expected at least "
              + (2 * alen + 4)
              + ")");
    }
    byte[] src = new byte[alen];
    byte[] dst = new byte[alen];
    b.get(16, src);
    b.get(16 + alen, dst);
    int sport = b.getShort(16 + 2 * alen) & 0xffff;
    int dport = b.getShort(18 + 2 * alen) & 0xffff;
    try {
      InetAddress s = InetAddress.getByAddress(src);
      InetAddress d = InetAddress.getByAddress(dst);
      // (a v4-mapped address in a TCP6 header comes back as the IPv4 address it stands for)
      return new Result(
          Status.PROXIED,
          length,
          new InetSocketAddress(s, sport),
          new InetSocketAddress(d, dport),
          "");
    } catch (UnknownHostException e) {
      return invalid("v2 header: address: " + e.getMessage()); // cannot happen for 4 or 16 bytes
    }
  }
}
