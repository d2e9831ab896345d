// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every SOCKS5 reply code and the HTTP statuses that need an upstream to misbehave (504, 403 after
 * resolving), SOCKS5 credentials, clients that leave early, and password checks kept off the loop
 * thread.
 */
class ExplicitProxyCodesIT extends SplicerTestSupport {
  private static final AddressPolicy LOOPBACK =
      new AddressPolicy(CidrSet.parse("127.0.0.0/8"), CidrSet.parse("127.0.0.0/8"));
  private static final String GOOD = "s3cret";

  private final List<ThreadPoolExecutor> pools = new ArrayList<>();
  private final List<CountDownLatch> gates = new ArrayList<>();

  @AfterEach
  void openGates() {
    gates.forEach(CountDownLatch::countDown);
    pools.forEach(ThreadPoolExecutor::shutdownNow);
  }

  private static ProxyUsers users() {
    return ProxyUsers.parse(
        List.of(
            ProxyUsers.line("mdm", GOOD.toCharArray(), 1_000),
            ProxyUsers.line("ops", "other".toCharArray(), 1_000)),
        "test users");
  }

  /**
   * A plan whose provider API and couriers listen on {@code ports}; names resolve with {@code
   * table}.
   */
  private static ExplicitProxy.Builder proxy(
      List<Integer> ports, Map<String, List<InetAddress>> table) {
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .ports(ApnsHost.Kind.COURIER, ports)
            .ports(ApnsHost.Kind.PROVIDER, ports)
            .build();
    return ExplicitProxy.builder(plan, UpstreamResolver.fixed(table), LOOPBACK);
  }

  private TcpSplicer splicer(ExplicitProxy proxy, Duration connectTimeout, int loops)
      throws IOException {
    return start(
        TcpSplicer.builder()
            .router(
                c -> {
                  throw new AssertionError("only explicit-proxy connections here");
                })
            .policy(LOOPBACK)
            .loops(loops)
            .connectTimeout(connectTimeout)
            .connectListen(List.of(TestServer.at("127.0.0.1", 0)), proxy)
            .socksListen(List.of(TestServer.at("127.0.0.1", 0)), proxy));
  }

  private static InetSocketAddress http(TcpSplicer sp) {
    return sp.boundAddresses().get(0);
  }

  private static InetSocketAddress socks(TcpSplicer sp) {
    return sp.boundAddresses().get(1);
  }

  /** Sends a SOCKS5 greeting without authentication and a CONNECT; returns the request reply. */
  private byte[] socksConnect(TcpSplicer sp, byte[] request) throws IOException {
    Socket s = connect(socks(sp));
    OutputStream o = s.getOutputStream();
    o.write(new byte[] {5, 1, 0});
    o.flush();
    assertThat(readN(s.getInputStream(), 2)).containsExactly(5, 0);
    o.write(request);
    o.flush();
    byte[] reply = readN(s.getInputStream(), 10);
    if (reply[1] != 0) {
      assertThat(s.getInputStream().read()).as("closed after a failure reply").isEqualTo(-1);
    }
    s.close();
    return reply;
  }

  private static byte[] byName(int command, String host, int port) {
    byte[] name = host.getBytes(StandardCharsets.US_ASCII);
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(5);
    b.write(command);
    b.write(0);
    b.write(3);
    b.write(name.length);
    b.writeBytes(name);
    b.write(port >> 8);
    b.write(port & 0xff);
    return b.toByteArray();
  }

  private static String exchange(Socket s, String request) throws IOException {
    s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
    String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    s.close(); // the proxy lingers for the client's EOF after a refusal: give it at once
    return reply;
  }

  /**
   * A listener that accepts nothing and whose backlog is full, so the kernel drops further SYNs:
   * connecting to it times out (checked here) instead of being refused.
   */
  private InetSocketAddress blackHole() throws IOException {
    ServerSocket server = track(new ServerSocket(0, 1, InetAddress.getByName("127.0.2.9")));
    InetSocketAddress a = (InetSocketAddress) server.getLocalSocketAddress();
    for (int i = 0; i < 16; i++) {
      Socket s = track(new Socket());
      try {
        s.connect(a, 1_000);
      } catch (SocketTimeoutException full) {
        return a;
      }
    }
    throw new AssertionError("the backlog of " + a + " never filled");
  }

  @Test
  void everySocksReplyCode() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.2.2", 0)));
    int port = echo.address().getPort();
    InetSocketAddress hole = blackHole();
    Map<String, List<InetAddress>> table = new HashMap<>();
    table.put("api.push.apple.com", List.of(echo.address().getAddress()));
    table.put(
        "api.sandbox.push.apple.com",
        List.of(InetAddress.getByName("127.0.2.3"))); // nothing listens
    table.put("2-courier.push.apple.com", List.of(hole.getAddress()));
    ExplicitProxy proxy = proxy(List.of(port, hole.getPort()), table).build();
    TcpSplicer sp = splicer(proxy, Duration.ofMillis(500), 2);

    byte[] ok = socksConnect(sp, byName(1, "api.push.apple.com", port));
    assertThat(ok[1]).isEqualTo((byte) 0x00);
    assertThat(socksConnect(sp, byName(1, "www.example.com", 443))[1])
        .as("not allowed")
        .isEqualTo((byte) 0x02);
    assertThat(socksConnect(sp, byName(1, "1-courier.push.apple.com", port))[1])
        .as("does not resolve: unreachable")
        .isEqualTo((byte) 0x04);
    assertThat(socksConnect(sp, byName(1, "api.sandbox.push.apple.com", port))[1])
        .as("refused")
        .isEqualTo((byte) 0x05);
    assertThat(socksConnect(sp, byName(1, "2-courier.push.apple.com", hole.getPort()))[1])
        .as("connect timeout: TTL expired")
        .isEqualTo((byte) 0x06);
    assertThat(socksConnect(sp, byName(2, "api.push.apple.com", port))[1])
        .as("BIND")
        .isEqualTo((byte) 0x07);
    assertThat(socksConnect(sp, byName(3, "api.push.apple.com", port))[1])
        .as("UDP ASSOCIATE")
        .isEqualTo((byte) 0x07);
    assertThat(socksConnect(sp, new byte[] {5, 1, 0, 5, 1, 2, 3, 4, 1, (byte) 187})[1])
        .as("address type 5")
        .isEqualTo((byte) 0x08);
    assertThat(
            socksConnect(
                sp, new byte[] {5, 1, 0, 1, 127, 0, 2, 2, (byte) (port >> 8), (byte) port})[1])
        .as("IPv4 literal without connect.allow-addresses")
        .isEqualTo((byte) 0x02);

    assertThat(proxy.requests())
        .containsEntry("socks5 0 api", 1L)
        .containsEntry("socks5 2 other", 1L)
        .containsEntry("socks5 4 courier", 1L)
        .containsEntry("socks5 5 api", 1L)
        .containsEntry("socks5 6 courier", 1L)
        .containsEntry("socks5 7 -", 2L)
        .containsEntry("socks5 8 -", 1L)
        .containsEntry("socks5 2 address", 1L);
    assertQuiet(sp);
  }

  @Test
  void http504WhenTheUpstreamConnectTimesOut() throws Exception {
    InetSocketAddress hole = blackHole();
    ExplicitProxy proxy =
        proxy(List.of(hole.getPort()), Map.of("api.push.apple.com", List.of(hole.getAddress())))
            .build();
    TcpSplicer sp = splicer(proxy, Duration.ofMillis(500), 1);
    String reply =
        exchange(
            connect(http(sp)),
            "CONNECT api.push.apple.com:"
                + hole.getPort()
                + " HTTP/1.1\r\nHost: api.push.apple.com\r\n\r\n");
    assertThat(reply).startsWith("HTTP/1.1 504 Gateway Timeout\r\n").contains("connection_timeout");
    assertThat(proxy.requests()).containsEntry("http-connect 504 api", 1L);
    assertQuiet(sp);
  }

  @Test
  void connectWithDeclaredContentIs400() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.2.2", 0)));
    int port = echo.address().getPort();
    ExplicitProxy proxy =
        proxy(List.of(port), Map.of("api.push.apple.com", List.of(echo.address().getAddress())))
            .build();
    TcpSplicer sp = splicer(proxy, Duration.ofSeconds(2), 1);
    String connect = "CONNECT api.push.apple.com:" + port + " HTTP/1.1\r\nHost: x\r\n";
    assertThat(exchange(connect(http(sp)), connect + "Content-Length: 3\r\n\r\nabc"))
        .startsWith("HTTP/1.1 400 ")
        .contains("has no content");
    assertThat(exchange(connect(http(sp)), connect + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
        .startsWith("HTTP/1.1 400 ")
        .contains("has no content");
    Socket zero = connect(http(sp)); // Content-Length: 0 declares nothing: the tunnel opens
    zero.getOutputStream()
        .write((connect + "Content-Length: 0\r\n\r\nping").getBytes(StandardCharsets.US_ASCII));
    assertThat(new String(readN(zero.getInputStream(), 43), StandardCharsets.US_ASCII))
        .isEqualTo("HTTP/1.1 200 Connection established\r\n\r\nping");
    zero.close();
    assertThat(echo.accepted.get()).isEqualTo(1);
    assertQuiet(sp);
  }

  @Test
  void resolvedAddressesOutsideTheUpstreamAllowListAre403AndNotAllowed() throws Exception {
    // 192.0.2.1 (TEST-NET-1) is outside the policy's upstream list 127.0.0.0/8; nothing is ever
    // dialled
    ExplicitProxy proxy =
        proxy(
                List.of(443),
                Map.of("api.push.apple.com", List.of(InetAddress.getByName("192.0.2.1"))))
            .build();
    TcpSplicer sp = splicer(proxy, Duration.ofSeconds(2), 1);
    String reply =
        exchange(connect(http(sp)), "CONNECT api.push.apple.com:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(reply)
        .startsWith("HTTP/1.1 403 Forbidden\r\n")
        .contains("destination_ip_prohibited");
    assertThat(socksConnect(sp, byName(1, "api.push.apple.com", 443))[1]).isEqualTo((byte) 0x02);
    assertThat(proxy.requests())
        .containsEntry("http-connect 403 api", 1L)
        .containsEntry("socks5 2 api", 1L);
    assertThat(sp.stats().rejected()).containsEntry(RejectReason.REFUSED_TARGET, 2L);
    assertQuiet(sp);
  }

  @Test
  void socksWrongAndMissingCredentials() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.2.2", 0)));
    int port = echo.address().getPort();
    ExplicitProxy proxy =
        proxy(List.of(port), Map.of("api.push.apple.com", List.of(echo.address().getAddress())))
            .users(users())
            .build();
    TcpSplicer sp = splicer(proxy, Duration.ofSeconds(2), 1);

    Socket none = connect(socks(sp)); // offers only "no authentication": no acceptable method
    none.getOutputStream().write(new byte[] {5, 1, 0});
    assertThat(readN(none.getInputStream(), 2)).containsExactly(5, 0xff);
    assertThat(none.getInputStream().read()).isEqualTo(-1);
    none.close();

    for (String[] wrong : new String[][] {{"mdm", "nope"}, {"root", GOOD}, {"mdm", ""}}) {
      Socket s = connect(socks(sp));
      OutputStream o = s.getOutputStream();
      o.write(new byte[] {5, 2, 0, 2});
      assertThat(readN(s.getInputStream(), 2)).containsExactly(5, 2);
      o.write(auth(wrong[0], wrong[1]));
      o.write(byName(1, "api.push.apple.com", port)); // pipelined: never acted on
      o.flush();
      byte[] status = readN(s.getInputStream(), 2);
      assertThat(status[0]).isEqualTo((byte) 1);
      assertThat(status[1]).as("RFC 1929 failure status").isNotEqualTo((byte) 0);
      assertThat(s.getInputStream().read()).as("closed after the failure").isEqualTo(-1);
      s.close();
    }

    Socket s = connect(socks(sp)); // right credentials, request pipelined after them
    OutputStream o = s.getOutputStream();
    o.write(new byte[] {5, 1, 2});
    o.write(auth("mdm", GOOD));
    o.write(byName(1, "api.push.apple.com", port));
    o.write("ping".getBytes(StandardCharsets.US_ASCII));
    o.flush();
    InputStream in = s.getInputStream();
    assertThat(readN(in, 2)).containsExactly(5, 2);
    assertThat(readN(in, 2)).containsExactly(1, 0);
    assertThat(readN(in, 10)[1]).isEqualTo((byte) 0);
    assertThat(new String(readN(in, 4), StandardCharsets.US_ASCII)).isEqualTo("ping");
    s.close();

    assertThat(proxy.requests())
        .containsEntry("socks5 auth-failed -", 3L)
        .containsEntry("socks5 0 api", 1L);
    assertThat(proxy.failedLogins()).isEqualTo(3);
    assertQuiet(sp);
  }

  private static byte[] auth(String user, String password) {
    byte[] u = user.getBytes(StandardCharsets.UTF_8);
    byte[] p = password.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(1);
    b.write(u.length);
    b.writeBytes(u);
    b.write(p.length);
    b.writeBytes(p);
    return b.toByteArray();
  }

  private static String basic(String user, String password) {
    return "Proxy-Authorization: Basic "
        + Base64.getEncoder()
            .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8))
        + "\r\n";
  }

  @Test
  void clientGoneBeforeTheUpstreamAnsweredLeavesNothingBehind() throws Exception {
    AtomicInteger ended = new AtomicInteger();
    TestServer echo =
        track(
            new TestServer(
                TestServer.at("127.0.2.2", 0),
                c -> {
                  try {
                    TestServer.echo(c);
                  } finally {
                    ended.incrementAndGet();
                  }
                }));
    int port = echo.address().getPort();
    CompletableFuture<List<InetAddress>> answer = new CompletableFuture<>();
    AtomicInteger asked = new AtomicInteger();
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .ports(ApnsHost.Kind.PROVIDER, List.of(port))
            .build();
    ExplicitProxy proxy =
        ExplicitProxy.builder(
                plan,
                host -> {
                  asked.incrementAndGet();
                  return answer;
                },
                LOOPBACK)
            .build();
    TcpSplicer sp = splicer(proxy, Duration.ofSeconds(5), 1);

    Socket h = connect(http(sp));
    h.getOutputStream()
        .write(
            ("CONNECT api.push.apple.com:" + port + " HTTP/1.1\r\nHost: x\r\n\r\nearly")
                .getBytes(StandardCharsets.US_ASCII));
    h.getOutputStream().flush();
    Socket s = connect(socks(sp));
    s.getOutputStream().write(new byte[] {5, 1, 0});
    s.getOutputStream().write(byName(1, "api.push.apple.com", port));
    s.getOutputStream().flush();
    assertThat(readN(s.getInputStream(), 2)).containsExactly(5, 0);
    await("both requests waiting for the resolver", () -> asked.get() == 2);
    h.close();
    s.close();
    answer.complete(
        List.of(echo.address().getAddress())); // the upstream answers after the clients left
    assertQuiet(sp);
    await("every upstream leg closed", () -> ended.get() == echo.accepted.get());
    assertThat(echo.accepted.get()).isLessThanOrEqualTo(2);
    // the HTTP client left unread bytes behind, so its close was a reset
    Map<CloseReason, Long> closed = sp.stats().closed();
    assertThat(closed.get(CloseReason.CLIENT_GONE) + closed.get(CloseReason.CLIENT_RESET))
        .as("%s", closed)
        .isEqualTo(2L);
  }

  /**
   * An auth executor whose checks wait for {@code gate}; at most {@code queue} wait in line besides
   * the running one.
   */
  private Executor gated(CountDownLatch gate, int queue, AtomicInteger accepted) {
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(1, 1, 1, TimeUnit.SECONDS, new ArrayBlockingQueue<>(queue));
    pools.add(pool);
    gates.add(gate);
    return r -> {
      pool.execute(
          () -> {
            try {
              if (!gate.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("gate never opened");
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
            r.run();
          });
      accepted.incrementAndGet();
    };
  }

  @Test
  void wrongPasswordStormDoesNotStallOtherConnectionsOnTheSameLoop() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.2.2", 0)));
    int port = echo.address().getPort();
    CountDownLatch storm = new CountDownLatch(1);
    AtomicInteger accepted = new AtomicInteger();
    Executor held = gated(storm, 32, accepted);
    AtomicBoolean holding = new AtomicBoolean();
    ExplicitProxy proxy =
        proxy(List.of(port), Map.of("api.push.apple.com", List.of(echo.address().getAddress())))
            .users(users())
            .authExecutor(
                r -> {
                  if (holding.get()) {
                    held.execute(r);
                  } else {
                    ForkJoinPool.commonPool().execute(r);
                  }
                })
            .build();
    TcpSplicer sp = splicer(proxy, Duration.ofSeconds(2), 1); // one loop: everything shares it
    String connect = "CONNECT api.push.apple.com:" + port + " HTTP/1.1\r\nHost: x\r\n";

    // the right password is checked once (slow hash, off the loop), then remembered
    Socket first = connect(http(sp));
    first
        .getOutputStream()
        .write((connect + basic("mdm", GOOD) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    assertThat(new String(readN(first.getInputStream(), 39), StandardCharsets.US_ASCII))
        .isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
    first.close();

    holding.set(true);
    List<Socket> attackers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Socket a = connect(http(sp));
      a.getOutputStream()
          .write(
              (connect + basic(i % 2 == 0 ? "ops" : "root", "guess" + i) + "\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      attackers.add(a);
      Socket b = connect(socks(sp));
      b.getOutputStream().write(new byte[] {5, 1, 2});
      b.getOutputStream().write(auth(i % 2 == 0 ? "ops" : "root", "guess" + i));
      attackers.add(b);
    }
    await("8 password checks waiting", () -> accepted.get() == 8);

    // meanwhile, on the same loop: a tunnel with the remembered password, SOCKS5 too, and the PAC
    // file
    Socket h = connect(http(sp));
    h.getOutputStream()
        .write((connect + basic("mdm", GOOD) + "\r\nhello").getBytes(StandardCharsets.US_ASCII));
    assertThat(new String(readN(h.getInputStream(), 44), StandardCharsets.US_ASCII))
        .isEqualTo("HTTP/1.1 200 Connection established\r\n\r\nhello");
    Socket s = connect(socks(sp));
    s.getOutputStream().write(new byte[] {5, 1, 2});
    s.getOutputStream().write(auth("mdm", GOOD));
    s.getOutputStream().write(byName(1, "api.push.apple.com", port));
    s.getOutputStream().write("world".getBytes(StandardCharsets.US_ASCII));
    assertThat(readN(s.getInputStream(), 4)).containsExactly(5, 2, 1, 0);
    assertThat(readN(s.getInputStream(), 10)[1]).isEqualTo((byte) 0);
    assertThat(new String(readN(s.getInputStream(), 5), StandardCharsets.US_ASCII))
        .isEqualTo("world");
    assertThat(exchange(connect(http(sp)), "GET /proxy.pac HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 200");
    h.close();
    s.close();

    for (int i = 0; i < attackers.size(); i += 2) {
      assertThat(attackers.get(i).getInputStream().available())
          .as("still waiting for its check")
          .isZero();
      InputStream in = attackers.get(i + 1).getInputStream();
      assertThat(readN(in, 2)).as("method selected at once").containsExactly(5, 2);
      assertThat(in.available()).as("still waiting for its check").isZero();
    }
    assertThat(storm.getCount()).isEqualTo(1);
    storm.countDown();
    for (int i = 0; i < attackers.size(); i += 2) {
      assertThat(
              new String(
                  attackers.get(i).getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
          .startsWith("HTTP/1.1 407 ");
      InputStream in = attackers.get(i + 1).getInputStream();
      assertThat(readN(in, 2)).containsExactly(1, 1);
      assertThat(in.read()).isEqualTo(-1);
    }
    for (Socket a : attackers) {
      a.close();
    }
    assertThat(proxy.failedLogins()).isEqualTo(8);
    assertThat(proxy.requests())
        .containsEntry("http-connect 407 -", 4L)
        .containsEntry("socks5 auth-failed -", 4L)
        .containsEntry("http-connect 200 api", 2L)
        .containsEntry("socks5 0 api", 1L);
    assertQuiet(sp);
  }

  @Test
  void checksOverTheExecutorsCapacityAreRefusedAndCounted() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.2.2", 0)));
    int port = echo.address().getPort();
    CountDownLatch gate = new CountDownLatch(1);
    AtomicInteger accepted = new AtomicInteger();
    ExplicitProxy proxy =
        proxy(List.of(port), Map.of("api.push.apple.com", List.of(echo.address().getAddress())))
            .users(users())
            .authExecutor(gated(gate, 1, accepted))
            .build();
    TcpSplicer sp = splicer(proxy, Duration.ofSeconds(2), 2);
    String connect =
        "CONNECT api.push.apple.com:"
            + port
            + " HTTP/1.1\r\nHost: x\r\n"
            + basic("ops", "x")
            + "\r\n";
    List<Socket> waiting = new ArrayList<>();
    for (int i = 0; i < 2; i++) { // one running, one queued
      Socket w = connect(http(sp));
      w.getOutputStream().write(connect.getBytes(StandardCharsets.US_ASCII));
      waiting.add(w);
      int n = i + 1;
      await("check " + n + " accepted", () -> accepted.get() == n);
    }
    String busy = exchange(connect(http(sp)), connect);
    assertThat(busy)
        .startsWith("HTTP/1.1 407 ")
        .contains("Proxy-Authenticate: Basic")
        .contains("busy");
    Socket s = connect(socks(sp));
    s.getOutputStream().write(new byte[] {5, 1, 2});
    s.getOutputStream().write(auth("ops", "x"));
    assertThat(readN(s.getInputStream(), 4)).containsExactly(5, 2, 1, 1);
    assertThat(s.getInputStream().read()).isEqualTo(-1);
    s.close();
    assertThat(proxy.requests())
        .containsEntry("http-connect auth-busy -", 1L)
        .containsEntry("socks5 auth-busy -", 1L);
    gate.countDown();
    for (Socket w : waiting) {
      assertThat(new String(w.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
          .startsWith("HTTP/1.1 407");
      w.close();
    }
    assertThat(proxy.failedLogins()).isEqualTo(2);
    assertQuiet(sp);
  }
}
