// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.atLeastOnce;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.timeout;
import static org.mockito.Mockito.verify;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * Half-close, resets, failover, timeouts, limits, shutdown and listener containment over real
 * loopback sockets.
 */
class SpliceBehaviourIT extends SplicerTestSupport {

  /** Records close reasons by client address. */
  static final class Recorder implements SpliceListener {
    final BlockingQueue<SpliceSummary> closed = new ArrayBlockingQueue<>(1000);
    final Map<InetSocketAddress, InetSocketAddress> connected = new ConcurrentHashMap<>();
    final CountDownLatch accepted = new CountDownLatch(1);

    @Override
    public void accepted(InboundConnection connection) {
      accepted.countDown();
    }

    @Override
    public void connected(InboundConnection connection, InetSocketAddress upstream) {
      connected.put(connection.client(), upstream);
    }

    @Override
    public void closed(InboundConnection connection, SpliceSummary summary) {
      closed.add(summary);
    }

    SpliceSummary next() throws InterruptedException {
      SpliceSummary s = closed.poll(30, TimeUnit.SECONDS);
      assertThat(s).as("a closed event").isNotNull();
      return s;
    }
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * Opens {@code n} splices to an echo upstream, each checked with one round trip of {@code text};
   * left open.
   */
  private List<Socket> openEchoing(TcpSplicer sp, int n, String text) throws IOException {
    List<Socket> clients = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Socket c = connect(entry(sp));
      c.getOutputStream().write(ascii(text));
      assertThat(readN(c.getInputStream(), text.length())).isEqualTo(ascii(text));
      clients.add(c);
    }
    return clients;
  }

  @Test
  void clientHalfCloseStillReceivesReply() throws Exception {
    TestServer up =
        track(
            new TestServer(
                TestServer.at("127.0.1.1", 0),
                s -> {
                  byte[] got =
                      s.getInputStream()
                          .readAllBytes(); // until the client's EOF arrives through the proxy
                  s.getOutputStream()
                      .write(ascii("reply to " + new String(got, StandardCharsets.US_ASCII)));
                }));
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(fixed(up.address())).listener(rec));
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii("question"));
    c.shutdownOutput();
    assertThat(new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
        .isEqualTo("reply to question");
    SpliceSummary sum = rec.next();
    assertThat(sum.reason()).isEqualTo(CloseReason.COMPLETED);
    assertThat(sum.bytesClientToUpstream()).isEqualTo(8);
    assertThat(sum.bytesUpstreamToClient()).isEqualTo(17);
    assertThat(sum.upstream()).isEqualTo(up.address());
    assertQuiet(sp);
  }

  @Test
  void upstreamHalfCloseStillReceivesClientBytes() throws Exception {
    BlockingQueue<String> upstreamGot = new ArrayBlockingQueue<>(1);
    TestServer up =
        track(
            new TestServer(
                TestServer.at("127.0.1.1", 0),
                s -> {
                  InputStream in = s.getInputStream();
                  byte[] first = in.readNBytes(5);
                  s.getOutputStream().write(ascii("bye"));
                  s.shutdownOutput();
                  upstreamGot.add(
                      new String(first, StandardCharsets.US_ASCII)
                          + new String(in.readAllBytes(), StandardCharsets.US_ASCII));
                }));
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(fixed(up.address())).listener(rec));
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii("hello"));
    assertThat(c.getInputStream().readAllBytes())
        .isEqualTo(ascii("bye")); // EOF from upstream propagated
    c.getOutputStream().write(ascii(" after"));
    c.shutdownOutput();
    assertThat(upstreamGot.poll(30, TimeUnit.SECONDS)).isEqualTo("hello after");
    assertThat(rec.next().reason()).isEqualTo(CloseReason.COMPLETED);
    assertQuiet(sp);
  }

  @Test
  void upstreamResetIsPropagatedAsReset() throws Exception {
    TestServer up =
        track(
            new TestServer(
                TestServer.at("127.0.1.1", 0),
                s -> {
                  s.getInputStream().readNBytes(4);
                  s.setSoLinger(true, 0);
                  s.close();
                }));
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(fixed(up.address())).listener(rec));
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii("ping"));
    assertThatThrownBy(() -> c.getInputStream().read())
        .isInstanceOf(SocketException.class)
        .hasMessageContaining("reset");
    assertThat(rec.next().reason()).isEqualTo(CloseReason.UPSTREAM_RESET);
    assertQuiet(sp);
  }

  @Test
  void clientResetIsPropagatedAsReset() throws Exception {
    BlockingQueue<Throwable> upstreamSaw = new ArrayBlockingQueue<>(1);
    CountDownLatch gotPing = new CountDownLatch(1);
    TestServer up =
        track(
            new TestServer(
                TestServer.at("127.0.1.1", 0),
                s -> {
                  s.getInputStream().readNBytes(4);
                  gotPing.countDown();
                  try {
                    s.getInputStream().read();
                    upstreamSaw.add(new AssertionError("no reset"));
                  } catch (IOException e) {
                    upstreamSaw.add(e);
                  }
                }));
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(fixed(up.address())).listener(rec));
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii("ping"));
    assertThat(gotPing.await(30, TimeUnit.SECONDS)).isTrue();
    c.setSoLinger(true, 0);
    c.close();
    assertThat(upstreamSaw.poll(30, TimeUnit.SECONDS))
        .isInstanceOf(SocketException.class)
        .hasMessageContaining("reset");
    assertThat(rec.next().reason()).isEqualTo(CloseReason.CLIENT_RESET);
    assertQuiet(sp);
  }

  @Test
  void refusedCandidateIsSkipped() throws Exception {
    InetSocketAddress refused;
    try (ServerSocket s = new ServerSocket(0, 1, TestServer.at("127.0.1.2", 0).getAddress())) {
      refused =
          (InetSocketAddress) s.getLocalSocketAddress(); // closed again: connections are refused
    }
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(fixed(refused, up.address())).listener(rec));
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii("echo"));
    assertThat(readN(c.getInputStream(), 4)).isEqualTo(ascii("echo"));
    assertThat(rec.connected.get((InetSocketAddress) c.getLocalSocketAddress()))
        .isEqualTo(up.address());
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);
    c.close();
    assertQuiet(sp);
  }

  @Test
  void allCandidatesRefusedClosesClient() throws Exception {
    List<InetSocketAddress> refused = new ArrayList<>();
    for (int i = 2; i <= 3; i++) {
      try (ServerSocket s = new ServerSocket(0, 1, TestServer.at("127.0.1." + i, 0).getAddress())) {
        refused.add((InetSocketAddress) s.getLocalSocketAddress());
      }
    }
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(fixed(refused.toArray(new InetSocketAddress[0]))).listener(rec));
    Socket c = connect(entry(sp));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    SpliceSummary sum = rec.next();
    assertThat(sum.reason()).isEqualTo(CloseReason.CONNECT_FAILED);
    assertThat(sum.upstream()).isNull();
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(2);
    assertThat(sp.stats().closed(CloseReason.CONNECT_FAILED)).isEqualTo(1);
    assertQuiet(sp);
  }

  @Test
  void connectTimeoutFailsOverToNextCandidate() throws Exception {
    // A listener with backlog 1 that never accepts: once its queue is full, Linux drops further
    // SYNs.
    ServerSocketChannel black = track(ServerSocketChannel.open());
    black.bind(TestServer.at("127.0.1.4", 0), 1);
    InetSocketAddress hanging = (InetSocketAddress) black.getLocalAddress();
    List<SocketChannel> fillers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      SocketChannel f = track(SocketChannel.open());
      f.configureBlocking(false);
      f.connect(hanging);
      fillers.add(f);
    }
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    Recorder rec = new Recorder();
    TcpSplicer sp =
        start(
            builder(fixed(hanging, up.address()))
                .connectTimeout(Duration.ofMillis(300))
                .listener(rec));
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii("late"));
    assertThat(readN(c.getInputStream(), 4)).isEqualTo(ascii("late"));
    assertThat(rec.connected.get((InetSocketAddress) c.getLocalSocketAddress()))
        .isEqualTo(up.address());
    assertThat(sp.stats().upstreamConnectFailures()).isEqualTo(1);
    c.close();
    assertQuiet(sp);
    // What makes the first failure a timeout and not a refusal: the full queue drops SYNs without
    // an answer, so a
    // filler is still connecting now (a refused connect would make finishConnect throw, an accepted
    // one return true)
    long pending = 0;
    for (SocketChannel f : fillers) {
      if (!f.finishConnect()) {
        pending++;
      }
    }
    assertThat(pending).as("fillers whose SYN went unanswered").isPositive();
  }

  @Test
  void clientGoneBeforeUpstreamConnected() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    CompletableFuture<Route> pending = new CompletableFuture<>();
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(c -> pending).listener(rec));
    Socket c = connect(entry(sp));
    assertThat(rec.accepted.await(30, TimeUnit.SECONDS)).isTrue();
    c.close();
    pending.complete(
        Route.to("late", List.of(up.address()))); // completes on this (non-loop) thread
    SpliceSummary sum = rec.next();
    assertThat(sum.reason()).isEqualTo(CloseReason.CLIENT_GONE);
    assertThat(sum.bytesClientToUpstream()).isZero();
    assertQuiet(sp);
  }

  @Test
  void routeRejectionAndRouteTimeoutCloseTheClient() throws Exception {
    Recorder rec = new Recorder();
    TcpSplicer sp =
        start(
            builder(
                    c ->
                        CompletableFuture.completedFuture(
                            Route.reject(RejectReason.REFUSED_TARGET)))
                .listener(rec));
    assertThat(connect(entry(sp)).getInputStream().read()).isEqualTo(-1);
    assertThat(rec.next().reason()).isEqualTo(CloseReason.TARGET_REFUSED);
    assertThat(sp.stats().rejected(RejectReason.REFUSED_TARGET)).isEqualTo(1);

    Recorder rec2 = new Recorder();
    TcpSplicer never =
        start(
            builder(c -> new CompletableFuture<>())
                .routeTimeout(Duration.ofMillis(200))
                .listener(rec2));
    assertThat(connect(entry(never)).getInputStream().read()).isEqualTo(-1);
    assertThat(rec2.next().reason()).isEqualTo(CloseReason.ROUTE_TIMEOUT);
    assertThat(never.stats().rejected(RejectReason.ROUTE_TIMEOUT)).isEqualTo(1);
    assertQuiet(sp);
    assertQuiet(never);
  }

  @Test
  void idleTimeoutClosesQuietSplice() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    Recorder rec = new Recorder();
    TcpSplicer sp =
        start(builder(fixed(up.address())).idleTimeout(Duration.ofMillis(300)).listener(rec));
    Socket c = connect(entry(sp));
    c.getOutputStream().write(ascii("x"));
    assertThat(readN(c.getInputStream(), 1)).isEqualTo(ascii("x"));
    assertThat(sp.stats().outstandingBuffers()).isZero(); // an idle splice holds no buffer
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    assertThat(rec.next().reason()).isEqualTo(CloseReason.IDLE_TIMEOUT);
    assertQuiet(sp);
  }

  /**
   * Both legs of every splice carry the configured keepalive idle time, whether the accepted socket
   * got it from the listener or per connection: Linux shows a socket's keepalive timer (timer kind
   * 2, time left in 1/100 s) in {@code /proc/net/tcp}. Three splices over two loops, so one loop
   * also serves a second accepted socket.
   */
  @Test
  void keepAliveTimesOnBothLegs() throws Exception {
    assumeTrue(Files.isReadable(Path.of("/proc/net/tcp")), "needs Linux's /proc/net/tcp");
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer.Builder b =
        builder(fixed(up.address())).keepAlive(Duration.ofSeconds(4321), Duration.ofSeconds(77));
    // a refused call leaves the builder as it was (it once stored the values before checking them)
    assertThatThrownBy(() -> b.keepAlive(Duration.ofMillis(1_000_500), Duration.ofSeconds(77)))
        .isInstanceOf(IllegalArgumentException.class);
    TcpSplicer sp = start(b);
    List<Socket> clients = openEchoing(sp, 3, "k");
    // a leg whose last segment is not acknowledged yet shows its retransmit timer (kind 1): read
    // again a moment later
    Map<String, long[]> legs = Map.of();
    for (int i = 0; i < 200; i++) {
      Map<String, long[]> timers = tcpTimers();
      legs = new HashMap<>();
      for (Socket c : clients) {
        SocketAddress client = c.getLocalSocketAddress();
        legs.put("accepted leg of " + client, timers.get(entry(sp) + " " + client));
      }
      for (Map.Entry<String, long[]> e : timers.entrySet()) {
        if (e.getKey().endsWith(" " + up.address())) {
          legs.put("upstream leg " + e.getKey(), e.getValue());
        }
      }
      if (legs.size() == 6 && legs.values().stream().allMatch(t -> t != null && t[0] == 2)) {
        break;
      }
      LockSupport.parkNanos(10_000_000L); // at most 2 s in all
    }
    assertThat(legs).as("three accepted and three upstream legs").hasSize(6);
    legs.forEach(
        (leg, t) -> {
          assertThat(t).as(leg).isNotNull();
          assertThat(t[0]).as("timer kind of the %s (2 = keepalive)", leg).isEqualTo(2);
          assertThat(t[1])
              .as("keepalive ticks left on the %s", leg)
              .isBetween(4200 * 100L, 4321 * 100L);
        });
  }

  /**
   * Every TCP socket's timer from {@code /proc/net/tcp} and {@code tcp6}: "local remote" -> {kind,
   * ticks left}.
   */
  private static Map<String, long[]> tcpTimers() throws IOException {
    List<String> lines = new ArrayList<>(Files.readAllLines(Path.of("/proc/net/tcp")));
    if (Files.isReadable(Path.of("/proc/net/tcp6"))) {
      lines.addAll(Files.readAllLines(Path.of("/proc/net/tcp6")));
    }
    Map<String, long[]> timers = new HashMap<>();
    for (String line : lines) {
      String[] f = line.trim().split("\\s+", -1);
      if (f.length > 5 && f[0].endsWith(":")) {
        String[] timer = f[5].split(":", -1);
        timers.put(
            socketAddress(f[1]) + " " + socketAddress(f[2]),
            new long[] {Long.parseLong(timer[0], 16), Long.parseLong(timer[1], 16)});
      }
    }
    return timers;
  }

  /**
   * A {@code /proc/net/tcp} or {@code tcp6} address ({@code 0100007F:1467} on a little-endian
   * machine): the address as 32-bit words, each in host byte order; a v4-mapped IPv6 address comes
   * back as IPv4.
   */
  private static InetSocketAddress socketAddress(String hex) throws IOException {
    String[] p = hex.split(":", -1);
    byte[] b = new byte[p[0].length() / 2];
    for (int w = 0; w < b.length / 4; w++) {
      int a = Integer.parseUnsignedInt(p[0].substring(w * 8, w * 8 + 8), 16);
      for (int i = 0; i < 4; i++) {
        int shift = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 8 * i : 24 - 8 * i;
        b[w * 4 + i] = (byte) (a >>> shift);
      }
    }
    return new InetSocketAddress(InetAddress.getByAddress(b), Integer.parseInt(p[1], 16));
  }

  @Test
  void limitReachedThenFreed() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp = start(builder(fixed(up.address())).maxConnections(2));
    Socket a = connect(entry(sp));
    Socket b = connect(entry(sp));
    for (Socket s : List.of(a, b)) {
      s.getOutputStream().write(ascii("ok"));
      assertThat(readN(s.getInputStream(), 2)).isEqualTo(ascii("ok"));
    }
    Socket third = connect(entry(sp));
    assertThat(third.getInputStream().read()).isEqualTo(-1);
    assertThat(sp.stats().rejected(RejectReason.MAX_CONNECTIONS)).isEqualTo(1);
    assertThat(sp.stats().closed(CloseReason.LIMIT)).isEqualTo(1);
    a.close();
    await("one live splice", () -> sp.stats().active() == 1);
    Socket fourth = connect(entry(sp));
    fourth.getOutputStream().write(ascii("again"));
    assertThat(readN(fourth.getInputStream(), 5)).isEqualTo(ascii("again"));
    b.close();
    fourth.close();
    assertQuiet(sp);
  }

  @Test
  void perClientLimitAndClientPolicy() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp = start(builder(fixed(up.address())).maxConnectionsPerClient(1));
    Socket a = connect(entry(sp));
    a.getOutputStream().write(ascii("1"));
    assertThat(readN(a.getInputStream(), 1)).isEqualTo(ascii("1"));
    assertThat(connect(entry(sp)).getInputStream().read()).isEqualTo(-1);
    assertThat(sp.stats().rejected(RejectReason.MAX_PER_CLIENT)).isEqualTo(1);
    a.close();
    assertQuiet(sp);

    TcpSplicer denied =
        start(
            builder(fixed(up.address()))
                .policy(
                    new io.github.apnsproxy.core.AddressPolicy(
                        io.github.apnsproxy.core.CidrSet.parse("10.0.0.0/8"),
                        io.github.apnsproxy.core.CidrSet.any())));
    assertThat(connect(entry(denied)).getInputStream().read()).isEqualTo(-1);
    await("denied counted", () -> denied.stats().rejected(RejectReason.CLIENT_DENIED) == 1);
    assertQuiet(denied);
  }

  @Test
  void closeWithLiveSplices() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    Recorder rec = new Recorder();
    TcpSplicer sp = start(builder(fixed(up.address())).listener(rec));
    List<Socket> clients = openEchoing(sp, 5, "live");
    long t0 = System.nanoTime();
    sp.close(Duration.ofMillis(200)); // drain: none finishes, so all are closed at the deadline
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(10));
    for (Socket c : clients) {
      assertThat(c.getInputStream().read()).isEqualTo(-1);
    }
    for (int i = 0; i < 5; i++) {
      assertThat(rec.next().reason()).isEqualTo(CloseReason.SHUTDOWN);
    }
    assertThat(sp.stats().active()).isZero();
    assertThatThrownBy(() -> connect(entry(sp))).isInstanceOf(IOException.class);
  }

  /** A listener whose every method throws {@code boom}. */
  private static SpliceListener throwingListener(Throwable boom) {
    SpliceListener bad = mock(SpliceListener.class);
    doThrow(boom).when(bad).accepted(any());
    doThrow(boom).when(bad).routed(any(), any());
    doThrow(boom).when(bad).connected(any(), any());
    doThrow(boom).when(bad).closed(any(), any());
    return bad;
  }

  @Test
  void throwingListenerIsContained() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    SpliceListener bad = throwingListener(new IllegalStateException("listener bug"));
    TcpSplicer sp = start(builder(fixed(up.address())).listener(bad));
    for (int i = 0; i < 2; i++) {
      try (Socket c = connect(entry(sp))) {
        c.getOutputStream().write(ascii("fine"));
        assertThat(readN(c.getInputStream(), 4)).isEqualTo(ascii("fine"));
      }
    }
    verify(bad, timeout(30_000).times(2)).closed(any(), any());
    verify(bad, atLeastOnce()).connected(any(), any());
    assertQuiet(sp);
    assertThat(sp.stats().closed(CloseReason.COMPLETED)).isEqualTo(2);
  }

  @Test
  void errorsThrownByTheListenerAndTheRouterAreContainedToo() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    SpliceListener bad =
        throwingListener(
            new AssertionError("listener bug that is an Error (expected by the test)"));
    Router good = fixed(up.address());
    AtomicInteger calls = new AtomicInteger();
    Router router =
        c -> {
          if (calls.incrementAndGet() <= 2) {
            throw new StackOverflowError("router bug (expected by the test)"); // one per loop
          }
          return good.route(c);
        };
    TcpSplicer sp = start(builder(router).listener(bad)); // two loops
    for (int i = 0; i < 2; i++) {
      try (Socket c = connect(entry(sp))) {
        assertThat(c.getInputStream().read()).as("closed: the router failed").isEqualTo(-1);
      }
    }
    for (int i = 0; i < 4; i++) { // both loops still splice
      try (Socket c = connect(entry(sp))) {
        c.getOutputStream().write(ascii("fine"));
        assertThat(readN(c.getInputStream(), 4)).isEqualTo(ascii("fine"));
      }
    }
    assertThat(sp.stats().rejected(RejectReason.ROUTER_ERROR)).isEqualTo(2);
    verify(bad, timeout(30_000).times(6)).closed(any(), any());
    assertQuiet(sp);
  }

  @Test
  void aLoopThatDiesGetsNoMoreConnections() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    Router good = fixed(up.address());
    AtomicInteger calls = new AtomicInteger();
    Router router =
        c -> {
          if (calls.incrementAndGet() == 2) {
            // the second connection goes to the second loop; a JVM error is not contained: that
            // loop stops
            throw new OutOfMemoryError("simulated by the test: not real");
          }
          return good.route(c);
        };
    TcpSplicer sp = start(builder(router)); // two loops
    assertThat(sp.isServing()).isTrue();
    try (Socket first = connect(entry(sp));
        Socket second = connect(entry(sp))) {
      first.getOutputStream().write(ascii("1"));
      assertThat(readN(first.getInputStream(), 1)).isEqualTo(ascii("1"));
      assertThat(second.getInputStream().read()).as("closed with its dying loop").isEqualTo(-1);
      await("the splicer reports itself degraded", () -> !sp.isServing());
      for (int i = 0;
          i < 4;
          i++) { // without the check every second one would wait on the dead loop forever
        try (Socket c = connect(entry(sp))) {
          c.getOutputStream().write(ascii("ok"));
          assertThat(readN(c.getInputStream(), 2))
              .as("connection %d after the loop died", i)
              .isEqualTo(ascii("ok"));
        }
      }
    }
  }

  @Test
  void closeCalledOnALoopThreadIsRefusedAndALaterCloseStillCloses() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    AtomicReference<TcpSplicer> self = new AtomicReference<>();
    AtomicReference<Throwable> refused = new AtomicReference<>();
    SpliceListener closer =
        new SpliceListener() {
          @Override
          public void accepted(InboundConnection connection) {
            try {
              self.get().close();
            } catch (IllegalStateException e) {
              refused.set(e);
            }
          }
        };
    TcpSplicer sp = start(builder(fixed(up.address())).listener(closer));
    self.set(sp);
    try (Socket c = connect(entry(sp))) {
      c.getOutputStream().write(ascii("x"));
      assertThat(readN(c.getInputStream(), 1)).isEqualTo(ascii("x"));
    }
    assertThat(refused.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("loop thread");
    InetSocketAddress entry = entry(sp);
    assertThat(sp.isServing()).isTrue();
    sp.close(Duration.ofSeconds(1));
    assertThat(sp.isServing()).isFalse();
    assertThat(sp.registeredKeys()).isZero();
    assertThatThrownBy(() -> new Socket().connect(entry, 2_000)).isInstanceOf(IOException.class);
  }

  @Test
  void keepAliveTimesOutsideWhatTheKernelTakesAreRefusedByTheBuilder() {
    TcpSplicer.Builder b = TcpSplicer.builder();
    assertThatThrownBy(() -> b.keepAlive(Duration.ofSeconds(40_000), Duration.ofSeconds(30)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("32767");
    assertThatThrownBy(() -> b.keepAlive(Duration.ofMillis(1500), Duration.ofSeconds(30)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("whole seconds");
    assertThatThrownBy(() -> b.keepAlive(Duration.ofSeconds(60), Duration.ofMillis(500)))
        .isInstanceOf(IllegalArgumentException.class);
    // a refused pair leaves the builder as it was (issue 12 part 4), and the builder reads back
    // what it holds
    assertThat(b.keepAliveIdle()).isEqualTo(Duration.ofMinutes(5));
    assertThat(b.keepAliveInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(b.maxConnections()).isEqualTo(50_000);
    b.keepAlive(
        Duration.ofSeconds(32_767), Duration.ofSeconds(1)); // the limits themselves are fine
  }

  @Test
  void startNamesTheAddressItCannotBind() throws Exception {
    TestServer busy = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp =
        TcpSplicer.builder().listen(busy.address()).router(fixed(busy.address())).build();
    assertThatThrownBy(sp::start)
        .isInstanceOf(IOException.class)
        .hasMessageContaining(busy.address().toString());
    sp.close();
    assertThat(sp.boundAddresses()).isEmpty();
  }
}
