// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.demo;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.examples.ProxyConfig;
import io.github.apnsproxy.examples.ProxyNode;
import io.github.apnsproxy.examples.ProxySetup;
import java.io.Closeable;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The demo's little world on loopback: a simulated upstream DNS, two simulated TLS couriers
 * ("Apple") and the proxy built from a config exactly as {@code run} builds it. Used by {@code
 * demo} and by the end-to-end test.
 */
public final class DemoWorld implements Closeable {
  private final DemoCertificates tls;
  private final SimulatedUpstreamDns upstreamDns;
  private final List<SimulatedCourier> couriers;
  private final ProxyNode node;
  private final int port;

  private DemoWorld(
      DemoCertificates tls,
      SimulatedUpstreamDns upstreamDns,
      List<SimulatedCourier> couriers,
      ProxyNode node,
      int port) {
    this.tls = tls;
    this.upstreamDns = upstreamDns;
    this.couriers = couriers;
    this.node = node;
    this.port = port;
  }

  /** Starts everything, telling each step to {@code log}. */
  public static DemoWorld start(Consumer<String> log) throws IOException {
    return start(log, 300);
  }

  /**
   * Starts everything; the upstream DNS answers carry {@code upstreamTtlSeconds}.
   *
   * @param log where each step is told
   */
  public static DemoWorld start(Consumer<String> log, long upstreamTtlSeconds) throws IOException {
    return start(log, upstreamTtlSeconds, Map.of());
  }

  /**
   * Starts everything with {@code configOverrides} applied to the demo's proxy config.
   *
   * @param log where each step is told
   */
  public static DemoWorld start(
      Consumer<String> log, long upstreamTtlSeconds, Map<String, String> configOverrides)
      throws IOException {
    for (int attempt = 1; ; attempt++) {
      // the port is checked free on every address first, but another process (a parallel test
      // JVM) may take it before the couriers and the proxy bind it: then again on another port,
      // telling the steps of the attempt that worked only
      List<String> steps = new ArrayList<>();
      try {
        DemoWorld w = start(steps::add, upstreamTtlSeconds, configOverrides, Demo.pickPort());
        steps.forEach(log);
        return w;
      } catch (IOException e) {
        if (attempt == 5 || !portTaken(e)) {
          steps.forEach(log);
          throw e;
        }
      }
    }
  }

  private static boolean portTaken(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException
          || String.valueOf(t.getMessage()).contains("Address already in use")) {
        return true;
      }
    }
    return false;
  }

  private static DemoWorld start(
      Consumer<String> log, long upstreamTtlSeconds, Map<String, String> configOverrides, int port)
      throws IOException {
    List<Closeable> started = new ArrayList<>();
    try {
      log.accept("apns-proxy demo: everything runs on loopback; nothing leaves this machine.");
      log.accept("");
      DemoCertificates tls = DemoCertificates.generate();
      SimulatedUpstreamDns dns =
          SimulatedUpstreamDns.start(
              new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), upstreamTtlSeconds);
      started.add(dns);
      log.accept(
          "[1] simulated upstream DNS (stands in for the internet's DNS) on 127.0.0.1:"
              + dns.address().getPort());
      List<SimulatedCourier> couriers = new ArrayList<>();
      char name = 'a';
      for (String a : Demo.COURIER_ADDRESSES) {
        SimulatedCourier c =
            SimulatedCourier.start(
                "courier-" + name++, new InetSocketAddress(InetAddress.getByName(a), port), tls);
        started.add(c);
        couriers.add(c);
      }
      log.accept(
          "[2] simulated APNs couriers (TLS 1.3, self-signed certificate for courier.push.apple.com made"
              + " just now): "
              + couriers.stream()
                  .map(
                      c ->
                          c.name()
                              + " on "
                              + c.address().getAddress().getHostAddress()
                              + ":"
                              + port)
                  .toList());

      Map<String, String> overrides = new HashMap<>();
      overrides.put(
          "log.access", "off"); // the demo prints its own steps; a test may turn it on again
      overrides.putAll(configOverrides);
      ProxyConfig config = Demo.config(dns.address(), port, overrides);
      ProxySetup setup = ProxySetup.of(config);
      AddressPlan plan = setup.plan();
      int i = 0;
      for (ApnsHost h : plan.hosts()) {
        // every real name resolves to both couriers, in an order that alternates, like a real
        // courier pool
        InetAddress first = InetAddress.getByName(Demo.COURIER_ADDRESSES.get(i % 2));
        InetAddress second = InetAddress.getByName(Demo.COURIER_ADDRESSES.get((i + 1) % 2));
        dns.put(h.name(), List.of(first, second));
        i++;
      }
      log.accept(
          "    upstream DNS knows the "
              + plan.hosts().size()
              + " real names (e.g. 17-courier.push.apple.com ->"
              + " "
              + Demo.COURIER_ADDRESSES
              + ")");

      ProxyNode node = ProxyNode.start(setup);
      started.add(() -> node.close(Duration.ZERO));
      log.accept(
          "[3] the proxy: DNS on "
              + node.dnsAddresses().get(0).getAddress().getHostAddress()
              + ":"
              + node.dnsAddresses().get(0).getPort()
              + "; splicer on "
              + node.splicerAddressCount()
              + " virtual addresses of "
              + Demo.VIRTUAL_SUBNET
              + " port "
              + port
              + " (plan: "
              + plan.style().name().toLowerCase(java.util.Locale.ROOT)
              + ", couriers 0.."
              + plan.courierCount()
              + " of "
              + plan.variants()
              + ", production and sandbox)");
      return new DemoWorld(tls, dns, couriers, node, port);
    } catch (IOException | RuntimeException e) {
      for (int k = started.size() - 1; k >= 0; k--) {
        try {
          started.get(k).close();
        } catch (IOException | RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  /** The proxy's DNS server (UDP and TCP). */
  public InetSocketAddress proxyDns() {
    return node.dnsAddresses().get(0);
  }

  public DemoCertificates tls() {
    return tls;
  }

  /** The courier port: devices dial the virtual addresses on it, couriers listen on it. */
  public int port() {
    return port;
  }

  public ProxyNode node() {
    return node;
  }

  public SimulatedUpstreamDns upstreamDns() {
    return upstreamDns;
  }

  public List<SimulatedCourier> couriers() {
    return couriers;
  }

  /** Which courier answered a device, from its replies: {@code courier-a (127.0.1.1:5223)}. */
  public String lastUpstreamOf(SimulatedDevice.Result r) {
    for (SimulatedCourier c : couriers) {
      if (!r.replies().isEmpty() && r.replies().get(0).startsWith(c.name() + ":")) {
        return c.name()
            + " at "
            + c.address().getAddress().getHostAddress()
            + ":"
            + c.address().getPort();
      }
    }
    return "?";
  }

  /** Waits (bounded) until the splicer has no live splice, so the printed stats are final. */
  public void awaitSplicesClosed(Duration max) {
    node.awaitIdle(max);
  }

  @Override
  public void close() {
    node.close(Duration.ZERO);
    couriers.forEach(SimulatedCourier::close);
    upstreamDns.close();
  }
}
