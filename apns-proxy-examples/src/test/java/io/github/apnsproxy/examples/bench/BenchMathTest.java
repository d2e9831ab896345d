// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The bench's arithmetic, JSON, DNS packets, options and verdicts; in memory, no sockets, nothing
 * timed.
 */
class BenchMathTest {
  @Test
  void coreBusyTimeCountsEveryStateButIdleAndIowait() {
    String stat =
        """
        cpu  900 0 900 9000 90 9 9 0 0 0
        cpu0 100 2 30 5000 40 5 60 7 11 13
        cpu1 800 0 870 4000 50 4 3 0 0 0
        intr 1 2 3
        """;
    // cpu0: user 100 + nice 2 + system 30 + irq 5 + softirq 60 + steal 7 = 204 ticks; guest (11,
    // 13) is in user
    assertThat(ProcStats.coreBusySeconds(stat, 0)).isEqualTo(204 / ProcStats.CLOCK_TICKS);
    assertThat(ProcStats.coreBusySeconds(stat, 1)).isEqualTo(1677 / ProcStats.CLOCK_TICKS);
    assertThat(ProcStats.coreBusySeconds(stat, 2)).isNaN();
  }

  @Test
  void medianOfOddEvenAndNonFinite() {
    assertThat(Stats.median(List.of(3.0, 1.0, 2.0))).isEqualTo(2.0);
    assertThat(Stats.median(List.of(4.0, 1.0, 3.0, 2.0))).isEqualTo(2.5);
    assertThat(Stats.median(List.of(Double.NaN, 5.0, 1.0))).isEqualTo(3.0);
    assertThat(Stats.median(List.of())).isNaN();
    assertThat(Stats.median(List.of(Double.NaN))).isNaN();
  }

  @Test
  void ratiosAndDifferencesArePairedRunByRun() {
    List<Double> proxy = List.of(5.0, 9.0, Double.NaN);
    List<Double> direct = List.of(10.0, 10.0, 10.0);
    assertThat(Stats.ratios(proxy, direct)).containsExactly(0.5, 0.9);
    assertThat(Stats.differences(proxy, direct)).containsExactly(-5.0, -1.0);
    assertThat(Stats.ratios(List.of(1.0), List.of(0.0))).isEmpty();
  }

  @Test
  void percentilesByNearestRank() {
    Stats.Latencies l = new Stats.Latencies(4, 1_000);
    for (int i = 100; i >= 1; i--) {
      l.record(i * 1_000L);
    }
    assertThat(l.count()).isEqualTo(100);
    assertThat(l.percentileMicros(50)).isEqualTo(50.0);
    assertThat(l.percentileMicros(99)).isEqualTo(99.0);
    assertThat(l.percentileMicros(100)).isEqualTo(100.0);
    assertThat(l.percentileMillis(1)).isEqualTo(0.001);
    assertThat(new Stats.Latencies().percentileNanos(50)).isNaN();
  }

  @Test
  void latenciesKeepCountingPastTheCap() {
    Stats.Latencies l = new Stats.Latencies(2, 20);
    for (int i = 0; i < 50; i++) {
      l.record(7);
    }
    assertThat(l.count()).isEqualTo(50);
    assertThat(l.percentileNanos(99)).isEqualTo(7.0);
  }

  @Test
  void jsonWritesMapsListsAndNumbers() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", "a \"quoted\"\nline");
    m.put("int", 3.0);
    m.put("real", 0.123456789);
    m.put("nan", Double.NaN);
    m.put("runs", List.of(1.5, 2.0));
    m.put("flag", true);
    m.put("empty", Map.of());
    String json = Json.write(m);
    assertThat(json)
        .isEqualTo(
            """
        {
          "name": "a \\"quoted\\"\\nline",
          "int": 3,
          "real": 0.123457,
          "nan": null,
          "runs": [1.5, 2],
          "flag": true,
          "empty": {}
        }
        """);
  }

  @Test
  void dnsQueryIsAStandardQueryForOneName() {
    byte[] q = DnsLoad.query("17-courier.push.apple.com");
    assertThat(q).hasSize(12 + 27 + 4);
    assertThat(q[2]).isEqualTo((byte) 0x01); // RD
    assertThat(q[5]).isEqualTo((byte) 1); // QDCOUNT
    assertThat(q[12]).isEqualTo((byte) 10); // "17-courier"
    assertThat(q[q.length - 3]).isEqualTo((byte) 1); // type A
    assertThat(q[q.length - 1]).isEqualTo((byte) 1); // class IN
  }

  @Test
  void answerIdAcceptsOnlyNoErrorResponsesWithAnswers() {
    byte[] a = new byte[12];
    a[0] = 0x12;
    a[1] = 0x34;
    a[2] = (byte) 0x85; // QR, AA, RD
    a[7] = 1; // ANCOUNT
    assertThat(DnsLoad.answerId(ByteBuffer.wrap(a))).isEqualTo(0x1234);
    a[3] = 3; // NXDOMAIN
    assertThat(DnsLoad.answerId(ByteBuffer.wrap(a))).isEqualTo(-1);
    a[3] = 0;
    a[7] = 0; // NODATA
    assertThat(DnsLoad.answerId(ByteBuffer.wrap(a))).isEqualTo(-1);
    assertThat(DnsLoad.answerId(ByteBuffer.wrap(new byte[5]))).isEqualTo(-1);
  }

  @Test
  void optionsDefaultsQuickAndPeers() {
    Options full = Options.parse(new String[0]);
    assertThat(full.repeats).isEqualTo(3);
    assertThat(full.idleConns).isEqualTo(9_000);
    assertThat(full.targets).containsExactly("direct", "apns-proxy");
    // every figure but the soak runs by default, the egress figure included
    assertThat(full.only)
        .containsExactly("bulk", "pingpong", "setup", "idle", "dns", "sni", "egress", "accesslog");
    assertThat(Options.parse(new String[] {"--only", "egress"}).only).containsExactly("egress");
    assertThat(Options.USAGE).contains("sni,egress,accesslog,soak");

    Options quick =
        Options.parse(
            new String[] {
              "--quick",
              "--only=bulk,dns",
              "--peer",
              "haproxy,pid=12+13,subnet=127.100.111.0/24",
              "--dns-peer",
              "unbound,pid=14,addr=127.0.0.1:15354"
            });
    assertThat(quick.repeats).isEqualTo(1);
    assertThat(quick.only).containsExactly("bulk", "dns");
    assertThat(quick.peers.get(0).pids()).containsExactly(12L, 13L);
    assertThat(quick.targets).containsExactly("direct", "apns-proxy", "haproxy", "unbound");
  }

  @Test
  void optionsRefuseNonLoopbackAndUnknownTargets() {
    assertThatThrownBy(() -> Options.parse(new String[] {"--subnet", "10.100.100.0/24"}))
        .hasMessageContaining("loopback");
    assertThatThrownBy(
            () -> Options.parse(new String[] {"--dns-peer", "x,pid=1,addr=192.0.2.1:53"}))
        .hasMessageContaining("loopback");
    assertThatThrownBy(() -> Options.parse(new String[] {"--target", "nginx"}))
        .hasMessageContaining("nginx");
    assertThatThrownBy(() -> Options.parse(new String[] {"--only", "everything"}))
        .hasMessageContaining("only");
  }

  @Test
  void planPutsCourierNAtOffsetOnePlusN() {
    Plan plan = new Plan(18, 5223, "127.0.11");
    assertThat(plan.fronts("127.100.100.0/24").get(0).getAddress().getHostAddress())
        .isEqualTo("127.100.100.1");
    assertThat(plan.fronts("127.100.100.0/24").get(17).getAddress().getHostAddress())
        .isEqualTo("127.100.100.18");
    assertThat(plan.upstreams().get(17).toString()).contains("127.0.11.18:5223");
    assertThat(plan.hostsFile("127.100.100.0/24"))
        .contains("127.0.11.18 17-courier.push.apple.com");
    // the egress figure's relay resolves the names the proxy asks for exactly as the hosts file
    assertThat(plan.upstreamHosts("127.100.113.0/24"))
        .containsEntry("17-courier.push.apple.com", Plan.address("127.0.11.18"))
        .containsEntry("0-courier.push.apple.com", Plan.address("127.0.11.1"))
        .containsEntry("init.push.apple.com", Plan.address("127.0.11.1"));
    assertThat(plan.emitMap("127.100.111.0/24"))
        .startsWith("127.100.111.1:5223 127.0.11.1:5223 0-courier.push.apple.com\n");
  }

  @Test
  void verdictsUsePairedRatiosToDirect() {
    Report r = new Report(List.of("direct", "apns-proxy", "haproxy"));
    r.add("direct", Map.of("bulk.up.gbps", 10.0, "pingpong1.p50_us", 20.0));
    r.add("apns-proxy", Map.of("bulk.up.gbps", 6.0, "pingpong1.p50_us", 45.0));
    r.add("haproxy", Map.of("bulk.up.gbps", 5.0));
    Report.Row bulk =
        Report.ROWS.stream().filter(x -> x.key().equals("bulk.up.gbps")).findFirst().orElseThrow();
    Report.Row pp =
        Report.ROWS.stream()
            .filter(x -> x.key().equals("pingpong1.p50_us"))
            .findFirst()
            .orElseThrow();
    assertThat(r.versusDirect(bulk, "apns-proxy")).isEqualTo(0.6);
    assertThat(r.verdict(bulk)).isEqualTo("met");
    assertThat(r.versusDirect(pp, "apns-proxy")).isEqualTo(25.0);
    assertThat(r.verdict(pp)).isEqualTo("met");

    r.add("direct", Map.of("bulk.up.gbps", 10.0));
    r.add("apns-proxy", Map.of("bulk.up.gbps", 4.0));
    r.add("haproxy", Map.of("bulk.up.gbps", 7.0));
    // medians: direct 10, apns-proxy 5 (ratio 0.5), haproxy 6: below both goals
    assertThat(r.verdict(bulk)).isEqualTo("MISSED");
    assertThat(r.table("header", 1000, 64, 9000)).contains("0.50x").contains("MISSED");
  }

  @Test
  void egressRowsShowBothPathsTheirRatiosAndJudgeRequestsByAddress() {
    Report r = new Report(List.of("direct", "apns-proxy"));
    Map<String, Double> run = new LinkedHashMap<>();
    run.put("egress.direct_per_s", 8000.0);
    run.put("egress.relay_per_s", 5000.0);
    run.put("egress.rate_ratio", 0.625);
    run.put("egress.direct_cpu_us_per_conn", 100.0);
    run.put("egress.relay_cpu_us_per_conn", 150.0);
    run.put("egress.cpu_ratio", 1.5);
    run.put("egress.relay_by_address", 0.0);
    r.add("apns-proxy", run);
    r.add(
        "apns-proxy",
        Map.of(
            "egress_up.direct_gbps",
            8.0,
            "egress_up.relay_gbps",
            4.0,
            "egress_up.cpu_ratio",
            1.25));
    String table = r.table("header", 1000, 64, 9000);
    assertThat(table)
        .contains("setups, 64 in flight: egress direct")
        .contains("through an HTTP CONNECT relay")
        .contains("relay / direct, CPU per setup")
        .contains("1.500")
        .contains("bulk client->upstream")
        .contains("0: met");
    assertThat(table).doesNotContain("bulk upstream->client"); // not measured: no row
    Report.Row byAddress =
        Report.ROWS.stream()
            .filter(x -> x.key().equals("egress.relay_by_address"))
            .findFirst()
            .orElseThrow();
    r.add("apns-proxy", Map.of("egress.relay_by_address", 2.0));
    assertThat(r.verdict(byAddress)).isEqualTo("MISSED");
    // setups and each bulk direction have their own key prefix: a failed measurement pads (with
    // NaN) only its own rows
    assertThat(
            Report.ROWS.stream()
                .map(Report.Row::key)
                .filter(k -> k.startsWith("egress"))
                .map(k -> k.substring(0, k.indexOf('.')))
                .distinct())
        .containsExactly("egress", "egress_up", "egress_down");
  }
}
