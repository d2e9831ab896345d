// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * An incremental HTTP/1.x request-head reader (RFC 9112 sections 2 to 5): fed the bytes of a
 * connection as they arrive, it finds the end of the head (an empty line) without re-scanning what
 * it has seen, then parses the request line and the header fields. Strict where the RFCs say a
 * server must be: obsolete line folding and whitespace before a field name's colon are rejected
 * (section 5.1, 5.2), a bare CR is rejected, an HTTP/1.1 request needs exactly one {@code Host}
 * (section 3.2). A lone LF is accepted as a line end (section 2.2). One instance per connection;
 * not thread-safe.
 */
public final class HttpHead {
  /** The default cap on a request head: request line, header fields and the empty line. */
  public static final int DEFAULT_MAX_HEAD = 8 * 1024;

  /**
   * A parsed request head. {@code headBytes} is the length of the head including the empty line.
   */
  public record Request(
      String method, String target, int minorVersion, List<Field> fields, int headBytes) {
    /** Copies the list. */
    public Request {
      Objects.requireNonNull(method, "method");
      Objects.requireNonNull(target, "target");
      fields = List.copyOf(fields);
    }

    /** The values of every field named {@code name} (case-insensitive), in order. */
    public List<String> values(String name) {
      List<String> out = new ArrayList<>(1);
      for (Field f : fields) {
        if (f.name().equalsIgnoreCase(name)) {
          out.add(f.value());
        }
      }
      return out;
    }

    /**
     * The value of the one field named {@code name}, empty when absent; several are treated as
     * absent.
     */
    public Optional<String> single(String name) {
      List<String> v = values(name);
      return v.size() == 1 ? Optional.of(v.get(0)) : Optional.empty();
    }
  }

  /** One header field: its name as sent and its value without surrounding whitespace. */
  public record Field(String name, String value) {}

  /**
   * Why a head was refused: the status to answer with and a short reason for the client and the
   * logs.
   */
  public static final class Malformed extends Exception {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String reason;

    Malformed(int status, String reason) {
      super(reason, null, false, false);
      this.status = status;
      this.reason = reason;
    }

    /** What is wrong (the message, never null). */
    public String reason() {
      return reason;
    }

    /** The HTTP status to answer: 400, 431 (head over the cap) or 505 (HTTP version). */
    public int status() {
      return status;
    }
  }

  private final int maxHead;
  private int scanned;
  private int newlines; // consecutive line ends seen while scanning, ignoring a CR before an LF
  private boolean content; // a byte other than CR and LF was seen

  /** A reader with a cap of {@code maxHead} bytes on the head. */
  public HttpHead(int maxHead) {
    if (maxHead < 64) {
      throw new IllegalArgumentException("max head " + maxHead + " (expected 64 or more)");
    }
    this.maxHead = maxHead;
  }

  /**
   * Looks at the bytes received so far, {@code data[0..limit)} (absolute indexes; the same prefix
   * grows between calls).
   *
   * @return the request once the head is complete; {@code null} when more bytes are needed
   * @throws Malformed when the head is malformed or longer than the cap
   */
  public @Nullable Request offer(ByteBuffer data) throws Malformed {
    int length = data.limit();
    int end = -1;
    int i = scanned;
    for (; i < length; i++) {
      byte b = data.get(i);
      if (b == '\n') {
        // leading empty lines before the request line are ignored (RFC 9112 section 2.2), so they
        // do not end a head
        newlines = content ? newlines + 1 : 0;
        if (newlines == 2) {
          end = i + 1;
          break;
        }
      } else if (b != '\r') {
        newlines = 0;
        content = true;
      }
      if (i + 1 >= maxHead) {
        throw new Malformed(431, "request head longer than " + maxHead + " bytes");
      }
    }
    scanned = i;
    if (end < 0) {
      return null;
    }
    byte[] head = new byte[end];
    data.get(0, head);
    return parse(head, end);
  }

  private static Request parse(byte[] data, int end) throws Malformed {
    List<String> lines = lines(data, end);
    int first = 0;
    while (first < lines.size() && lines.get(first).isEmpty()) {
      first++;
    }
    String requestLine = lines.get(first);
    int sp1 = requestLine.indexOf(' ');
    int sp2 = sp1 < 0 ? -1 : requestLine.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 < 0 || requestLine.indexOf(' ', sp2 + 1) >= 0) {
      throw new Malformed(400, "malformed request line");
    }
    String method = requestLine.substring(0, sp1);
    String target = requestLine.substring(sp1 + 1, sp2);
    String version = requestLine.substring(sp2 + 1);
    if (!isToken(method)) {
      throw new Malformed(400, "malformed method");
    }
    if (target.isEmpty() || !visible(target)) {
      throw new Malformed(400, "malformed request target");
    }
    if (version.length() != 8
        || !version.startsWith("HTTP/")
        || version.charAt(6) != '.'
        || !isDigit(version.charAt(5))
        || !isDigit(version.charAt(7))) {
      throw new Malformed(400, "malformed HTTP version");
    }
    if (version.charAt(5) != '1') {
      throw new Malformed(
          505, "HTTP version " + version + " not supported (expected HTTP/1.0 or HTTP/1.1)");
    }
    int minor = version.charAt(7) - '0';
    List<Field> fields = new ArrayList<>();
    for (int k = first + 1; k < lines.size() - 1; k++) {
      String line = lines.get(k);
      if (line.isEmpty()) {
        break;
      }
      char c0 = line.charAt(0);
      if (c0 == ' ' || c0 == '\t') {
        throw new Malformed(400, "obsolete line folding in the header");
      }
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new Malformed(400, "malformed header field");
      }
      String name = line.substring(0, colon);
      if (!isToken(name)) {
        // includes whitespace between the name and the colon (RFC 9112 section 5.1: must be
        // rejected)
        throw new Malformed(400, "malformed header field name");
      }
      String value = line.substring(colon + 1).strip();
      for (int j = 0; j < value.length(); j++) {
        char c = value.charAt(j);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
          throw new Malformed(400, "control character in header field " + name);
        }
      }
      fields.add(new Field(name, value));
    }
    Request r = new Request(method, target, minor, fields, end);
    if (minor >= 1 && r.values("Host").size() != 1) {
      throw new Malformed(400, "an HTTP/1.1 request needs exactly one Host header field");
    }
    return r;
  }

  /**
   * Splits data[0..end) into lines at LF, dropping a CR before each LF; a CR anywhere else is
   * malformed.
   */
  private static List<String> lines(byte[] data, int end) throws Malformed {
    List<String> out = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < end; i++) {
      byte b = data[i];
      if (b == '\n') {
        int stop = i > start && data[i - 1] == '\r' ? i - 1 : i;
        out.add(new String(data, start, stop - start, StandardCharsets.ISO_8859_1));
        start = i + 1;
      } else if (b == '\r' && (i + 1 >= end || data[i + 1] != '\n')) {
        throw new Malformed(400, "bare CR in the request head");
      } else if (b == 0) {
        throw new Malformed(400, "NUL in the request head");
      }
    }
    return out;
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /** RFC 9110 section 5.6.2 token. */
  static boolean isToken(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static boolean visible(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return false;
      }
    }
    return true;
  }

  /**
   * A CONNECT target in authority form: the host (without brackets), whether it is an address
   * literal, the port.
   */
  public record Authority(String host, boolean literal, int port) {}

  /**
   * Parses an authority-form request target {@code host:port} (RFC 9110 section 9.3.6; a port is
   * required): a name, an IPv4 literal, or an IPv6 literal in brackets.
   *
   * @throws Malformed (400) when it is not one
   */
  public static Authority authority(String target) throws Malformed {
    int colon = target.lastIndexOf(':');
    if (colon <= 0 || colon == target.length() - 1) {
      throw new Malformed(400, "CONNECT target '" + printable(target) + "' (expected host:port)");
    }
    int port = port(target.substring(colon + 1));
    if (port < 0) {
      throw new Malformed(
          400, "CONNECT target '" + printable(target) + "' has a bad port (expected 1..65535)");
    }
    String host = target.substring(0, colon);
    if (host.startsWith("[")) {
      if (!host.endsWith("]") || host.length() < 3) {
        throw new Malformed(
            400, "CONNECT target '" + printable(target) + "' has an unclosed IPv6 bracket");
      }
      String v6 = host.substring(1, host.length() - 1);
      if (Addresses.ipv6(v6) == null) {
        throw new Malformed(
            400, "CONNECT target '" + printable(target) + "' has a bad IPv6 literal");
      }
      return new Authority(v6, true, port);
    }
    if (host.indexOf(':') >= 0
        || host.indexOf('@') >= 0
        || host.indexOf('[') >= 0
        || host.indexOf(']') >= 0) {
      throw new Malformed(
          400, "CONNECT target '" + printable(target) + "' (expected host:port, IPv6 in brackets)");
    }
    return new Authority(host.toLowerCase(Locale.ROOT), Addresses.ipv4(host) != null, port);
  }

  static int port(String digits) {
    if (digits.isEmpty() || digits.length() > 5) {
      return -1;
    }
    int p = 0;
    for (int i = 0; i < digits.length(); i++) {
      char c = digits.charAt(i);
      if (!isDigit(c)) {
        return -1;
      }
      p = p * 10 + (c - '0');
    }
    return p >= 1 && p <= 65535 ? p : -1;
  }

  /** The text cut to 100 characters with control characters replaced, for messages and logs. */
  static String printable(String s) {
    StringBuilder b = new StringBuilder(Math.min(s.length(), 100));
    for (int i = 0; i < s.length() && i < 100; i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c >= 0x7f ? '?' : c);
    }
    return s.length() > 100 ? b + "..." : b.toString();
  }
}
