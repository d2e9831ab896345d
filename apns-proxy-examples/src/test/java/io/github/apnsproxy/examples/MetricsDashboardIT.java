// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.examples.demo.DemoWorld;
import io.github.apnsproxy.examples.demo.SimulatedDevice;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code /metrics} of a running node (the demo world: upstream DNS, TLS couriers, the proxy,
 * devices), parsed by the exposition format's rules: the histograms are there and move with
 * traffic, and every metric the Grafana dashboard queries exists (with the label values its
 * selectors ask for).
 */
class MetricsDashboardIT {
  private static final Path DASHBOARD = Path.of("grafana", "apns-proxy-dashboard.json");

  /** A selector in PromQL: metric name, then braces. Dashboard queries always write the braces. */
  private static final Pattern SELECTOR =
      Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)\\}");

  private static final Pattern MATCHER =
      Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!=|!~|=)\\s*\"([^\"]*)\"");
  private static final List<String> HISTOGRAMS =
      List.of(
          "apns_proxy_route_duration_seconds",
          "apns_proxy_upstream_connect_duration_seconds",
          "apns_proxy_dns_answer_duration_seconds");

  private DemoWorld world;

  @AfterEach
  void close() {
    if (world != null) {
      world.close();
    }
  }

  private String scrape() throws Exception {
    var address = world.node().metricsAddress().orElseThrow();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + address.getPort() + "/metrics"))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
    return r.body();
  }

  @Test
  void histogramsMoveAndEveryDashboardMetricExists() throws Exception {
    world = DemoWorld.start(line -> {}, 300, Map.of("metrics.listen", "127.0.0.1:0"));
    Map<String, ExpositionParser.Family> before = ExpositionParser.parse(scrape());
    for (String h : HISTOGRAMS) {
      assertThat(before.keySet()).contains(h);
      assertThat(before.get(h).type()).isEqualTo("histogram");
    }

    SimulatedDevice device =
        new SimulatedDevice(world.proxyDns(), world.tls(), world.port(), line -> {});
    device.run(count -> 3, 2, false);
    device.run(count -> 4, 1, true);
    assertThat(world.node().awaitIdle(Duration.ofSeconds(30))).isTrue();
    Map<String, ExpositionParser.Family> after = ExpositionParser.parse(scrape());

    for (String h : HISTOGRAMS) {
      ExpositionParser.Family f = after.get(h);
      double count = f.sum(h + "_count");
      assertThat(count).as("%s moved", h).isGreaterThan(before.get(h).sum(h + "_count"));
      assertThat(f.sum(h + "_sum")).as("%s sum", h).isPositive();
      // the +Inf bucket holds every observation, and the buckets never decrease with le
      assertThat(
              f.samples().stream()
                  .filter(
                      s -> s.name().equals(h + "_bucket") && s.labels().get("le").equals("+Inf"))
                  .mapToDouble(ExpositionParser.Sample::value)
                  .sum())
          .isEqualTo(count);
    }
    assertThat(
            after
                .get("apns_proxy_upstream_connect_duration_seconds")
                .value("apns_proxy_upstream_connect_duration_seconds_count"))
        .isEqualTo(2);
    assertThat(
            after
                .get("apns_proxy_connections_closed_total")
                .value("apns_proxy_connections_closed_total", "reason", "completed"))
        .isEqualTo(2);
    assertThat(after.get("apns_proxy_build_info").samples())
        .singleElement()
        .satisfies(s -> assertThat(s.labels().get("version")).isNotBlank().isNotEqualTo("unknown"));

    List<String> missing = new ArrayList<>();
    Map<String, List<ExpositionParser.Sample>> samplesByName = new LinkedHashMap<>();
    after
        .values()
        .forEach(
            f ->
                f.samples()
                    .forEach(
                        s ->
                            samplesByName
                                .computeIfAbsent(s.name(), n -> new ArrayList<>())
                                .add(s)));
    List<String> queries = dashboardQueries();
    assertThat(queries).hasSizeGreaterThan(10);
    for (String query : queries) {
      Matcher m = SELECTOR.matcher(query);
      int selectors = 0;
      while (m.find()) {
        selectors++;
        String name = m.group(1);
        Map<String, String> equal = new LinkedHashMap<>();
        Matcher lm = MATCHER.matcher(m.group(2));
        while (lm.find()) {
          if (lm.group(2).equals("=")) {
            equal.put(lm.group(1), lm.group(3));
          }
        }
        boolean found =
            samplesByName.getOrDefault(name, List.of()).stream()
                .anyMatch(
                    s ->
                        equal.entrySet().stream()
                            .allMatch(e -> e.getValue().equals(s.labels().get(e.getKey()))));
        if (!found) {
          missing.add(name + equal + " (in " + query + ")");
        }
      }
      assertThat(selectors).as("query with a selector the check can see: %s", query).isPositive();
    }
    assertThat(missing).as("dashboard metrics absent from /metrics").isEmpty();
  }

  /**
   * Every PromQL expression of the dashboard: panel targets, and the variable queries as selectors.
   */
  private static List<String> dashboardQueries() throws Exception {
    String json = Files.readString(DASHBOARD);
    List<String> out = new ArrayList<>();
    Matcher expr = Pattern.compile("\"expr\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
    while (expr.find()) {
      out.add(expr.group(1).replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    Matcher variable =
        Pattern.compile("label_values\\(([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*,").matcher(json);
    while (variable.find()) {
      out.add(variable.group(1) + "{}");
    }
    return out;
  }
}
