// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.EgressProxy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.jspecify.annotations.Nullable;

/**
 * The client side of one proxy handshake, as bytes only (no channel): HTTP {@code CONNECT
 * host:port} (RFC 9110 section 9.3.6) with Basic {@code Proxy-Authorization} when credentials are
 * set, or SOCKS5 (RFC 1928) CONNECT to a domain name with user/password authentication (RFC 1929).
 * The caller writes {@link #output()} to the proxy, reads into {@link #input()} and calls {@link
 * #advance()} until it answers {@link #ESTABLISHED} or {@link #FAILED}. Not thread-safe: one
 * splice's loop thread uses it. Holds two small heap buffers for the handshake only.
 */
final class Tunnel {
  static final int NEED_MORE = 0;
  static final int ESTABLISHED = 1;
  static final int FAILED = 2;

  private static final int SOCKS_GREETING = 0;
  private static final int SOCKS_AUTH = 1;
  private static final int SOCKS_CONNECT = 2;
  private static final int HTTP_RESPONSE = 3;

  final EgressProxy proxy;
  final String host;
  final int port;
  private ByteBuffer out;
  private final ByteBuffer in;
  private int phase;
  private @Nullable String failure;
  private boolean configProblem;
  private @Nullable ByteBuffer leftover;

  /**
   * Starts a handshake asking {@code proxy} for {@code host:port}; {@code maxResponse} bounds the
   * proxy's answer (HTTP response headers), and so the bytes after it that belong to the tunnel.
   */
  Tunnel(EgressProxy proxy, String host, int port, int maxResponse) {
    this.proxy = proxy;
    this.host = host;
    this.port = port;
    this.in = ByteBuffer.allocate(maxResponse);
    if (proxy.scheme() == EgressProxy.Scheme.HTTP) {
      String target = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
      StringBuilder b =
          new StringBuilder(128)
              .append("CONNECT ")
              .append(target)
              .append(" HTTP/1.1\r\nHost: ")
              .append(target)
              .append("\r\n");
      String user = proxy.username();
      String pass = proxy.password();
      if (user != null && pass != null) {
        b.append("Proxy-Authorization: Basic ")
            .append(
                Base64.getEncoder()
                    .encodeToString((user + ":" + pass).getBytes(StandardCharsets.UTF_8)))
            .append("\r\n");
      }
      b.append("\r\n");
      out = ByteBuffer.wrap(b.toString().getBytes(StandardCharsets.ISO_8859_1));
      phase = HTTP_RESPONSE;
    } else {
      out =
          proxy.hasCredentials()
              ? ByteBuffer.wrap(new byte[] {5, 2, 0, 2})
              : ByteBuffer.wrap(new byte[] {5, 1, 0});
      phase = SOCKS_GREETING;
    }
  }

  /** The bytes to send to the proxy now (possibly none left). */
  ByteBuffer output() {
    return out;
  }

  /** Where the proxy's answer is read into (write mode); full means the answer is too long. */
  ByteBuffer input() {
    return in;
  }

  /** Why the handshake failed, for logs (never contains the password). */
  String failure() {
    String f = failure;
    return f == null ? "" : f;
  }

  /**
   * Whether the failure is the proxy refusing on configuration grounds (403/407, SOCKS not allowed
   * or auth).
   */
  boolean isConfigProblem() {
    return configProblem;
  }

  /**
   * The bytes that followed the proxy's answer: the upstream's first bytes, for the client
   * (flipped), or null.
   */
  @Nullable ByteBuffer leftover() {
    return leftover;
  }

  /** Parses what was read so far: {@link #NEED_MORE}, {@link #ESTABLISHED} or {@link #FAILED}. */
  int advance() {
    in.flip();
    try {
      return phase == HTTP_RESPONSE ? http() : socks();
    } finally {
      in.compact();
    }
  }

  private int http() {
    int end = headerEnd();
    if (end < 0) {
      if (in.limit() == in.capacity()) {
        return fail(
            false, "answered CONNECT with more than " + in.capacity() + " bytes of headers");
      }
      return NEED_MORE;
    }
    int lineEnd = 0;
    while (lineEnd < end && in.get(lineEnd) != '\r') {
      lineEnd++;
    }
    String status = ascii(0, lineEnd);
    int code = -1;
    if (status.startsWith("HTTP/1.") && status.length() >= 12 && status.charAt(8) == ' ') {
      try {
        code = Integer.parseInt(status.substring(9, 12));
      } catch (NumberFormatException e) {
        code = -1; // reported below as not an HTTP answer
      }
    }
    String target = host + ":" + port;
    if (code < 0) {
      return fail(
          false,
          "answered CONNECT " + target + " with '" + status + "' (not an HTTP/1.x status line)");
    }
    if (code >= 200 && code < 300) {
      in.position(end);
      keepLeftover();
      return ESTABLISHED;
    }
    if (code == 407) {
      return fail(
          true,
          proxy.hasCredentials()
              ? "rejected the credentials of user '" + proxy.username() + "' (" + status + ")"
              : "requires authentication ("
                  + status
                  + "): set credentials in upstream.proxy or "
                  + "upstream.proxy-credentials");
    }
    if (code == 403) {
      return fail(
          true,
          "refused CONNECT "
              + target
              + " ("
              + status
              + "): the proxy admin must allow CONNECT to port "
              + port
              + " for the APNs host names (Squid: acl SSL_ports port "
              + port
              + " and an http_access allow for .push.apple.com)");
    }
    if (code >= 400 && code < 500) {
      return fail(true, "refused CONNECT " + target + " (" + status + ")");
    }
    return fail(false, "answered CONNECT " + target + " with " + status);
  }

  /** The index just after the blank line ending the headers, or -1. */
  private int headerEnd() {
    int n = in.limit();
    for (int i = 3; i < n; i++) {
      if (in.get(i) == '\n'
          && in.get(i - 1) == '\r'
          && in.get(i - 2) == '\n'
          && in.get(i - 3) == '\r') {
        return i + 1;
      }
    }
    return -1;
  }

  private int socks() {
    switch (phase) {
      case SOCKS_GREETING -> {
        if (in.remaining() < 2) {
          return NEED_MORE;
        }
        int ver = in.get() & 0xff;
        int method = in.get() & 0xff;
        if (ver != 5) {
          return fail(false, "is not a SOCKS5 proxy (version " + ver + " in its answer)");
        }
        if (method == 0) {
          return request();
        }
        if (method == 2 && proxy.hasCredentials()) {
          byte[] u = nonNull(proxy.username()).getBytes(StandardCharsets.UTF_8);
          byte[] p = nonNull(proxy.password()).getBytes(StandardCharsets.UTF_8);
          ByteBuffer b = ByteBuffer.allocate(3 + u.length + p.length);
          b.put((byte) 1).put((byte) u.length).put(u).put((byte) p.length).put(p).flip();
          out = b;
          phase = SOCKS_AUTH;
          return more();
        }
        return fail(
            true,
            method == 0xff
                ? (proxy.hasCredentials()
                    ? "accepts none of our SOCKS5 authentication methods"
                    : "requires authentication: set credentials in upstream.proxy or upstream.proxy-credentials")
                : "chose SOCKS5 method " + method + " that was not offered");
      }
      case SOCKS_AUTH -> {
        if (in.remaining() < 2) {
          return NEED_MORE;
        }
        in.get();
        int status = in.get() & 0xff;
        if (status != 0) {
          return fail(
              true,
              "rejected the credentials of user '"
                  + proxy.username()
                  + "' (RFC 1929 status "
                  + status
                  + ")");
        }
        return request();
      }
      default -> {
        if (in.remaining() < 5) {
          return NEED_MORE;
        }
        int p = in.position();
        int ver = in.get(p) & 0xff;
        int rep = in.get(p + 1) & 0xff;
        int atyp = in.get(p + 3) & 0xff;
        if (ver != 5) {
          return fail(false, "is not a SOCKS5 proxy (version " + ver + " in its reply)");
        }
        if (rep != 0) {
          String target = host + ":" + port;
          return switch (rep) {
            case 2 ->
                fail(
                    true,
                    "does not allow CONNECT "
                        + target
                        + " (SOCKS5 'not allowed by ruleset'): the proxy "
                        + "admin must allow port "
                        + port
                        + " for the APNs host names");
            case 7 -> fail(true, "does not support CONNECT (SOCKS5 reply 7)");
            case 8 ->
                fail(
                    true,
                    "does not accept domain names (SOCKS5 reply 8); egress needs a proxy that resolves");
            case 1 -> fail(false, "failed CONNECT " + target + " (SOCKS5 general failure)");
            case 3 -> fail(false, "cannot reach " + target + " (SOCKS5 network unreachable)");
            case 4 -> fail(false, "cannot reach " + target + " (SOCKS5 host unreachable)");
            case 5 -> fail(false, "was refused by " + target + " (SOCKS5 connection refused)");
            case 6 -> fail(false, "timed out reaching " + target + " (SOCKS5 TTL expired)");
            default -> fail(false, "failed CONNECT " + target + " (SOCKS5 reply " + rep + ")");
          };
        }
        int len =
            switch (atyp) {
              case 1 -> 10;
              case 4 -> 22;
              case 3 -> 7 + (in.get(p + 4) & 0xff);
              default -> -1;
            };
        if (len < 0) {
          return fail(false, "answered with SOCKS5 address type " + atyp);
        }
        if (in.remaining() < len) {
          return NEED_MORE;
        }
        in.position(p + len);
        keepLeftover();
        return ESTABLISHED;
      }
    }
  }

  private int request() {
    byte[] name = host.getBytes(StandardCharsets.US_ASCII);
    if (name.length > 255) {
      return fail(true, "cannot be asked for a name longer than 255 bytes: " + host);
    }
    ByteBuffer b = ByteBuffer.allocate(7 + name.length);
    b.put((byte) 5)
        .put((byte) 1)
        .put((byte) 0)
        .put((byte) 3)
        .put((byte) name.length)
        .put(name)
        .putShort((short) port)
        .flip();
    out = b;
    phase = SOCKS_CONNECT;
    return more();
  }

  private int more() {
    if (in.hasRemaining()) {
      // the proxy answered ahead of our next message: a protocol violation
      return fail(false, "sent bytes ahead of the SOCKS5 exchange");
    }
    return NEED_MORE;
  }

  private void keepLeftover() {
    if (in.hasRemaining()) {
      ByteBuffer b = ByteBuffer.allocate(in.remaining());
      b.put(in).flip();
      leftover = b;
    }
  }

  private int fail(boolean config, String why) {
    failure = why;
    configProblem = config;
    in.position(in.limit());
    return FAILED;
  }

  private String ascii(int from, int to) {
    StringBuilder b = new StringBuilder(Math.min(to - from, 120));
    for (int i = from; i < to && b.length() < 120; i++) {
      int c = in.get(i) & 0xff;
      b.append(c >= 0x20 && c < 0x7f ? (char) c : '?');
    }
    return b.toString();
  }

  private static String nonNull(@Nullable String s) {
    return s == null ? "" : s;
  }
}
