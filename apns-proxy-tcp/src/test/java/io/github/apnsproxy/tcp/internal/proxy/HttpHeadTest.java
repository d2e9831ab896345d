// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HttpHeadTest {

  private static ByteBuffer bytes(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1));
  }

  private static HttpHead.Request parse(String s) throws HttpHead.Malformed {
    return new HttpHead(HttpHead.DEFAULT_MAX_HEAD).offer(bytes(s));
  }

  @Test
  void connectRequestWithFieldsAndEarlyBytes() throws Exception {
    String head =
        "CONNECT api.push.apple.com:443 HTTP/1.1\r\nHost: api.push.apple.com:443\r\n"
            + "Proxy-Authorization: Basic dTpw\r\nUser-Agent:  x  \r\n\r\n";
    HttpHead.Request r = parse(head + "\u0016\u0003\u0001early");
    assertThat(r.method()).isEqualTo("CONNECT");
    assertThat(r.target()).isEqualTo("api.push.apple.com:443");
    assertThat(r.minorVersion()).isEqualTo(1);
    assertThat(r.single("proxy-authorization")).contains("Basic dTpw");
    assertThat(r.single("User-Agent")).contains("x");
    assertThat(r.headBytes()).isEqualTo(head.length());
  }

  @Test
  void oneByteAtATimeFindsTheEndOnce() throws Exception {
    String head = "\r\nCONNECT 1-courier.push.apple.com:5223 HTTP/1.0\nUser-Agent: a\n\n";
    byte[] all = head.getBytes(StandardCharsets.US_ASCII);
    HttpHead reader = new HttpHead(HttpHead.DEFAULT_MAX_HEAD);
    for (int i = 1; i < all.length; i++) {
      assertThat(reader.offer(ByteBuffer.wrap(all, 0, i).slice())).as("after %d bytes", i).isNull();
    }
    HttpHead.Request r = reader.offer(ByteBuffer.wrap(all));
    assertThat(r).isNotNull();
    assertThat(r.minorVersion()).isZero(); // HTTP/1.0 needs no Host
    assertThat(r.headBytes()).isEqualTo(all.length);
  }

  @Test
  void headOverTheCapIsRefusedWith431() throws Exception {
    String head = "CONNECT api.push.apple.com:443 HTTP/1.1\r\nHost: a\r\nX: " + "a".repeat(9000);
    assertThatThrownBy(() -> parse(head))
        .isInstanceOfSatisfying(
            HttpHead.Malformed.class, m -> assertThat(m.status()).isEqualTo(431));
    // a head just under the cap passes
    String small = "CONNECT a:1 HTTP/1.1\r\nHost: a\r\nX: ";
    String fits = small + "b".repeat(HttpHead.DEFAULT_MAX_HEAD - small.length() - 4) + "\r\n\r\n";
    assertThat(fits).hasSize(HttpHead.DEFAULT_MAX_HEAD);
    assertThat(parse(fits + "x").headBytes()).isEqualTo(HttpHead.DEFAULT_MAX_HEAD);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "CONNECT a:1 HTTP/1.1\\r\\nHost: a\\r\\n folded\\r\\n\\r\\n | 400",
        "CONNECT a:1 HTTP/1.1\\r\\nHost : a\\r\\n\\r\\n | 400",
        "CONNECT a:1 HTTP/1.1\\r\\n\\r\\n | 400",
        "CONNECT a:1 HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n | 400",
        "CONNECT a:1  HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n | 400",
        "CONNECT a:1 HTTP/2.0\\r\\nHost: a\\r\\n\\r\\n | 505",
        "CONNECT a:1 HTTP/1\\r\\nHost: a\\r\\n\\r\\n | 400",
        "CONNECT a:1 http/1.1\\r\\nHost: a\\r\\n\\r\\n | 400",
        "CON(NECT a:1 HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n | 400",
        "CONNECT a:1 HTTP/1.1\\r\\nHost: a\\rX: b\\r\\n\\r\\n | 400",
        "CONNECT a:1 HTTP/1.1\\r\\nNoColon\\r\\n\\r\\n | 400",
        "CONNECT a:1 HTTP/1.1\\r\\nHost: a\\u0001\\r\\n\\r\\n | 400",
        "\\u0016\\u0003\\u0001\\u0002\\u0000\\n\\n | 400",
      })
  void malformedHeads(String escaped, int status) {
    String head =
        escaped
            .replace("\\r", "\r")
            .replace("\\n", "\n")
            .replace("\\u0001", "\u0001")
            .replace("\\u0016", "\u0016")
            .replace("\\u0003", "\u0003")
            .replace("\\u0002", "\u0002")
            .replace("\\u0000", "\u0000");
    assertThatThrownBy(() -> parse(head))
        .isInstanceOfSatisfying(
            HttpHead.Malformed.class, m -> assertThat(m.status()).isEqualTo(status));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "api.push.apple.com:443 | api.push.apple.com | false | 443",
        "API.Push.Apple.COM:2197 | api.push.apple.com | false | 2197",
        "17.57.146.10:5223 | 17.57.146.10 | true | 5223",
        "[2620:149:a44::1]:443 | 2620:149:a44::1 | true | 443",
        "[::1]:65535 | ::1 | true | 65535",
      })
  void authorities(String target, String host, boolean literal, int port) throws Exception {
    assertThat(HttpHead.authority(target)).isEqualTo(new HttpHead.Authority(host, literal, port));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "api.push.apple.com",
    "api.push.apple.com:",
    ":443",
    "api.push.apple.com:0",
    "api.push.apple.com:65536",
    "api.push.apple.com:44x",
    "2620:149:a44::1:443",
    "[2620:149:a44::1:443",
    "[nothex::1]:443",
    "user@api.push.apple.com:443",
    "[1.2.3.4]:443",
    "api.push.apple.com:+443"
  })
  void badAuthorities(String target) {
    assertThatThrownBy(() -> HttpHead.authority(target))
        .isInstanceOfSatisfying(
            HttpHead.Malformed.class, m -> assertThat(m.status()).isEqualTo(400));
  }

  @Test
  void repliesHaveStatusLinesAndReasons() {
    assertThat(new String(HttpReplies.established(), StandardCharsets.US_ASCII))
        .isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
    String forbidden =
        new String(
            HttpReplies.error(403, "destination_ip_prohibited", "x \"y\" is not allowed"),
            StandardCharsets.UTF_8);
    assertThat(forbidden)
        .startsWith("HTTP/1.1 403 Forbidden\r\n")
        .contains(
            "Proxy-Status: apns-proxy; error=destination_ip_prohibited; details=\"x \\\"y\\\" is not allowed\"")
        .contains("Connection: close")
        .endsWith("\r\n\r\nx \"y\" is not allowed\n");
    assertThat(new String(HttpReplies.methodNotAllowed("POST"), StandardCharsets.UTF_8))
        .startsWith("HTTP/1.1 405 Method Not Allowed\r\n")
        .contains("\r\nAllow: CONNECT");
    assertThat(
            new String(
                HttpReplies.authenticationRequired("apns-proxy", "credentials required"),
                StandardCharsets.UTF_8))
        .startsWith("HTTP/1.1 407 Proxy Authentication Required\r\n")
        .contains("\r\nProxy-Authenticate: Basic realm=\"apns-proxy\"");
    for (int status : new int[] {400, 502, 504, 431, 505}) {
      assertThat(new String(HttpReplies.error(status, "e", "r"), StandardCharsets.UTF_8))
          .startsWith("HTTP/1.1 " + status + " " + HttpReplies.phrase(status) + "\r\n");
    }
  }
}
