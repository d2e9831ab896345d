// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.Preface;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.SpliceSummary;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Formatting of access log lines: IPv6 brackets, CONNECT targets, quoting of hostile values. */
class AccessLogTest {
  private static final Instant T = Instant.parse("2025-03-01T00:00:00Z");

  @Test
  void ipv6AndBalancerAndConnectTarget() throws Exception {
    InboundConnection c =
        new InboundConnection(
            new InetSocketAddress(InetAddress.getByName("2001:db8::7"), 50000),
            new InetSocketAddress(InetAddress.getByName("::1"), 8080),
            Preface.target(
                "http-connect", InetSocketAddress.createUnresolved("api.push.apple.com", 443)),
            new InetSocketAddress(InetAddress.getByName("10.0.0.9"), 40000));
    SpliceSummary s =
        new SpliceSummary(
            10,
            20,
            Duration.ofMillis(1500),
            CloseReason.UPSTREAM_RESET,
            new InetSocketAddress(InetAddress.getByName("17.0.0.1"), 443),
            "api.push.apple.com",
            null);
    assertThat(AccessLog.line(T, c, s))
        .isEqualTo(
            "time=2025-03-01T00:00:00Z client=[2001:db8:0:0:0:0:0:7]:50000"
                + " balancer=10.0.0.9:40000 door=http-connect local=[0:0:0:0:0:0:0:1]:8080 sni=- target=api.push.apple.com:443"
                + " host=api.push.apple.com upstream=17.0.0.1:443 bytes_up=10 bytes_down=20 duration_ms=1500"
                + " reason=upstream_reset refused=-");
  }

  @Test
  void hostileValuesAreQuotedAndEscaped() throws Exception {
    InetSocketAddress a = new InetSocketAddress(InetAddress.getLoopbackAddress(), 1);
    InboundConnection c =
        new InboundConnection(
            a,
            a,
            Preface.target("socks5", InetSocketAddress.createUnresolved("a b=\"c\"\\\n", 5223)),
            null);
    SpliceSummary s =
        new SpliceSummary(
            0,
            0,
            Duration.ZERO,
            CloseReason.PREFACE_REFUSED,
            null,
            "",
            RejectReason.PREFACE_REFUSED);
    assertThat(AccessLog.line(T, c, s))
        .contains(" target=\"a b=\\\"c\\\"\\\\\\u000a:5223\" ")
        .endsWith(" reason=preface_refused refused=preface_refused");
  }

  @Test
  void aLoneDashIsQuotedSoItCannotPassForNone() throws Exception {
    InetSocketAddress a = new InetSocketAddress(InetAddress.getLoopbackAddress(), 1);
    InboundConnection c =
        new InboundConnection(a, a, Preface.tls("tls", "-", java.util.List.of()), null);
    SpliceSummary s = new SpliceSummary(0, 0, Duration.ZERO, CloseReason.CLIENT_GONE, null);
    assertThat(AccessLog.line(T, c, s)).contains(" sni=\"-\" ");
  }
}
