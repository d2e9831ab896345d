// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.EgressProxy;
import io.github.apnsproxy.tcp.EgressProxyException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;

/**
 * The splicer's proxy handshake ({@link Tunnel}) over a blocking socket, for tools; see {@link
 * EgressProxy#connect}.
 */
public final class BlockingTunnel {
  private BlockingTunnel() {}

  /** Connects through {@code proxy} to {@code host:port}; see {@link EgressProxy#connect}. */
  public static Socket open(EgressProxy proxy, String host, int port, Duration timeout)
      throws IOException {
    Objects.requireNonNull(proxy, "proxy");
    Objects.requireNonNull(host, "host");
    int ms = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    Socket s = new Socket();
    boolean ok = false;
    try {
      try {
        s.connect(new InetSocketAddress(proxy.host(), proxy.port()), ms);
      } catch (IOException e) {
        throw new IOException("egress proxy " + proxy + " cannot be reached: " + e.getMessage(), e);
      }
      s.setSoTimeout(ms);
      s.setTcpNoDelay(true);
      Tunnel t = new Tunnel(proxy, host, port, 4096);
      InputStream in = s.getInputStream();
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        ByteBuffer out = t.output();
        if (out.hasRemaining()) {
          s.getOutputStream()
              .write(out.array(), out.arrayOffset() + out.position(), out.remaining());
          out.position(out.limit());
        }
        ByteBuffer buf = t.input();
        int n;
        try {
          n = in.read(buf.array(), buf.arrayOffset() + buf.position(), buf.remaining());
        } catch (SocketTimeoutException e) {
          throw new EgressProxyException(
              "egress proxy " + proxy + " did not answer within " + timeout, false);
        }
        if (n < 0) {
          throw new EgressProxyException(
              "egress proxy " + proxy + " closed the connection during the handshake", false);
        }
        buf.position(buf.position() + n);
        int r = t.advance();
        if (r == Tunnel.ESTABLISHED) {
          ok = true;
          return s;
        }
        if (r == Tunnel.FAILED) {
          throw new EgressProxyException(
              "egress proxy " + proxy + " " + t.failure(), t.isConfigProblem());
        }
        if (System.nanoTime() - deadline > 0) {
          throw new EgressProxyException(
              "egress proxy " + proxy + " did not answer within " + timeout, false);
        }
      }
    } finally {
      if (!ok) {
        s.close();
      }
    }
  }
}
