// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static io.github.apnsproxy.examples.ProxyKeys.*;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPlan.Site;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.core.config.ConfigException;
import io.github.apnsproxy.core.config.ValueTypes;
import io.github.apnsproxy.core.config.ValueTypes.Hosts;
import io.github.apnsproxy.dns.CachingResolver;
import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsResponder;
import io.github.apnsproxy.dns.DnsServer;
import io.github.apnsproxy.dns.ForwardingHandler;
import io.github.apnsproxy.dns.PlanHostsHandler;
import io.github.apnsproxy.dns.ZoneApexHandler;
import io.github.apnsproxy.dns.ZoneOther;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.ExplicitProxy;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.ProxyProtocol;
import io.github.apnsproxy.tcp.ProxyUsers;
import io.github.apnsproxy.tcp.TcpSplicer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link ProxyConfig} mapped onto the library builders, the {@code CaffeineSpec} way: each key
 * that is set calls its builder option, a key that is not set calls nothing, so every default is
 * the builder's own. Holds the built address plan and policy, the configured (not yet built)
 * builders of the resolver, handlers, DNS server and splicer, and the {@link AppSettings}; {@link
 * #effectiveValues()} reads every key back from them, so {@code check} and {@code keys} print what
 * {@link ProxyNode#start} runs.
 *
 * <p>Not thread-safe, and used once: {@link ProxyNode#start(ProxySetup)} completes and builds the
 * builders.
 */
public final class ProxySetup {
  /**
   * Stands in for the resolver of {@code dns.upstream-check} until {@link ProxyNode} has built the
   * real one.
   */
  static final UpstreamResolver PENDING_RESOLVER =
      host ->
          CompletableFuture.failedFuture(
              new IllegalStateException("the upstream resolver is made when the node starts"));

  private static final int MAX_WARNINGS = 10;

  private final ProxyConfig config;
  private final List<String> siteNames;
  private final AddressPlan plan;
  private final AddressPolicy policy;
  private final Optional<Hosts> hosts;
  private final List<InetAddress> tcpListen;
  private final CachingResolver.Builder resolver = CachingResolver.builder();
  private final ForwardingHandler.Builder forward = ForwardingHandler.builder();
  private final PlanHostsHandler.Builder planHosts;
  private final ZoneApexHandler.Builder apex;
  private final DnsServer.Builder dnsServer = DnsServer.builder();
  // the handler chain is made with the node; refusing stands in so that the builder holds the
  // responder's options
  private final DnsResponder.Builder responder = DnsResponder.builder(DnsAnswerHandler.refusing());
  private final TcpSplicer.Builder splicer = TcpSplicer.builder();
  private final AppSettings app;
  private final List<String> warnings = new ArrayList<>();
  private final int configuredMaxConnections;
  private final Optional<Path> proxyCredentials;
  private final boolean sni;
  private final List<InetSocketAddress> connectListen;
  private final List<InetSocketAddress> socksListen;
  private final boolean connectAllowAddresses;
  private final Optional<Path> connectUsersFile;
  private final ProxyUsers connectUsers;
  private final Optional<InetSocketAddress> pacAddress;
  private final boolean accessLog;
  private final LogLevel logLevel;
  private final List<String> connectUsersLines;

  private ProxySetup(ProxyConfig config, boolean requireUpstream, OptionalLong openFileLimit) {
    this.config = config;
    this.siteNames = config.get(PLAN_SITES).orElse(List.of());
    this.plan = buildPlan(sites());
    AddressPolicy d = AddressPolicy.defaults();
    this.policy =
        new AddressPolicy(
            config.get(CLIENTS_ALLOW).orElse(d.clients()),
            config.get(UPSTREAM_ALLOW).orElse(d.upstreams()));
    checkUpstreamAllowOutsidePlan();
    this.hosts = config.get(UPSTREAM_HOSTS).flatMap(h -> h);
    hosts.ifPresent(this::warnHostsOutsideAllow);
    this.tcpListen = config.get(TCP_LISTEN).orElse(List.of());

    config.ifSet(UPSTREAM_DNS, resolver::servers);
    config.ifSet(
        UPSTREAM_TIMEOUT,
        t -> {
          resolver.timeout(t);
          forward.timeout(t);
        });
    config.ifSet(UPSTREAM_TTL_MIN, resolver::ttlFloor);
    config.ifSet(UPSTREAM_TTL_MAX, resolver::ttlCeiling);
    config.ifSet(UPSTREAM_SERVE_STALE, resolver::serveStale);
    config.ifSet(UPSTREAM_STALE_ANSWER_TIMEOUT, resolver::staleAnswerTimeout);
    if (resolver.ttlFloor().compareTo(resolver.ttlCeiling()) > 0) {
      throw new ConfigException(
          UPSTREAM_TTL_MIN.name(),
          UPSTREAM_TTL_MIN.effective(this),
          "above upstream.ttl-max = '"
              + UPSTREAM_TTL_MAX.effective(this)
              + "' (expected ttl-min <= ttl-max)");
    }
    config.ifSet(DNS_FORWARD, forward::servers);

    this.planHosts = PlanHostsHandler.builder(plan);
    this.apex = ZoneApexHandler.builder(plan);
    config.ifSet(
        DNS_TTL,
        t -> {
          planHosts.ttl(t);
          apex.ttl(t);
        });
    config.ifSet(
        DNS_NEGATIVE_TTL,
        t -> {
          planHosts.negativeTtl(t);
          apex.negativeTtl(t);
        });
    config.ifSet(
        DNS_NS_NAME,
        n -> {
          planHosts.nsName(n);
          apex.nsName(n);
        });
    config.ifSet(DNS_UPSTREAM_CHECK, on -> planHosts.upstreamCheck(on ? PENDING_RESOLVER : null));
    config.ifSet(DNS_NS_ADDRESS, a -> apex.nsAddress(a.orElse(null)));
    config.ifSet(DNS_TXT_COUNT, apex::txtCount);
    // the forwarder is made with the node; refusing stands in so that the builder holds the choice
    config.ifSet(
        DNS_ZONE_OTHER,
        o -> apex.otherNames(o, o == ZoneOther.FORWARD ? DnsAnswerHandler.refusing() : null));
    if (apex.otherNames() == ZoneOther.FORWARD && resolver.servers().isEmpty()) {
      throw new ConfigException(
          DNS_ZONE_OTHER.name(),
          config.text(DNS_ZONE_OTHER.name()),
          "forwards to upstream.dns,"
              + " which is empty (expected upstream.dns servers, or dns.zone-other = nxdomain)");
    }
    this.proxyCredentials = config.get(UPSTREAM_PROXY_CREDENTIALS).flatMap(p -> p);
    splicer.egress(egress());
    config.ifSet(UPSTREAM_FAMILY, splicer::family);
    // through a proxy, the proxy resolves the plan's names: neither upstream.dns nor upstream.hosts
    // is needed
    if (requireUpstream && resolver.servers().isEmpty() && splicer.egress().isDirect()) {
      checkHostsCoverPlan();
    }

    AppSettings.Builder ab = AppSettings.builder();
    config.ifSet(DNS_LISTEN, ab::dnsListen);
    config.ifSet(METRICS_LISTEN, ab::metricsListen);
    config.ifSet(STATS_INTERVAL, ab::statsInterval);
    config.ifSet(TCP_DRAIN_TIMEOUT, ab::drainTimeout);
    this.app = ab.build();

    dnsServer.listen(app.dnsListen().toArray(InetSocketAddress[]::new));
    responder.policy(policy);
    config.ifSet(DNS_DENIED_CLIENTS, responder::deniedClients);
    config.ifSet(DNS_THREADS, dnsServer::threads);
    config.ifSet(DNS_TCP_IDLE_TIMEOUT, dnsServer::tcpIdleTimeout);
    config.ifSet(DNS_TCP_MAX_CONNECTIONS, dnsServer::maxTcpConnections);
    config.ifSet(DNS_TCP_MAX_PER_CLIENT, dnsServer::maxTcpConnectionsPerClient);

    this.sni = config.get(TCP_SNI).orElse(false);
    if (plan.style() == AddressPlan.Style.SINGLE || sni) {
      // single: one address for every name, the SNI decides; tcp.sni: the SNI decides, the address
      // when none
      splicer.listen(splicerListen(), FrontDoor.tlsServerName());
    } else {
      splicer.listen(splicerListen());
    }
    splicer.policy(policy);
    config.ifSet(
        TCP_THREADS,
        n -> {
          if (n > 0) { // 0: one per processor, the builder's default
            splicer.loops(n);
          }
        });
    config.ifSet(TCP_CONNECT_TIMEOUT, splicer::connectTimeout);
    config.ifSet(TCP_IDLE_TIMEOUT, splicer::idleTimeout);
    config.ifSet(TCP_ROUTE_TIMEOUT, splicer::routeTimeout);
    config.ifSet(TCP_MAX_CONNECTIONS, splicer::maxConnections);
    config.ifSet(TCP_MAX_PER_CLIENT, splicer::maxConnectionsPerClient);
    config.ifSet(TCP_REUSE_PORT, splicer::reusePort);
    config.ifSet(TCP_KEEPALIVE_IDLE, t -> splicer.keepAlive(t, splicer.keepAliveInterval()));
    config.ifSet(TCP_KEEPALIVE_INTERVAL, t -> splicer.keepAlive(splicer.keepAliveIdle(), t));
    config.ifSet(TCP_PREFACE_TIMEOUT, splicer::prefaceTimeout);
    proxyProtocol();

    this.connectListen = config.get(CONNECT_LISTEN).orElse(List.of());
    this.socksListen = config.get(SOCKS_LISTEN).orElse(List.of());
    this.connectAllowAddresses = config.get(CONNECT_ALLOW_ADDRESSES).orElse(false);
    this.connectUsersFile = config.get(CONNECT_USERS).flatMap(p -> p);
    this.connectUsersLines =
        connectUsersFile.isPresent() ? readUsers(connectUsersFile.get()) : List.of();
    this.connectUsers =
        connectUsersFile.isPresent()
            ? parseUsers(connectUsersFile.get(), connectUsersLines)
            : ProxyUsers.none();
    this.pacAddress = config.get(CONNECT_PAC_ADDRESS).flatMap(a -> a);
    this.accessLog = config.get(LOG_ACCESS).orElse(true);
    this.logLevel = config.get(LOG_LEVEL).orElse(LogLevel.INFO);

    this.configuredMaxConnections = splicer.maxConnections();
    if (openFileLimit.isPresent()) {
      int listeners =
          splicer.listen().size()
              + connectListen.size()
              + socksListen.size()
              + 2 * app.dnsListen().size()
              + (app.metricsListen().isPresent() ? 1 : 0);
      int fits =
          Descriptors.maxSplices(
              openFileLimit.getAsLong(), listeners, dnsServer.maxTcpConnections());
      if (fits < configuredMaxConnections) {
        splicer.maxConnections(fits);
        warnings.add(
            "tcp.max-connections = "
                + configuredMaxConnections
                + " is more than the open-file limit of "
                + openFileLimit.getAsLong()
                + " holds (two descriptors per splice, next to "
                + listeners
                + " listeners, dns.tcp-max-connections = "
                + dnsServer.maxTcpConnections()
                + " and "
                + Descriptors.RESERVE
                + " in reserve): capped at "
                + fits
                + "; raise the limit (ulimit -n, LimitNOFILE=) to allow more");
      }
    }
  }

  /**
   * Maps {@code config} onto the builders and checks every rule, capping {@code
   * tcp.max-connections} as run does.
   */
  public static ProxySetup of(ProxyConfig config) {
    return new ProxySetup(config, true, Descriptors.openFileLimit());
  }

  /** {@link #of} with a given open-file limit (none: no cap); for tests. */
  static ProxySetup of(ProxyConfig config, OptionalLong openFileLimit) {
    return new ProxySetup(config, true, openFileLimit);
  }

  /** {@link #of} for the file at {@code path} ({@link ProxyConfig#load}). */
  public static ProxySetup load(Path path) throws IOException {
    return of(ProxyConfig.load(path));
  }

  /**
   * Every builder default: the setup to read defaults from ({@code keys}, the README). It cannot
   * resolve upstream names (neither {@code upstream.dns} nor {@code upstream.hosts} is set) and is
   * not capped by this machine's open-file limit.
   */
  public static ProxySetup defaults() {
    return forInspection(ProxyConfig.empty());
  }

  /**
   * {@code config} without the rule that upstream names must be resolvable and without the
   * open-file cap.
   */
  static ProxySetup forInspection(ProxyConfig config) {
    return new ProxySetup(config, false, OptionalLong.empty());
  }

  // ---------------------------------------------------------------- the plan

  private List<Site> sites() {
    List<Site> sites = new ArrayList<>();
    Map<String, Map<String, Object>> siteValues = config.siteValues();
    if (siteNames.isEmpty()) {
      for (String siteName : siteValues.keySet()) {
        String k = firstSiteKey(siteName);
        throw new ConfigException(
            k,
            config.text(k),
            "site '"
                + siteName
                + "' is not in plan.sites, which is empty"
                + " (expected plan.sites listing it, or plan.ipv4 for a single site)");
      }
      Cidr ipv4 = config.get(PLAN_IPV4).orElse(AddressPlan.DEFAULT_SUBNET);
      Cidr ipv6 = config.get(PLAN_IPV6).flatMap(o -> o).orElse(null);
      checkIpv6Size(PLAN_IPV6.name(), ipv4, ipv6);
      sites.add(new Site("default", ipv4, ipv6, CidrSet.any()));
      return sites;
    }
    if (config.isSet(PLAN_IPV4)) {
      throw bothPlanAndSites(PLAN_IPV4.name());
    }
    if (config.get(PLAN_IPV6).flatMap(o -> o).isPresent()) {
      throw bothPlanAndSites(PLAN_IPV6.name());
    }
    for (String siteName : siteValues.keySet()) {
      if (!siteNames.contains(siteName)) {
        String k = firstSiteKey(siteName);
        throw new ConfigException(
            k,
            config.text(k),
            "site '"
                + siteName
                + "' is not in plan.sites (expected one"
                + " of "
                + siteNames
                + ")");
      }
    }
    for (String siteName : siteNames) {
      Map<String, Object> attrs = siteValues.getOrDefault(siteName, Map.of());
      Cidr ipv4 = (Cidr) attrs.get(SITE_IPV4.siteAttribute());
      if (ipv4 == null) {
        throw new ConfigException(
            "site." + siteName + ".ipv4",
            "",
            "missing (expected the virtual IPv4 subnet"
                + " of site '"
                + siteName
                + "', which plan.sites lists)");
      }
      Object v6 = attrs.get(SITE_IPV6.siteAttribute());
      Cidr ipv6 = v6 instanceof Optional<?> o && o.isPresent() ? (Cidr) o.get() : null;
      checkIpv6Size("site." + siteName + ".ipv6", ipv4, ipv6);
      Object clients = attrs.get(SITE_CLIENTS.siteAttribute());
      sites.add(new Site(siteName, ipv4, ipv6, clients instanceof CidrSet c ? c : CidrSet.any()));
    }
    return sites;
  }

  private ConfigException bothPlanAndSites(String key) {
    return new ConfigException(
        key,
        config.text(key),
        "set together with plan.sites = '"
            + config.text(PLAN_SITES.name())
            + "' (expected one of them: each site has its own site.NAME.ipv4)");
  }

  private AddressPlan buildPlan(List<Site> sites) {
    AddressPlan.Builder pb = AddressPlan.builder();
    config.ifSet(PLAN_STYLE, pb::style);
    config.ifSet(COURIER_VARIANTS, pb::courierVariants);
    config.ifSet(COURIER_COUNT, pb::courierCount);
    config.ifSet(TCP_COURIER_PORTS, p -> pb.ports(Kind.COURIER, p));
    config.ifSet(TCP_INIT_PORTS, p -> pb.ports(Kind.INIT, p));
    config.ifSet(TCP_API_PORTS, p -> pb.ports(Kind.PROVIDER, p));
    sites.forEach(pb::site);
    try {
      return pb.build();
    } catch (IllegalArgumentException e) {
      String key = siteNames.isEmpty() ? PLAN_IPV4.name() : PLAN_SITES.name();
      String value = siteNames.isEmpty() ? sites.get(0).ipv4().toString() : config.text(key);
      throw new ConfigException(
          key,
          value,
          "with courier.count = "
              + pb.courierCount()
              + ", courier.variants = '"
              + String.join(",", pb.courierVariants())
              + "', plan.style = "
              + PLAN_STYLE.key().format(pb.style())
              + ": "
              + e.getMessage(),
          e);
    }
  }

  private void checkIpv6Size(String key, Cidr ipv4, @org.jspecify.annotations.Nullable Cidr ipv6) {
    if (ipv6 != null && ipv6.hostBits() < ipv4.hostBits()) {
      throw new ConfigException(
          key,
          ipv6.toString(),
          "smaller than the IPv4 subnet "
              + ipv4
              + " (expected a"
              + " prefix length of at most "
              + (128 - ipv4.hostBits())
              + ")");
    }
  }

  private String firstSiteKey(String siteName) {
    return ProxyKeys.siteKeys()
        .map(k -> "site." + siteName + "." + k.siteAttribute())
        .filter(k -> !config.text(k).isEmpty() || config.texts().containsKey(k))
        .findFirst()
        .orElseThrow(() -> new AssertionError("site " + siteName + " has no key"));
  }

  /**
   * Issue 18 defect 1: an upstream.allow that covers the proxy's own virtual addresses would let it
   * splice to itself.
   */
  private void checkUpstreamAllowOutsidePlan() {
    CidrSet allow = policy.upstreams();
    for (Site s : plan.sites()) {
      for (Cidr own : s.ipv6() == null ? List.of(s.ipv4()) : List.of(s.ipv4(), s.ipv6())) {
        Optional<Cidr> hit =
            allow.isAny()
                ? Optional.of(own)
                : allow.networks().stream().filter(n -> n.overlaps(own)).findFirst();
        if (hit.isPresent()) {
          throw new ConfigException(
              UPSTREAM_ALLOW.name(),
              UPSTREAM_ALLOW.key().format(allow),
              (allow.isAny() ? "covers" : ValueTypes.format(hit.get()) + " overlaps")
                  + " the virtual subnet "
                  + ValueTypes.format(own)
                  + " of site "
                  + s.name()
                  + ": the proxy would connect to its own addresses (expected only the real upstream networks, like"
                  + " Apple's 17.0.0.0/8, outside every plan subnet)");
        }
      }
    }
  }

  private void warnHostsOutsideAllow(Hosts h) {
    List<String> outside = new ArrayList<>();
    h.table()
        .forEach(
            (name, addresses) ->
                addresses.stream()
                    .filter(a -> !policy.allowsUpstream(a))
                    .forEach(a -> outside.add(name + " -> " + a.getHostAddress())));
    if (!outside.isEmpty()) {
      Collections.sort(outside);
      warnings.add(
          "upstream.hosts = '"
              + h.path()
              + "': "
              + outside.size()
              + " entries lie outside upstream.allow"
              + " and will be refused at connect: "
              + String.join(", ", outside.subList(0, Math.min(MAX_WARNINGS, outside.size())))
              + (outside.size() > MAX_WARNINGS ? ", ..." : ""));
    }
  }

  private void checkHostsCoverPlan() {
    List<String> missing = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (ApnsHost h : plan.hosts()) {
      for (ApnsHost u : plan.upstreamsFor(h)) {
        String name = u.name();
        if (seen.add(name) && (hosts.isEmpty() || !hosts.get().contains(name))) {
          missing.add(name);
        }
      }
    }
    if (missing.isEmpty()) {
      return;
    }
    String which =
        missing.get(0) + (missing.size() > 1 ? " and " + (missing.size() - 1) + " more" : "");
    if (hosts.isEmpty()) {
      throw new ConfigException(
          UPSTREAM_DNS.name(),
          "",
          "missing (expected DNS servers that resolve the real Apple"
              + " names, like 192.0.2.53, or an upstream.hosts file naming every plan host: "
              + missing.size()
              + " missing, "
              + which
              + ")");
    }
    throw new ConfigException(
        UPSTREAM_DNS.name(),
        "",
        "missing, and upstream.hosts = '"
            + hosts.get().path()
            + "' does not name "
            + which
            + " (expected DNS servers like 192.0.2.53, or a hosts file naming every plan"
            + " host)");
  }

  /** {@code upstream.proxy} with the passwords of {@code upstream.proxy-credentials}. */
  private Egress egress() {
    Egress e = config.get(UPSTREAM_PROXY).orElse(Egress.direct());
    if (proxyCredentials.isEmpty()) {
      return e;
    }
    String key = UPSTREAM_PROXY_CREDENTIALS.name();
    if (e.isDirect()) {
      throw new ConfigException(
          key,
          config.text(key),
          "set, but upstream.proxy is empty (expected upstream.proxy"
              + " naming the proxies the credentials are for)");
    }
    try {
      return e.withCredentialsFile(proxyCredentials.get());
    } catch (IOException | IllegalArgumentException ex) {
      throw new ConfigException(
          key, config.text(key), "cannot be read (" + ex.getMessage() + ")", ex);
    }
  }

  /** {@code tcp.proxy-protocol} and {@code tcp.proxy-protocol-from}: set together, or neither. */
  private void proxyProtocol() {
    Optional<ProxyProtocol> mode = config.get(TCP_PROXY_PROTOCOL);
    Optional<CidrSet> from = config.get(TCP_PROXY_PROTOCOL_FROM);
    String modeKey = TCP_PROXY_PROTOCOL.name();
    String fromKey = TCP_PROXY_PROTOCOL_FROM.name();
    if (mode.isPresent()
        && mode.get() != ProxyProtocol.OFF
        && from.map(CidrSet::isEmpty).orElse(true)) {
      throw new ConfigException(
          fromKey,
          config.text(fromKey),
          "missing, but tcp.proxy-protocol = "
              + config.text(modeKey)
              + " (expected the CIDRs of the balancers that send the PROXY header)");
    }
    if (from.isPresent()
        && !from.get().isEmpty()
        && mode.orElse(ProxyProtocol.OFF) == ProxyProtocol.OFF) {
      throw new ConfigException(
          modeKey,
          config.text(modeKey),
          (mode.isPresent() ? "off" : "missing")
              + ", but tcp.proxy-protocol-from = '"
              + config.text(fromKey)
              + "' is set (expected v1, v2 or any)");
    }
    if (mode.isPresent() || from.isPresent()) {
      splicer.proxyProtocol(mode.orElse(ProxyProtocol.OFF), from.orElse(CidrSet.none()));
    }
  }

  /**
   * The lines of the {@code connect.users} file: a regular file of users lines (kept so a reload
   * sees a changed file).
   */
  private List<String> readUsers(Path file) {
    String key = CONNECT_USERS.name();
    if (!Files.isRegularFile(file)) {
      throw new ConfigException(
          key,
          config.text(key),
          "not a regular file (expected a users file made with the" + " passwd command)");
    }
    try {
      return List.copyOf(Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8));
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(
          key, config.text(key), "cannot be read (" + e.getMessage() + ")", e);
    }
  }

  private ProxyUsers parseUsers(Path file, List<String> lines) {
    String key = CONNECT_USERS.name();
    try {
      return ProxyUsers.parse(lines, file.toString());
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          key, config.text(key), "cannot be read (" + e.getMessage() + ")", e);
    }
  }

  /**
   * Every virtual address on its kind's ports, or each {@code tcp.listen} address on every plan
   * port.
   */
  private List<InetSocketAddress> splicerListen() {
    if (tcpListen.isEmpty()) {
      return plan.listenAddresses();
    }
    List<InetSocketAddress> out = new ArrayList<>();
    for (InetAddress address : tcpListen) {
      for (int port : plan.allPorts()) {
        out.add(new InetSocketAddress(address, port));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- what was set up

  /** {@code upstream.proxy-credentials}, if set. */
  public Optional<Path> proxyCredentials() {
    return proxyCredentials;
  }

  /**
   * {@code tcp.sni}: whether every plan address routes by the TLS server name ({@code
   * plan.style=single} too).
   */
  public boolean sni() {
    return sni || plan.style() == AddressPlan.Style.SINGLE;
  }

  /** {@code connect.listen}: the HTTP CONNECT listeners; empty = off. */
  public List<InetSocketAddress> connectListen() {
    return connectListen;
  }

  /** {@code socks.listen}: the SOCKS5 listeners; empty = off. */
  public List<InetSocketAddress> socksListen() {
    return socksListen;
  }

  /** {@code connect.allow-addresses}. */
  public boolean connectAllowAddresses() {
    return connectAllowAddresses;
  }

  /** {@code connect.users}, if set. */
  public Optional<Path> connectUsersFile() {
    return connectUsersFile;
  }

  /** {@code connect.pac-address}, if set. */
  public Optional<InetSocketAddress> pacAddress() {
    return pacAddress;
  }

  /** {@code log.access}: whether every finished or refused connection is logged. */
  public boolean accessLog() {
    return accessLog;
  }

  /** {@code log.level}: the level of the {@code io.github.apnsproxy} loggers. */
  public LogLevel logLevel() {
    return logLevel;
  }

  /** The {@code connect.users} file's lines as read (empty when not set). */
  List<String> connectUsersLines() {
    return connectUsersLines;
  }

  /**
   * The explicit proxy of {@code connect.listen} and {@code socks.listen}, with the same plan,
   * {@code resolver} and policy as the splicer's router, and the {@code connect.*} options.
   */
  public ExplicitProxy explicitProxy(UpstreamResolver resolver) {
    return explicitProxyBuilder(resolver).build();
  }

  /**
   * The builder of {@link #explicitProxy}: what a reload gives {@link ExplicitProxy#update} (the
   * users file as read by this setup).
   */
  ExplicitProxy.Builder explicitProxyBuilder(UpstreamResolver resolver) {
    ExplicitProxy.Builder b =
        ExplicitProxy.builder(plan, resolver, policy)
            .allowAddresses(connectAllowAddresses)
            .users(connectUsers);
    pacAddress.ifPresent(b::pacAddress);
    return b;
  }

  /** The parsed file. */
  public ProxyConfig config() {
    return config;
  }

  /** The address plan: sites, style, couriers, variants and ports. */
  public AddressPlan plan() {
    return plan;
  }

  /** {@code clients.allow} and {@code upstream.allow}. */
  public AddressPolicy policy() {
    return policy;
  }

  /** The runnable proxy's own settings. */
  public AppSettings app() {
    return app;
  }

  /** The names of {@code plan.sites}; empty for a single site. */
  public List<String> siteNames() {
    return siteNames;
  }

  /** The {@code upstream.hosts} file, if set. */
  public Optional<Hosts> hosts() {
    return hosts;
  }

  /** A resolver answering from {@code upstream.hosts}, completing at once, if set. */
  public Optional<UpstreamResolver> hostsResolver() {
    return hosts.map(h -> UpstreamResolver.fixed(h.table()));
  }

  /** {@code tcp.listen}; empty = every plan address. */
  public List<InetAddress> tcpListen() {
    return tcpListen;
  }

  /**
   * Warnings for the operator (logged at start, printed by {@code check}): upstream.hosts entries
   * outside upstream.allow, and a tcp.max-connections capped by the open-file limit.
   */
  public List<String> warnings() {
    return List.copyOf(warnings);
  }

  /** {@code tcp.max-connections} as configured (or the default), before the open-file cap. */
  public int configuredMaxConnections() {
    return configuredMaxConnections;
  }

  CachingResolver.Builder resolver() {
    return resolver;
  }

  ForwardingHandler.Builder forward() {
    return forward;
  }

  PlanHostsHandler.Builder planHosts() {
    return planHosts;
  }

  ZoneApexHandler.Builder apex() {
    return apex;
  }

  DnsServer.Builder dnsServer() {
    return dnsServer;
  }

  DnsResponder.Builder responder() {
    return responder;
  }

  TcpSplicer.Builder splicer() {
    return splicer;
  }

  /**
   * Every effective value, defaults included, read back from the builders and the plan, in {@link
   * ProxyKeys#all()} order (with {@code plan.sites}, each site's keys instead of {@code plan.ipv4}
   * and {@code plan.ipv6}), in the form {@link ProxyConfig#fromProperties} reads: what {@code
   * check} prints.
   */
  public Map<String, String> effectiveValues() {
    Map<String, String> out = new LinkedHashMap<>();
    for (ProxyKey<?> k : ProxyKeys.all()) {
      if (k.isSiteKey() || (!siteNames.isEmpty() && (k == PLAN_IPV4 || k == PLAN_IPV6))) {
        continue;
      }
      out.put(k.name(), k.effective(this));
      if (k == PLAN_SITES) {
        for (Site s : siteNames.isEmpty() ? List.<Site>of() : plan.sites()) {
          out.put("site." + s.name() + ".ipv4", SITE_IPV4.key().format(s.ipv4()));
          out.put(
              "site." + s.name() + ".ipv6", SITE_IPV6.key().format(Optional.ofNullable(s.ipv6())));
          out.put("site." + s.name() + ".clients", SITE_CLIENTS.key().format(s.clients()));
        }
      }
    }
    return out;
  }
}
