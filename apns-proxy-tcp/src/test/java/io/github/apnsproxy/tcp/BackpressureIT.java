// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/** A slow upstream must stall the client, not grow the proxy's memory. */
class BackpressureIT extends SplicerTestSupport {
  private static final int TOTAL = 64 * 1024 * 1024;

  @Test
  void stalledUpstreamBoundsBufferedBytesThenEverythingArrives() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    BlockingQueue<long[]> upstreamResult = new ArrayBlockingQueue<>(1);
    TestServer up =
        track(
            new TestServer(
                TestServer.at("127.0.1.1", 0),
                s -> {
                  try {
                    release.await(60, TimeUnit.SECONDS); // read nothing until released
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                  }
                  InputStream in = s.getInputStream();
                  CRC32 crc = new CRC32();
                  byte[] buf = new byte[65536];
                  long got = 0;
                  int n;
                  while ((n = in.read(buf)) >= 0) {
                    crc.update(buf, 0, n);
                    got += n;
                  }
                  upstreamResult.add(new long[] {got, crc.getValue()});
                }));
    TcpSplicer sp = start(builder(fixed(up.address())).loops(1));
    Socket c = connect(entry(sp));
    AtomicLong written = new AtomicLong();
    CompletableFuture<Long> sent =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                OutputStream out = c.getOutputStream();
                Random random = new Random(42);
                byte[] chunk = new byte[1 << 16];
                CRC32 crc = new CRC32();
                for (int off = 0; off < TOTAL; off += chunk.length) {
                  random.nextBytes(chunk);
                  out.write(chunk);
                  crc.update(chunk);
                  written.addAndGet(chunk.length);
                }
                c.shutdownOutput();
                return crc.getValue();
              } catch (IOException e) {
                throw new IllegalStateException(e);
              }
            });
    // Wait until the writer is stuck: the proxy holds a leftover and the byte count stops moving.
    await("the proxy to hold back bytes", () -> sp.stats().outstandingBuffers() > 0);
    long[] last = {-1};
    await(
        "the client to stall",
        () -> {
          long now = sp.stats().bytesClientToUpstream();
          boolean still = now == last[0];
          last[0] = now;
          if (!still) {
            LockSupport.parkNanos(
                TimeUnit.MILLISECONDS.toNanos(200)); // sampling interval for "no progress"
          }
          return still;
        });
    assertThat(written.get()).isLessThan(TOTAL);
    assertThat(sp.stats().outstandingBuffers())
        .isLessThanOrEqualTo(1); // one buffer for the blocked direction, no more
    assertThat(sp.stats().bytesClientToUpstream()).isLessThan(TOTAL);
    release.countDown();
    long expected = sent.get(90, TimeUnit.SECONDS);
    long[] got = upstreamResult.poll(90, TimeUnit.SECONDS);
    assertThat(got).isNotNull();
    assertThat(got[0]).isEqualTo(TOTAL);
    assertThat(got[1]).isEqualTo(expected);
    c.close();
    assertQuiet(sp);
  }
}
