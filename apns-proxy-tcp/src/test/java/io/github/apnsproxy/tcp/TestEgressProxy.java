// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * An in-test corporate proxy (HTTP CONNECT or SOCKS5) that records what it was asked - the
 * requested host and port as the client sent them, and the credentials - and then relays to where
 * {@code route} maps that host and port, or answers as configured (a status, a SOCKS reply code,
 * silence).
 */
final class TestEgressProxy implements AutoCloseable {
  enum Kind {
    HTTP,
    SOCKS5
  }

  final Kind kind;
  final TestServer server;

  /** Requests as "host:port" exactly as asked (a name stays a name). */
  final List<String> requested = new CopyOnWriteArrayList<>();

  /** HTTP: the Host header value; SOCKS5: the address type (1, 3 or 4) of each request. */
  final List<String> details = new CopyOnWriteArrayList<>();

  /** HTTP: Proxy-Authorization values; SOCKS5: "user:pass" from RFC 1929. */
  final List<String> credentials = new CopyOnWriteArrayList<>();

  private final Function<String, @Nullable InetSocketAddress> route;
  volatile int answer; // HTTP: status to answer (200 = relay); SOCKS5: reply code (0 = relay)
  volatile boolean stall;
  volatile @Nullable String requireUser;
  volatile @Nullable String requirePass;
  private final CountDownLatch release = new CountDownLatch(1);

  /**
   * Bytes sent right after the success answer, in the same write (as if the upstream spoke at
   * once).
   */
  volatile byte[] afterOk = new byte[0];

  TestEgressProxy(Kind kind, Function<String, @Nullable InetSocketAddress> route)
      throws IOException {
    this.kind = kind;
    this.route = route;
    this.answer = kind == Kind.HTTP ? 200 : 0;
    this.server = new TestServer(TestServer.at("127.0.0.1", 0), this::handle);
  }

  /** A proxy relaying every request to {@code target}. */
  static TestEgressProxy to(Kind kind, InetSocketAddress target) throws IOException {
    return new TestEgressProxy(kind, hostPort -> target);
  }

  InetSocketAddress address() {
    return server.address();
  }

  /** This proxy as an {@link EgressProxy}, with credentials when given. */
  EgressProxy egress(@Nullable String user, @Nullable String pass) {
    InetSocketAddress a = address();
    EgressProxy p =
        EgressProxy.of(
            kind == Kind.HTTP ? EgressProxy.Scheme.HTTP : EgressProxy.Scheme.SOCKS5,
            a.getAddress().getHostAddress(),
            a.getPort());
    return user == null || pass == null ? p : p.withCredentials(user, pass);
  }

  private void handle(Socket s) throws IOException {
    s.setSoTimeout(30_000);
    InputStream in = s.getInputStream();
    OutputStream out = s.getOutputStream();
    String target = kind == Kind.HTTP ? http(in, out) : socks(new DataInputStream(in), out);
    if (target == null) {
      return;
    }
    InetSocketAddress to = route.apply(target);
    if (to == null) {
      return;
    }
    try (Socket up = new Socket()) {
      up.connect(to, 5_000);
      up.setSoTimeout(30_000);
      if (kind == Kind.HTTP) {
        ByteArrayOutputStream ok = new ByteArrayOutputStream();
        ok.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        ok.write(afterOk);
        out.write(ok.toByteArray());
      } else {
        ByteArrayOutputStream ok = new ByteArrayOutputStream();
        ok.write(new byte[] {5, 0, 0, 1, 127, 0, 0, 1, 0, 0});
        ok.write(afterOk);
        out.write(ok.toByteArray());
      }
      out.flush();
      Thread t = new Thread(() -> pump(up, s), "test-proxy-down");
      t.setDaemon(true);
      t.start();
      pump(s, up);
      try {
        t.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void pump(Socket from, Socket to) {
    byte[] buf = new byte[16384];
    try {
      InputStream in = from.getInputStream();
      int n;
      while ((n = in.read(buf)) >= 0) {
        to.getOutputStream().write(buf, 0, n);
      }
      to.shutdownOutput();
    } catch (IOException e) {
      // one side went away: the other pump ends too when its socket closes
    }
  }

  private @Nullable String http(InputStream in, OutputStream out) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int c;
    int match = 0;
    while (match < 4 && (c = in.read()) >= 0) {
      head.write(c);
      match =
          (c == '\r' && (match == 0 || match == 2)) || (c == '\n' && (match == 1 || match == 3))
              ? match + 1
              : 0;
    }
    String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n", -1);
    String[] first = lines[0].split(" ", -1);
    if (first.length != 3 || !first[0].equals("CONNECT")) {
      out.write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      return null;
    }
    requested.add(first[1]);
    String auth = null;
    for (String l : lines) {
      int colon = l.indexOf(':');
      if (colon > 0 && l.substring(0, colon).equalsIgnoreCase("Host")) {
        details.add(l.substring(colon + 1).strip());
      }
      if (colon > 0 && l.substring(0, colon).equalsIgnoreCase("Proxy-Authorization")) {
        auth = l.substring(colon + 1).strip();
        credentials.add(auth);
      }
    }
    if (stall) {
      awaitRelease();
      return null;
    }
    String user = requireUser;
    if (user != null) {
      String expected =
          "Basic "
              + java.util.Base64.getEncoder()
                  .encodeToString((user + ":" + requirePass).getBytes(StandardCharsets.UTF_8));
      if (!expected.equals(auth)) {
        out.write(
            ("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"
                    + "Content-Length: 0\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        return null;
      }
    }
    int status = answer;
    if (status != 200) {
      out.write(
          ("HTTP/1.1 "
                  + status
                  + " "
                  + (status == 403 ? "Forbidden" : "Test Answer")
                  + "\r\nContent-Length: 0\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      return null;
    }
    return first[1];
  }

  private @Nullable String socks(DataInputStream in, OutputStream out) throws IOException {
    if (in.readUnsignedByte() != 5) {
      return null;
    }
    int n = in.readUnsignedByte();
    byte[] methods = in.readNBytes(n);
    String user = requireUser;
    boolean offered2 = false;
    for (byte m : methods) {
      offered2 |= m == 2;
    }
    if (offered2 && user != null) {
      out.write(new byte[] {5, 2});
      in.readUnsignedByte();
      String u = new String(in.readNBytes(in.readUnsignedByte()), StandardCharsets.UTF_8);
      String p = new String(in.readNBytes(in.readUnsignedByte()), StandardCharsets.UTF_8);
      credentials.add(u + ":" + p);
      boolean ok = u.equals(user) && p.equals(requirePass);
      out.write(new byte[] {1, (byte) (ok ? 0 : 1)});
      if (!ok) {
        return null;
      }
    } else if (user != null) {
      out.write(new byte[] {5, (byte) 0xff});
      return null;
    } else {
      out.write(new byte[] {5, 0});
    }
    if (in.readUnsignedByte() != 5 || in.readUnsignedByte() != 1) {
      return null;
    }
    in.readUnsignedByte();
    int atyp = in.readUnsignedByte();
    details.add(String.valueOf(atyp));
    String host;
    if (atyp == 3) {
      host = new String(in.readNBytes(in.readUnsignedByte()), StandardCharsets.US_ASCII);
    } else {
      byte[] a = in.readNBytes(atyp == 1 ? 4 : 16);
      host = java.net.InetAddress.getByAddress(a).getHostAddress();
    }
    int port = in.readUnsignedShort();
    requested.add(host + ":" + port);
    if (stall) {
      awaitRelease();
      return null;
    }
    if (answer != 0) {
      out.write(new byte[] {5, (byte) answer, 0, 1, 0, 0, 0, 0, 0, 0});
      return null;
    }
    return host + ":" + port;
  }

  private void awaitRelease() {
    try {
      release.await(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() throws IOException {
    release.countDown();
    server.close();
  }
}
