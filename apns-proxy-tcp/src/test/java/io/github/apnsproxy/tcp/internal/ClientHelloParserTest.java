// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.tcp.ClientHellos;
import io.github.apnsproxy.tcp.PrefaceDecision;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The ClientHello parser over real JDK hellos, however they are cut and framed, and over broken
 * ones.
 */
class ClientHelloParserTest {
  private static final List<String> ALPN = List.of("apns-security-v3", "apns-pack-v1");
  private static final byte[] HELLO = ClientHellos.jdk("courier.push.apple.com", ALPN);

  /** Feeds {@code bytes} growing by {@code step} until the parser decides; the decision. */
  private static PrefaceDecision feed(byte[] bytes, int step) {
    ClientHelloParser p = new ClientHelloParser("tls", 16 * 1024);
    PrefaceDecision d = PrefaceDecision.needMore();
    for (int n = Math.min(step, bytes.length); ; n = Math.min(n + step, bytes.length)) {
      d = p.parse(ByteBuffer.wrap(Arrays.copyOf(bytes, n)).asReadOnlyBuffer());
      if (!(d instanceof PrefaceDecision.NeedMore) || n == bytes.length) {
        return d;
      }
    }
  }

  private static void assertRoutes(PrefaceDecision d, String sni) {
    assertThat(d).isInstanceOf(PrefaceDecision.Proceed.class);
    PrefaceDecision.Proceed p = (PrefaceDecision.Proceed) d;
    assertThat(p.found().serverName()).isEqualTo(sni);
    assertThat(p.found().alpn()).isEqualTo(ALPN);
    assertThat(p.found().frontDoor()).isEqualTo("tls");
    assertThat(p.skip()).isZero();
    assertThat(p.replies()).isNull();
  }

  private static String refusal(byte[] bytes) {
    PrefaceDecision d = feed(bytes, bytes.length);
    assertThat(d).isInstanceOf(PrefaceDecision.Close.class);
    assertThat(((PrefaceDecision.Close) d).refused()).isTrue();
    return ((PrefaceDecision.Close) d).detail();
  }

  @Test
  void wholeHello() {
    assertRoutes(feed(HELLO, HELLO.length), "courier.push.apple.com");
  }

  /** Idle splices keep their preface: equal ones share one copy, so SNI costs no memory each. */
  @Test
  void equalHellosShareOnePreface() {
    PrefaceDecision.Proceed first = (PrefaceDecision.Proceed) feed(HELLO, HELLO.length);
    PrefaceDecision.Proceed second = (PrefaceDecision.Proceed) feed(HELLO.clone(), 5);
    assertThat(second.found()).isSameAs(first.found());
    PrefaceDecision.Proceed other =
        (PrefaceDecision.Proceed) feed(ClientHellos.jdk("courier2.push.apple.com", ALPN), 1 << 16);
    assertThat(other.found().serverName()).isEqualTo("courier2.push.apple.com");
    assertThat(other.found()).isNotSameAs(first.found());
  }

  @Test
  void oneBytePerRead() {
    assertRoutes(feed(HELLO, 1), "courier.push.apple.com");
  }

  @Test
  void reframedIntoManyRecords() {
    byte[] m = ClientHellos.handshake(HELLO);
    assertRoutes(feed(ClientHellos.frame(m, 1), 7), "courier.push.apple.com");
    assertRoutes(feed(ClientHellos.frame(m, 100), 1), "courier.push.apple.com");
    assertRoutes(
        feed(ClientHellos.frameRandomly(m, 300, new Random(1)), 13), "courier.push.apple.com");
  }

  @Test
  void paddedPastPostQuantumSize() {
    byte[] padded =
        ClientHellos.frame(ClientHellos.pad(ClientHellos.handshake(HELLO), 1600), 16384);
    assertThat(padded.length).isGreaterThan(1500);
    assertRoutes(feed(padded, 1), "courier.push.apple.com");
  }

  @Test
  void helloWithoutServerName() {
    PrefaceDecision d = feed(ClientHellos.jdk(null, ALPN), 10);
    assertThat(((PrefaceDecision.Proceed) d).found().serverName()).isNull();
  }

  @Test
  void refusesNonTls() {
    assertThat(refusal("GET / HTTP/1.1\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)))
        .contains("not a TLS handshake record");
  }

  @Test
  void refusesSslv2() {
    assertThat(refusal(new byte[] {(byte) 0x80, 0x2e, 0x01, 0x03, 0x01})).contains("SSLv2");
  }

  @Test
  void refusesOtherHandshakeMessage() {
    byte[] m = ClientHellos.handshake(HELLO).clone();
    m[0] = 2; // ServerHello
    assertThat(refusal(ClientHellos.frame(m, 16384))).contains("expected ClientHello");
  }

  @Test
  void refusesLengthsThatDoNotAddUp() {
    byte[] m = ClientHellos.handshake(HELLO).clone();
    m[4 + 2 + 32] = 33; // session id length over 32
    assertThat(refusal(ClientHellos.frame(m, 16384))).contains("session_id");
    byte[] z = HELLO.clone();
    z[3] = 0;
    z[4] = 0;
    assertThat(refusal(z)).contains("record length 0");
  }

  @Test
  void refusesOverCap() {
    byte[] big = ClientHellos.frame(ClientHellos.pad(ClientHellos.handshake(HELLO), 17000), 16384);
    assertThat(refusal(big)).contains("cap");
  }

  @Test
  void refusesDuplicateExtension() {
    byte[] m = ClientHellos.handshake(HELLO);
    byte[] once = ClientHellos.pad(m, 3);
    byte[] twice = ClientHellos.pad(once, 3);
    assertThat(refusal(ClientHellos.frame(twice, 16384))).contains("duplicate extension 21");
  }
}
