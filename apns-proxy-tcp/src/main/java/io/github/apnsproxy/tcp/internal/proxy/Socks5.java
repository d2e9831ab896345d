// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The server side of a SOCKS5 handshake (RFC 1928) with username/password authentication (RFC
 * 1929), as a state machine over the bytes a client sent: method selection, then the optional
 * subnegotiation, then the request. Only CONNECT is served. Each call looks at the unconsumed bytes
 * from position 0 and says what to do; a client that pipelines its messages (sends the request
 * before the method reply) is served the same. One instance per connection; not thread-safe.
 */
public final class Socks5 {
  /** RFC 1928 section 6 reply codes. */
  public static final int SUCCEEDED = 0x00;

  public static final int GENERAL_FAILURE = 0x01;
  public static final int NOT_ALLOWED = 0x02;
  public static final int NETWORK_UNREACHABLE = 0x03;
  public static final int HOST_UNREACHABLE = 0x04;
  public static final int CONNECTION_REFUSED = 0x05;
  public static final int TTL_EXPIRED = 0x06;
  public static final int COMMAND_NOT_SUPPORTED = 0x07;
  public static final int ADDRESS_TYPE_NOT_SUPPORTED = 0x08;

  static final int NO_AUTH = 0x00;
  static final int USER_PASSWORD = 0x02;
  static final int NO_ACCEPTABLE = 0xFF;

  /** What to do next. */
  public sealed interface Step {}

  /** Send {@code reply} to the client, drop {@code consumed} bytes, read on. */
  @SuppressWarnings("ArrayRecordComponent") // a step to act on once, never compared or hashed
  public record Reply(byte[] reply, int consumed) implements Step {}

  /**
   * Send {@code reply} (may be empty) and close; {@code code} is the reply code for metrics, -1 for
   * none.
   */
  @SuppressWarnings("ArrayRecordComponent") // a step to act on once, never compared or hashed
  public record Close(byte[] reply, int code, String detail) implements Step {}

  /**
   * Check these credentials (RFC 1929), then {@link #authenticated} with the outcome; {@code
   * consumed} bytes are done with.
   */
  @SuppressWarnings("ArrayRecordComponent") // a step to act on once, never compared or hashed
  public record Authenticate(String user, byte[] password, int consumed) implements Step {}

  /**
   * The client asks to CONNECT to {@code host} (a lower-case name, or an address literal when
   * {@code address} is set) on {@code port}; {@code consumed} bytes are the request, the rest is
   * early data for the upstream.
   */
  public record Connect(String host, @Nullable InetAddress address, int port, int consumed)
      implements Step {}

  private enum Phase {
    GREETING,
    AUTH,
    REQUEST,
    DONE
  }

  private final boolean authRequired;
  private Phase phase = Phase.GREETING;

  /** A handshake that requires username/password authentication when {@code authRequired}. */
  public Socks5(boolean authRequired) {
    this.authRequired = authRequired;
  }

  /**
   * Looks at the unconsumed bytes {@code in[0..limit)}.
   *
   * @return the next step, or {@code null} when more bytes are needed
   */
  public @Nullable Step offer(ByteBuffer in) {
    return switch (phase) {
      case GREETING -> greeting(in);
      case AUTH -> auth(in);
      case REQUEST -> request(in);
      case DONE -> new Close(new byte[0], -1, "bytes after the handshake ended");
    };
  }

  /**
   * The outcome of an {@link Authenticate} step: the RFC 1929 reply to send (and whether to close
   * after it).
   */
  public Step authenticated(boolean ok, int consumed) {
    if (!ok) {
      phase = Phase.DONE;
      return new Close(new byte[] {1, 1}, -1, "SOCKS5 authentication failed");
    }
    phase = Phase.REQUEST;
    return new Reply(new byte[] {1, 0}, consumed);
  }

  private @Nullable Step greeting(ByteBuffer in) {
    int n = in.limit();
    if (n < 1) {
      return null;
    }
    int version = in.get(0) & 0xff;
    if (version != 5) {
      phase = Phase.DONE;
      // no SOCKS5 reply fits a client of another version (SOCKS4 is 0x04): close without one
      return new Close(new byte[0], -1, "not SOCKS5 (version byte " + version + ")");
    }
    if (n < 2) {
      return null;
    }
    int count = in.get(1) & 0xff;
    if (count == 0) {
      phase = Phase.DONE;
      return new Close(
          new byte[] {5, (byte) NO_ACCEPTABLE}, -1, "SOCKS5 greeting offers no method");
    }
    if (n < 2 + count) {
      return null;
    }
    boolean noAuth = false;
    boolean userPassword = false;
    for (int i = 0; i < count; i++) {
      int m = in.get(2 + i) & 0xff;
      noAuth |= m == NO_AUTH;
      userPassword |= m == USER_PASSWORD;
    }
    int consumed = 2 + count;
    if (authRequired ? userPassword : noAuth) {
      phase = authRequired ? Phase.AUTH : Phase.REQUEST;
      return new Reply(new byte[] {5, (byte) (authRequired ? USER_PASSWORD : NO_AUTH)}, consumed);
    }
    if (!authRequired && userPassword) {
      // no credentials configured but the client only offers username/password: accept whatever it
      // sends
      phase = Phase.AUTH;
      return new Reply(new byte[] {5, (byte) USER_PASSWORD}, consumed);
    }
    phase = Phase.DONE;
    return new Close(
        new byte[] {5, (byte) NO_ACCEPTABLE},
        -1,
        authRequired
            ? "SOCKS5 client offers no username/password method (credentials are required)"
            : "SOCKS5 client offers no acceptable method");
  }

  private @Nullable Step auth(ByteBuffer in) {
    int n = in.limit();
    if (n < 1) {
      return null;
    }
    if ((in.get(0) & 0xff) != 1) {
      phase = Phase.DONE;
      return new Close(
          new byte[] {1, 1},
          -1,
          "SOCKS5 authentication version " + (in.get(0) & 0xff) + " (expected 1)");
    }
    if (n < 2) {
      return null;
    }
    int ulen = in.get(1) & 0xff;
    if (n < 3 + ulen) {
      return null;
    }
    int plen = in.get(2 + ulen) & 0xff;
    if (n < 3 + ulen + plen) {
      return null;
    }
    byte[] user = new byte[ulen];
    in.get(2, user);
    byte[] password = new byte[plen];
    in.get(3 + ulen, password);
    return new Authenticate(new String(user, StandardCharsets.UTF_8), password, 3 + ulen + plen);
  }

  private @Nullable Step request(ByteBuffer in) {
    int n = in.limit();
    if (n < 1) {
      return null;
    }
    if ((in.get(0) & 0xff) != 5) {
      phase = Phase.DONE;
      return failure(
          GENERAL_FAILURE, "SOCKS5 request version " + (in.get(0) & 0xff) + " (expected 5)");
    }
    if (n < 4) {
      return null;
    }
    int command = in.get(1) & 0xff;
    int type = in.get(3) & 0xff;
    if (command != 1) {
      phase = Phase.DONE;
      return failure(
          COMMAND_NOT_SUPPORTED, "SOCKS5 command " + command + " not supported (only CONNECT)");
    }
    int addressEnd;
    String host;
    InetAddress address = null;
    switch (type) {
      case 1 -> {
        if (n < 4 + 4 + 2) {
          return null;
        }
        byte[] raw = new byte[4];
        in.get(4, raw);
        address = Addresses.of(raw);
        host = address.getHostAddress();
        addressEnd = 8;
      }
      case 4 -> {
        if (n < 4 + 16 + 2) {
          return null;
        }
        byte[] raw = new byte[16];
        in.get(4, raw);
        address = Addresses.of(raw);
        host = address.getHostAddress();
        addressEnd = 20;
      }
      case 3 -> {
        if (n < 5) {
          return null;
        }
        int len = in.get(4) & 0xff;
        if (n < 5 + len + 2) {
          return null;
        }
        byte[] raw = new byte[len];
        in.get(5, raw);
        host = new String(raw, StandardCharsets.ISO_8859_1).toLowerCase(Locale.ROOT);
        addressEnd = 5 + len;
        if (len == 0) {
          phase = Phase.DONE;
          return failure(NOT_ALLOWED, "SOCKS5 request with an empty domain name");
        }
        // a client may send an address literal as a domain name (curl --socks5-hostname does):
        // treat it as one
        InetAddress literal = Addresses.ipv4(host);
        if (literal == null && host.indexOf(':') >= 0) {
          literal = Addresses.ipv6(host);
        }
        address = literal;
      }
      default -> {
        phase = Phase.DONE;
        return failure(
            ADDRESS_TYPE_NOT_SUPPORTED, "SOCKS5 address type " + type + " not supported");
      }
    }
    int port = ((in.get(addressEnd) & 0xff) << 8) | (in.get(addressEnd + 1) & 0xff);
    phase = Phase.DONE;
    if (port == 0) {
      return failure(NOT_ALLOWED, "SOCKS5 request for port 0");
    }
    return new Connect(host, address, port, addressEnd + 2);
  }

  private static Close failure(int code, String detail) {
    return new Close(reply(code, null), code, detail);
  }

  /**
   * A reply (RFC 1928 section 6) with {@code code} and the bound address {@code bound} (the proxy's
   * address of the upstream connection), or {@code 0.0.0.0:0} when {@code null}.
   */
  public static byte[] reply(int code, @Nullable InetSocketAddress bound) {
    InetAddress a = bound == null ? null : bound.getAddress();
    byte[] raw = a == null ? new byte[4] : a.getAddress();
    ByteBuffer b = ByteBuffer.allocate(4 + raw.length + 2);
    b.put((byte) 5)
        .put((byte) code)
        .put((byte) 0)
        .put((byte) (a == null || a instanceof Inet4Address ? 1 : 4));
    b.put(raw).putShort((short) (bound == null ? 0 : bound.getPort()));
    return b.array();
  }
}
