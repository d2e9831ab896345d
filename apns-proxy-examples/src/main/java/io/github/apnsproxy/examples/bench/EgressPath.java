// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The egress figures: the same work through the proxy with direct egress and through a second proxy
 * whose egress is an HTTP CONNECT relay ({@code upstream.proxy=http://...}, the {@link
 * ConnectRelay} in the bench JVM), measured back to back in one run: connection setups (the proxy's
 * CONNECT handshake with the relay is part of every setup) and bulk streams. CPU is the proxy
 * core's busy time as everywhere; the relay runs on the load core, so its own cost shows in the
 * load CPU and separately as the relay thread's CPU time. Single-threaded, on the calling thread
 * (the relay has its own).
 */
final class EgressPath {
  private EgressPath() {}

  /**
   * {@code egress.*}: connection setups (64 bytes, echoed) through {@code direct} then {@code
   * relayed}, each after its own warm-up (at least 1 s, so the relayed proxy's CONNECT path is
   * compiled before it is measured): rate, CPU per setup, their ratios, and what the relay saw.
   */
  static Map<String, Double> setups(
      Target direct,
      Target relayed,
      ConnectRelay relay,
      int inFlight,
      double warmup,
      double duration)
      throws IOException {
    Map<String, Double> a = Setups.run(direct, inFlight, Math.max(1.0, warmup), duration);
    long byAddress = relay.requestsByAddress();
    long refused = relay.refused();
    long tunnels = relay.tunnels();
    double relayCpu = relay.cpuSeconds();
    Map<String, Double> r = Setups.run(relayed, inFlight, Math.max(1.0, warmup), duration);
    check(relay);
    double tunnelsRun = relay.tunnels() - tunnels;
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("egress.direct_per_s", a.get("setup.per_s"));
    m.put("egress.relay_per_s", r.get("setup.per_s"));
    m.put("egress.rate_ratio", r.get("setup.per_s") / a.get("setup.per_s"));
    m.put("egress.direct_cpu_us_per_conn", a.get("setup.cpu_us_per_conn"));
    m.put("egress.relay_cpu_us_per_conn", r.get("setup.cpu_us_per_conn"));
    m.put("egress.cpu_ratio", r.get("setup.cpu_us_per_conn") / a.get("setup.cpu_us_per_conn"));
    m.put("egress.direct_p50_ms", a.get("setup.p50_ms"));
    m.put("egress.relay_p50_ms", r.get("setup.p50_ms"));
    m.put("egress.relay_load_cpu_pct", r.get("setup.load_cpu_pct"));
    // over the whole relayed run, warm-up included: the relay's thread, per tunnel it opened
    m.put(
        "egress.relay_own_cpu_us_per_conn",
        tunnelsRun > 0 ? (relay.cpuSeconds() - relayCpu) * 1e6 / tunnelsRun : Double.NaN);
    m.put("egress.errors", a.get("setup.errors") + r.get("setup.errors"));
    m.put("egress.relay_by_address", (double) (relay.requestsByAddress() - byAddress));
    m.put("egress.relay_refused", (double) (relay.refused() - refused));
    return m;
  }

  /**
   * {@code egress_up.*} ({@code upload}) or {@code egress_down.*}: one bulk stream through {@code
   * direct} then {@code relayed}: Gbit/s, CPU-s per GB, their ratios, the load core's busy share
   * and the relay thread's own CPU per GB relayed.
   */
  static Map<String, Double> bulk(
      Target direct,
      Target relayed,
      ConnectRelay relay,
      boolean upload,
      double warmup,
      double duration)
      throws IOException {
    String from = upload ? "bulk.up." : "bulk.down.";
    String to = upload ? "egress_up." : "egress_down.";
    double w = Math.max(1.0, warmup);
    Map<String, Double> a =
        upload ? Bulk.upload(direct, w, duration) : Bulk.download(direct, w, duration);
    double relayCpu = relay.cpuSeconds();
    long relayBytes = relay.bytesRelayed();
    Map<String, Double> r =
        upload ? Bulk.upload(relayed, w, duration) : Bulk.download(relayed, w, duration);
    check(relay);
    double gb = (relay.bytesRelayed() - relayBytes) / 1e9;
    Map<String, Double> m = new LinkedHashMap<>();
    m.put(to + "direct_gbps", a.get(from + "gbps"));
    m.put(to + "relay_gbps", r.get(from + "gbps"));
    m.put(to + "gbps_ratio", r.get(from + "gbps") / a.get(from + "gbps"));
    m.put(to + "direct_cpu_s_per_gb", a.get(from + "cpu_s_per_gb"));
    m.put(to + "relay_cpu_s_per_gb", r.get(from + "cpu_s_per_gb"));
    m.put(to + "cpu_ratio", r.get(from + "cpu_s_per_gb") / a.get(from + "cpu_s_per_gb"));
    m.put(to + "relay_load_cpu_pct", r.get(from + "load_cpu_pct"));
    // over the whole relayed run, warm-up included
    m.put(
        to + "relay_own_cpu_s_per_gb", gb > 0 ? (relay.cpuSeconds() - relayCpu) / gb : Double.NaN);
    return m;
  }

  private static void check(ConnectRelay relay) throws IOException {
    if (!relay.isRunning()) {
      Throwable f = relay.failure();
      throw new IOException("the CONNECT relay stopped" + (f == null ? "" : ": " + f), f);
    }
  }
}
