// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** A blocking loopback server for tests: one daemon thread per connection running a handler. */
final class TestServer implements AutoCloseable {
  interface Handler {
    void handle(Socket socket) throws IOException;
  }

  private final ServerSocket server;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  final AtomicInteger accepted = new AtomicInteger();
  final List<Throwable> errors = new CopyOnWriteArrayList<>();

  TestServer(InetSocketAddress bind, Handler handler) throws IOException {
    server = new ServerSocket();
    server.setReuseAddress(true);
    server.bind(bind, 512);
    Thread t =
        new Thread(
            () -> {
              while (!server.isClosed()) {
                Socket s;
                try {
                  s = server.accept();
                } catch (IOException e) {
                  return; // closed
                }
                accepted.incrementAndGet();
                sockets.add(s);
                Thread h =
                    new Thread(
                        () -> {
                          try (s) {
                            handler.handle(s);
                          } catch (IOException e) {
                            errors.add(e);
                          }
                        },
                        "test-server-conn");
                h.setDaemon(true);
                h.start();
              }
            },
            "test-server-accept");
    t.setDaemon(true);
    t.start();
  }

  static TestServer echo(InetSocketAddress bind) throws IOException {
    return new TestServer(bind, TestServer::echo);
  }

  static void echo(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    OutputStream out = s.getOutputStream();
    byte[] buf = new byte[16384];
    int n;
    while ((n = in.read(buf)) >= 0) {
      out.write(buf, 0, n);
    }
  }

  InetSocketAddress address() {
    return (InetSocketAddress) server.getLocalSocketAddress();
  }

  static InetSocketAddress at(String ip, int port) {
    try {
      return new InetSocketAddress(InetAddress.getByName(ip), port);
    } catch (IOException e) {
      throw new IllegalArgumentException(ip, e);
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : sockets) {
      s.close();
    }
  }
}
