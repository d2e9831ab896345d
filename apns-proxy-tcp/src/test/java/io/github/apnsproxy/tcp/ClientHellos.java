// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * Real ClientHellos made by the JDK's own TLS stack (an SSLEngine's first wrap), and ways to
 * re-frame them.
 */
public final class ClientHellos {
  private ClientHellos() {}

  /** The first flight of a JDK TLS client with {@code sni} (null: none) and {@code alpn}. */
  public static byte[] jdk(@org.jspecify.annotations.Nullable String sni, List<String> alpn) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, null, null);
      SSLEngine e = ctx.createSSLEngine(sni == null ? null : sni, 443);
      e.setUseClientMode(true);
      SSLParameters p = e.getSSLParameters();
      if (sni != null) {
        p.setServerNames(List.of(new SNIHostName(sni)));
      }
      p.setApplicationProtocols(alpn.toArray(new String[0]));
      e.setSSLParameters(p);
      ByteBuffer out = ByteBuffer.allocate(e.getSession().getPacketBufferSize());
      e.wrap(ByteBuffer.allocate(0), out);
      out.flip();
      byte[] b = new byte[out.remaining()];
      out.get(b);
      return b;
    } catch (Exception ex) {
      throw new IllegalStateException(ex);
    }
  }

  /** The handshake message of a single-record hello (the record's payload). */
  public static byte[] handshake(byte[] record) {
    int len = ((record[3] & 0xff) << 8) | (record[4] & 0xff);
    byte[] m = new byte[len];
    System.arraycopy(record, 5, m, 0, len);
    return m;
  }

  /**
   * The handshake message {@code m} framed into records of at most {@code max} payload bytes each.
   */
  public static byte[] frame(byte[] m, int max) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int at = 0; at < m.length; at += max) {
      int n = Math.min(max, m.length - at);
      out.write(22);
      out.write(3);
      out.write(1);
      out.write(n >> 8);
      out.write(n);
      out.write(m, at, n);
    }
    return out.toByteArray();
  }

  /** The handshake message {@code m} framed into records of random sizes (1..{@code max}). */
  public static byte[] frameRandomly(byte[] m, int max, Random random) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int at = 0; at < m.length; ) {
      int n = Math.min(1 + random.nextInt(max), m.length - at);
      out.write(22);
      out.write(3);
      out.write(1);
      out.write(n >> 8);
      out.write(n);
      out.write(m, at, n);
      at += n;
    }
    return out.toByteArray();
  }

  /**
   * The hello {@code m} (a handshake message) with a padding extension (RFC 7685, type 21) of
   * {@code pad} bytes appended to its extensions: the size of a post-quantum key share.
   */
  public static byte[] pad(byte[] m, int pad) {
    // walk to the extensions block: header 4, version 2, random 32, session id, suites, compression
    int at = 4 + 2 + 32;
    at += 1 + (m[at] & 0xff);
    at += 2 + (((m[at] & 0xff) << 8) | (m[at + 1] & 0xff));
    at += 1 + (m[at] & 0xff);
    int extLen = ((m[at] & 0xff) << 8) | (m[at + 1] & 0xff);
    int newExt = extLen + 4 + pad;
    int newBody = m.length - 4 + 4 + pad;
    byte[] out = new byte[m.length + 4 + pad];
    System.arraycopy(m, 0, out, 0, m.length);
    out[1] = (byte) (newBody >> 16);
    out[2] = (byte) (newBody >> 8);
    out[3] = (byte) newBody;
    out[at] = (byte) (newExt >> 8);
    out[at + 1] = (byte) newExt;
    out[m.length] = 0;
    out[m.length + 1] = 21;
    out[m.length + 2] = (byte) (pad >> 8);
    out[m.length + 3] = (byte) pad;
    return out;
  }

  /** Splits {@code b} into random chunks of 1..{@code max} bytes. */
  public static List<byte[]> chunks(byte[] b, int max, Random random) {
    List<byte[]> out = new ArrayList<>();
    for (int at = 0; at < b.length; ) {
      int n = Math.min(1 + random.nextInt(max), b.length - at);
      byte[] c = new byte[n];
      System.arraycopy(b, at, c, 0, n);
      out.add(c);
      at += n;
    }
    return out;
  }
}
