// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The stock access log over real sockets: one line per finished or refused connection, field by
 * field.
 */
class AccessLogIT extends SplicerTestSupport {
  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2025-03-01T12:34:56.789123Z"), ZoneOffset.UTC);
  private static final List<String> FIELDS =
      List.of(
          "time",
          "client",
          "balancer",
          "door",
          "local",
          "sni",
          "target",
          "host",
          "upstream",
          "bytes_up",
          "bytes_down",
          "duration_ms",
          "reason",
          "refused");

  private final List<String> lines = new CopyOnWriteArrayList<>();

  private SpliceListener log() {
    return SpliceListener.accessLog(lines::add, CLOCK);
  }

  @Test
  void completedConnection() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    TcpSplicer s =
        start(builder(named("17-courier.push.apple.com", echo.address())).listener(log()));
    Socket c = connect(entry(s));
    OutputStream out = c.getOutputStream();
    InputStream in = c.getInputStream();
    out.write("hello".getBytes(StandardCharsets.US_ASCII));
    assertThat(readN(in, 5)).asString(StandardCharsets.US_ASCII).isEqualTo("hello");
    out.write("!!".getBytes(StandardCharsets.US_ASCII));
    assertThat(readN(in, 2)).asString(StandardCharsets.US_ASCII).isEqualTo("!!");
    c.shutdownOutput();
    assertThat(in.read()).isEqualTo(-1);
    Map<String, String> f = onlyLine();
    assertThat(f.get("time")).isEqualTo("2025-03-01T12:34:56.789Z");
    assertThat(f.get("client")).isEqualTo("127.0.0.1:" + c.getLocalPort());
    assertThat(f.get("balancer")).isEqualTo("-");
    assertThat(f.get("door")).isEqualTo("address");
    assertThat(f.get("local")).isEqualTo("127.100.100.1:" + entry(s).getPort());
    assertThat(f.get("sni")).isEqualTo("-");
    assertThat(f.get("target")).isEqualTo("-");
    assertThat(f.get("host")).isEqualTo("17-courier.push.apple.com");
    assertThat(f.get("upstream")).isEqualTo("127.0.0.1:" + echo.address().getPort());
    assertThat(f.get("bytes_up")).isEqualTo("7");
    assertThat(f.get("bytes_down")).isEqualTo("7");
    assertThat(Long.parseLong(f.get("duration_ms"))).isNotNegative();
    assertThat(f.get("reason")).isEqualTo("completed");
    assertThat(f.get("refused")).isEqualTo("-");
    assertQuiet(s);
  }

  @Test
  void refusedClient() throws Exception {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.0.1", 0)));
    AddressPolicy onlyOthers = new AddressPolicy(CidrSet.parse("10.0.0.0/8"), CidrSet.any());
    TcpSplicer s =
        start(
            builder(named("17-courier.push.apple.com", echo.address()))
                .policy(onlyOthers)
                .listener(log()));
    Socket c = connect(entry(s));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    Map<String, String> f = onlyLine();
    assertThat(f.get("client")).isEqualTo("127.0.0.1:" + c.getLocalPort());
    assertThat(f.get("door")).isEqualTo("address");
    assertThat(f.get("local")).isEqualTo("127.100.100.1:" + entry(s).getPort());
    assertThat(f.get("host")).isEqualTo("-");
    assertThat(f.get("upstream")).isEqualTo("-");
    assertThat(f.get("bytes_up")).isEqualTo("0");
    assertThat(f.get("bytes_down")).isEqualTo("0");
    assertThat(f.get("duration_ms")).isEqualTo("0");
    assertThat(f.get("reason")).isEqualTo("client_denied");
    assertThat(f.get("refused")).isEqualTo("client_denied");
    assertThat(echo.accepted.get()).isZero();
    assertQuiet(s);
  }

  @Test
  void routerRejection() throws Exception {
    Router none =
        c ->
            CompletableFuture.completedFuture(
                Route.reject(RejectReason.RESOLVE_FAILED, "no such host"));
    TcpSplicer s = start(builder(none).listener(log()));
    Socket c = connect(entry(s));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    Map<String, String> f = onlyLine();
    assertThat(f.get("host")).isEqualTo("-");
    assertThat(f.get("reason")).isEqualTo("route_rejected");
    assertThat(f.get("refused")).isEqualTo("resolve_failed");
    assertQuiet(s);
  }

  @Test
  void upstreamFailed() throws Exception {
    InetSocketAddress closed;
    try (ServerSocket gone = new ServerSocket(0, 1, TestServer.at("127.0.0.1", 0).getAddress())) {
      closed = (InetSocketAddress) gone.getLocalSocketAddress();
    }
    TcpSplicer s = start(builder(named("api.push.apple.com", closed)).listener(log()));
    Socket c = connect(entry(s));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    Map<String, String> f = onlyLine();
    assertThat(f.get("host")).isEqualTo("api.push.apple.com");
    assertThat(f.get("bytes_up")).isEqualTo("0");
    assertThat(f.get("bytes_down")).isEqualTo("0");
    assertThat(f.get("reason")).isEqualTo("connect_failed");
    assertThat(f.get("refused")).isEqualTo("-");
    assertQuiet(s);
  }

  @Test
  void idleTimedOut() throws Exception {
    TestServer silent =
        track(
            new TestServer(
                TestServer.at("127.0.0.1", 0),
                sock -> {
                  InputStream in = sock.getInputStream();
                  while (in.read() >= 0) {
                    // reads until the splicer closes the idle connection
                  }
                }));
    TcpSplicer s =
        start(
            builder(named("5-courier.push.apple.com", silent.address()))
                .idleTimeout(Duration.ofMillis(200))
                .listener(log()));
    Socket c = connect(entry(s));
    c.getOutputStream().write(new byte[3]);
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    Map<String, String> f = onlyLine();
    assertThat(f.get("host")).isEqualTo("5-courier.push.apple.com");
    assertThat(f.get("upstream")).isEqualTo("127.0.0.1:" + silent.address().getPort());
    assertThat(f.get("bytes_up")).isEqualTo("3");
    assertThat(f.get("bytes_down")).isEqualTo("0");
    assertThat(Long.parseLong(f.get("duration_ms"))).isGreaterThanOrEqualTo(200);
    assertThat(f.get("reason")).isEqualTo("idle_timeout");
    assertThat(f.get("refused")).isEqualTo("-");
    assertQuiet(s);
  }

  @Test
  void tlsDoorRefusalQuotesTheServerName() throws Exception {
    TcpSplicer s =
        start(
            TcpSplicer.builder()
                .listen(List.of(TestServer.at("127.100.100.1", 0)), FrontDoor.tlsServerName())
                .router(c -> CompletableFuture.completedFuture(Route.reject("no plan host")))
                .loops(1)
                .listener(log()));
    Socket c = connect(entry(s));
    c.getOutputStream()
        .write(ClientHellos.jdk("courier.push.apple.com", List.of("apns-security-v3")));
    assertThat(c.getInputStream().read()).isEqualTo(-1);
    Map<String, String> f = onlyLine();
    assertThat(f.get("door")).isEqualTo("tls");
    assertThat(f.get("sni")).isEqualTo("courier.push.apple.com");
    assertThat(f.get("reason")).isEqualTo("route_rejected");
    assertThat(f.get("refused")).isEqualTo("no_route");
    assertQuiet(s);
  }

  private static Router named(String host, InetSocketAddress upstream) {
    Route r = Route.to(host, List.of(upstream));
    return c -> CompletableFuture.completedFuture(r);
  }

  /** Waits for the one line, checks every field is there in order, and returns them. */
  private Map<String, String> onlyLine() {
    await("an access log line", () -> !lines.isEmpty());
    assertThat(lines).hasSize(1);
    return parse(lines.get(0));
  }

  /** Parses a logfmt line (quoted values with backslash escapes); keeps the order. */
  static Map<String, String> parse(String line) {
    Map<String, String> out = new LinkedHashMap<>();
    int i = 0;
    while (i < line.length()) {
      int eq = line.indexOf('=', i);
      String key = line.substring(i, eq);
      StringBuilder v = new StringBuilder();
      int j = eq + 1;
      if (j < line.length() && line.charAt(j) == '"') {
        j++;
        while (line.charAt(j) != '"') {
          if (line.charAt(j) == '\\') {
            j++;
          }
          v.append(line.charAt(j++));
        }
        j++;
      } else {
        while (j < line.length() && line.charAt(j) != ' ') {
          v.append(line.charAt(j++));
        }
      }
      out.put(key, v.toString());
      i = j + 1;
    }
    assertThat(out.keySet()).containsExactlyElementsOf(FIELDS);
    return out;
  }
}
