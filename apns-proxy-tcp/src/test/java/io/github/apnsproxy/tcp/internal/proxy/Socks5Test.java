// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class Socks5Test {
  private static final HexFormat HEX = HexFormat.of();

  private static ByteBuffer hex(String h) {
    return ByteBuffer.wrap(HEX.parseHex(h.replace(" ", "")));
  }

  private static byte[] domainRequest(String name, int port) {
    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
    ByteBuffer b = ByteBuffer.allocate(7 + n.length);
    b.put(new byte[] {5, 1, 0, 3, (byte) n.length}).put(n).putShort((short) port);
    return b.array();
  }

  @Test
  void noAuthThenDomainConnectWithEarlyBytes() {
    Socks5 s = new Socks5(false);
    assertThat(s.offer(hex("05"))).isNull();
    Socks5.Step step = s.offer(hex("05 02 00 02"));
    assertThat(step)
        .isInstanceOfSatisfying(
            Socks5.Reply.class,
            r -> {
              assertThat(r.reply()).containsExactly(5, 0);
              assertThat(r.consumed()).isEqualTo(4);
            });
    byte[] req = domainRequest("API.push.apple.com", 443);
    for (int i = 1; i < req.length; i++) {
      assertThat(s.offer(ByteBuffer.wrap(req, 0, i).slice())).as("after %d bytes", i).isNull();
    }
    ByteBuffer withEarly =
        ByteBuffer.allocate(req.length + 3).put(req).put(new byte[] {22, 3, 1}).flip();
    assertThat(s.offer(withEarly))
        .isEqualTo(new Socks5.Connect("api.push.apple.com", null, 443, req.length));
    assertThat(s.offer(withEarly)).isInstanceOf(Socks5.Close.class); // one request per connection
  }

  @Test
  void connectStepCarriesHostPortAndConsumed() {
    Socks5 s = new Socks5(false);
    s.offer(hex("05 01 00"));
    byte[] req = domainRequest("API.push.apple.com", 2197);
    ByteBuffer withEarly =
        ByteBuffer.allocate(req.length + 3).put(req).put(new byte[] {22, 3, 1}).flip();
    assertThat(s.offer(withEarly))
        .isEqualTo(new Socks5.Connect("api.push.apple.com", null, 2197, req.length));
  }

  @Test
  void pipelinedGreetingAuthAndRequest() {
    Socks5 s = new Socks5(true);
    byte[] user = "mdm".getBytes(StandardCharsets.US_ASCII);
    byte[] pw = "s3cret".getBytes(StandardCharsets.US_ASCII);
    assertThat(s.offer(hex("05 01 02")))
        .isInstanceOfSatisfying(
            Socks5.Reply.class, r -> assertThat(r.reply()).containsExactly(5, 2));
    ByteBuffer auth =
        ByteBuffer.allocate(3 + user.length + pw.length + 10)
            .put((byte) 1)
            .put((byte) user.length)
            .put(user)
            .put((byte) pw.length)
            .put(pw)
            .put(hex("05 01 00 01 11 39 92 0a 14 67"))
            .flip();
    Socks5.Step step = s.offer(auth);
    assertThat(step)
        .isInstanceOfSatisfying(
            Socks5.Authenticate.class,
            a -> {
              assertThat(a.user()).isEqualTo("mdm");
              assertThat(a.password()).isEqualTo(pw);
              assertThat(a.consumed()).isEqualTo(3 + user.length + pw.length);
            });
    assertThat(s.authenticated(true, 12))
        .isInstanceOfSatisfying(
            Socks5.Reply.class, r -> assertThat(r.reply()).containsExactly(1, 0));
    Socks5.Step connect = s.offer(hex("05 01 00 01 11 39 92 0a 14 67"));
    assertThat(connect)
        .isInstanceOfSatisfying(
            Socks5.Connect.class,
            c -> {
              assertThat(c.host()).isEqualTo("17.57.146.10");
              assertThat(c.address()).isNotNull();
              assertThat(c.port()).isEqualTo(5223);
            });
  }

  @Test
  void wrongPasswordClosesWithStatusOne() {
    Socks5 s = new Socks5(true);
    s.offer(hex("05 01 02"));
    assertThat(s.authenticated(false, 5))
        .isInstanceOfSatisfying(
            Socks5.Close.class, c -> assertThat(c.reply()).containsExactly(1, 1));
  }

  @ParameterizedTest(name = "auth {0}: {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "true  | 05 01 00       | 05 ff",
        "false | 05 01 80       | 05 ff",
        "false | 05 00          | 05 ff",
        "true  | 04 01 00 50 7f 00 00 01 00 | ''",
      })
  void refusedGreetings(boolean auth, String greeting, String reply) {
    Socks5.Step step = new Socks5(auth).offer(hex(greeting));
    assertThat(step)
        .isInstanceOfSatisfying(
            Socks5.Close.class,
            c -> assertThat(HEX.formatHex(c.reply())).isEqualTo(reply.replace(" ", "")));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "05 02 00 03 03 61 62 63 01 bb | 7", // BIND
        "05 03 00 01 7f 00 00 01 01 bb | 7", // UDP ASSOCIATE
        "05 01 00 05 7f 00 00 01 01 bb | 8", // unknown address type
        "05 01 00 03 00 01 bb          | 2", // empty name
        "05 01 00 03 01 61 00 00       | 2", // port 0
        "04 01 00 03 01 61 01 bb       | 1", // wrong version in the request
      })
  void refusedRequests(String request, int code) {
    Socks5 s = new Socks5(false);
    s.offer(hex("05 01 00"));
    assertThat(s.offer(hex(request)))
        .isInstanceOfSatisfying(
            Socks5.Close.class,
            c -> {
              assertThat(c.code()).isEqualTo(code);
              assertThat(c.reply()).hasSize(10).startsWith(5, code, 0, 1);
            });
  }

  @Test
  void ipv6RequestAndReplies() throws Exception {
    Socks5 s = new Socks5(false);
    s.offer(hex("05 01 00"));
    Socks5.Step step = s.offer(hex("05 01 00 04 00000000000000000000000000000001 14 67"));
    assertThat(step)
        .isEqualTo(
            new Socks5.Connect(
                "0:0:0:0:0:0:0:1", InetAddress.getByName("0:0:0:0:0:0:0:1"), 5223, 22));
    assertThat(Socks5.reply(0, new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 4660)))
        .containsExactly(5, 0, 0, 1, 127, 0, 0, 2, 0x12, 0x34);
    assertThat(Socks5.reply(5, new InetSocketAddress(InetAddress.getByName("0:0:0:0:0:0:0:1"), 1)))
        .hasSize(22)
        .startsWith(5, 5, 0, 4);
    assertThat(Socks5.reply(6, null)).containsExactly(5, 6, 0, 1, 0, 0, 0, 0, 0, 0);
  }

  @Test
  void literalSentAsDomainNameIsALiteral() {
    Socks5 s = new Socks5(false);
    s.offer(hex("05 01 00"));
    assertThat(s.offer(ByteBuffer.wrap(domainRequest("17.1.2.3", 443))))
        .isInstanceOfSatisfying(Socks5.Connect.class, c -> assertThat(c.address()).isNotNull());
  }
}
