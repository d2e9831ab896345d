// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.tcp.EgressProxy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The proxy handshakes as bytes: requests, answers split anywhere, leftovers, and how failures are
 * classified.
 */
class TunnelTest {
  private static final EgressProxy HTTP = EgressProxy.of(EgressProxy.Scheme.HTTP, "proxy", 3128);
  private static final EgressProxy SOCKS = EgressProxy.of(EgressProxy.Scheme.SOCKS5, "proxy", 1080);

  private static String out(Tunnel t) {
    ByteBuffer b = t.output();
    byte[] a = new byte[b.remaining()];
    b.get(a);
    return new String(a, StandardCharsets.ISO_8859_1);
  }

  private static int feed(Tunnel t, String text) {
    return feed(t, text.getBytes(StandardCharsets.ISO_8859_1));
  }

  private static int feed(Tunnel t, byte[] bytes) {
    int r = Tunnel.NEED_MORE;
    for (byte b : bytes) { // one byte at a time: the worst segmentation
      t.input().put(b);
      r = t.advance();
      if (r != Tunnel.NEED_MORE) {
        break;
      }
    }
    return r;
  }

  @Test
  void httpConnectRequestNamesTheHostWithBasicAuth() {
    Tunnel t =
        new Tunnel(HTTP.withCredentials("user", "pass"), "17-courier.push.apple.com", 5223, 4096);
    assertThat(out(t))
        .isEqualTo(
            "CONNECT 17-courier.push.apple.com:5223 HTTP/1.1\r\n"
                + "Host: 17-courier.push.apple.com:5223\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n");
  }

  @Test
  void httpSuccessKeepsTheBytesAfterTheHeaders() {
    Tunnel t = new Tunnel(HTTP, "h", 443, 4096);
    assertThat(feed(t, "HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n"))
        .isEqualTo(Tunnel.ESTABLISHED);
    assertThat(t.leftover()).isNull();
    Tunnel u = new Tunnel(HTTP, "h", 443, 4096);
    u.input().put("HTTP/1.0 200 OK\r\n\r\nTLS".getBytes(StandardCharsets.US_ASCII));
    assertThat(u.advance()).isEqualTo(Tunnel.ESTABLISHED);
    assertThat(StandardCharsets.US_ASCII.decode(u.leftover()).toString()).isEqualTo("TLS");
  }

  @Test
  void httpFailuresAreClassified() {
    Tunnel forbidden = new Tunnel(HTTP, "1-courier.push.apple.com", 5223, 4096);
    assertThat(feed(forbidden, "HTTP/1.1 403 Forbidden\r\n\r\n")).isEqualTo(Tunnel.FAILED);
    assertThat(forbidden.isConfigProblem()).isTrue();
    assertThat(forbidden.failure())
        .contains("must allow CONNECT to port 5223")
        .contains("acl SSL_ports port 5223");
    Tunnel auth = new Tunnel(HTTP, "h", 443, 4096);
    assertThat(feed(auth, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"))
        .isEqualTo(Tunnel.FAILED);
    assertThat(auth.isConfigProblem()).isTrue();
    assertThat(auth.failure()).contains("requires authentication");
    Tunnel bad = new Tunnel(HTTP, "h", 443, 4096);
    assertThat(feed(bad, "HTTP/1.1 502 Bad Gateway\r\n\r\n")).isEqualTo(Tunnel.FAILED);
    assertThat(bad.isConfigProblem()).isFalse();
    Tunnel garbage = new Tunnel(HTTP, "h", 443, 4096);
    assertThat(feed(garbage, "SSH-2.0-OpenSSH\r\n\r\n")).isEqualTo(Tunnel.FAILED);
    assertThat(garbage.failure()).contains("not an HTTP/1.x status line");
    Tunnel huge = new Tunnel(HTTP, "h", 443, 64);
    assertThat(feed(huge, "HTTP/1.1 200 OK\r\n" + "X: y\r\n".repeat(20))).isEqualTo(Tunnel.FAILED);
    assertThat(huge.failure()).contains("more than 64 bytes");
  }

  @Test
  void socksWithCredentialsAndADomainName() {
    Tunnel t = new Tunnel(SOCKS.withCredentials("u", "pw"), "api.push.apple.com", 443, 4096);
    assertThat(out(t).getBytes(StandardCharsets.ISO_8859_1)).containsExactly(5, 2, 0, 2);
    assertThat(feed(t, new byte[] {5, 2})).isEqualTo(Tunnel.NEED_MORE);
    assertThat(out(t).getBytes(StandardCharsets.ISO_8859_1))
        .containsExactly(1, 1, 'u', 2, 'p', 'w');
    assertThat(feed(t, new byte[] {1, 0})).isEqualTo(Tunnel.NEED_MORE);
    byte[] req = out(t).getBytes(StandardCharsets.ISO_8859_1);
    assertThat(req[3]).isEqualTo((byte) 3);
    assertThat(new String(req, 5, req[4], StandardCharsets.US_ASCII))
        .isEqualTo("api.push.apple.com");
    assertThat(((req[req.length - 2] & 0xff) << 8) | (req[req.length - 1] & 0xff)).isEqualTo(443);
    assertThat(feed(t, new byte[] {5, 0, 0, 3, 3, 'a', 'b', 'c', 1, (byte) 187, 22}))
        .isEqualTo(Tunnel.ESTABLISHED);
    assertThat(t.leftover()).isNull(); // feeding stops at success: the last byte is never read
  }

  @Test
  void socksRefusalsAndFailuresAreClassified() {
    Tunnel auth = new Tunnel(SOCKS.withCredentials("u", "bad"), "h", 1, 4096);
    feed(auth, new byte[] {5, 2});
    assertThat(feed(auth, new byte[] {1, 1})).isEqualTo(Tunnel.FAILED);
    assertThat(auth.isConfigProblem()).isTrue();
    assertThat(auth.failure()).contains("user 'u'").doesNotContain("bad");
    Tunnel none = new Tunnel(SOCKS, "h", 1, 4096);
    assertThat(feed(none, new byte[] {5, (byte) 0xff})).isEqualTo(Tunnel.FAILED);
    assertThat(none.isConfigProblem()).isTrue();
    for (int rep = 1; rep <= 8; rep++) {
      Tunnel t = new Tunnel(SOCKS, "h", 5223, 4096);
      feed(t, new byte[] {5, 0});
      assertThat(feed(t, new byte[] {5, (byte) rep, 0, 1, 0, 0, 0, 0, 0, 0}))
          .isEqualTo(Tunnel.FAILED);
      assertThat(t.isConfigProblem())
          .as("reply %d", rep)
          .isEqualTo(rep == 2 || rep == 7 || rep == 8);
    }
  }

  @Test
  void socksSuccessKeepsTheBytesAfterTheReply() {
    Tunnel t = new Tunnel(SOCKS, "h", 5223, 4096);
    feed(t, new byte[] {5, 0});
    t.input().put(new byte[] {5, 0, 0, 1, 127, 0, 0, 1, 0, 80, 'X', 'Y'});
    assertThat(t.advance()).isEqualTo(Tunnel.ESTABLISHED);
    assertThat(t.leftover().remaining()).isEqualTo(2);
  }
}
