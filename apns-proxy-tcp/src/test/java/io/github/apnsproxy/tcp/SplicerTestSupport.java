// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;

/**
 * Shared helpers for the integration tests: cleanup checks after every test, bounded waits, simple
 * routers.
 */
abstract class SplicerTestSupport {
  private final List<TcpSplicer> splicers = new ArrayList<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  TcpSplicer start(TcpSplicer.Builder builder) throws IOException {
    TcpSplicer s = builder.build();
    splicers.add(s);
    s.start();
    return s;
  }

  <T extends AutoCloseable> T track(T c) {
    closeables.add(c);
    return c;
  }

  static Router fixed(InetSocketAddress... candidates) {
    Route r = Route.to("test-upstream", List.of(candidates));
    return c -> CompletableFuture.completedFuture(r);
  }

  static TcpSplicer.Builder builder(Router router) {
    return TcpSplicer.builder().listen(TestServer.at("127.100.100.1", 0)).router(router).loops(2);
  }

  static InetSocketAddress entry(TcpSplicer s) {
    return s.boundAddresses().get(0);
  }

  Socket connect(InetSocketAddress a) throws IOException {
    Socket s = track(new Socket());
    s.setSoTimeout(20_000);
    s.connect(a, 5_000);
    return s;
  }

  static void await(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out waiting for " + what);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
  }

  static byte[] readN(InputStream in, int n) throws IOException {
    byte[] b = in.readNBytes(n);
    assertThat(b).hasSize(n);
    return b;
  }

  /**
   * Waits until no connection is live, then checks nothing is held: no buffers, only the listeners'
   * keys.
   */
  static void assertQuiet(TcpSplicer s) {
    await("no live connection", () -> s.stats().active() == 0);
    assertThat(s.stats().outstandingBuffers()).isZero();
    await("only listener keys", () -> s.registeredKeys() == s.boundAddresses().size());
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    for (TcpSplicer s : splicers) {
      s.close(Duration.ofSeconds(1));
      assertThat(s.stats().outstandingBuffers()).isZero();
      assertThat(s.registeredKeys()).isZero();
      s.close(); // idempotent
    }
    await(
        "loop threads gone",
        () ->
            Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("apns-proxy-tcp-")));
  }
}
