// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.CidrSet;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.exporter.common.PrometheusHttpExchange;
import io.prometheus.metrics.exporter.common.PrometheusHttpRequest;
import io.prometheus.metrics.exporter.common.PrometheusHttpResponse;
import io.prometheus.metrics.exporter.common.PrometheusScrapeHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code /metrics} and {@code /healthz} endpoint: the Prometheus client's scrape handler
 * (content negotiation, text / OpenMetrics / protobuf, gzip, {@code name[]} filters) behind a small
 * HTTP/1.1 server that no client can stall.
 *
 * <p>Why not the JDK's {@code com.sun.net.httpserver} (which the client's {@code HTTPServer}
 * wraps): its dispatcher reads request headers with blocking reads on the executor's threads, so a
 * few half-sent requests hold every thread, and it retries a failing {@code accept()} (out of
 * descriptors) without pausing, spinning a core. Here:
 *
 * <ul>
 *   <li>one selector thread ({@code apns-proxy-metrics}) accepts, reads requests and writes
 *       responses without blocking; a request must arrive whole within the request timeout (and the
 *       response be taken within it too), else the connection is closed; at the connection cap the
 *       oldest connection still sending its request is closed, so newcomers are always served;
 *   <li>the scrape itself runs on a second thread ({@code apns-proxy-metrics-scrape}), so the
 *       selector never waits on it;
 *   <li>a client address outside the allow-list is closed at accept, before a byte is read;
 *   <li>a failing {@code accept()} (EMFILE, ENFILE, ENOBUFS) pauses accepting for the accept
 *       backoff (one WARN line per episode), as the splicer does.
 * </ul>
 *
 * One request per connection ({@code Connection: close}); GET and HEAD only; request heads up to 8
 * KiB.
 */
public final class MetricsEndpoint implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(MetricsEndpoint.class);
  private static final int MAX_HEAD = 8192;
  private static final int ACCEPTS_PER_WAKEUP = 64;

  private final ServerSocketChannel server;
  private final Selector selector;
  private final SelectionKey acceptKey;
  private final PrometheusScrapeHandler scrapeHandler;
  private final BooleanSupplier healthy;
  private final @Nullable Function<Boolean, DeepHealth> deep;
  private final CidrSet allow;
  private final long requestTimeoutNanos;
  private final long acceptBackoffNanos;
  private final int maxConnections;
  private final Counter refused;
  private final Counter acceptErrors;
  private final Thread thread;
  private final ExecutorService scraper;
  private final Queue<Conn> answered = new ConcurrentLinkedQueue<>();

  /** Open connections in accept order; loop thread only. */
  private final Set<Conn> conns = new LinkedHashSet<>();

  private volatile boolean closed;

  /** When accepting resumes after a failed accept (nanoTime), or 0; loop thread only. */
  private long acceptPausedUntil;

  private MetricsEndpoint(Builder b) throws IOException {
    this.scrapeHandler = new PrometheusScrapeHandler(b.registry);
    this.healthy = b.healthy;
    this.deep = b.deep;
    this.allow = b.allow;
    this.requestTimeoutNanos = b.requestTimeout.toNanos();
    this.acceptBackoffNanos = b.acceptBackoff.toNanos();
    this.maxConnections = b.maxConnections;
    this.refused =
        Counter.builder()
            .name(ProxyMetrics.PREFIX + "metrics_refused_total")
            .help("Connections to the metrics endpoint closed without an answer, by reason.")
            .labelNames("reason")
            .register(b.registry);
    for (String reason : new String[] {"denied", "timeout", "evicted", "too_large"}) {
      refused.labelValues(reason); // present from the start
    }
    this.acceptErrors =
        Counter.builder()
            .name(ProxyMetrics.PREFIX + "metrics_accept_errors_total")
            .help("Failed accepts on the metrics endpoint (each pauses accepting for the backoff).")
            .register(b.registry);
    ServerSocketChannel s = ServerSocketChannel.open();
    try {
      s.bind(b.listen, 64);
      s.configureBlocking(false);
      this.selector = Selector.open();
      this.acceptKey = s.register(selector, SelectionKey.OP_ACCEPT);
    } catch (IOException e) {
      s.close();
      throw new IOException(
          "cannot bind the metrics endpoint on " + b.listen + ": " + e.getMessage(), e);
    }
    this.server = s;
    this.scraper = Executors.newSingleThreadExecutor(r -> daemon(r, "apns-proxy-metrics-scrape"));
    this.thread = daemon(this::run, "apns-proxy-metrics");
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /**
   * A builder; {@link Builder#listen}, {@link Builder#registry} and {@link Builder#health} are
   * required.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The bound address (the real port when 0 was asked for). */
  public InetSocketAddress address() {
    try {
      return (InetSocketAddress) Objects.requireNonNull(server.getLocalAddress(), "local address");
    } catch (IOException e) {
      throw new IllegalStateException("metrics endpoint closed", e);
    }
  }

  // ------------------------------------------------------------------------------------------------- loop thread

  private void run() {
    try {
      while (!closed) {
        long now = System.nanoTime();
        long wait = expire(now);
        if (acceptPausedUntil != 0) {
          if (now - acceptPausedUntil >= 0) {
            acceptPausedUntil = 0;
            acceptKey.interestOps(SelectionKey.OP_ACCEPT);
          } else {
            wait = Math.min(wait, acceptPausedUntil - now);
          }
        }
        selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(wait) + 1));
        for (Conn c; (c = answered.poll()) != null; ) {
          c.startWriting();
        }
        for (SelectionKey key : selector.selectedKeys()) {
          if (key == acceptKey) {
            accept();
          } else if (key.isValid()) {
            ((Conn) key.attachment()).ready(key);
          }
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        LOG.warn("metrics endpoint stopped", e);
      }
    } finally {
      new ArrayList<>(conns).forEach(Conn::close);
    }
  }

  /**
   * Closes connections past their deadline; returns the nanos until the next deadline (at most one
   * second).
   */
  private long expire(long now) {
    long next = TimeUnit.SECONDS.toNanos(1);
    for (Conn c : new ArrayList<>(conns)) {
      long left = c.deadline - now;
      if (left <= 0) {
        refused.labelValues("timeout").inc();
        LOG.debug("metrics endpoint: {} timed out", c.remote);
        c.close();
      } else {
        next = Math.min(next, left);
      }
    }
    return next;
  }

  private void accept() {
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        // Out of descriptors (or buffers): the listener stays readable, so retrying at once would
        // spin. Pause.
        acceptErrors.inc();
        if (acceptPausedUntil == 0) {
          LOG.warn(
              "metrics endpoint: accept failed ({}); pausing accepts for {} ms",
              e.getMessage(),
              TimeUnit.NANOSECONDS.toMillis(acceptBackoffNanos));
        }
        acceptKey.interestOps(0);
        acceptPausedUntil = System.nanoTime() + acceptBackoffNanos;
        acceptPausedUntil = acceptPausedUntil == 0 ? 1 : acceptPausedUntil;
        return;
      }
      if (ch == null) {
        return;
      }
      admit(ch);
    }
  }

  private void admit(SocketChannel ch) {
    try {
      InetSocketAddress remote = (InetSocketAddress) ch.getRemoteAddress();
      if (remote == null || !allow.contains(remote.getAddress())) {
        refused.labelValues("denied").inc();
        LOG.debug("metrics endpoint: {} is outside the allow-list, closed", remote);
        ch.close();
        return;
      }
      if (conns.size() >= maxConnections) {
        evictOldestReader();
      }
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      Conn c = new Conn(ch, remote, System.nanoTime() + requestTimeoutNanos);
      c.key = ch.register(selector, SelectionKey.OP_READ, c);
      conns.add(c);
    } catch (IOException e) {
      LOG.debug("metrics endpoint: accepted connection failed", e);
      closeQuietly(ch);
    }
  }

  /**
   * At the cap: the oldest connection still sending its request goes (RFC 7230 section 6.5 allows
   * closing idle).
   */
  private void evictOldestReader() {
    for (Conn c : conns) {
      if (c.state == State.READING) {
        refused.labelValues("evicted").inc();
        c.close();
        return;
      }
    }
  }

  private enum State {
    READING,
    SCRAPING,
    WRITING
  }

  /**
   * One client connection; touched by the loop thread, except {@link #response} which the scrape
   * thread sets.
   */
  private final class Conn {
    final SocketChannel ch;
    final InetSocketAddress remote;
    final long deadline;
    final ByteBuffer in = ByteBuffer.allocate(MAX_HEAD);
    @Nullable SelectionKey key;
    State state = State.READING;
    volatile @Nullable ByteBuffer response;

    Conn(SocketChannel ch, InetSocketAddress remote, long deadline) {
      this.ch = ch;
      this.remote = remote;
      this.deadline = deadline;
    }

    void ready(SelectionKey k) {
      try {
        if (state == State.READING && k.isReadable()) {
          read();
        } else if (state == State.WRITING && k.isWritable()) {
          write();
        }
      } catch (IOException e) {
        LOG.debug("metrics endpoint: {} failed", remote, e);
        close();
      }
    }

    private void read() throws IOException {
      int n = ch.read(in);
      if (n < 0) {
        close();
        return;
      }
      int end = headEnd(in);
      if (end < 0) {
        if (!in.hasRemaining()) {
          refused.labelValues("too_large").inc();
          respondNow(431, "request head too large\n");
        }
        return;
      }
      Request request;
      try {
        request = Request.parse(new String(in.array(), 0, end, StandardCharsets.ISO_8859_1));
      } catch (IllegalArgumentException e) {
        respondNow(400, "bad request\n");
        return;
      }
      state = State.SCRAPING;
      Objects.requireNonNull(key).interestOps(0);
      try {
        scraper.execute(
            () -> {
              response = answer(request);
              answered.add(this);
              selector.wakeup();
            });
      } catch (RejectedExecutionException e) {
        close(); // closing down
      }
    }

    private void respondNow(int status, String body) {
      response =
          encode(
              status,
              "text/plain; charset=utf-8",
              Map.of(),
              body.getBytes(StandardCharsets.UTF_8),
              false);
      startWriting();
    }

    void startWriting() {
      if (!ch.isOpen()) {
        return;
      }
      state = State.WRITING;
      try {
        write();
      } catch (IOException e) {
        LOG.debug("metrics endpoint: {} failed", remote, e);
        close();
      }
    }

    private void write() throws IOException {
      ByteBuffer out = Objects.requireNonNull(response, "response");
      ch.write(out);
      if (out.hasRemaining()) {
        Objects.requireNonNull(key).interestOps(SelectionKey.OP_WRITE);
      } else {
        close();
      }
    }

    void close() {
      conns.remove(this);
      closeQuietly(ch);
    }
  }

  /** The index just past the blank line ending the request head, or -1. */
  private static int headEnd(ByteBuffer in) {
    for (int i = 3; i < in.position(); i++) {
      if (in.get(i) == '\n'
          && in.get(i - 1) == '\r'
          && in.get(i - 2) == '\n'
          && in.get(i - 3) == '\r') {
        return i + 1;
      }
    }
    return -1;
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // closing a socket we give up on: nothing left to do with it
    }
  }

  // ------------------------------------------------------------------------------------------------ scrape thread

  private ByteBuffer answer(Request r) {
    boolean head = r.method.equals("HEAD");
    if (!head && !r.method.equals("GET")) {
      return encode(
          405,
          "text/plain; charset=utf-8",
          Map.of("Allow", "GET, HEAD"),
          "method not allowed\n".getBytes(StandardCharsets.UTF_8),
          false);
    }
    switch (r.path) {
      case "/healthz":
        {
          boolean ok;
          try {
            ok = healthy.getAsBoolean();
          } catch (RuntimeException e) {
            LOG.warn("metrics endpoint: health check failed", e);
            ok = false;
          }
          Function<Boolean, DeepHealth> d = deep;
          if (ok
              && d != null
              && r.query != null
              && Arrays.asList(r.query.split("&", -1)).contains("deep=1")) {
            DeepHealth h;
            try {
              h = d.apply(Boolean.TRUE);
            } catch (RuntimeException e) {
              LOG.warn("metrics endpoint: deep health check failed", e);
              h = new DeepHealth(false, "deep check failed: " + e + "\n");
            }
            return encode(
                h.ok() ? 200 : 503,
                "text/plain; charset=utf-8",
                Map.of(),
                h.text().getBytes(StandardCharsets.UTF_8),
                head);
          }
          return encode(
              ok ? 200 : 503,
              "text/plain; charset=utf-8",
              Map.of(),
              (ok ? "ok\n" : "not serving\n").getBytes(StandardCharsets.UTF_8),
              head);
        }
      case "/metrics":
        {
          Exchange exchange = new Exchange(r);
          try {
            scrapeHandler.handleRequest(exchange);
          } catch (IOException | RuntimeException e) {
            exchange.handleException(new IOException(e));
          }
          return encode(
              exchange.status,
              exchange.contentType(),
              exchange.headers,
              exchange.body.toByteArray(),
              head);
        }
      default:
        return encode(
            404,
            "text/plain; charset=utf-8",
            Map.of(),
            "not found: try /metrics or /healthz\n".getBytes(StandardCharsets.UTF_8),
            head);
    }
  }

  private static ByteBuffer encode(
      int status, String contentType, Map<String, String> headers, byte[] body, boolean head) {
    StringBuilder h = new StringBuilder(256);
    h.append("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
    h.append("Content-Type: ").append(contentType).append("\r\n");
    headers.forEach(
        (k, v) -> {
          if (!k.equalsIgnoreCase("Content-Type") && !k.equalsIgnoreCase("Content-Length")) {
            h.append(k).append(": ").append(v).append("\r\n");
          }
        });
    h.append("Content-Length: ").append(body.length).append("\r\nConnection: close\r\n\r\n");
    byte[] headBytes = h.toString().getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer out = ByteBuffer.allocate(headBytes.length + (head ? 0 : body.length));
    out.put(headBytes);
    if (!head) {
      out.put(body);
    }
    return out.flip();
  }

  private static String reason(int status) {
    switch (status) {
      case 200:
        return "OK";
      case 400:
        return "Bad Request";
      case 404:
        return "Not Found";
      case 405:
        return "Method Not Allowed";
      case 431:
        return "Request Header Fields Too Large";
      case 503:
        return "Service Unavailable";
      default:
        return status >= 500 ? "Server Error" : "Client Error";
    }
  }

  /** A parsed request head. */
  /** The answer of a deep health check: 200 with {@code text} when ok, else 503. */
  public record DeepHealth(boolean ok, String text) {
    /** Checks the arguments. */
    public DeepHealth {
      Objects.requireNonNull(text, "text");
    }
  }

  private record Request(
      String method, String path, @Nullable String query, Map<String, List<String>> headers) {
    static Request parse(String head) {
      String[] lines = head.split("\r\n");
      String[] first = lines[0].split(" ");
      if (first.length != 3 || !first[2].startsWith("HTTP/1.") || first[1].isEmpty()) {
        throw new IllegalArgumentException("request line: " + lines[0]);
      }
      Map<String, List<String>> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon <= 0) {
          continue; // the empty line at the end, or a malformed line we need not understand
        }
        headers
            .computeIfAbsent(
                lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT),
                k -> new ArrayList<>())
            .add(lines[i].substring(colon + 1).strip());
      }
      String target = first[1];
      int q = target.indexOf('?');
      return new Request(
          first[0],
          q < 0 ? target : target.substring(0, q),
          q < 0 ? null : target.substring(q + 1),
          headers);
    }
  }

  /** The Prometheus client's view of one request; the response is buffered whole. */
  private static final class Exchange
      implements PrometheusHttpExchange, PrometheusHttpRequest, PrometheusHttpResponse {
    final Request request;
    final Map<String, String> headers = new LinkedHashMap<>();
    final ByteArrayOutputStream body = new ByteArrayOutputStream(16384);
    int status = 500;

    Exchange(Request request) {
      this.request = request;
    }

    String contentType() {
      return headers.getOrDefault("Content-Type", "text/plain; charset=utf-8");
    }

    @Override
    public PrometheusHttpRequest getRequest() {
      return this;
    }

    @Override
    public PrometheusHttpResponse getResponse() {
      return this;
    }

    @Override
    public @Nullable String getQueryString() {
      return request.query;
    }

    @Override
    public Enumeration<String> getHeaders(String name) {
      return Collections.enumeration(
          request.headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of()));
    }

    @Override
    public String getMethod() {
      return request.method;
    }

    @Override
    public String getRequestPath() {
      return request.path;
    }

    @Override
    public void setHeader(String name, String value) {
      headers.put(name, value);
    }

    @Override
    public OutputStream sendHeadersAndGetBody(int statusCode, int contentLength) {
      status = statusCode;
      return body;
    }

    @Override
    public void handleException(IOException e) {
      LOG.warn("metrics could not be produced", e);
      status = 500;
      headers.clear();
      body.reset();
      body.writeBytes("error\n".getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void handleException(RuntimeException e) {
      handleException(new IOException(e));
    }

    @Override
    public void close() {
      // the response is buffered; the loop thread writes it
    }
  }

  // ------------------------------------------------------------------------------------------------- lifecycle

  private MetricsEndpoint begin() {
    thread.start();
    LOG.info(
        "metrics endpoint on http://{}:{}/metrics", address().getHostString(), address().getPort());
    return this;
  }

  /** Stops accepting, closes every connection and both threads; bounded, idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    selector.wakeup();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    scraper.shutdownNow();
    try {
      server.close();
      selector.close();
    } catch (IOException e) {
      LOG.debug("closing the metrics endpoint", e);
    }
  }

  /** Options of a {@link MetricsEndpoint}. */
  public static final class Builder {
    private @Nullable InetSocketAddress listen;
    private @Nullable PrometheusRegistry registry;
    private @Nullable BooleanSupplier healthy;
    private @Nullable Function<Boolean, DeepHealth> deep;
    private CidrSet allow = CidrSet.any();
    private Duration requestTimeout = Duration.ofSeconds(10);
    private Duration acceptBackoff = Duration.ofSeconds(1);
    private int maxConnections = 64;

    private Builder() {}

    /** Where to listen. */
    public Builder listen(InetSocketAddress address) {
      this.listen = Objects.requireNonNull(address, "address");
      return this;
    }

    /** What {@code /metrics} serves. */
    public Builder registry(PrometheusRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * What {@code /healthz?deep=1} answers when the plain check passes (e.g. {@link Probe#cached}:
     * the upstream path checked end to end, at most once a minute); called on the scrape thread,
     * may block for the probe's duration.
     */
    public Builder deepHealth(Function<Boolean, DeepHealth> deep) {
      this.deep = Objects.requireNonNull(deep, "deep");
      return this;
    }

    /** What {@code /healthz} answers: 200 while true, else 503; called on the scrape thread. */
    public Builder health(BooleanSupplier healthy) {
      this.healthy = Objects.requireNonNull(healthy, "healthy");
      return this;
    }

    /** Client addresses served; others are closed at accept. Default any. */
    public Builder allow(CidrSet allow) {
      this.allow = Objects.requireNonNull(allow, "allow");
      return this;
    }

    /** How long a connection may take to send its request and take the response; default 10 s. */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = positive(timeout, "request timeout");
      return this;
    }

    /** How long accepting pauses after a failed accept (out of descriptors); default 1 s. */
    public Builder acceptBackoff(Duration backoff) {
      this.acceptBackoff = positive(backoff, "accept backoff");
      return this;
    }

    /**
     * Most open connections; at the cap the oldest one still sending its request is closed. Default
     * 64.
     */
    public Builder maxConnections(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("max connections " + max + " (expected at least 1)");
      }
      this.maxConnections = max;
      return this;
    }

    private static Duration positive(Duration d, String what) {
      Objects.requireNonNull(d, what);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " " + d + " (expected more than zero)");
      }
      return d;
    }

    /**
     * Binds and starts the endpoint.
     *
     * @throws IOException naming the address when it cannot be bound
     */
    public MetricsEndpoint start() throws IOException {
      Objects.requireNonNull(listen, "listen");
      Objects.requireNonNull(registry, "registry");
      Objects.requireNonNull(healthy, "health");
      return new MetricsEndpoint(this).begin();
    }
  }
}
