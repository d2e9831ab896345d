// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The egress figure's CONNECT relay on real loopback sockets: asked by name it tunnels both ways
 * byte for byte (early bytes, backpressure, half-close); an unknown name, a malformed request and a
 * request by address are answered and counted as such.
 */
@Timeout(60)
class ConnectRelayIT {
  private static final String COURIER = "3-courier.push.apple.com";
  private static final byte[] ESTABLISHED =
      "HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private ServerSocket echo;
  private final AtomicInteger accepted = new AtomicInteger();
  private ConnectRelay relay;

  @BeforeEach
  void start() throws IOException {
    InetAddress lo = InetAddress.getByName("127.0.0.1");
    echo = new ServerSocket(0, 50, lo);
    daemon(
        "test-echo-accept",
        () -> {
          while (!echo.isClosed()) {
            try {
              Socket s = echo.accept();
              accepted.incrementAndGet();
              daemon("test-echo", () -> echoUntilEof(s));
            } catch (IOException e) {
              return; // closed by the test
            }
          }
        });
    relay = ConnectRelay.start(new InetSocketAddress(lo, 0), Map.of(COURIER, lo));
  }

  @AfterEach
  void stop() throws IOException {
    relay.close();
    echo.close();
    assertThat(relay.isRunning()).isFalse();
    assertThat(relay.failure()).isNull();
  }

  private static Thread daemon(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static void echoUntilEof(Socket s) {
    try (s) {
      s.getInputStream().transferTo(s.getOutputStream());
    } catch (IOException e) {
      // the client went away: the client side asserts
    }
  }

  private Socket client() throws IOException {
    Socket s = new Socket();
    s.setSoTimeout(20_000);
    s.connect(relay.address(), 5_000);
    return s;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  @Test
  void tunnelsByNameBothWaysWithEarlyBytesBackpressureAndHalfClose() throws Exception {
    int port = echo.getLocalPort();
    try (Socket c = client()) {
      OutputStream out = c.getOutputStream();
      InputStream in = c.getInputStream();
      // bytes sent right behind the request, before the answer, belong to the tunnel
      out.write(
          ascii(
              "CONNECT "
                  + COURIER
                  + ":"
                  + port
                  + " HTTP/1.1\r\nHost: "
                  + COURIER
                  + ":"
                  + port
                  + "\r\n\r\nearly"));
      assertThat(in.readNBytes(ESTABLISHED.length)).isEqualTo(ESTABLISHED);
      assertThat(in.readNBytes(5)).isEqualTo(ascii("early"));
      // 8 MiB each way, written while being read back: more than the socket buffers and the
      // relay's buffers hold, so each direction has to wait for the other end
      byte[] big = new byte[8 * 1024 * 1024];
      new Random(7).nextBytes(big);
      CompletableFuture<Void> written = new CompletableFuture<>();
      daemon(
          "test-writer",
          () -> {
            try {
              out.write(big);
              c.shutdownOutput();
              written.complete(null);
            } catch (IOException e) {
              written.completeExceptionally(e);
            }
          });
      byte[] back = in.readNBytes(big.length);
      written.get(30, TimeUnit.SECONDS);
      assertThat(Arrays.equals(back, big)).isTrue();
      // our EOF went through to the upstream, which closed: its EOF came back
      assertThat(in.read()).isEqualTo(-1);
    }
    assertThat(relay.tunnels()).isEqualTo(1);
    assertThat(relay.refused()).isZero();
    assertThat(relay.requestsByAddress()).isZero();
    assertThat(relay.bytesRelayed()).isEqualTo(2L * (5 + 8 * 1024 * 1024));
    assertThat(relay.cpuSeconds()).isPositive();
  }

  @Test
  void unknownNamesAndMalformedRequestsAreRefusedAndAddressesCounted() throws Exception {
    try (Socket c = client()) {
      c.getOutputStream().write(ascii("CONNECT www.example.com:5223 HTTP/1.1\r\n\r\n"));
      String answer = new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 502 ");
    }
    try (Socket c = client()) {
      c.getOutputStream().write(ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      String answer = new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 400 ");
    }
    assertThat(relay.refused()).isEqualTo(2);
    assertThat(accepted.get()).isZero();

    try (Socket c = client()) {
      c.getOutputStream()
          .write(ascii("CONNECT 127.0.0.1:" + echo.getLocalPort() + " HTTP/1.1\r\n\r\n"));
      assertThat(c.getInputStream().readNBytes(ESTABLISHED.length)).isEqualTo(ESTABLISHED);
      c.getOutputStream().write(ascii("ping"));
      assertThat(c.getInputStream().readNBytes(4)).isEqualTo(ascii("ping"));
    }
    assertThat(relay.requestsByAddress()).isEqualTo(1);
    assertThat(relay.tunnels()).isEqualTo(1);
  }

  @Test
  void closeStopsTheThreadAndTheListener() throws Exception {
    InetSocketAddress a = relay.address();
    relay.close();
    assertThat(relay.isRunning()).isFalse();
    try (Socket s = new Socket()) {
      assertThatThrownBy(() -> s.connect(a, 5_000)).isInstanceOf(IOException.class);
    }
  }
}
