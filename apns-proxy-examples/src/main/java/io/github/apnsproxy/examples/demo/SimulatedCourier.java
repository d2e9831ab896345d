// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.demo;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * A simulated APNs courier on a loopback address: a TLS 1.3 server that answers each line a device
 * sends with {@code "<name>: <line>"} and closes its side once the device has closed its sending
 * side. Thread per connection (demo scale); {@link #close()} stops it and its connections.
 */
public final class SimulatedCourier implements Closeable {
  private final String name;
  private final SSLServerSocket server;
  private final ExecutorService threads;
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicLong bytesIn = new AtomicLong();
  private volatile boolean closed;

  private SimulatedCourier(String name, SSLServerSocket server) {
    this.name = name;
    this.server = server;
    AtomicInteger n = new AtomicInteger();
    this.threads =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "demo-courier-" + name + "-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Starts a courier named {@code name} listening on {@code address} (port 0 picks a free port).
   */
  public static SimulatedCourier start(String name, InetSocketAddress address, DemoCertificates tls)
      throws IOException {
    SSLServerSocket server =
        (SSLServerSocket) tls.server().getServerSocketFactory().createServerSocket();
    server.setReuseAddress(true);
    server.bind(address, 1024);
    server.setEnabledProtocols(new String[] {"TLSv1.3"});
    SimulatedCourier courier = new SimulatedCourier(name, server);
    courier.threads.execute(courier::acceptLoop);
    return courier;
  }

  /** The bound address. */
  public InetSocketAddress address() {
    return (InetSocketAddress) server.getLocalSocketAddress();
  }

  /** The courier's name, e.g. {@code courier-a}. */
  public String name() {
    return name;
  }

  /** How many connections it has accepted. */
  public int connections() {
    return connections.get();
  }

  /** Application bytes received from devices. */
  public long bytesIn() {
    return bytesIn.get();
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket s = server.accept();
        connections.incrementAndGet();
        threads.execute(() -> serve((SSLSocket) s));
      } catch (IOException e) {
        if (closed) {
          return; // closing the server socket ends accept(): expected on close()
        }
      }
    }
  }

  private void serve(SSLSocket s) {
    try (s) {
      s.setTcpNoDelay(true);
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      StringBuilder line = new StringBuilder();
      int c;
      while ((c = in.read()) >= 0) {
        bytesIn.incrementAndGet();
        if (c == '\n') {
          out.write((name + ": " + line + "\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
          line.setLength(0);
        } else {
          line.append((char) c);
        }
      }
    } catch (SocketException e) {
      // the device went away abruptly: nothing to answer
    } catch (IOException e) {
      // a failed handshake or a broken connection ends this connection only
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // closing a listening socket can only fail if it is already closed
    }
    threads.shutdownNow();
    try {
      threads.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
