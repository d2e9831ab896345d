// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The loops survive a failing {@code select()}; the splicer closes from its own callbacks without
 * deadlock.
 */
class LoopLifecycleIT extends SplicerTestSupport {
  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static void echoes(Socket c, String text) throws IOException {
    c.getOutputStream().write(ascii(text));
    assertThat(readN(c.getInputStream(), text.length())).isEqualTo(ascii(text));
  }

  @Test
  void aFailingSelectRebuildsTheSelectorAndSplicesCarryOn() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp = start(builder(fixed(up.address()))); // two loops
    List<Socket> live = new ArrayList<>();
    for (int i = 0; i < 4; i++) { // round robin: two splices on each loop
      Socket c = connect(entry(sp));
      echoes(c, "before " + i);
      live.add(c);
    }
    sp.failNextSelect();
    await("both selectors rebuilt", () -> sp.selectorRebuilds() == 2);
    assertThat(sp.isServing()).isTrue();
    for (int i = 0; i < live.size(); i++) {
      echoes(live.get(i), "after " + i); // both legs registered again on the new selectors
    }
    for (int i = 0; i < 4; i++) {
      try (Socket c = connect(entry(sp))) { // the listener too
        echoes(c, "new " + i);
      }
    }
    assertThat(sp.stats().closed(CloseReason.ERROR)).isZero();
    for (Socket c : live) {
      c.close();
    }
    assertQuiet(sp);
  }

  @Test
  void closeAsyncFromACallbackClosesWithoutDeadlock() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    AtomicReference<TcpSplicer> self = new AtomicReference<>();
    CompletableFuture<CompletableFuture<Void>> closing = new CompletableFuture<>();
    SpliceListener closer =
        new SpliceListener() {
          @Override
          public void connected(InboundConnection connection, java.net.InetSocketAddress upstream) {
            closing.complete(self.get().closeAsync(Duration.ofSeconds(30))); // on a loop thread
          }
        };
    TcpSplicer sp = start(builder(fixed(up.address())).listener(closer));
    self.set(sp);
    Socket c = connect(entry(sp));
    echoes(c, "draining"); // the drain lets the live splice go on
    CompletableFuture<Void> done = closing.get(30, TimeUnit.SECONDS);
    assertThat(sp.isServing()).isFalse();
    assertThat(sp.closeAsync(Duration.ZERO)).as("idempotent: the same future").isSameAs(done);
    assertThat(done).isNotDone(); // one live splice and a 30 s drain: nothing can have finished it
    echoes(c, "still");
    c.close(); // the last splice ends, so the drain ends
    done.get(30, TimeUnit.SECONDS);
    assertThat(sp.stats().active()).isZero();
    assertThat(sp.registeredKeys()).isZero();
  }

  @Test
  void isServingFollowsTheLifecycle() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp = builder(fixed(up.address())).build();
    assertThat(sp.isServing()).isFalse();
    sp.start();
    assertThat(sp.isServing()).isTrue();
    sp.close();
    assertThat(sp.isServing()).isFalse();
  }
}
