// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.tcp.EgressProxy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A tiny in-test HTTP CONNECT proxy (a corporate proxy for the egress tests): names from {@code
 * table}, only {@code ports} allowed (else 403, as Squid's SSL_ports), a name it does not know 503;
 * it records each request's target and {@code Proxy-Authorization} header. One thread per
 * connection; for tests only.
 */
final class TestConnectProxy implements AutoCloseable {
  private final ServerSocket server;

  /** Request targets as asked ({@code host:port}). */
  final List<String> requested = new CopyOnWriteArrayList<>();

  /** The {@code Proxy-Authorization} value of each request ({@code -} when none). */
  final List<String> authorizations = new CopyOnWriteArrayList<>();

  private TestConnectProxy(ServerSocket server) {
    this.server = server;
  }

  /** Starts one on 127.0.0.1, an ephemeral port. */
  static TestConnectProxy start(Map<String, InetSocketAddress> table, Set<Integer> ports)
      throws IOException {
    TestConnectProxy p =
        new TestConnectProxy(new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1")));
    Thread t =
        new Thread(
            () -> {
              while (!p.server.isClosed()) {
                try {
                  Socket s = p.server.accept();
                  Thread h = new Thread(() -> p.serve(s, table, ports), "test-connect-proxy-conn");
                  h.setDaemon(true);
                  h.start();
                } catch (IOException e) {
                  return; // closed
                }
              }
            },
            "test-connect-proxy");
    t.setDaemon(true);
    t.start();
    return p;
  }

  /** This proxy as an egress proxy, without credentials. */
  EgressProxy egress() {
    return EgressProxy.of(EgressProxy.Scheme.HTTP, "127.0.0.1", port());
  }

  int port() {
    return server.getLocalPort();
  }

  private void serve(Socket s, Map<String, InetSocketAddress> table, Set<Integer> ports) {
    try (s) {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
        int c = in.read();
        if (c < 0) {
          return;
        }
        head.write(c);
      }
      String text = head.toString(StandardCharsets.ISO_8859_1);
      String target = text.split(" ", -1)[1];
      String auth = "-";
      for (String line : text.split("\r\n", -1)) {
        if (line.toLowerCase(Locale.ROOT).startsWith("proxy-authorization:")) {
          auth = line.substring(line.indexOf(':') + 1).strip();
        }
      }
      requested.add(target);
      authorizations.add(auth);
      String host = target.substring(0, target.lastIndexOf(':'));
      int port = Integer.parseInt(target.substring(target.lastIndexOf(':') + 1));
      if (!ports.contains(port)) {
        out.write("HTTP/1.1 403 Forbidden\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        return;
      }
      InetSocketAddress to = table.get(host);
      if (to == null) {
        out.write("HTTP/1.1 503 Service Unavailable\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        return;
      }
      try (Socket up = new Socket()) {
        up.connect(to, 5000);
        out.write(
            "HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        Thread down =
            new Thread(
                () -> {
                  try {
                    up.getInputStream().transferTo(out);
                    s.shutdownOutput();
                  } catch (IOException e) {
                    // the client went away
                  }
                },
                "test-connect-proxy-down");
        down.setDaemon(true);
        down.start();
        in.transferTo(up.getOutputStream());
        up.shutdownOutput();
        down.join(10_000);
      }
    } catch (IOException | InterruptedException | RuntimeException e) {
      // a test proxy connection failing ends that connection only
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
