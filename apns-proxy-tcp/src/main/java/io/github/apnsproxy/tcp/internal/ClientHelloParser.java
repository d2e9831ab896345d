// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.Preface;
import io.github.apnsproxy.tcp.PrefaceDecision;
import io.github.apnsproxy.tcp.PrefaceParser;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Reads a TLS ClientHello (TLS 1.0 to 1.3: RFC 2246, 5246, 8446) from the first bytes of one
 * connection and finds its server name (RFC 6066 section 3) and ALPN list (RFC 7301). The hello may
 * come in any number of reads and be split over several handshake records (RFC 8446 section 5.1
 * allows it); records are walked as they complete, so a hello trickled one byte per read costs work
 * proportional to its size, not its square. One instance per connection (it remembers how far it
 * walked); loop thread only.
 *
 * <p>Refused, with a reason for the DEBUG log: bytes that are not a TLS handshake record, an
 * SSLv2-style hello, a handshake message that is not a ClientHello, a zero-length or over-long
 * record, lengths that do not add up, a hello over the cap, a duplicate extension, a malformed
 * server name.
 */
public final class ClientHelloParser implements PrefaceParser {
  static final int RECORD_HANDSHAKE = 22;
  static final int MAX_RECORD = 1 << 14; // RFC 8446 5.1: plaintext records carry at most 2^14 bytes
  private static final int HANDSHAKE_CLIENT_HELLO = 1;
  private static final int EXT_SERVER_NAME = 0;
  private static final int EXT_ALPN = 16;

  /**
   * Found prefaces by value. Devices send a handful of different hellos (server name and ALPN list
   * per courier kind); every idle splice keeps its preface for routing and the access log, so one
   * shared copy per distinct preface keeps a splice opened through the TLS door as small as one
   * routed by address. Bounded: when full it is emptied (hellos with made-up names only churn it).
   */
  private static final ConcurrentHashMap<Preface, Preface> SHARED = new ConcurrentHashMap<>();

  private static final int SHARED_MAX = 256;

  private final String door;
  private final int cap;

  /** Offset of the next record header not walked yet. */
  private int pos;

  /** Handshake bytes in the records walked so far. */
  private int gathered;

  /** The handshake message's length with its 4-byte header; -1 until those 4 bytes are known. */
  private int needed = -1;

  /** The first handshake bytes (type and 24-bit length), collected across records. */
  private final byte[] head = new byte[4];

  /**
   * A parser for one connection of door {@code door}, refusing hellos over {@code cap} bytes on the
   * wire.
   */
  public ClientHelloParser(String door, int cap) {
    this.door = door;
    this.cap = cap;
  }

  @Override
  public PrefaceDecision parse(ByteBuffer b) {
    int limit = b.limit();
    if (pos == 0 && limit > 0) {
      int first = b.get(0) & 0xff;
      if ((first & 0x80) != 0) {
        return PrefaceDecision.refuse("SSLv2-style ClientHello (not supported)");
      }
      if (first != RECORD_HANDSHAKE) {
        return PrefaceDecision.refuse("not a TLS handshake record (first byte " + first + ")");
      }
    }
    while (needed < 0 || gathered < needed) {
      if (pos + 5 > limit) {
        String bad = pos < limit ? checkPartialHeader(b, pos, limit) : null;
        return bad != null ? PrefaceDecision.refuse(bad) : needMore(limit);
      }
      int type = b.get(pos) & 0xff;
      int major = b.get(pos + 1) & 0xff;
      int minor = b.get(pos + 2) & 0xff;
      int len = b.getShort(pos + 3) & 0xffff;
      if (type != RECORD_HANDSHAKE) {
        return PrefaceDecision.refuse(
            "record type " + type + " before the ClientHello was complete");
      }
      if (major != 3 || minor > 4) {
        return PrefaceDecision.refuse(
            "record version " + major + "." + minor + " (expected 3.0 to 3.4)");
      }
      if (len == 0 || len > MAX_RECORD) {
        return PrefaceDecision.refuse("record length " + len + " (expected 1.." + MAX_RECORD + ")");
      }
      if (pos + 5 + len > limit) {
        return pos + 5 + len > cap ? tooBig(pos + 5 + len) : needMore(limit);
      }
      for (int i = 0; i < len && gathered + i < 4; i++) {
        head[gathered + i] = b.get(pos + 5 + i);
      }
      gathered += len;
      pos += 5 + len;
      if (needed < 0 && gathered >= 4) {
        if (head[0] != HANDSHAKE_CLIENT_HELLO) {
          return PrefaceDecision.refuse(
              "handshake message type " + (head[0] & 0xff) + " (expected ClientHello)");
        }
        needed = 4 + (((head[1] & 0xff) << 16) | ((head[2] & 0xff) << 8) | (head[3] & 0xff));
        // the smallest wire size of the whole hello: its bytes plus one record header per 2^14 of
        // them
        int wire = needed + 5 * ((needed + MAX_RECORD - 1) / MAX_RECORD);
        if (wire > cap) {
          return tooBig(wire);
        }
      }
    }
    byte[] hello = reassemble(b, needed);
    try {
      return parseHello(hello);
    } catch (Malformed e) {
      return PrefaceDecision.refuse(String.valueOf(e.getMessage()));
    }
  }

  private PrefaceDecision needMore(int limit) {
    return limit >= cap ? tooBig(limit + 1) : PrefaceDecision.needMore();
  }

  private PrefaceDecision tooBig(int bytes) {
    return PrefaceDecision.refuse("ClientHello of at least " + bytes + " bytes (cap " + cap + ")");
  }

  /**
   * Checks what is there of an incomplete record header, so garbage is refused without waiting for
   * more.
   */
  private static @Nullable String checkPartialHeader(ByteBuffer b, int at, int limit) {
    int type = b.get(at) & 0xff;
    if (type != RECORD_HANDSHAKE) {
      return "record type " + type + " before the ClientHello was complete";
    }
    if (at + 1 < limit && (b.get(at + 1) & 0xff) != 3) {
      return "record version major " + (b.get(at + 1) & 0xff) + " (expected 3)";
    }
    if (at + 2 < limit && (b.get(at + 2) & 0xff) > 4) {
      return "record version minor " + (b.get(at + 2) & 0xff) + " (expected 0 to 4)";
    }
    return null;
  }

  /** The first {@code n} handshake bytes of the records from offset 0. */
  private static byte[] reassemble(ByteBuffer b, int n) {
    byte[] out = new byte[n];
    int at = 0;
    int filled = 0;
    while (filled < n) {
      int len = b.getShort(at + 3) & 0xffff;
      int take = Math.min(len, n - filled);
      b.get(at + 5, out, filled, take);
      filled += take;
      at += 5 + len;
    }
    return out;
  }

  /** A length or field that does not add up; the message names it. */
  static final class Malformed extends Exception {
    private static final long serialVersionUID = 1L;

    Malformed(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Parses the handshake message {@code m} (header included), already known to be a ClientHello.
   */
  private PrefaceDecision parseHello(byte[] m) throws Malformed {
    Reader r = new Reader(m, 4, m.length);
    r.skip(2, "client_version");
    r.skip(32, "random");
    int sid = r.u8("session_id length");
    if (sid > 32) {
      throw new Malformed("session_id length " + sid + " (expected at most 32)");
    }
    r.skip(sid, "session_id");
    int suites = r.u16("cipher_suites length");
    if (suites < 2 || suites % 2 != 0) {
      throw new Malformed(
          "cipher_suites length " + suites + " (expected an even number, at least 2)");
    }
    r.skip(suites, "cipher_suites");
    int comp = r.u8("compression_methods length");
    if (comp < 1) {
      throw new Malformed("no compression method (expected at least one)");
    }
    r.skip(comp, "compression_methods");
    String serverName = null;
    List<String> alpn = List.of();
    if (r.remaining() > 0) {
      int extLen = r.u16("extensions length");
      if (extLen != r.remaining()) {
        throw new Malformed(
            "extensions length " + extLen + " but " + r.remaining() + " bytes follow");
      }
      List<Integer> seen = new ArrayList<>();
      while (r.remaining() > 0) {
        int type = r.u16("extension type");
        int len = r.u16("extension length");
        Reader e = r.sub(len, "extension " + type);
        if (seen.contains(type)) {
          throw new Malformed("duplicate extension " + type); // RFC 8446 4.2
        }
        seen.add(type);
        if (type == EXT_SERVER_NAME) {
          serverName = serverName(e);
        } else if (type == EXT_ALPN) {
          alpn = alpn(e);
        }
      }
    }
    return PrefaceDecision.route(shared(Preface.tls(door, serverName, alpn)), 0);
  }

  static Preface shared(Preface p) {
    Preface had = SHARED.get(p);
    if (had != null) {
      return had;
    }
    if (SHARED.size() >= SHARED_MAX) {
      SHARED.clear();
    }
    had = SHARED.putIfAbsent(p, p);
    return had == null ? p : had;
  }

  private static @Nullable String serverName(Reader e) throws Malformed {
    if (e.remaining() == 0) {
      return null; // a server's empty echo; not sent by clients, harmless
    }
    int listLen = e.u16("server_name_list length");
    if (listLen != e.remaining() || listLen == 0) {
      throw new Malformed(
          "server_name_list length " + listLen + " but " + e.remaining() + " bytes follow");
    }
    String host = null;
    while (e.remaining() > 0) {
      int nameType = e.u8("name_type");
      int len = e.u16("server name length");
      Reader n = e.sub(len, "server name");
      if (nameType != 0) {
        continue; // unknown name types are skipped (RFC 6066 3)
      }
      if (host != null) {
        throw new Malformed("two host_name entries"); // RFC 6066 3: one name per type
      }
      host = hostName(n.bytes());
    }
    return host;
  }

  /**
   * Validates a host name (ASCII letters, digits, hyphens, dots; RFC 6066: no trailing dot) and
   * lower-cases it.
   */
  private static String hostName(byte[] raw) throws Malformed {
    if (raw.length == 0 || raw.length > 253) {
      throw new Malformed("server name of " + raw.length + " bytes (expected 1..253)");
    }
    int label = 0;
    for (int i = 0; i < raw.length; i++) {
      int c = raw[i] & 0xff;
      if (c == '.') {
        if (label == 0) {
          throw new Malformed("server name with an empty label");
        }
        label = 0;
      } else if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '_') {
        if (++label > 63) {
          throw new Malformed("server name label over 63 bytes");
        }
      } else {
        throw new Malformed(
            "server name byte " + c + " at " + i + " (expected letters, digits, '-', '.')");
      }
    }
    if (label == 0) {
      throw new Malformed("server name ends with a dot or an empty label");
    }
    return new String(raw, StandardCharsets.US_ASCII).toLowerCase(Locale.ROOT);
  }

  private static List<String> alpn(Reader e) throws Malformed {
    int listLen = e.u16("ALPN list length");
    if (listLen != e.remaining() || listLen < 2) {
      throw new Malformed(
          "ALPN list length " + listLen + " but " + e.remaining() + " bytes follow");
    }
    List<String> out = new ArrayList<>();
    while (e.remaining() > 0) {
      int len = e.u8("ALPN name length");
      if (len == 0) {
        throw new Malformed("empty ALPN name"); // RFC 7301 3.1
      }
      out.add(new String(e.sub(len, "ALPN name").bytes(), StandardCharsets.ISO_8859_1));
    }
    return List.copyOf(out);
  }

  /** Bounded reads over a byte range; every overrun is a {@link Malformed} naming the field. */
  private static final class Reader {
    private final byte[] a;
    private int at;
    private final int end;

    Reader(byte[] a, int from, int end) {
      this.a = a;
      this.at = from;
      this.end = end;
    }

    int remaining() {
      return end - at;
    }

    private void need(int n, String what) throws Malformed {
      if (n > end - at) {
        throw new Malformed(what + ": " + n + " bytes needed, " + (end - at) + " left");
      }
    }

    int u8(String what) throws Malformed {
      need(1, what);
      return a[at++] & 0xff;
    }

    int u16(String what) throws Malformed {
      need(2, what);
      int v = ((a[at] & 0xff) << 8) | (a[at + 1] & 0xff);
      at += 2;
      return v;
    }

    void skip(int n, String what) throws Malformed {
      need(n, what);
      at += n;
    }

    Reader sub(int n, String what) throws Malformed {
      need(n, what);
      Reader r = new Reader(a, at, at + n);
      at += n;
      return r;
    }

    byte[] bytes() {
      byte[] out = new byte[end - at];
      System.arraycopy(a, at, out, 0, out.length);
      at = end;
      return out;
    }
  }
}
