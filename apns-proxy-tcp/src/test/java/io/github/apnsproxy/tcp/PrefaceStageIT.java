// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.CidrSet;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The preface stage through a real splicer: TLS door, an explicit-proxy-like door, PROXY protocol,
 * limits.
 */
class PrefaceStageIT extends SplicerTestSupport {
  private static final List<String> ALPN = List.of("apns-security-v3");

  /** An upstream that records every byte it gets (until EOF) and echoes them. */
  static final class Recorder implements AutoCloseable {
    final BlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    final TestServer server;

    Recorder() throws java.io.IOException {
      server =
          new TestServer(
              TestServer.at("127.0.1.1", 0),
              s -> {
                ByteArrayOutputStream all = new ByteArrayOutputStream();
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                byte[] buf = new byte[4096];
                int n;
                while ((n = in.read(buf)) >= 0) {
                  all.write(buf, 0, n);
                  out.write(buf, 0, n);
                }
                received.add(all.toByteArray());
              });
    }

    byte[] next() throws InterruptedException {
      byte[] b = received.poll(30, TimeUnit.SECONDS);
      assertThat(b).as("upstream got a connection").isNotNull();
      return b;
    }

    @Override
    public void close() throws java.io.IOException {
      server.close();
    }
  }

  private final BlockingQueue<InboundConnection> routed = new LinkedBlockingQueue<>();

  private Router recording(InetSocketAddress upstream) {
    return c -> {
      routed.add(c);
      return CompletableFuture.completedFuture(Route.to("up", List.of(upstream)));
    };
  }

  private InboundConnection nextRouted() throws InterruptedException {
    InboundConnection c = routed.poll(30, TimeUnit.SECONDS);
    assertThat(c).as("routed").isNotNull();
    return c;
  }

  @Test
  void tlsHelloOneBytePerWriteIsForwardedExactlyAndRoutedByName() throws Exception {
    Recorder up = track(new Recorder());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(recording(up.server.address()))
                .loops(2));
    byte[] hello = ClientHellos.jdk("courier.push.apple.com", ALPN);
    try (Socket s = connect(entry(sp))) {
      s.setTcpNoDelay(true);
      OutputStream out = s.getOutputStream();
      for (byte b : hello) {
        out.write(b);
        out.flush();
      }
      out.write("after".getBytes(US_ASCII));
      assertThat(readN(s.getInputStream(), hello.length + 5)).startsWith(hello);
      s.shutdownOutput();
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
    byte[] got = up.next();
    ByteArrayOutputStream want = new ByteArrayOutputStream();
    want.write(hello);
    want.write("after".getBytes(US_ASCII));
    assertThat(got).isEqualTo(want.toByteArray());
    InboundConnection c = nextRouted();
    assertThat(c.preface().serverName()).isEqualTo("courier.push.apple.com");
    assertThat(c.preface().alpn()).isEqualTo(ALPN);
    assertThat(c.preface().frontDoor()).isEqualTo("tls");
    assertQuiet(sp);
    assertThat(sp.prefaceBytes()).isZero();
  }

  /**
   * After its hello the client keeps its read interest while routing and connecting (dropped only
   * when it speaks again): bytes it sends before the upstream is up wait in its socket and follow
   * the hello, in order; its close meanwhile ends the connection.
   */
  @Test
  void bytesSentWhileTheRouteIsPendingFollowTheHello() throws Exception {
    Recorder up = track(new Recorder());
    CompletableFuture<Route> pending = new CompletableFuture<>();
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(
                    c -> {
                      routed.add(c);
                      return pending;
                    })
                .loops(1));
    byte[] hello = ClientHellos.jdk("courier.push.apple.com", ALPN);
    byte[] more = new byte[20_000];
    new Random(7).nextBytes(more);
    try (Socket s = connect(entry(sp))) {
      s.setTcpNoDelay(true);
      s.getOutputStream().write(hello);
      s.getOutputStream().flush();
      nextRouted(); // the hello was read and the route asked for
      s.getOutputStream().write(more); // while the route is pending
      s.getOutputStream().flush();
      // the loop keeps serving others meanwhile (it does not spin on the waiting client)
      try (Socket other = connect(entry(sp))) {
        other.getOutputStream().write(hello);
        nextRouted();
      }
      pending.complete(Route.to("up", List.of(up.server.address())));
      assertThat(readN(s.getInputStream(), hello.length + more.length))
          .startsWith(hello)
          .endsWith(more);
      s.shutdownOutput();
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
    ByteArrayOutputStream want = new ByteArrayOutputStream();
    want.write(hello);
    want.write(more);
    // the other connection's hello (it closed before the route came) may or may not have arrived
    byte[] first = up.next();
    byte[] got = first.length == want.size() ? first : up.next();
    assertThat(got).isEqualTo(want.toByteArray());
    assertQuiet(sp);
  }

  @Test
  void reframedAndChunkedHelloReachesUpstreamUnchanged() throws Exception {
    Recorder up = track(new Recorder());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(recording(up.server.address()))
                .loops(1));
    Random random = new Random(42);
    byte[] m =
        ClientHellos.pad(
            ClientHellos.handshake(ClientHellos.jdk("courier2.push.apple.com", ALPN)), 1400);
    byte[] hello = ClientHellos.frameRandomly(m, 200, random);
    try (Socket s = connect(entry(sp))) {
      s.setTcpNoDelay(true);
      for (byte[] chunk : ClientHellos.chunks(hello, 50, random)) {
        s.getOutputStream().write(chunk);
        s.getOutputStream().flush();
      }
      assertThat(readN(s.getInputStream(), hello.length)).isEqualTo(hello);
    }
    assertThat(up.next()).isEqualTo(hello);
    assertThat(nextRouted().preface().serverName()).isEqualTo("courier2.push.apple.com");
    assertQuiet(sp);
  }

  @Test
  void nonTlsBytesAreRefusedAndCounted() throws Exception {
    Recorder up = track(new Recorder());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(recording(up.server.address()))
                .loops(1));
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(US_ASCII));
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
    await("refusal counted", () -> sp.stats().rejected(RejectReason.PREFACE_REFUSED) == 1);
    assertThat(sp.stats().closed(CloseReason.PREFACE_REFUSED)).isEqualTo(1);
    assertThat(up.server.accepted.get()).isZero();
    assertQuiet(sp);
  }

  @Test
  void silentClientTimesOut() throws Exception {
    Recorder up = track(new Recorder());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(recording(up.server.address()))
                .loops(1)
                .prefaceTimeout(Duration.ofMillis(200)));
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write(22); // one byte of a record, then nothing
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
    await("timeout counted", () -> sp.stats().rejected(RejectReason.PREFACE_TIMEOUT) == 1);
    assertThat(sp.stats().closed(CloseReason.PREFACE_TIMEOUT)).isEqualTo(1);
    assertQuiet(sp);
  }

  /**
   * A line-based door shaped like an explicit proxy: {@code HI\n} is answered {@code OK\n} (and
   * reading goes on), {@code GO\n} routes (the head is not forwarded), and the upstream outcome is
   * answered {@code 200\n} or {@code 5xx kind\n}.
   */
  static final class LineDoor implements FrontDoor {
    @Override
    public String name() {
      return "line";
    }

    @Override
    public PrefaceParser open(InboundConnection connection) {
      return b -> {
        int nl = -1;
        for (int i = 0; i < b.limit(); i++) {
          if (b.get(i) == '\n') {
            nl = i;
            break;
          }
        }
        if (nl < 0) {
          return PrefaceDecision.needMore();
        }
        byte[] line = new byte[nl];
        b.get(0, line);
        String cmd = new String(line, US_ASCII);
        if (cmd.equals("HI")) {
          return PrefaceDecision.reply(ByteBuffer.wrap("OK\n".getBytes(US_ASCII)), nl + 1);
        }
        if (cmd.equals("GO")) {
          return PrefaceDecision.route(
              Preface.target("line", InetSocketAddress.createUnresolved("x", 1)),
              nl + 1,
              new UpstreamReplies() {
                @Override
                public ByteBuffer connected(InetSocketAddress upstream, InetSocketAddress local) {
                  return ByteBuffer.wrap("200\n".getBytes(US_ASCII));
                }

                @Override
                public ByteBuffer failed(UpstreamFailure failure) {
                  return ByteBuffer.wrap(("5xx " + failure.kind() + "\n").getBytes(US_ASCII));
                }
              });
        }
        if (cmd.equals("PAC")) {
          return PrefaceDecision.answer("pac", ByteBuffer.wrap("pac\n".getBytes(US_ASCII)));
        }
        return PrefaceDecision.refuse("bad command", ByteBuffer.wrap("400\n".getBytes(US_ASCII)));
      };
    }
  }

  @Test
  void replyContinueThenRouteForwardsOnlyBytesAfterTheHeadAfterTheConnectedReply()
      throws Exception {
    Recorder up = track(new Recorder());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), new LineDoor())
                .router(recording(up.server.address()))
                .loops(1));
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write("HI\nGO\nearly".getBytes(US_ASCII)); // pipelined: one write
      assertThat(new String(readN(s.getInputStream(), 12), US_ASCII)).isEqualTo("OK\n200\nearly");
      s.getOutputStream().write("late".getBytes(US_ASCII));
      assertThat(new String(readN(s.getInputStream(), 4), US_ASCII)).isEqualTo("late");
    }
    assertThat(new String(up.next(), US_ASCII)).isEqualTo("earlylate");
    assertThat(nextRouted().preface().target()).isNotNull();
    assertQuiet(sp);
  }

  @Test
  void failedUpstreamIsAnsweredBeforeTheClose() throws Exception {
    Router rejecting =
        c -> CompletableFuture.completedFuture(Route.reject(RejectReason.REFUSED_TARGET, "no"));
    Router unreachable;
    try (java.net.ServerSocket closed =
        new java.net.ServerSocket(0, 1, TestServer.at("127.0.1.1", 0).getAddress())) {
      InetSocketAddress dead = (InetSocketAddress) closed.getLocalSocketAddress();
      unreachable = fixed(dead);
    }
    for (Router r : List.of(rejecting, unreachable)) {
      TcpSplicer sp =
          start(
              TcpSplicer.builder()
                  .listen(List.of(TestServer.at("127.100.100.1", 0)), new LineDoor())
                  .router(r)
                  .loops(1));
      try (Socket s = connect(entry(sp))) {
        s.getOutputStream().write("GO\n".getBytes(US_ASCII));
        String reply = new String(s.getInputStream().readAllBytes(), US_ASCII);
        assertThat(reply).isEqualTo(r == rejecting ? "5xx NOT_ALLOWED\n" : "5xx REFUSED\n");
      }
      assertQuiet(sp);
    }
  }

  @Test
  void refusalAndAnswerRepliesArriveBeforeTheClose() throws Exception {
    Recorder up = track(new Recorder());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), new LineDoor())
                .router(recording(up.server.address()))
                .loops(1));
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write("NOPE\nmore bytes the proxy never reads".getBytes(US_ASCII));
      assertThat(new String(s.getInputStream().readAllBytes(), US_ASCII)).isEqualTo("400\n");
    }
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream().write("PAC\n".getBytes(US_ASCII));
      assertThat(new String(s.getInputStream().readAllBytes(), US_ASCII)).isEqualTo("pac\n");
    }
    await("closed", () -> sp.stats().closed(CloseReason.ANSWERED) == 1);
    assertThat(sp.stats().rejected(RejectReason.PREFACE_REFUSED)).isEqualTo(1);
    assertThat(up.server.accepted.get()).isZero();
    assertQuiet(sp);
  }

  @Test
  void proxyProtocolV1ThenTlsDoor() throws Exception {
    Recorder up = track(new Recorder());
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(recording(up.server.address()))
                .loops(1)
                .proxyProtocol(ProxyProtocol.V1, CidrSet.parse("127.0.0.0/8")));
    byte[] hello = ClientHellos.jdk("api.push.apple.com", ALPN);
    try (Socket s = connect(entry(sp))) {
      s.getOutputStream()
          .write("PROXY TCP4 10.1.2.3 10.100.100.9 40000 443\r\n".getBytes(US_ASCII));
      s.getOutputStream().write(hello);
      assertThat(readN(s.getInputStream(), hello.length)).isEqualTo(hello);
    }
    assertThat(up.next()).isEqualTo(hello);
    InboundConnection c = nextRouted();
    assertThat(c.client()).isEqualTo(TestServer.at("10.1.2.3", 40000));
    assertThat(c.local()).isEqualTo(TestServer.at("10.100.100.9", 443));
    assertThat(c.balancer()).isNotNull();
    assertThat(c.preface().serverName()).isEqualTo("api.push.apple.com");
    assertQuiet(sp);
  }
}
