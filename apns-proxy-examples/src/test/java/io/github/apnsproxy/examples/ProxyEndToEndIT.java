// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.dns.DnsStats;
import io.github.apnsproxy.dns.ResolverStats;
import io.github.apnsproxy.examples.demo.DemoWorld;
import io.github.apnsproxy.examples.demo.SimulatedCourier;
import io.github.apnsproxy.examples.demo.SimulatedDevice;
import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.ServerNameKind;
import io.github.apnsproxy.tcp.SpliceStats;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * The demo's whole chain as a test, on loopback with real sockets and real TLS: simulated upstream
 * DNS, simulated TLS couriers on 127.0.1.1 and 127.0.1.2, the proxy node (DNS server + splicer from
 * one plan over 127.100.100.0/24), simulated devices.
 */
class ProxyEndToEndIT {
  private static final String COURIER_A = "127.0.1.1";
  private static final String COURIER_B = "127.0.1.2";

  private final List<String> log = new ArrayList<>();
  private DemoWorld world;

  @AfterEach
  void close() {
    if (world != null) {
      world.close();
    }
  }

  private DemoWorld start(long upstreamTtlSeconds, Map<String, String> overrides) throws Exception {
    Map<String, String> all = new HashMap<>(overrides);
    all.putIfAbsent("metrics.listen", "127.0.0.1:0");
    world =
        DemoWorld.start(
            line -> {
              synchronized (log) {
                log.add(line);
              }
            },
            upstreamTtlSeconds,
            all);
    return world;
  }

  private SimulatedDevice device() {
    return new SimulatedDevice(world.proxyDns(), world.tls(), world.port(), line -> {});
  }

  private static InetAddress ip(String text) throws Exception {
    return InetAddress.getByName(text);
  }

  @Test
  void oneDeviceOverUdpAndTcpDnsReachesTheRightCourierWithVerifiedTls() throws Exception {
    start(300, Map.of());
    // 17-courier really lives on courier-b only, 18-courier on courier-a only
    world.upstreamDns().put("17-courier.push.apple.com", List.of(ip(COURIER_B)));
    world.upstreamDns().put("18-courier.push.apple.com", List.of(ip(COURIER_A)));
    InetAddress virtual17 =
        world.node().setup().plan().addressesFor(ApnsHost.courier(17), ip("127.0.0.1")).get(0);
    assertThat(virtual17.getHostAddress()).isEqualTo("127.100.100.18");

    // DNS answers over UDP and over TCP agree with the plan
    for (boolean tcp : new boolean[] {false, true}) {
      SimpleResolver r = new SimpleResolver(world.proxyDns());
      r.setTCP(tcp);
      r.setTimeout(Duration.ofSeconds(5));
      Message q =
          Message.newQuery(
              Record.newRecord(Name.fromString("17-Courier.Push.Apple.com."), Type.A, DClass.IN));
      Message a = r.send(q);
      assertThat(a.getRcode()).isEqualTo(Rcode.NOERROR);
      assertThat(a.getHeader().getFlag(Flags.AA)).isTrue();
      assertThat(a.getQuestion().getName().toString()).isEqualTo("17-Courier.Push.Apple.com.");
      assertThat(a.getSection(Section.ANSWER))
          .singleElement()
          .satisfies(rec -> assertThat(((ARecord) rec).getAddress()).isEqualTo(virtual17));
      Message aaaa =
          r.send(
              Message.newQuery(
                  Record.newRecord(
                      Name.fromString("17-courier.push.apple.com."), Type.AAAA, DClass.IN)));
      assertThat(aaaa.getRcode()).isEqualTo(Rcode.NOERROR);
      assertThat(aaaa.getSection(Section.ANSWER)).isEmpty();
      assertThat(aaaa.getSection(Section.AUTHORITY)).anyMatch(rec -> rec instanceof SOARecord);
    }

    SpliceStats before = world.node().spliceStats();
    long courierBBefore = world.couriers().get(1).connections();
    SimulatedDevice.Result r17 = device().run(count -> 17, 3, false);
    SimulatedDevice.Result r18 = device().run(count -> 18, 2, true);

    assertThat(r17.courierCount()).isEqualTo(world.node().setup().plan().courierCount());
    assertThat(r17.virtualAddress()).isEqualTo(virtual17);
    assertThat(r17.aaaaAnswers()).isZero();
    assertThat(r17.httpsAnswers()).isZero();
    assertThat(r17.peerCertificate()).contains("courier.push.apple.com");
    // bytes exact: every line came back from the courier the plan routes to, unchanged
    assertThat(r17.replies())
        .hasSize(3)
        .allSatisfy(line -> assertThat(line).startsWith("courier-b: hello "));
    for (int i = 0; i < 3; i++) {
      assertThat(r17.replies().get(i))
          .isEqualTo(
              "courier-b: hello " + (i + 1) + " from device " + Thread.currentThread().getName());
    }
    assertThat(r18.replies())
        .hasSize(2)
        .allSatisfy(line -> assertThat(line).startsWith("courier-a: hello "));
    assertThat(world.couriers().get(1).connections()).isEqualTo(courierBBefore + 1);

    assertThat(world.node().awaitIdle(Duration.ofSeconds(10))).isTrue();
    SpliceStats after = world.node().spliceStats();
    assertThat(after.accepted() - before.accepted()).isEqualTo(2);
    assertThat(after.closed(CloseReason.COMPLETED) - before.closed(CloseReason.COMPLETED))
        .isEqualTo(2);
    assertThat(after.upstreamConnectFailures()).isEqualTo(before.upstreamConnectFailures());
    // TLS records carry more than the application bytes, in both directions
    assertThat(after.bytesClientToUpstream() - before.bytesClientToUpstream())
        .isGreaterThan(r17.bytesSent() + r18.bytesSent());
    assertThat(after.bytesUpstreamToClient() - before.bytesUpstreamToClient())
        .isGreaterThan(r17.bytesReceived() + r18.bytesReceived());
    assertThat(world.node().outstandingBuffers()).isZero();

    // the metrics endpoint says what the stats say
    DnsStats dns = world.node().dnsStats();
    assertThat(dns.udpQueries())
        .isGreaterThanOrEqualTo(2 + 4); // 2 direct UDP queries + the UDP device's 4
    assertThat(dns.tcpQueries()).isGreaterThanOrEqualTo(2 + 4);
    String metrics = scrape("/metrics");
    assertThat(metric(metrics, "apns_proxy_connections_accepted_total"))
        .isEqualTo(after.accepted());
    assertThat(metric(metrics, "apns_proxy_connections_closed_total{reason=\"completed\"}"))
        .isEqualTo(after.closed(CloseReason.COMPLETED));
    assertThat(metric(metrics, "apns_proxy_bytes_total{direction=\"client_to_upstream\"}"))
        .isEqualTo(after.bytesClientToUpstream());
    assertThat(metric(metrics, "apns_proxy_dns_queries_total{transport=\"udp\"}"))
        .isEqualTo(world.node().dnsStats().udpQueries());
    assertThat(metric(metrics, "apns_proxy_dns_answers_total{rcode=\"noerror\"}"))
        .isEqualTo(world.node().dnsStats().answers("NOERROR"));
    assertThat(metric(metrics, "apns_proxy_connections_active")).isZero();
    // the demo's plan routes by the dialled address: both devices counted as address-routed without
    // a name
    assertThat(
            after.routed("address", ServerNameKind.NONE)
                - before.routed("address", ServerNameKind.NONE))
        .isEqualTo(2);
    assertThat(
            metric(
                metrics,
                "apns_proxy_connections_routed_total{front_door=\"address\",name_kind=\"none\"}"))
        .isEqualTo(after.routed("address", ServerNameKind.NONE));
    assertThat(metric(metrics, "apns_proxy_preface_bytes")).isZero();
    assertThat(scrape("/healthz")).isEqualTo("ok\n");
  }

  /**
   * connect.listen and socks.listen wired from the config: an MDM server's CONNECT for a courier
   * name reaches the courier the upstream DNS names (TLS verified through the tunnel), a name
   * outside APNs gets 403, and both are counted in {@code apns_proxy_explicit_requests_total}.
   */
  @Test
  void theConnectListenerOfTheConfigTunnelsToTheCourierAndIsCounted() throws Exception {
    start(300, Map.of("connect.listen", "127.0.0.1:0", "socks.listen", "127.0.0.1:0"));
    world.upstreamDns().put("17-courier.push.apple.com", List.of(ip(COURIER_B)));
    List<java.net.InetSocketAddress> bound = world.node().splicerAddresses();
    // the plan's listeners first, then CONNECT, then SOCKS5 (the order they were added)
    java.net.InetSocketAddress connect = bound.get(bound.size() - 2);
    java.net.InetSocketAddress socks = bound.get(bound.size() - 1);
    assertThat(world.node().splicerAddressCount()).isEqualTo(bound.size());

    try (java.net.Socket plain = new java.net.Socket()) {
      plain.connect(connect, 5_000);
      plain.setSoTimeout(10_000);
      String target = "17-courier.push.apple.com:" + world.port();
      plain
          .getOutputStream()
          .write(
              ("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      assertThat(readHead(plain.getInputStream())).startsWith("HTTP/1.1 200");
      javax.net.ssl.SSLSocket tls =
          (javax.net.ssl.SSLSocket)
              world
                  .tls()
                  .client()
                  .getSocketFactory()
                  .createSocket(plain, "courier.push.apple.com", world.port(), true);
      javax.net.ssl.SSLParameters params = tls.getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS");
      tls.setSSLParameters(params);
      tls.startHandshake();
      tls.getOutputStream().write("hello 1\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      tls.getOutputStream().flush();
      java.io.BufferedReader in =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(
                  tls.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
      assertThat(in.readLine()).isEqualTo("courier-b: hello 1");
      tls.close();
    }
    try (java.net.Socket refused = new java.net.Socket()) {
      refused.connect(connect, 5_000);
      refused.setSoTimeout(10_000);
      refused
          .getOutputStream()
          .write(
              "CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n"
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      assertThat(readHead(refused.getInputStream())).startsWith("HTTP/1.1 403");
    }
    try (java.net.Socket socks5 = new java.net.Socket()) {
      socks5.connect(socks, 5_000);
      socks5.setSoTimeout(10_000);
      socks5
          .getOutputStream()
          .write(new byte[] {5, 1, 0}); // version 5, one method: no authentication
      byte[] choice = socks5.getInputStream().readNBytes(2);
      assertThat(choice).containsExactly(5, 0);
    }

    assertThat(world.node().awaitIdle(Duration.ofSeconds(10))).isTrue();
    String metrics = scrape("/metrics"); // labels in the exposition's (alphabetical) order
    assertThat(
            metric(
                metrics,
                "apns_proxy_explicit_requests_total{door=\"http-connect\",kind=\"courier\",outcome=\"200\"}"))
        .isEqualTo(1);
    assertThat(
            metric(
                metrics,
                "apns_proxy_explicit_requests_total{door=\"http-connect\",kind=\"other\",outcome=\"403\"}"))
        .isEqualTo(1);
    assertThat(metric(metrics, "apns_proxy_explicit_failed_logins_total")).isZero();
    assertThat(metric(metrics, "apns_proxy_egress_proxy_failures_total")).isZero();
    assertThat(metric(metrics, "apns_proxy_egress_proxy_refusals_total")).isZero();
    assertThat(metric(metrics, "apns_proxy_self_loop_refusals_total"))
        .isEqualTo(world.node().spliceStats().selfLoopRefusals());
  }

  /** The HTTP response head, up to the blank line (bounded by the socket timeout and 8 KiB). */
  private static String readHead(java.io.InputStream in) throws java.io.IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n") && head.length() < 8192) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      head.append((char) b);
    }
    return head.toString();
  }

  @Test
  void fiveHundredDevicesAtOnce() throws Exception {
    start(300, Map.of());
    int devices = 500;
    ExecutorService pool = Executors.newFixedThreadPool(devices);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<SimulatedDevice.Result>> futures = new ArrayList<>();
      for (int i = 0; i < devices; i++) {
        int courier = i % 50;
        boolean tcp = i % 10 == 0;
        SimulatedDevice d = device();
        futures.add(
            pool.submit(
                () -> {
                  go.await();
                  return d.run(count -> courier, 2, tcp);
                }));
      }
      go.countDown();
      int ok = 0;
      for (Future<SimulatedDevice.Result> f : futures) {
        SimulatedDevice.Result r = f.get(120, TimeUnit.SECONDS);
        assertThat(r.replies())
            .hasSize(2)
            .allSatisfy(line -> assertThat(line).matches("courier-[ab]: hello .*"));
        ok++;
      }
      assertThat(ok).isEqualTo(devices);
    } finally {
      pool.shutdownNow();
    }
    assertThat(world.node().awaitIdle(Duration.ofSeconds(20))).isTrue();
    SpliceStats s = world.node().spliceStats();
    assertThat(s.accepted()).isEqualTo(devices);
    assertThat(s.closed(CloseReason.COMPLETED)).isEqualTo(devices);
    assertThat(world.couriers().stream().mapToInt(SimulatedCourier::connections).sum())
        .isEqualTo(devices);
    // coalescing and caching: 50 courier names were resolved upstream, not 500
    ResolverStats rs = world.node().resolverStats().orElseThrow();
    assertThat(world.upstreamDns().queries()).isLessThanOrEqualTo(50 * 2 + 10);
    assertThat(rs.hits() + rs.coalesced()).isGreaterThanOrEqualTo(devices - 50);
    assertThat(world.node().outstandingBuffers()).isZero();
  }

  @Test
  void upstreamDnsStoppedNewConnectionsRoutedFromTheStaleCache() throws Exception {
    start(1, Map.of("upstream.ttl-min", "1s", "upstream.timeout", "300ms"));
    world.upstreamDns().put("5-courier.push.apple.com", List.of(ip(COURIER_A)));
    assertThat(device().run(count -> 5, 1, false).replies())
        .singleElement()
        .satisfies(line -> assertThat(line).startsWith("courier-a: "));
    world.upstreamDns().close();
    Thread.sleep(2_200); // the 1 s answer (floor 1 s) is now expired
    SimulatedDevice.Result again = device().run(count -> 5, 1, false);
    assertThat(again.replies())
        .singleElement()
        .satisfies(line -> assertThat(line).startsWith("courier-a: "));
    assertThat(world.node().resolverStats().orElseThrow().staleServed()).isPositive();
    // a name never resolved before has nothing stale: that connection is closed, and counted
    SpliceStats before = world.node().spliceStats();
    try {
      device().run(count -> 6, 1, false);
    } catch (java.io.IOException expected) {
      // the splicer closes the client when the route fails
    }
    assertThat(world.node().awaitIdle(Duration.ofSeconds(10))).isTrue();
    SpliceStats after = world.node().spliceStats();
    assertThat(after.rejected().values().stream().mapToLong(Long::longValue).sum())
        .isGreaterThan(before.rejected().values().stream().mapToLong(Long::longValue).sum());
  }

  @Test
  void aRefusingCourierAddressIsSkippedForTheNext() throws Exception {
    start(300, Map.of());
    // 127.0.1.9 has no listener on the courier port: connection refused, then courier-b is tried
    world.upstreamDns().put("9-courier.push.apple.com", List.of(ip("127.0.1.9"), ip(COURIER_B)));
    SpliceStats before = world.node().spliceStats();
    SimulatedDevice.Result r = device().run(count -> 9, 2, false);
    assertThat(r.replies())
        .hasSize(2)
        .allSatisfy(line -> assertThat(line).startsWith("courier-b: "));
    assertThat(world.node().awaitIdle(Duration.ofSeconds(10))).isTrue();
    SpliceStats after = world.node().spliceStats();
    assertThat(after.upstreamConnectFailures() - before.upstreamConnectFailures()).isEqualTo(1);
    assertThat(after.closed(CloseReason.COMPLETED) - before.closed(CloseReason.COMPLETED))
        .isEqualTo(1);
    assertThat(metric(scrape("/metrics"), "apns_proxy_upstream_connect_failures_total"))
        .isEqualTo(after.upstreamConnectFailures());
  }

  /**
   * Issue 18: DNS answers through the drain, so devices still resolve while live splices finish.
   */
  @Test
  void dnsAnswersThroughTheDrain() throws Exception {
    start(300, Map.of());
    InetAddress virtual17 =
        world.node().setup().plan().addressesFor(ApnsHost.courier(17), ip("127.0.0.1")).get(0);
    ExecutorService closer = Executors.newSingleThreadExecutor();
    java.net.Socket held = new java.net.Socket(virtual17, world.port());
    try {
      // a live splice (the courier waits for a TLS hello that never comes) keeps the drain going
      awaitTrue(() -> world.node().spliceStats().active() == 1, "the splice is live");
      Future<?> closing = closer.submit(() -> world.node().close(Duration.ofSeconds(60)));
      awaitTrue(() -> status("/healthz") == 503, "the drain started");
      assertThat(closing.isDone()).isFalse();

      SimpleResolver r = new SimpleResolver(world.proxyDns());
      r.setTimeout(Duration.ofSeconds(5));
      Message a =
          r.send(
              Message.newQuery(
                  Record.newRecord(
                      Name.fromString("17-courier.push.apple.com."), Type.A, DClass.IN)));
      assertThat(a.getRcode()).isEqualTo(Rcode.NOERROR);
      assertThat(a.getSection(Section.ANSWER))
          .singleElement()
          .satisfies(rec -> assertThat(((ARecord) rec).getAddress()).isEqualTo(virtual17));

      held.close(); // the last splice ends: the drain ends, then DNS closes
      closing.get(60, TimeUnit.SECONDS);
    } finally {
      held.close();
      closer.shutdownNow();
    }
  }

  private interface Check {
    boolean holds() throws Exception;
  }

  /** Waits (bounded, 60 s) until {@code check} holds. */
  private static void awaitTrue(Check check, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!check.holds()) {
      assertThat(System.nanoTime() - deadline).as("waiting until " + what).isNegative();
      Thread.sleep(20);
    }
  }

  private int status(String path) throws Exception {
    var address = world.node().metricsAddress().orElseThrow();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + address.getPort() + path))
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  private String scrape(String path) throws Exception {
    var address = world.node().metricsAddress().orElseThrow();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + address.getPort() + path))
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  /**
   * The value of {@code sample} (as written: name and labels in order) in a scrape parsed by the
   * format's rules.
   */
  private static long metric(String text, String sample) {
    Map<String, Double> samples = new HashMap<>();
    for (ExpositionParser.Family f : ExpositionParser.parse(text).values()) {
      for (ExpositionParser.Sample s : f.samples()) {
        StringBuilder key = new StringBuilder(s.name());
        if (!s.labels().isEmpty()) {
          key.append('{');
          s.labels().forEach((k, v) -> key.append(k).append("=\"").append(v).append("\","));
          key.setLength(key.length() - 1);
          key.append('}');
        }
        samples.put(key.toString(), s.value());
      }
    }
    assertThat(samples).as("metric %s in%n%s", sample, text).containsKey(sample);
    return (long) (double) samples.get(sample);
  }
}
