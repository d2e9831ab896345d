// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.tcp.AddressFamily;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.EgressProxy;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.Router;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connect stage's shared knowledge, for every loop: which attempts a route becomes (direct
 * addresses in the configured family order, or tunnels through the egress proxies by host name),
 * which addresses are this proxy's own (never connected to: a self-loop), which addresses failed
 * recently (tried last for a while), the proxies' resolved addresses, and the rate limit of
 * configuration warnings. Thread-safe; loops call it without blocking (proxy host names are
 * resolved on one daemon thread, {@code apns-proxy-tcp-egress-dns}).
 */
final class Connector {
  private static final Logger LOG = LoggerFactory.getLogger(Connector.class);
  private static final int MAX_REMEMBERED = 4096;
  private static final long WARN_INTERVAL_NANOS = 60_000_000_000L;
  private static final long PROXY_DNS_REFRESH_NANOS = 60_000_000_000L;

  /**
   * One way to try: connect to {@code connectTo}, then (through {@code proxy}) ask for {@code
   * host:port}.
   */
  record Attempt(InetSocketAddress connectTo, @Nullable EgressProxy proxy, String host, int port) {
    @Override
    public String toString() {
      return proxy == null ? connectTo.toString() : host + ":" + port + " via " + proxy;
    }
  }

  private final Settings settings;
  private final CidrSet neverConnectTo;
  private volatile CidrSet selfNetworks;
  private volatile Set<InetSocketAddress> selfEndpoints = Set.of();
  private volatile Set<Integer> wildcardPorts = Set.of();
  private volatile Set<InetAddress> localAddresses = Set.of();
  private final ConcurrentHashMap<InetSocketAddress, Long> failedUntil = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Long> lastWarn = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<EgressProxy, Resolved> proxyAddresses = new ConcurrentHashMap<>();
  private volatile @Nullable ExecutorService dns;
  private volatile boolean closed;

  private record Resolved(@Nullable InetAddress address, long at, boolean refreshing) {}

  Connector(Settings settings) {
    this.settings = settings;
    this.neverConnectTo = settings.neverConnectTo();
    this.selfNetworks = selfNetworks(settings.router());
  }

  /**
   * The router is about to be swapped: the plan of a new stock router (its sites, which a reload
   * may add) is this proxy from now on. Any thread.
   */
  void routerChanged(Router router) {
    selfNetworks = selfNetworks(router);
  }

  private CidrSet selfNetworks(Router router) {
    List<Cidr> self = new ArrayList<>(neverConnectTo.networks());
    if (router instanceof PlanRouter pr) {
      self.addAll(pr.planNetworks()); // the stock router's plan: addresses this proxy hands out
    }
    return CidrSet.of(self);
  }

  /**
   * Learns the bound listen addresses (and, for wildcard ones, the host's addresses), and resolves
   * the proxies of {@code egress}; at start and when listeners change.
   */
  void listening(List<InetSocketAddress> bound, Egress egress) {
    Set<InetSocketAddress> endpoints = new HashSet<>();
    Set<Integer> wild = new HashSet<>();
    for (InetSocketAddress a : bound) {
      if (a.getAddress().isAnyLocalAddress()) {
        wild.add(a.getPort());
      } else {
        endpoints.add(a);
      }
    }
    Set<InetAddress> local = new HashSet<>();
    if (!wild.isEmpty()) {
      try {
        Enumeration<NetworkInterface> ifs = NetworkInterface.getNetworkInterfaces();
        while (ifs != null && ifs.hasMoreElements()) {
          ifs.nextElement().inetAddresses().forEach(local::add);
        }
      } catch (SocketException e) {
        LOG.debug("cannot list the host's addresses; loopback only counts as local", e);
      }
    }
    selfEndpoints = Set.copyOf(endpoints);
    wildcardPorts = Set.copyOf(wild);
    localAddresses = Set.copyOf(local);
    for (EgressProxy p : egress.proxies()) {
      resolveNow(p);
    }
  }

  /**
   * A new egress is about to be used: resolves the host names of its proxies not known yet (this
   * may block on the system resolver). The addresses of the old proxies are kept: connections whose
   * route stage started before the swap still go through them.
   */
  void egressChanged(Egress egress) {
    for (EgressProxy p : egress.proxies()) {
      if (!proxyAddresses.containsKey(p)) {
        resolveNow(p);
      }
    }
  }

  /**
   * Whether {@code a} is this proxy itself: an address its plan hands out, a configured
   * never-connect network, or an address and port it listens on. Connecting there would splice the
   * proxy to itself, over and over.
   */
  boolean isSelf(InetSocketAddress a) {
    InetAddress ip = a.getAddress();
    if (ip == null) {
      return false;
    }
    if (!selfNetworks.isEmpty() && selfNetworks.contains(ip)) {
      return true;
    }
    if (selfEndpoints.contains(a)) {
      return true;
    }
    return wildcardPorts.contains(a.getPort())
        && (ip.isLoopbackAddress() || localAddresses.contains(ip));
  }

  /**
   * The attempts for {@code route} through {@code egress} (the one its route stage started with),
   * in order; empty when nothing can be tried ({@code why} then says why).
   */
  List<Attempt> attempts(
      Route route, Egress egress, AddressFamily family, long now, StringBuilder why) {
    List<InetSocketAddress> candidates = family.apply(route.candidates());
    List<Attempt> out = new ArrayList<>(candidates.size());
    List<Attempt> failedLast = null;
    String routeHost = route.host();
    for (InetSocketAddress c : candidates) {
      String name =
          c.isUnresolved()
              ? c.getHostString()
              : routeHost.isEmpty() ? c.getAddress().getHostAddress() : routeHost;
      List<EgressProxy> proxies = egress.proxiesFor(name, c.getPort());
      if (proxies.isEmpty()) {
        if (c.isUnresolved()) {
          append(
              why,
              c.getHostString()
                  + ":"
                  + c.getPort()
                  + ": a host name, but no egress proxy reaches it");
          continue;
        }
        Attempt a = new Attempt(c, null, name, c.getPort());
        if (recentlyFailed(c, now)) {
          failedLast = add(failedLast, a);
        } else {
          out.add(a);
        }
        continue;
      }
      for (EgressProxy p : proxies) {
        boolean duplicate = false;
        for (Attempt seen : out) {
          duplicate |= p.equals(seen.proxy) && seen.host.equals(name) && seen.port == c.getPort();
        }
        if (failedLast != null) {
          for (Attempt seen : failedLast) {
            duplicate |= p.equals(seen.proxy) && seen.host.equals(name) && seen.port == c.getPort();
          }
        }
        if (duplicate) {
          continue; // resolved candidates of one host: through a proxy they are one request by name
        }
        InetSocketAddress proxyAddress = proxyAddress(p, now);
        if (proxyAddress == null) {
          append(why, "proxy " + p + ": its host name does not resolve");
          continue;
        }
        Attempt a = new Attempt(proxyAddress, p, name, c.getPort());
        if (recentlyFailed(proxyAddress, now)) {
          failedLast = add(failedLast, a);
        } else {
          out.add(a);
        }
      }
    }
    if (failedLast != null) {
      out.addAll(failedLast); // recently failed: still tried, but after the others
    }
    if (out.isEmpty() && candidates.isEmpty() && !route.candidates().isEmpty()) {
      append(
          why,
          "no " + family.text() + " address among " + route.candidates() + " (upstream.family)");
    }
    return out;
  }

  private static List<Attempt> add(@Nullable List<Attempt> list, Attempt a) {
    List<Attempt> l = list == null ? new ArrayList<>(2) : list;
    l.add(a);
    return l;
  }

  private static void append(StringBuilder b, String s) {
    b.append(b.length() == 0 ? "" : "; ").append(s);
  }

  private boolean recentlyFailed(InetSocketAddress a, long now) {
    if (failedUntil.isEmpty()) {
      return false;
    }
    Long until = failedUntil.get(a);
    if (until == null) {
      return false;
    }
    if (now - until >= 0) {
      failedUntil.remove(a, until);
      return false;
    }
    return true;
  }

  /**
   * Remembers that connecting to {@code a} failed: it is tried after the others for the failure
   * memory.
   */
  void failed(InetSocketAddress a, long now) {
    long memory = settings.failedAddressMemoryNanos();
    if (memory <= 0) {
      return;
    }
    if (failedUntil.size() >= MAX_REMEMBERED) {
      failedUntil.entrySet().removeIf(e -> now - e.getValue() >= 0);
      if (failedUntil.size() >= MAX_REMEMBERED) {
        return; // bounded: a flood of distinct failing addresses is not remembered
      }
    }
    failedUntil.put(a, now + memory);
  }

  /** Forgets a failure of {@code a}: it just worked. */
  void succeeded(InetSocketAddress a) {
    if (!failedUntil.isEmpty()) {
      failedUntil.remove(a);
    }
  }

  /** Whether a WARN for {@code key} is due (at most one a minute per key). */
  boolean warnDue(String key, long now) {
    Long last = lastWarn.get(key);
    if (last != null && now - last < WARN_INTERVAL_NANOS) {
      return false;
    }
    if (lastWarn.size() > 1024) {
      lastWarn.clear();
    }
    return last == null ? lastWarn.putIfAbsent(key, now) == null : lastWarn.replace(key, last, now);
  }

  private @Nullable InetSocketAddress proxyAddress(EgressProxy p, long now) {
    Resolved r = proxyAddresses.get(p);
    if (r == null || (now - r.at >= PROXY_DNS_REFRESH_NANOS && !r.refreshing)) {
      refreshLater(p, r, now);
    }
    InetAddress a = r == null ? null : r.address;
    return a == null ? null : new InetSocketAddress(a, p.port());
  }

  private void resolveNow(EgressProxy p) {
    long now = System.nanoTime();
    try {
      proxyAddresses.put(p, new Resolved(InetAddress.getByName(p.host()), now, false));
    } catch (UnknownHostException e) {
      LOG.warn(
          "egress proxy {}: host name {} does not resolve (retrying in the background)",
          p,
          p.host());
      proxyAddresses.put(
          p, new Resolved(null, now - PROXY_DNS_REFRESH_NANOS + 5_000_000_000L, false));
    }
  }

  private void refreshLater(EgressProxy p, @Nullable Resolved old, long now) {
    if (closed) {
      return;
    }
    Resolved marker =
        new Resolved(old == null ? null : old.address, old == null ? now : old.at, true);
    if (old == null
        ? proxyAddresses.putIfAbsent(p, marker) != null
        : !proxyAddresses.replace(p, old, marker)) {
      return; // another loop refreshes it
    }
    ExecutorService e = dns();
    try {
      e.execute(
          () -> {
            InetAddress fresh = null;
            try {
              fresh = InetAddress.getByName(p.host());
            } catch (UnknownHostException ex) {
              LOG.debug("egress proxy {}: {} does not resolve", p, p.host());
            }
            // a failed refresh keeps the last known address: the proxy likely still runs there
            InetAddress keep = fresh != null ? fresh : marker.address;
            proxyAddresses.put(p, new Resolved(keep, System.nanoTime(), false));
          });
    } catch (RejectedExecutionException ex) {
      proxyAddresses.put(p, old == null ? new Resolved(null, now, false) : old); // closing
    }
  }

  private ExecutorService dns() {
    ExecutorService e = dns;
    if (e == null) {
      synchronized (this) {
        e = dns;
        if (closed) {
          throw new RejectedExecutionException("splicer closed");
        }
        if (e == null) {
          e =
              Executors.newSingleThreadExecutor(
                  r -> {
                    Thread t = new Thread(r, "apns-proxy-tcp-egress-dns");
                    t.setDaemon(true);
                    return t;
                  });
          dns = e;
        }
      }
    }
    return e;
  }

  /** Stops the proxy-name thread, if any. */
  void close() {
    ExecutorService e;
    synchronized (this) {
      closed = true;
      e = dns;
      dns = null;
    }
    if (e != null) {
      e.shutdownNow();
    }
  }
}
