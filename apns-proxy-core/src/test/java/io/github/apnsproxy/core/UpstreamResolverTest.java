// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.internal.Literals;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpstreamResolverTest {
  private static final Duration WAIT = Duration.ofSeconds(5);

  @TempDir Path dir;

  static InetAddress ip(String s) {
    return Literals.parseAddress(s);
  }

  static List<InetAddress> now(CompletionStage<List<InetAddress>> stage) {
    CompletableFuture<List<InetAddress>> f = stage.toCompletableFuture();
    assertThat(f).as("a table lookup completes at once").isDone();
    return f.join();
  }

  static Throwable failure(CompletionStage<List<InetAddress>> stage)
      throws InterruptedException, TimeoutException {
    try {
      stage.toCompletableFuture().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("expected a failure");
  }

  @Test
  void fixedAnswersAnyCaseAndTrailingDot() throws Exception {
    UpstreamResolver r =
        UpstreamResolver.fixed(
            Map.of("1-Courier.push.apple.com.", List.of(ip("17.0.0.1"), ip("17.0.0.2"))));

    assertThat(now(r.resolve("1-courier.push.apple.com")))
        .containsExactly(ip("17.0.0.1"), ip("17.0.0.2"));
    assertThat(now(r.resolve("1-COURIER.PUSH.APPLE.COM.")))
        .containsExactly(ip("17.0.0.1"), ip("17.0.0.2"));
    assertThat(failure(r.resolve("2-courier.push.apple.com")))
        .isInstanceOf(UnknownHostException.class)
        .hasMessageContaining("2-courier.push.apple.com");
  }

  @Test
  void fixedMergesNamesThatDifferOnlyInCase() {
    UpstreamResolver r =
        UpstreamResolver.fixed(
            Map.of(
                "a.example",
                List.of(ip("17.0.0.1")),
                "A.example.",
                List.of(ip("17.0.0.2"), ip("17.0.0.1"))));
    assertThat(now(r.resolve("a.example")))
        .containsExactlyInAnyOrder(ip("17.0.0.1"), ip("17.0.0.2"));
  }

  @Test
  void fixedRejectsEmptyAddressLists() {
    assertThatThrownBy(() -> UpstreamResolver.fixed(Map.of("a.example", List.of())))
        .hasMessage("no addresses for 'a.example' (expected at least one)");
  }

  @Test
  void hostsFileResolves() throws IOException {
    Path f = dir.resolve("hosts");
    Files.writeString(f, "17.0.0.1 1-courier.push.apple.com\n17.0.0.2 1-courier.push.apple.com\n");
    UpstreamResolver r = UpstreamResolver.hostsFile(f);
    assertThat(now(r.resolve("1-courier.push.apple.com.")))
        .containsExactly(ip("17.0.0.1"), ip("17.0.0.2"));
  }

  @Test
  void orElseAsksTheNextResolverOnlyForUnknownNames() throws Exception {
    AtomicInteger nextCalls = new AtomicInteger();
    UpstreamResolver first = UpstreamResolver.fixed(Map.of("a.example", List.of(ip("17.0.0.1"))));
    UpstreamResolver next =
        host -> {
          nextCalls.incrementAndGet();
          return host.equals("b.example")
              ? CompletableFuture.completedFuture(List.of(ip("17.0.0.2")))
              : CompletableFuture.failedFuture(new UnknownHostException(host));
        };
    UpstreamResolver chain = first.orElse(next);

    assertThat(now(chain.resolve("a.example"))).containsExactly(ip("17.0.0.1"));
    assertThat(nextCalls).hasValue(0);
    assertThat(now(chain.resolve("b.example"))).containsExactly(ip("17.0.0.2"));
    assertThat(failure(chain.resolve("c.example"))).isInstanceOf(UnknownHostException.class);
    assertThat(nextCalls).hasValue(2);
  }

  @Test
  void orElseDoesNotRetryOtherFailures() throws Exception {
    AtomicInteger nextCalls = new AtomicInteger();
    TimeoutException timeout = new TimeoutException("all servers down");
    UpstreamResolver failing =
        host ->
            CompletableFuture.supplyAsync(
                () -> {
                  throw new IllegalStateException("wrapped", timeout);
                });
    UpstreamResolver timingOut = host -> CompletableFuture.failedFuture(timeout);
    UpstreamResolver next =
        host -> {
          nextCalls.incrementAndGet();
          return CompletableFuture.completedFuture(List.of(ip("17.0.0.9")));
        };

    assertThat(failure(timingOut.orElse(next).resolve("a.example"))).isSameAs(timeout);
    assertThat(failure(failing.orElse(next).resolve("a.example")))
        .isInstanceOf(IllegalStateException.class);
    assertThat(nextCalls).hasValue(0);
  }

  @Test
  void orElseUnwrapsAnUnknownHostFromADependentStage() throws Exception {
    UpstreamResolver slowUnknown =
        host ->
            CompletableFuture.supplyAsync(() -> host)
                .thenCompose(h -> CompletableFuture.failedFuture(new UnknownHostException(h)));
    UpstreamResolver chain =
        slowUnknown.orElse(UpstreamResolver.fixed(Map.of("a.example", List.of(ip("17.0.0.1")))));
    assertThat(
            chain
                .resolve("a.example")
                .toCompletableFuture()
                .get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
        .containsExactly(ip("17.0.0.1"));
  }
}
