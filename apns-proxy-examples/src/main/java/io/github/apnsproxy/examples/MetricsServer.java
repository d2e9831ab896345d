// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A tiny HTTP endpoint (JDK {@code com.sun.net.httpserver}) serving {@code /metrics} in the Prometheus text format and
 * {@code /healthz} ({@code 200 ok} while healthy, else 503). One thread named {@code apns-proxy-metrics}.
 */
public final class MetricsServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);

  private final HttpServer server;
  private final ExecutorService executor;

  private MetricsServer(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Binds and starts the endpoint.
   *
   * @param address where to listen (loopback by default in the config)
   * @param metrics produces the whole {@code /metrics} body on each scrape
   * @param healthy tells {@code /healthz} whether the proxy is serving
   * @throws IOException naming the address when it cannot be bound
   */
  public static MetricsServer start(InetSocketAddress address, Supplier<String> metrics, BooleanSupplier healthy)
      throws IOException {
    HttpServer server;
    try {
      server = HttpServer.create(address, 16);
    } catch (IOException e) {
      throw new IOException("cannot bind the metrics endpoint on " + address + ": " + e.getMessage(), e);
    }
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "apns-proxy-metrics");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/metrics", exchange -> respond(exchange, 200, "text/plain; version=0.0.4", metrics));
    server.createContext("/healthz", exchange -> {
      boolean ok = healthy.getAsBoolean();
      respond(exchange, ok ? 200 : 503, "text/plain", () -> ok ? "ok\n" : "not serving\n");
    });
    server.start();
    LOG.info("metrics endpoint on http://{}:{}/metrics", address.getHostString(), server.getAddress().getPort());
    return new MetricsServer(server, executor);
  }

  /** The bound address (the real port when 0 was asked for). */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  private static void respond(HttpExchange exchange, int status, String type, Supplier<String> body)
      throws IOException {
    try (exchange) {
      if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
        exchange.sendResponseHeaders(405, -1);
        return;
      }
      byte[] bytes;
      try {
        bytes = body.get().getBytes(StandardCharsets.UTF_8);
      } catch (RuntimeException e) {
        LOG.warn("metrics could not be produced", e);
        status = 500;
        bytes = "error\n".getBytes(StandardCharsets.UTF_8);
      }
      exchange.getResponseHeaders().set("Content-Type", type);
      boolean head = exchange.getRequestMethod().equals("HEAD");
      exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
      if (!head) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(bytes);
        }
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
