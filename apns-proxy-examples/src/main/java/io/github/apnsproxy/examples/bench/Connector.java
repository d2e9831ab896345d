// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens many echo connections through a target, a bounded number in flight, each proven end to end
 * by one echoed hello (whose first byte puts the upstream server in echo mode). Non-blocking; runs
 * on the calling thread.
 */
final class Connector {
  private Connector() {}

  /**
   * Opens {@code count} connections spread over the target's couriers; returns them connected,
   * non-blocking and idle. Throws (closing what it opened) when one fails or the timeout passes.
   */
  static List<SocketChannel> openEcho(
      Target t, int count, int inFlight, byte[] hello, Duration timeout) throws IOException {
    return openEcho(t, count, inFlight, new byte[0], hello, timeout);
  }

  /**
   * Like {@link #openEcho(Target, int, int, byte[], Duration)}, each connection first sending
   * {@code preface} (a TLS ClientHello, for a target routing by server name) in the same write as
   * the hello; the echo of both proves it.
   */
  static List<SocketChannel> openEcho(
      Target t, int count, int inFlight, byte[] preface, byte[] msg, Duration timeout)
      throws IOException {
    if (msg.length == 0 || msg[0] != EchoServers.ECHO) {
      throw new IllegalArgumentException("hello must start with the echo mode byte");
    }
    if (preface.length > 0 && preface[0] != EchoServers.TLS_HANDSHAKE) {
      throw new IllegalArgumentException("a preface must be a TLS handshake record");
    }
    byte[] hello = new byte[preface.length + msg.length];
    System.arraycopy(preface, 0, hello, 0, preface.length);
    System.arraycopy(msg, 0, hello, preface.length, msg.length);
    List<SocketChannel> done = new ArrayList<>(count);
    List<SocketChannel> all = new ArrayList<>(count);
    ByteBuffer scratch = ByteBuffer.allocateDirect(64 * 1024);
    long deadline = System.nanoTime() + timeout.toNanos();
    int started = 0;
    int active = 0;
    boolean ok = false;
    try (Selector sel = Selector.open()) {
      while (done.size() < count) {
        while (active < inFlight && started < count) {
          SocketChannel ch = SocketChannel.open();
          all.add(ch);
          ch.configureBlocking(false);
          ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
          int[] got = new int[1];
          if (ch.connect(t.front(started))) {
            Bulk.writeFully(ch, ByteBuffer.wrap(hello));
            ch.register(sel, SelectionKey.OP_READ, got);
          } else {
            ch.register(sel, SelectionKey.OP_CONNECT, got);
          }
          started++;
          active++;
        }
        if (System.nanoTime() > deadline) {
          throw new IOException(
              "opened "
                  + done.size()
                  + " of "
                  + count
                  + " connections to "
                  + t.name()
                  + " in "
                  + timeout.toSeconds()
                  + " s");
        }
        sel.select(100);
        for (SelectionKey key : sel.selectedKeys()) {
          SocketChannel ch = (SocketChannel) key.channel();
          int[] got = (int[]) key.attachment();
          try {
            if (key.isConnectable()) {
              ch.finishConnect();
              Bulk.writeFully(
                  ch, ByteBuffer.wrap(hello)); // a small write into an empty buffer: never blocks
              key.interestOps(SelectionKey.OP_READ);
            } else if (key.isReadable()) {
              scratch.clear();
              int n = ch.read(scratch);
              if (n < 0) {
                throw new IOException("closed before echoing the hello");
              }
              got[0] += n;
              if (got[0] >= hello.length) {
                key.cancel();
                done.add(ch);
                active--;
              }
            }
          } catch (IOException e) {
            throw new IOException(
                "connection "
                    + (done.size() + active)
                    + " to "
                    + t.name()
                    + " ("
                    + t.front(all.indexOf(ch))
                    + ") failed after "
                    + done.size()
                    + " opened: "
                    + e.getMessage(),
                e);
          }
        }
        sel.selectedKeys().clear();
      }
      ok = true;
      return done;
    } finally {
      if (!ok) {
        closeAll(all);
      }
    }
  }

  static void closeAll(List<SocketChannel> chans) {
    for (SocketChannel ch : chans) {
      try {
        ch.close();
      } catch (IOException e) {
        // closing at the end of a measurement; a failure here leaves nothing to release
      }
    }
  }
}
