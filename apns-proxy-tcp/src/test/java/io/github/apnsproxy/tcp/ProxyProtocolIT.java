// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * PROXY protocol v1 and v2 from trusted and untrusted balancers; policy and limits on the header's
 * client.
 */
class ProxyProtocolIT extends SplicerTestSupport {
  private final BlockingQueue<InboundConnection> routed = new LinkedBlockingQueue<>();

  private TcpSplicer splicer(
      ProxyProtocol mode, String from, AddressPolicy policy, int perClient, TestServer up)
      throws Exception {
    Router r =
        c -> {
          routed.add(c);
          return CompletableFuture.completedFuture(Route.to("up", List.of(up.address())));
        };
    return start(
        TcpSplicer.builder()
            .listen(TestServer.at("127.100.100.1", 0))
            .router(r)
            .loops(1)
            .policy(policy)
            .maxConnectionsPerClient(perClient)
            .proxyProtocol(mode, CidrSet.parse(from)));
  }

  static byte[] v2(int cmd, byte[] src, byte[] dst, int sport, int dport) {
    ByteBuffer b = ByteBuffer.allocate(16 + 2 * src.length + 4);
    b.put(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
    b.put((byte) (0x20 | cmd));
    b.put((byte) (src.length == 4 ? 0x11 : 0x21));
    b.putShort((short) (2 * src.length + 4));
    b.put(src).put(dst).putShort((short) sport).putShort((short) dport);
    return b.array();
  }

  /**
   * The proxy closed the connection: EOF, or a reset when it left bytes unread (closed without
   * reading them).
   */
  static void assertClosed(Socket s) throws Exception {
    try {
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    } catch (java.net.SocketException e) {
      assertThat(e.getMessage()).contains("reset");
    }
  }

  private InboundConnection echoThrough(TcpSplicer sp, byte[] header) throws Exception {
    try (Socket s = connect(entry(sp))) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.write(header);
      out.write("payload".getBytes(US_ASCII));
      s.getOutputStream().write(out.toByteArray());
      assertThat(new String(readN(s.getInputStream(), 7), US_ASCII)).isEqualTo("payload");
    }
    InboundConnection c = routed.poll(30, TimeUnit.SECONDS);
    assertThat(c).isNotNull();
    return c;
  }

  @Test
  void v1AndV2HeadersReplaceTheAddresses() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp =
        splicer(
            ProxyProtocol.ANY,
            "127.0.0.0/8",
            new AddressPolicy(CidrSet.any(), CidrSet.any()),
            0,
            up);
    InboundConnection c =
        echoThrough(sp, "PROXY TCP4 10.1.2.3 10.100.100.9 40000 5223\r\n".getBytes(US_ASCII));
    assertThat(c.client()).isEqualTo(TestServer.at("10.1.2.3", 40000));
    assertThat(c.local()).isEqualTo(TestServer.at("10.100.100.9", 5223));
    assertThat(c.balancer().getAddress()).isEqualTo(InetAddress.getLoopbackAddress());

    c = echoThrough(sp, "PROXY TCP6 fd00::5 fd00:a::1 40001 443\r\n".getBytes(US_ASCII));
    assertThat(c.client()).isEqualTo(TestServer.at("fd00::5", 40001));
    assertThat(c.local()).isEqualTo(TestServer.at("fd00:a::1", 443));

    c = echoThrough(sp, v2(1, new byte[] {10, 9, 8, 7}, new byte[] {10, 100, 100, 2}, 50000, 2197));
    assertThat(c.client()).isEqualTo(TestServer.at("10.9.8.7", 50000));
    assertThat(c.local()).isEqualTo(TestServer.at("10.100.100.2", 2197));

    byte[] six = InetAddress.getByName("fd00::7").getAddress();
    byte[] sixDst = InetAddress.getByName("fd00:a::2").getAddress();
    c = echoThrough(sp, v2(1, six, sixDst, 1234, 5223));
    assertThat(c.client()).isEqualTo(TestServer.at("fd00::7", 1234));
    assertThat(c.local()).isEqualTo(TestServer.at("fd00:a::2", 5223));

    // v2 LOCAL: a health check, answered by closing
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write(v2(0, new byte[4], new byte[4], 0, 0));
      assertClosed(s);
    }
    await("local closed", () -> sp.stats().closed(CloseReason.ANSWERED) == 1);
    assertThat(up.accepted.get()).isEqualTo(4);
    assertQuiet(sp);
  }

  @Test
  void refusals() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer v1Only =
        splicer(
            ProxyProtocol.V1,
            "127.0.0.0/8",
            new AddressPolicy(CidrSet.any(), CidrSet.any()),
            0,
            up);
    List<byte[]> bad = new ArrayList<>();
    bad.add("GET / HTTP/1.1\r\n\r\n".getBytes(US_ASCII)); // missing
    bad.add("PROXY TCP4 10.1.2.300 10.0.0.1 1 2\r\n".getBytes(US_ASCII)); // garbled
    bad.add("PROXY TCP4 10.1.2.3 10.0.0.1 01 2\r\n".getBytes(US_ASCII)); // leading zero
    bad.add(
        v2(
            1,
            new byte[] {10, 9, 8, 7},
            new byte[] {10, 100, 100, 2},
            1,
            2)); // v2 where v1 is required
    bad.add(("PROXY TCP4 " + "1".repeat(120) + "\r\n").getBytes(US_ASCII)); // over 107 bytes
    for (byte[] b : bad) {
      try (Socket s = connect(entry(v1Only))) {
        s.getOutputStream().write(b);
        assertClosed(s);
      }
    }
    await("counted", () -> v1Only.stats().rejected(RejectReason.PROXY_HEADER) == bad.size());
    assertThat(up.accepted.get()).isZero();

    // a balancer outside the trusted list: closed at once, the header is never read
    TcpSplicer untrusted =
        splicer(
            ProxyProtocol.ANY,
            "192.0.2.0/24",
            new AddressPolicy(CidrSet.any(), CidrSet.any()),
            0,
            up);
    try (Socket s = connect(entry(untrusted))) {
      s.getOutputStream().write("PROXY TCP4 10.1.2.3 10.0.0.1 1 2\r\n".getBytes(US_ASCII));
      assertClosed(s);
    }
    await("counted", () -> untrusted.stats().rejected(RejectReason.PROXY_HEADER) == 1);
    assertThat(up.accepted.get()).isZero();
    assertQuiet(v1Only);
    assertQuiet(untrusted);
  }

  @Test
  void allowListAndPerClientLimitApplyToTheHeadersClient() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp =
        splicer(
            ProxyProtocol.V1,
            "127.0.0.0/8",
            new AddressPolicy(CidrSet.parse("10.1.0.0/16"), CidrSet.any()),
            1,
            up);
    // outside the allow-list (the balancer itself, 127.0.0.1, would not be allowed either, but it
    // is not the client)
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write("PROXY TCP4 10.2.0.1 10.0.0.1 1000 443\r\n".getBytes(US_ASCII));
      assertClosed(s);
    }
    await("denied", () -> sp.stats().rejected(RejectReason.CLIENT_DENIED) == 1);
    // one live connection from 10.1.0.1; a second from the same header client is over the limit
    Socket first = connect(entry(sp));
    first.getOutputStream().write("PROXY TCP4 10.1.0.1 10.0.0.1 1000 443\r\nx".getBytes(US_ASCII));
    assertThat(readN(first.getInputStream(), 1)).isEqualTo("x".getBytes(US_ASCII));
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write("PROXY TCP4 10.1.0.1 10.0.0.1 1001 443\r\n".getBytes(US_ASCII));
      assertClosed(s);
    }
    await("limited", () -> sp.stats().rejected(RejectReason.MAX_PER_CLIENT) == 1);
    routed.clear();
    // another header client through the same balancer is not limited by the first
    InboundConnection other =
        echoThrough(sp, "PROXY TCP4 10.1.0.2 10.0.0.1 1000 443\r\n".getBytes(US_ASCII));
    assertThat(other.client().getAddress()).isEqualTo(InetAddress.getByName("10.1.0.2"));
    first.close();
    assertQuiet(sp);
  }

  @Test
  void aggregatePrefaceMemoryStaysWithinTheBudget() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    long budget = 64 * 1024;
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(
                    c -> CompletableFuture.completedFuture(Route.to("up", List.of(up.address()))))
                .loops(1)
                .prefaceBudget(budget));
    // 100 clients each send the first 1,000 bytes of a 2 KB hello and stall: 100 x 1 KiB arrays
    // would be 100 KiB
    byte[] hello =
        ClientHellos.frame(
            ClientHellos.pad(
                ClientHellos.handshake(ClientHellos.jdk("courier.push.apple.com", List.of())),
                1600),
            16384);
    List<Socket> clients = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      Socket s = connect(entry(sp));
      s.getOutputStream().write(hello, 0, 1000);
      clients.add(s);
    }
    await(
        "every client read or refused",
        () ->
            sp.stats().rejected(RejectReason.PREFACE_BUDGET) + sp.stats().active() == 100
                && sp.prefaceBytes() + 1024 * sp.stats().rejected(RejectReason.PREFACE_BUDGET)
                    >= 100L * 1000 - 1024 * 100);
    assertThat(sp.prefaceBytes()).isLessThanOrEqualTo(budget);
    assertThat(sp.stats().rejected(RejectReason.PREFACE_BUDGET)).isPositive();
    for (Socket s : clients) {
      s.close();
    }
    assertQuiet(sp);
    assertThat(sp.prefaceBytes()).isZero();
  }
}
