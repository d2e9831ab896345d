// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link SpliceListener#all}: every listener called in order, a throwing one does not hide the
 * others.
 */
class SpliceListenerTest {
  private static final InetSocketAddress A =
      new InetSocketAddress(InetAddress.getLoopbackAddress(), 1);
  private static final InboundConnection C = new InboundConnection(A, A);

  @Test
  void callsEachInOrderAndRethrowsTheFirstFailure() {
    List<String> calls = new ArrayList<>();
    SpliceListener first =
        new SpliceListener() {
          @Override
          public void closed(InboundConnection connection, SpliceSummary summary) {
            calls.add("first");
            throw new IllegalStateException("first failed");
          }
        };
    SpliceListener second =
        new SpliceListener() {
          @Override
          public void accepted(InboundConnection connection) {
            calls.add("accepted");
          }

          @Override
          public void closed(InboundConnection connection, SpliceSummary summary) {
            calls.add("second");
            throw new IllegalArgumentException("second failed");
          }
        };
    SpliceListener both = SpliceListener.all(List.of(first, second));
    both.accepted(C);
    assertThatThrownBy(
            () ->
                both.closed(C, new SpliceSummary(0, 0, Duration.ZERO, CloseReason.COMPLETED, null)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("first failed")
        .satisfies(
            e ->
                assertThat(e.getSuppressed())
                    .singleElement()
                    .isInstanceOf(IllegalArgumentException.class));
    assertThat(calls).containsExactly("accepted", "first", "second");
  }
}
