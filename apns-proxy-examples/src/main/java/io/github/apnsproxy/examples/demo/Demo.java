// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.demo;

import io.github.apnsproxy.examples.ProxyConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@code apns-proxy demo}: the whole chain on loopback with no setup and no internet. Starts a
 * simulated upstream DNS and simulated TLS couriers (standing in for Apple), then the proxy exactly
 * as {@code run} builds it (DNS server and splicer from one plan, virtual subnet {@code
 * 127.100.100.0/24}), then simulated devices that reach the couriers only through the proxy. Prints
 * each step and the stats; exit code 0 when every device succeeded.
 */
public final class Demo {
  /** The virtual subnet of the demo plan. */
  public static final String VIRTUAL_SUBNET = "127.100.100.0/24";

  /** The loopback addresses of the simulated couriers ("Apple"). */
  public static final List<String> COURIER_ADDRESSES = List.of("127.0.1.1", "127.0.1.2");

  private Demo() {}

  /**
   * Runs the demo command; returns the exit code (0 ok, 1 failure, 2 bad usage, said on {@code
   * err}).
   */
  public static int run(String[] args, PrintStream out, PrintStream err)
      throws IOException, InterruptedException {
    int devices = 1;
    int messages = 3;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--devices" -> devices = positive(args, ++i, "--devices");
          case "--messages" -> messages = positive(args, ++i, "--messages");
          default ->
              throw new IllegalArgumentException(
                  "demo: unknown option '" + args[i] + "' (expected --devices N, --messages N)");
        }
      }
    } catch (IllegalArgumentException e) {
      err.println("apns-proxy " + e.getMessage());
      return 2;
    }
    DemoWorld started;
    try {
      started = DemoWorld.start(out::println);
    } catch (IOException e) {
      if (causedByBind(e)) {
        // e.g. macOS, where only 127.0.0.1 is local unless aliases are added
        err.println(
            "apns-proxy demo: "
                + e.getMessage()
                + " (the demo binds addresses across 127.0.0.0/8, which"
                + " are all local on Linux; elsewhere each needs a loopback alias)");
        return 1;
      }
      throw e;
    }
    try (DemoWorld world = started) {
      return devices == 1
          ? oneDevice(world, messages, out)
          : manyDevices(world, devices, messages, out);
    }
  }

  private static boolean causedByBind(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof BindException) {
        return true;
      }
    }
    return false;
  }

  private static int positive(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException("demo: " + option + " needs a number");
    }
    try {
      int n = Integer.parseInt(args[i]);
      if (n < 1 || n > 5000) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "demo: " + option + " '" + args[i] + "' (expected 1..5000)");
    }
  }

  private static int oneDevice(DemoWorld world, int messages, PrintStream out) {
    out.println();
    out.println("[4] a simulated device, through the proxy only:");
    SimulatedDevice device =
        new SimulatedDevice(
            world.proxyDns(), world.tls(), world.port(), line -> out.println("    " + line));
    try {
      SimulatedDevice.Result r =
          device.run(count -> ThreadLocalRandom.current().nextInt(count), messages, false);
      out.println(
          "    path: "
              + r.courierName()
              + " -> virtual "
              + r.virtualAddress().getHostAddress()
              + ":"
              + world.port()
              + " -> upstream host "
              + r.courierName()
              + " -> "
              + world.lastUpstreamOf(r));
      out.println(
          "    bytes: device sent "
              + r.bytesSent()
              + ", received "
              + r.bytesReceived()
              + " (application data inside TLS); time: DNS "
              + ms(r.dnsTime())
              + ", connect+TLS "
              + ms(r.connectTime())
              + ", total "
              + ms(r.total()));
    } catch (IOException | RuntimeException e) {
      out.println("    FAILED: " + e);
      out.println();
      out.print(world.node().statsText());
      return 1;
    }
    out.println();
    out.println("[5] stats:");
    world.awaitSplicesClosed(Duration.ofSeconds(5));
    out.print(indent(world.node().statsText()));
    out.println();
    out.println(
        "demo OK: the device reached its courier through the proxy; TLS was verified end to end.");
    return 0;
  }

  private static int manyDevices(DemoWorld world, int devices, int messages, PrintStream out)
      throws InterruptedException {
    out.println();
    out.println("[4] " + devices + " simulated devices at once, through the proxy only ...");
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(devices, 1000),
            r -> {
              Thread t = new Thread(r, "demo-device");
              t.setDaemon(true);
              return t;
            });
    CountDownLatch go = new CountDownLatch(1);
    int failed = 0;
    List<Future<SimulatedDevice.Result>> futures = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < devices; i++) {
      SimulatedDevice device =
          new SimulatedDevice(world.proxyDns(), world.tls(), world.port(), line -> {});
      boolean tcp = i % 10 == 9; // one device in ten asks DNS over TCP
      futures.add(
          pool.submit(
              () -> {
                go.await();
                return device.run(
                    count -> ThreadLocalRandom.current().nextInt(count), messages, tcp);
              }));
    }
    go.countDown();
    List<Long> totals = new ArrayList<>();
    Map<String, Integer> errors = new TreeMap<>();
    for (Future<SimulatedDevice.Result> f : futures) {
      try {
        totals.add(f.get(120, TimeUnit.SECONDS).total().toNanos());
      } catch (Exception e) {
        failed++;
        Throwable c = e.getCause() == null ? e : e.getCause();
        errors.merge(c.getClass().getSimpleName() + ": " + c.getMessage(), 1, Integer::sum);
      }
    }
    long wall = System.nanoTime() - start;
    pool.shutdownNow();
    Collections.sort(totals);
    out.println(
        "    succeeded "
            + totals.size()
            + ", failed "
            + failed
            + " in "
            + ms(Duration.ofNanos(wall)));
    if (!totals.isEmpty()) {
      out.println(
          "    per device (DNS x4 + TCP + TLS + "
              + messages
              + " messages + close): p50 "
              + ms(Duration.ofNanos(totals.get(totals.size() / 2)))
              + ", p99 "
              + ms(
                  Duration.ofNanos(
                      totals.get(Math.min(totals.size() - 1, (int) (totals.size() * 0.99))))));
    }
    errors.forEach((k, v) -> out.println("    " + v + " x " + k));
    world
        .couriers()
        .forEach(
            c ->
                out.println(
                    "    "
                        + c.name()
                        + " on "
                        + c.address().getAddress().getHostAddress()
                        + ":"
                        + c.address().getPort()
                        + " served "
                        + c.connections()
                        + " connections"));
    out.println();
    out.println("[5] stats:");
    world.awaitSplicesClosed(Duration.ofSeconds(10));
    out.print(indent(world.node().statsText()));
    out.println();
    out.println(
        failed == 0
            ? "demo OK: all " + devices + " devices reached their couriers through the proxy."
            : "demo FAILED: " + failed + " of " + devices + " devices failed.");
    return failed == 0 ? 0 : 1;
  }

  static String ms(Duration d) {
    return String.format("%.1f ms", d.toNanos() / 1e6);
  }

  private static String indent(String text) {
    return text.lines().map(l -> "    " + l + "\n").reduce("", String::concat);
  }

  /**
   * Picks the port the demo's couriers and virtual addresses share: 5223 when it is free on both
   * the courier and the virtual addresses, else a free port (so a second demo on the same machine
   * still runs).
   */
  static int pickPort() throws IOException {
    for (int attempt = 0; attempt < 20; attempt++) {
      int candidate = attempt == 0 ? 5223 : freePort();
      if (bindable(candidate)) {
        return candidate;
      }
    }
    throw new IOException("no port free on both " + COURIER_ADDRESSES + " and " + VIRTUAL_SUBNET);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
      return s.getLocalPort();
    }
  }

  private static boolean bindable(int port) {
    List<String> addresses = new ArrayList<>(COURIER_ADDRESSES);
    addresses.add("127.100.100.1");
    for (String a : addresses) {
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getByName(a), port));
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  /** The demo's config: what an operator would write, pointed at the simulated world. */
  static ProxyConfig config(InetSocketAddress upstreamDns, int port) {
    return config(upstreamDns, port, Map.of());
  }

  /**
   * The demo's config with {@code overrides} applied on top (tests use it for short TTLs, metrics,
   * ...).
   */
  static ProxyConfig config(
      InetSocketAddress upstreamDns, int port, Map<String, String> overrides) {
    ProxyConfig.Builder b =
        ProxyConfig.builder()
            .set("plan.ipv4", VIRTUAL_SUBNET)
            .set("dns.listen", "127.0.0.1:0")
            .set(
                "upstream.dns",
                upstreamDns.getAddress().getHostAddress() + ":" + upstreamDns.getPort())
            .set("upstream.allow", "127.0.1.0/24")
            .set("clients.allow", "127.0.0.0/8")
            .set("tcp.courier-ports", Integer.toString(port))
            .set("tcp.init-ports", Integer.toString(port))
            .set("tcp.api-ports", Integer.toString(port))
            .set("stats.interval", "0");
    overrides.forEach(b::set);
    return b.build();
  }
}
