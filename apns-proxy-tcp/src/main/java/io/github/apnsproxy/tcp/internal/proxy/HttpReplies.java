// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import java.nio.charset.StandardCharsets;

/**
 * The responses of the CONNECT listener, as bytes. Every error response closes the connection
 * ({@code Connection: close}), carries a short plain-text body with the reason, and a {@code
 * Proxy-Status} field (RFC 9209) naming the error type, so clients and operators see why without
 * the proxy's logs.
 */
public final class HttpReplies {
  private static final byte[] ESTABLISHED =
      "HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private HttpReplies() {}

  /**
   * {@code 200 Connection established}: the tunnel is open (RFC 9110 section 9.3.6: no content, no
   * length).
   */
  public static byte[] established() {
    return ESTABLISHED.clone();
  }

  /**
   * An error response with {@code status}, the RFC 9209 {@code error} type, and {@code reason} in
   * the body.
   */
  public static byte[] error(int status, String proxyError, String reason) {
    return error(status, proxyError, reason, "");
  }

  /**
   * {@code 405 Method Not Allowed} with {@code Allow: CONNECT} (and GET, HEAD for the PAC path).
   */
  public static byte[] methodNotAllowed(String method) {
    return error(
        405,
        "http_request_denied",
        "method " + HttpHead.printable(method) + " not allowed (expected CONNECT host:port)",
        "Allow: CONNECT, GET, HEAD\r\n");
  }

  /** {@code 407 Proxy Authentication Required} with a Basic challenge for {@code realm}. */
  public static byte[] authenticationRequired(String realm, String reason) {
    return error(
        407,
        "http_request_denied",
        reason,
        "Proxy-Authenticate: Basic realm=\"" + quoted(realm) + "\", charset=\"UTF-8\"\r\n");
  }

  /** {@code 200} with the PAC file, or the head only for {@code HEAD}. */
  public static byte[] pac(String pac, boolean headOnly) {
    byte[] body = pac.getBytes(StandardCharsets.UTF_8);
    String head =
        "HTTP/1.1 200 OK\r\n"
            + "Content-Type: application/x-ns-proxy-autoconfig\r\n"
            + "Content-Length: "
            + body.length
            + "\r\n"
            + "Cache-Control: max-age=300\r\n"
            + "Connection: close\r\n\r\n";
    return concat(head.getBytes(StandardCharsets.US_ASCII), headOnly ? new byte[0] : body);
  }

  /** {@code 404 Not Found} for a GET of anything but the PAC file. */
  public static byte[] notFound(String path) {
    return error(
        404,
        "http_request_denied",
        "not found: "
            + HttpHead.printable(path)
            + " (this proxy serves /proxy.pac and CONNECT to APNs)");
  }

  static byte[] error(int status, String proxyError, String reason, String extraFields) {
    String body = reason + "\n";
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    String head =
        "HTTP/1.1 "
            + status
            + " "
            + phrase(status)
            + "\r\n"
            + extraFields
            + "Proxy-Status: apns-proxy; error="
            + proxyError
            + "; details=\""
            + quoted(reason)
            + "\"\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: "
            + b.length
            + "\r\n"
            + "Connection: close\r\n\r\n";
    return concat(head.getBytes(StandardCharsets.UTF_8), b);
  }

  /** The reason phrase of the statuses this proxy sends. */
  static String phrase(int status) {
    return switch (status) {
      case 200 -> "OK";
      case 400 -> "Bad Request";
      case 403 -> "Forbidden";
      case 404 -> "Not Found";
      case 405 -> "Method Not Allowed";
      case 407 -> "Proxy Authentication Required";
      case 408 -> "Request Timeout";
      case 431 -> "Request Header Fields Too Large";
      case 500 -> "Internal Server Error";
      case 502 -> "Bad Gateway";
      case 503 -> "Service Unavailable";
      case 504 -> "Gateway Timeout";
      case 505 -> "HTTP Version Not Supported";
      default -> "Error";
    };
  }

  /**
   * Text safe inside a quoted-string on one line: no control characters, quotes and backslashes
   * escaped.
   */
  private static String quoted(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c >= 0x7f) {
        b.append('?');
      } else {
        if (c == '"' || c == '\\') {
          b.append('\\');
        }
        b.append(c);
      }
    }
    return b.toString();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
