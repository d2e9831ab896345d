// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.tcp.ClientHellos;
import io.github.apnsproxy.tcp.PrefaceDecision;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * 100,000 mutated ClientHellos (bit flips, byte changes, truncation, insertion, length-field
 * damage, re-framing), each fed in random chunks: the parser never throws, always decides within
 * the bytes it got, and never routes with a malformed server name.
 */
class ClientHelloFuzzIT {
  private static final int CASES = 100_000;

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES) // a bound against a hang, not a performance figure
  void mutatedHellosNeverEscape() {
    Random random = new Random(20240613L);
    List<byte[]> seeds =
        List.of(
            ClientHellos.jdk("courier.push.apple.com", List.of("apns-security-v3", "apns-pack-v1")),
            ClientHellos.jdk(null, List.of()),
            ClientHellos.frame(
                ClientHellos.pad(
                    ClientHellos.handshake(ClientHellos.jdk("api.push.apple.com", List.of("h2"))),
                    1500),
                300));
    int routed = 0;
    int refused = 0;
    int waiting = 0;
    for (int i = 0; i < CASES; i++) {
      byte[] b = mutate(seeds.get(random.nextInt(seeds.size())).clone(), random);
      ClientHelloParser p = new ClientHelloParser("tls", 16 * 1024);
      PrefaceDecision d = PrefaceDecision.needMore();
      int n = 0;
      while (n < b.length) {
        n = Math.min(b.length, n + 1 + random.nextInt(600));
        d = p.parse(ByteBuffer.wrap(Arrays.copyOf(b, n)).asReadOnlyBuffer());
        if (!(d instanceof PrefaceDecision.NeedMore)) {
          break;
        }
      }
      if (d instanceof PrefaceDecision.Proceed r) {
        routed++;
        String sni = r.found().serverName();
        if (sni != null) {
          assertThat(sni).matches("[a-z0-9_-]+(\\.[a-z0-9_-]+)*");
        }
      } else if (d instanceof PrefaceDecision.Close c) {
        assertThat(c.refused()).isTrue();
        refused++;
      } else {
        assertThat(d).isInstanceOf(PrefaceDecision.NeedMore.class);
        waiting++;
      }
    }
    assertThat(routed + refused + waiting).isEqualTo(CASES);
    assertThat(refused).as("most mutations are refused").isGreaterThan(CASES / 4);
    assertThat(routed).as("some survive (mutations inside opaque fields)").isPositive();
  }

  private static byte[] mutate(byte[] b, Random r) {
    switch (r.nextInt(7)) {
      case 0:
        { // flip bits
          for (int k = 1 + r.nextInt(4); k > 0; k--) {
            int at = r.nextInt(b.length);
            b[at] ^= (byte) (1 << r.nextInt(8));
          }
          return b;
        }
      case 1:
        { // random bytes
          for (int k = 1 + r.nextInt(8); k > 0; k--) {
            b[r.nextInt(b.length)] = (byte) r.nextInt(256);
          }
          return b;
        }
      case 2: // truncate
        return Arrays.copyOf(b, r.nextInt(b.length));
      case 3:
        { // insert garbage
          int at = r.nextInt(b.length);
          byte[] extra = new byte[1 + r.nextInt(40)];
          r.nextBytes(extra);
          byte[] out = new byte[b.length + extra.length];
          System.arraycopy(b, 0, out, 0, at);
          System.arraycopy(extra, 0, out, at, extra.length);
          System.arraycopy(b, at, out, at + extra.length, b.length - at);
          return out;
        }
      case 4:
        { // damage a 16-bit length near the start of the hello
          int at = 5 + r.nextInt(Math.min(200, b.length - 6));
          b[at] = (byte) r.nextInt(256);
          b[at + 1] = (byte) r.nextInt(256);
          return b;
        }
      case 5: // re-frame into random records
        if (b.length > 5 && b[0] == 22) {
          return ClientHellos.frameRandomly(
              Arrays.copyOfRange(b, 5, b.length), 1 + r.nextInt(500), r);
        }
        return b;
      default:
        { // all random
          byte[] out = new byte[2 + r.nextInt(2000)];
          r.nextBytes(out);
          if (r.nextBoolean()) {
            out[0] = 22;
            out[1] = 3;
          }
          return out;
        }
    }
  }
}
