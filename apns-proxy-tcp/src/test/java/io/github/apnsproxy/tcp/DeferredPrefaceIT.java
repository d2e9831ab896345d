// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** {@link PrefaceDecision#later}: decisions completed off the loop thread, failed, or too late. */
class DeferredPrefaceIT extends SplicerTestSupport {
  private final List<CompletableFuture<PrefaceDecision>> pending = new CopyOnWriteArrayList<>();
  private final List<InboundConnection> routed = new CopyOnWriteArrayList<>();

  /** A door whose parser defers every decision to a future the test completes. */
  private FrontDoor deferring() {
    return new FrontDoor() {
      @Override
      public String name() {
        return "deferring";
      }

      @Override
      public PrefaceParser open(InboundConnection connection) {
        return buffered -> {
          CompletableFuture<PrefaceDecision> f = new CompletableFuture<>();
          pending.add(f);
          return PrefaceDecision.later(f);
        };
      }
    };
  }

  private TcpSplicer splicer(Duration prefaceTimeout) throws IOException {
    TestServer echo = track(TestServer.echo(TestServer.at("127.0.2.2", 0)));
    Route r = Route.to("echo", List.of(echo.address()));
    return start(
        TcpSplicer.builder()
            .listen(List.of(TestServer.at("127.100.100.1", 0)), deferring())
            .router(
                c -> {
                  routed.add(c);
                  return CompletableFuture.completedFuture(r);
                })
            .loops(1)
            .prefaceTimeout(prefaceTimeout));
  }

  @Test
  void aDecisionCompletedOnAnotherThreadRoutesAndForwardsTheBufferedBytes() throws Exception {
    TcpSplicer sp = splicer(Duration.ofSeconds(30));
    Socket s = connect(entry(sp));
    s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
    await("a deferred decision", () -> pending.size() == 1);
    Thread other =
        new Thread(
            () ->
                pending
                    .get(0)
                    .complete(
                        PrefaceDecision.route(
                            Preface.tls("deferring", "api.push.apple.com", List.of()), 0)),
            "test-completer");
    other.start();
    other.join(30_000);
    assertThat(new String(readN(s.getInputStream(), 5), StandardCharsets.US_ASCII))
        .isEqualTo("hello");
    assertThat(routed)
        .singleElement()
        .satisfies(c -> assertThat(c.preface().serverName()).isEqualTo("api.push.apple.com"));
    assertThat(pending)
        .hasSize(1); // the parser was not called again while the decision was pending
    s.close();
    assertQuiet(sp);
  }

  @Test
  void aReplyThenTheParserRunsAgainOnTheRemainingBytes() throws Exception {
    TcpSplicer sp = splicer(Duration.ofSeconds(30));
    Socket s = connect(entry(sp));
    s.getOutputStream().write("ab".getBytes(StandardCharsets.US_ASCII));
    await("a deferred decision", () -> pending.size() == 1);
    pending
        .get(0)
        .complete(PrefaceDecision.reply(ByteBuffer.wrap(new byte[] {'!'}), 1)); // consumes "a"
    assertThat(s.getInputStream().read()).isEqualTo('!');
    await("the parser called again on the rest", () -> pending.size() == 2);
    pending.get(1).complete(PrefaceDecision.route(Preface.tls("deferring", null, List.of()), 0));
    assertThat(readN(s.getInputStream(), 1)).containsExactly('b');
    s.close();
    assertQuiet(sp);
  }

  @Test
  void aFailedDecisionRefusesAndALateOneIsIgnored() throws Exception {
    TcpSplicer sp = splicer(Duration.ofMillis(300));
    Socket failed = connect(entry(sp));
    failed.getOutputStream().write('x');
    await("a deferred decision", () -> pending.size() == 1);
    pending.get(0).completeExceptionally(new IllegalStateException("test failure"));
    assertThat(failed.getInputStream().read()).isEqualTo(-1);
    await("refusal counted", () -> sp.stats().rejected(RejectReason.PREFACE_REFUSED) == 1);

    Socket late = connect(entry(sp));
    late.getOutputStream().write('y');
    await("a second deferred decision", () -> pending.size() == 2);
    assertThat(late.getInputStream().read()).as("closed at the preface timeout").isEqualTo(-1);
    await("timeout counted", () -> sp.stats().rejected(RejectReason.PREFACE_TIMEOUT) == 1);
    pending
        .get(1)
        .complete(PrefaceDecision.route(Preface.tls("deferring", "late.example", List.of()), 0));

    // a later connection's decision is applied after the late one (one task queue per loop): only
    // it is routed
    Socket next = connect(entry(sp));
    next.getOutputStream().write('z');
    await("a third deferred decision", () -> pending.size() == 3);
    pending
        .get(2)
        .complete(PrefaceDecision.route(Preface.tls("deferring", "next.example", List.of()), 0));
    assertThat(readN(next.getInputStream(), 1)).containsExactly('z');
    assertThat(routed)
        .as("the late decision was ignored")
        .singleElement()
        .satisfies(c -> assertThat(c.preface().serverName()).isEqualTo("next.example"));
    assertThat(sp.stats().accepted()).isEqualTo(3);
    next.close();
    assertQuiet(sp);
  }
}
