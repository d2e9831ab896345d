// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One corporate proxy the splicer can reach upstream hosts through: an HTTP proxy (tunnels with
 * {@code CONNECT}, RFC 9110 section 9.3.6) or a SOCKS5 proxy (RFC 1928, user/password
 * authentication RFC 1929). Immutable. The password is never part of {@link #toString()}; the proxy
 * host name is resolved by the splicer, the upstream host names are always sent as names for the
 * proxy to resolve.
 *
 * @param scheme the proxy protocol
 * @param host the proxy's host name or IP address literal (without brackets)
 * @param port the proxy's port
 * @param username the user name, or {@code null} for none
 * @param password the password, or {@code null} for none (present exactly when {@code username} is)
 */
public record EgressProxy(
    Scheme scheme, String host, int port, @Nullable String username, @Nullable String password) {

  /** The proxy protocols. */
  public enum Scheme {
    /** An HTTP proxy tunnelling with {@code CONNECT host:port}. */
    HTTP,
    /** A SOCKS5 proxy, asked to connect to a domain name (address type 3). */
    SOCKS5;

    /** The URL scheme ({@code http}, {@code socks5}). */
    public String text() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Checks the arguments. */
  public EgressProxy {
    Objects.requireNonNull(scheme, "scheme");
    Objects.requireNonNull(host, "host");
    if (host.isEmpty() || host.length() > 255) {
      throw new IllegalArgumentException(
          "proxy host '" + host + "' (expected 1 to 255 characters)");
    }
    if (port < 1 || port > 65_535) {
      throw new IllegalArgumentException("proxy port " + port + " (expected 1..65535)");
    }
    if ((username == null) != (password == null)) {
      throw new IllegalArgumentException("proxy credentials need both a user name and a password");
    }
    if (username != null
        && password != null
        && scheme == Scheme.SOCKS5
        && (utf8Length(username) > 255 || utf8Length(password) > 255 || username.isEmpty())) {
      throw new IllegalArgumentException(
          "SOCKS5 user name and password must be 1..255 and 0..255 bytes (RFC 1929)");
    }
  }

  /** A proxy without credentials. */
  public static EgressProxy of(Scheme scheme, String host, int port) {
    return new EgressProxy(scheme, host, port, null, null);
  }

  /** This proxy with {@code username} and {@code password}. */
  public EgressProxy withCredentials(String username, String password) {
    return new EgressProxy(
        scheme,
        host,
        port,
        Objects.requireNonNull(username, "username"),
        Objects.requireNonNull(password, "password"));
  }

  /** Whether credentials are set. */
  public boolean hasCredentials() {
    return username != null;
  }

  /**
   * Opens a tunnel through this proxy to {@code host:port} with blocking I/O, the same handshake
   * the splicer makes (for tools such as {@code probe}; the splicer itself never blocks): connects
   * within {@code timeout}, asks for {@code host} by name and waits at most {@code timeout} for the
   * answer. Returns the connected socket, its read timeout set to {@code timeout}.
   *
   * @throws EgressProxyException when the proxy refuses or fails the tunnel
   * @throws IOException when the proxy cannot be reached (the message names it)
   */
  public java.net.Socket connect(String host, int port, java.time.Duration timeout)
      throws IOException {
    return io.github.apnsproxy.tcp.internal.BlockingTunnel.open(this, host, port, timeout);
  }

  /** {@code host:port}, with brackets around an IPv6 literal. */
  public String authority() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  /**
   * Parses {@code http://[user:pass@]host:port} or {@code socks5://[user:pass@]host:port} ({@code
   * socks5h://} is the same here: names are always sent to the proxy). A missing scheme means
   * {@code http}; a missing port means 80 for http and 1080 for socks5 (as Go does). User and
   * password are percent-decoded.
   *
   * @throws IllegalArgumentException naming the (password-masked) value and what was expected
   */
  public static EgressProxy parse(String text) {
    Objects.requireNonNull(text, "text");
    String t = text.strip();
    String shown = mask(t);
    Scheme scheme = Scheme.HTTP;
    int sep = t.indexOf("://");
    if (sep >= 0) {
      String s = t.substring(0, sep).toLowerCase(Locale.ROOT);
      switch (s) {
        case "http" -> scheme = Scheme.HTTP;
        case "socks5", "socks5h" -> scheme = Scheme.SOCKS5;
        case "https" ->
            throw new IllegalArgumentException(
                "proxy '"
                    + shown
                    + "': TLS to the proxy (https://) is not supported (expected http:// or socks5://)");
        default ->
            throw new IllegalArgumentException(
                "proxy '" + shown + "': scheme '" + s + "' (expected http or socks5)");
      }
      t = t.substring(sep + 3);
    }
    int slash = t.indexOf('/');
    if (slash >= 0) {
      if (!t.substring(slash).equals("/")) {
        throw new IllegalArgumentException(
            "proxy '" + shown + "': a path (expected scheme://host:port)");
      }
      t = t.substring(0, slash);
    }
    String user = null;
    String pass = null;
    int at = t.lastIndexOf('@');
    if (at >= 0) {
      String cred = t.substring(0, at);
      t = t.substring(at + 1);
      int colon = cred.indexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException(
            "proxy '" + shown + "': credentials without a password (expected user:pass@)");
      }
      user = decode(cred.substring(0, colon), shown);
      pass = decode(cred.substring(colon + 1), shown);
    }
    String host;
    String portText = null;
    if (t.startsWith("[")) {
      int close = t.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException(
            "proxy '" + shown + "': unclosed '[' (expected [IPv6]:port)");
      }
      host = t.substring(1, close);
      String rest = t.substring(close + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw new IllegalArgumentException(
              "proxy '" + shown + "': text after ']' (expected :port)");
        }
        portText = rest.substring(1);
      }
    } else {
      int colon = t.lastIndexOf(':');
      if (colon >= 0) {
        if (t.indexOf(':') != colon) {
          throw new IllegalArgumentException(
              "proxy '"
                  + shown
                  + "': IPv6 address without brackets "
                  + "(expected [address]:port)");
        }
        host = t.substring(0, colon);
        portText = t.substring(colon + 1);
      } else {
        host = t;
      }
    }
    if (host.isEmpty()) {
      throw new IllegalArgumentException(
          "proxy '" + shown + "': no host (expected scheme://host:port)");
    }
    int port = scheme == Scheme.HTTP ? 80 : 1080;
    if (portText != null) {
      if (portText.isEmpty()
          || portText.length() > 5
          || !portText.chars().allMatch(c -> c >= '0' && c <= '9')) {
        throw new IllegalArgumentException(
            "proxy '" + shown + "': port '" + portText + "' (expected 1..65535)");
      }
      port = Integer.parseInt(portText);
    }
    try {
      return new EgressProxy(scheme, host, port, user, pass);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("proxy '" + shown + "': " + e.getMessage(), e);
    }
  }

  /**
   * The URL form with the password replaced by {@code ***}: safe for logs, {@code check} and
   * metrics.
   */
  @Override
  public String toString() {
    return scheme.text()
        + "://"
        + (username == null ? "" : encodeUser(username) + ":***@")
        + authority();
  }

  /**
   * Replaces the password of a proxy URL text with {@code ***} (for error messages about unparsable
   * values).
   */
  static String mask(String text) {
    int at = text.lastIndexOf('@');
    if (at < 0) {
      return text;
    }
    int start = text.indexOf("://");
    start = start < 0 ? 0 : start + 3;
    int colon = text.indexOf(':', start);
    if (colon < 0 || colon > at) {
      return text.substring(0, start) + "***" + text.substring(at);
    }
    return text.substring(0, colon + 1) + "***" + text.substring(at);
  }

  private static String decode(String s, String shown) {
    try {
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "proxy '" + shown + "': bad percent-encoding in the credentials", e);
    }
  }

  private static String encodeUser(String user) {
    StringBuilder b = new StringBuilder();
    for (byte x : user.getBytes(StandardCharsets.UTF_8)) {
      int c = x & 0xff;
      if (Character.isLetterOrDigit(c) && c < 128 || "-._~".indexOf(c) >= 0) {
        b.append((char) c);
      } else {
        b.append('%')
            .append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    return b.toString();
  }

  private static int utf8Length(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }
}
