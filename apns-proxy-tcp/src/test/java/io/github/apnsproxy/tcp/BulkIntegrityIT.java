// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A stream many times the splicer's buffer crosses a splice unchanged in both directions: the loop
 * reads again within one readiness event while reads fill the buffer, and every byte must still
 * arrive once, in order. Real sockets on loopback, an echo upstream.
 */
class BulkIntegrityIT extends SplicerTestSupport {
  private static final int BUFFER = 4 * 1024;
  private static final int TOTAL = 4 * 1024 * 1024 + 123;

  @Test
  void streamOfManyBuffersArrivesUnchangedThroughAnEchoUpstream() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp = start(builder(fixed(up.address())).bufferSize(BUFFER));
    Socket c = connect(entry(sp));
    c.setSoTimeout(30_000);
    byte[] sent = new byte[TOTAL];
    for (int i = 0; i < TOTAL; i++) {
      sent[i] =
          (byte) (i * 31 + (i >>> 9)); // no period that a lost or repeated buffer could hide in
    }
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              try {
                OutputStream out = c.getOutputStream();
                for (int off = 0; off < TOTAL; off += 50_000) {
                  out.write(sent, off, Math.min(50_000, TOTAL - off));
                }
                c.shutdownOutput();
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            });
    InputStream in = c.getInputStream();
    byte[] got = new byte[TOTAL];
    int n = 0;
    int r;
    while (n < TOTAL && (r = in.read(got, n, TOTAL - n)) > 0) {
      n += r;
    }
    writer.get(30, TimeUnit.SECONDS);
    assertThat(n).isEqualTo(TOTAL);
    assertThat(got).isEqualTo(sent);
    assertThat(in.read()).isEqualTo(-1); // the echo's FIN follows the client's, after the last byte
  }
}
