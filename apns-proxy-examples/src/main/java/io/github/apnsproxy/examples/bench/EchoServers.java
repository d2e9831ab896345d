// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * The bench's upstream servers ("couriers"): non-blocking TCP servers on loopback addresses, run in
 * their own JVM so that the bench process and this one each stay under the open-files limit during
 * the idle test. The first byte a client sends picks what the connection does:
 *
 * <ul>
 *   <li>{@code 'E'} echo: every byte, the first included, is sent back (ping-pong, setups, idle
 *       keepalives);
 *   <li>{@code 'S'} sink: bytes are counted and dropped; at the client's EOF the count goes back as
 *       8 bytes, big endian, and the connection closes (bulk client to upstream);
 *   <li>{@code 'G'} generate: after an 8-byte length (0 = until the client closes) that many bytes
 *       are sent, then the output is shut down (bulk upstream to client).
 * </ul>
 *
 * <p>Usage: {@code java -cp apns-proxy.jar io.github.apnsproxy.examples.bench.EchoServers
 * [--threads N] HOST:PORT...}. Prints {@code echo-servers ready} once every address is bound, and
 * exits when its standard input closes, so it never outlives the bench that started it. Threads: N
 * selector loops named {@code apns-proxy-bench-echo-N}; each listener and its connections live on
 * one loop.
 */
public final class EchoServers {
  static final byte ECHO = 'E';
  static final byte SINK = 'S';
  static final byte GENERATE = 'G';

  /**
   * A TLS handshake record's first byte: a connection opened with a ClientHello echoes everything,
   * hello included.
   */
  static final byte TLS_HANDSHAKE = 0x16;

  private EchoServers() {}

  public static void main(String[] args) throws IOException {
    int threads = 1;
    List<InetSocketAddress> listen = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--threads") && i + 1 < args.length) {
        threads = Integer.parseInt(args[++i]);
      } else {
        listen.add(Options.socketAddress(args[i]));
      }
    }
    if (listen.isEmpty() || threads < 1) {
      System.err.println("usage: EchoServers [--threads N] HOST:PORT...");
      System.exit(2);
    }
    List<Loop> loops = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      loops.add(new Loop(Selector.open()));
    }
    for (int i = 0; i < listen.size(); i++) {
      ServerSocketChannel server = ServerSocketChannel.open();
      server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      try {
        server.bind(listen.get(i), 4096);
      } catch (IOException e) {
        throw new IOException("cannot bind " + listen.get(i) + ": " + e.getMessage(), e);
      }
      server.configureBlocking(false);
      server.register(loops.get(i % threads).selector, SelectionKey.OP_ACCEPT);
    }
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(loops.get(i), "apns-proxy-bench-echo-" + i);
      t.setDaemon(true);
      t.start();
    }
    System.out.println("echo-servers ready " + listen.size());
    System.out.flush();
    // the bench holds our standard input: its end (the bench exited or was killed) ends us
    InputStream in = System.in;
    while (in.read() >= 0) {
      // nothing is ever sent; just wait for end of stream
    }
    System.exit(0);
  }

  /** One connection's state; touched only by its loop thread. */
  private static final class Conn {
    final SocketChannel ch;
    byte mode;

    /** Sink: bytes received. Generate: length header bytes seen so far. */
    long count;

    long headerLength;

    /** Generate: bytes still to send (Long.MAX_VALUE = unbounded). */
    long remaining;

    /** Echo: bytes the client could not take yet; reading pauses until they drain. */
    ByteBuffer pending;

    boolean eof;

    Conn(SocketChannel ch) {
      this.ch = ch;
    }
  }

  /** A selector loop: accepts, echoes, sinks and generates. */
  private static final class Loop implements Runnable {
    final Selector selector;
    final ByteBuffer scratch = ByteBuffer.allocateDirect(256 * 1024);
    final ByteBuffer source = ByteBuffer.allocateDirect(256 * 1024);

    Loop(Selector selector) {
      this.selector = selector;
      while (source.hasRemaining()) {
        source.put((byte) ('a' + source.position() % 26));
      }
      source.flip();
    }

    @Override
    public void run() {
      try {
        while (true) {
          selector.select();
          for (SelectionKey key : selector.selectedKeys()) {
            try {
              handle(key);
            } catch (IOException | RuntimeException e) {
              // one failing connection (reset, broken pipe) ends that connection only
              if (key.attachment() instanceof Conn c) {
                close(c);
              }
            }
          }
          selector.selectedKeys().clear();
        }
      } catch (IOException | ClosedSelectorException e) {
        System.err.println("echo loop ended: " + e);
      }
    }

    private void handle(SelectionKey key) throws IOException {
      if (!key.isValid()) {
        return;
      }
      if (key.isAcceptable()) {
        ServerSocketChannel server = (ServerSocketChannel) key.channel();
        SocketChannel ch;
        while ((ch = server.accept()) != null) {
          ch.configureBlocking(false);
          ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
          Conn c = new Conn(ch);
          ch.register(selector, SelectionKey.OP_READ, c);
        }
        return;
      }
      Conn c = (Conn) key.attachment();
      if (key.isReadable()) {
        readable(c, key);
      }
      if (key.isValid() && key.isWritable()) {
        writable(c, key);
      }
    }

    private void readable(Conn c, SelectionKey key) throws IOException {
      scratch.clear();
      int n = c.ch.read(scratch);
      if (n < 0) {
        eof(c, key);
        return;
      }
      scratch.flip();
      if (n == 0) {
        return;
      }
      if (c.mode == 0) {
        c.mode = scratch.get(0) == TLS_HANDSHAKE ? ECHO : scratch.get(0);
        if (c.mode != ECHO) {
          scratch.get(); // sink and generate drop their mode byte
        }
      }
      switch (c.mode) {
        case ECHO -> {
          c.ch.write(scratch);
          if (scratch.hasRemaining()) {
            c.pending = ByteBuffer.allocate(scratch.remaining());
            c.pending.put(scratch).flip();
            key.interestOps(SelectionKey.OP_WRITE);
          }
        }
        case SINK -> {
          c.count += scratch.remaining();
          // drain what the socket holds now: one select per 256 KiB read is the sink's whole cost
          // otherwise
          for (int i = 0; i < 16; i++) {
            scratch.clear();
            int more = c.ch.read(scratch);
            if (more < 0) {
              eof(c, key);
              return;
            }
            if (more == 0) {
              break;
            }
            c.count += more;
          }
        }
        case GENERATE -> {
          while (scratch.hasRemaining() && c.count < 8) {
            c.headerLength = (c.headerLength << 8) | (scratch.get() & 0xff);
            c.count++;
            if (c.count == 8) {
              c.remaining = c.headerLength == 0 ? Long.MAX_VALUE : c.headerLength;
              key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            }
          }
        }
        default -> close(c);
      }
    }

    private void writable(Conn c, SelectionKey key) throws IOException {
      if (c.mode == ECHO && c.pending != null) {
        c.ch.write(c.pending);
        if (!c.pending.hasRemaining()) {
          c.pending = null;
          if (c.eof) {
            close(c);
          } else {
            key.interestOps(SelectionKey.OP_READ);
          }
        }
      } else if (c.mode == GENERATE) {
        while (c.remaining > 0) {
          source.clear();
          if (c.remaining < source.capacity()) {
            source.limit((int) c.remaining);
          }
          int w = c.ch.write(source);
          if (c.remaining != Long.MAX_VALUE) {
            c.remaining -= w;
          }
          if (source.hasRemaining()) {
            return; // the client's window is full: wait for OP_WRITE
          }
        }
        c.ch.shutdownOutput();
        key.interestOps(SelectionKey.OP_READ);
      }
    }

    private void eof(Conn c, SelectionKey key) throws IOException {
      c.eof = true;
      if (c.mode == SINK) {
        ByteBuffer count = ByteBuffer.allocate(8).putLong(c.count).flip();
        c.ch.write(count); // 8 bytes into an empty send buffer always fit
        close(c);
      } else if (c.mode == ECHO && c.pending != null) {
        key.interestOps(SelectionKey.OP_WRITE); // flush what is owed, then close
      } else {
        close(c);
      }
    }

    private static void close(Conn c) {
      try {
        c.ch.close();
      } catch (IOException e) {
        // already failing; nothing more to release
      }
    }
  }
}
