// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static io.github.apnsproxy.examples.ProxyKeys.*;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.core.config.ConfigException;
import io.github.apnsproxy.core.config.ValueTypes.Hosts;
import io.github.apnsproxy.dns.CachingResolver;
import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsResponder;
import io.github.apnsproxy.dns.DnsServer;
import io.github.apnsproxy.dns.DnsStats;
import io.github.apnsproxy.dns.ForwardingHandler;
import io.github.apnsproxy.dns.PlanHostsHandler;
import io.github.apnsproxy.dns.ResolverStats;
import io.github.apnsproxy.dns.ZoneApexHandler;
import io.github.apnsproxy.dns.ZoneOther;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.ExplicitProxy;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.SpliceListener;
import io.github.apnsproxy.tcp.SpliceStats;
import io.github.apnsproxy.tcp.TcpSplicer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running proxy node assembled from a {@link ProxySetup} (a {@link ProxyConfig} mapped onto the
 * library builders): the upstream resolver (hosts file, then a caching DNS resolver), the DNS
 * server with the handler chain (plan hosts, zone apex, optional forwarding, refusing), the TCP
 * splicer on every virtual address of the plan, the optional metrics endpoint and the periodic
 * stats line.
 *
 * <p>This is what {@code run} and {@code demo} start; it is also the shortest way for a host
 * application to run the whole proxy from one config. Every piece it wires is public API of the
 * library modules, so a host that needs a different arrangement copies {@link #start} and changes
 * what it needs. {@link #reload} applies a new config to the running node (what {@code run} does on
 * SIGHUP), with live splices untouched.
 */
public final class ProxyNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyNode.class);

  private final List<AutoCloseable> resources;

  /**
   * What {@link #reload} swaps: the setup, the caching resolver, the handler chain's forwarders,
   * the listeners.
   */
  private volatile Live live;

  /** CONNECT and SOCKS5 listeners: not in {@link Live#listeners}, which are the plan's. */
  private final int explicitListeners;

  /** The CONNECT and SOCKS5 doors, when configured; a reload updates them. */
  private final @Nullable ExplicitProxy explicit;

  /** {@code log.access}, flipped by a reload. */
  private final AccessLogSwitch accessLog;

  private final DnsServer dns;
  private final TcpSplicer splicer;
  private final ProxyMetrics metrics;
  private final @Nullable MetricsEndpoint metricsEndpoint;
  private final @Nullable ScheduledExecutorService statsTimer;
  private final AtomicBoolean closed;

  private ProxyNode(
      List<AutoCloseable> resources,
      Live live,
      int explicitListeners,
      @Nullable ExplicitProxy explicit,
      AccessLogSwitch accessLog,
      DnsServer dns,
      TcpSplicer splicer,
      ProxyMetrics metrics,
      @Nullable MetricsEndpoint metricsEndpoint,
      @Nullable ScheduledExecutorService statsTimer,
      AtomicBoolean closed) {
    this.resources = resources;
    this.live = live;
    this.explicitListeners = explicitListeners;
    this.explicit = explicit;
    this.accessLog = accessLog;
    this.dns = dns;
    this.splicer = splicer;
    this.metrics = metrics;
    this.metricsEndpoint = metricsEndpoint;
    this.statsTimer = statsTimer;
    this.closed = closed;
  }

  /**
   * Starts a node from a parsed config ({@link ProxySetup#of}).
   *
   * @throws IOException naming the address when a listener cannot be bound
   * @throws io.github.apnsproxy.core.config.ConfigException naming the key when a rule between keys
   *     is broken
   */
  public static ProxyNode start(ProxyConfig config) throws IOException {
    return start(ProxySetup.of(config));
  }

  /**
   * Starts every part of the node; on failure everything already started is closed again. Uses up
   * {@code setup}.
   *
   * @throws IOException naming the address when a listener cannot be bound
   */
  public static ProxyNode start(ProxySetup setup) throws IOException {
    List<AutoCloseable> started = new ArrayList<>();
    try {
      return start(setup, started);
    } catch (IOException | RuntimeException | Error e) {
      closeAll(started);
      throw e;
    }
  }

  private static ProxyNode start(ProxySetup setup, List<AutoCloseable> started) throws IOException {
    setup.logLevel().apply(); // log.level, before anything is logged
    AddressPlan plan = setup.plan();
    ProxyMetrics metrics = new ProxyMetrics();
    AtomicBoolean closed = new AtomicBoolean();
    setup.warnings().forEach(w -> LOG.warn("{}", w));

    CachingResolver caching = null;
    if (!setup.resolver().servers().isEmpty()) {
      caching = setup.resolver().build();
      started.add(caching);
    }
    UpstreamResolver resolver = resolver(setup, caching);

    List<AutoCloseable> chainResources = new ArrayList<>();
    DnsAnswerHandler chain = handlerChain(setup, resolver, chainResources);
    started.addAll(chainResources);
    DnsResponder.Builder options = setup.responder();
    DnsServer dns =
        setup
            .dnsServer()
            .responder(
                DnsResponder.builder(metrics.timed(chain))
                    .policy(options.policy().orElse(null))
                    .deniedClients(options.deniedClients())
                    .build())
            .build();
    started.add(dns);
    dns.start();

    // log.access: one access log line per finished or refused connection, on the logger
    // io.github.apnsproxy.access; behind a switch a reload flips
    AccessLogSwitch accessLog = new AccessLogSwitch(SpliceListener.accessLog(), setup.accessLog());
    // the egress goes to the router too, so names a proxy resolves are not resolved here
    TcpSplicer.Builder sb =
        setup
            .splicer()
            .router(Router.fromPlan(plan, resolver, setup.policy(), setup.splicer().egress()))
            .listener(SpliceListener.all(List.of(metrics.spliceListener(), accessLog)));
    ExplicitProxy explicit = null;
    if (!setup.connectListen().isEmpty() || !setup.socksListen().isEmpty()) {
      explicit = setup.explicitProxy(resolver);
      if (!setup.connectListen().isEmpty()) {
        sb.connectListen(setup.connectListen(), explicit);
      }
      if (!setup.socksListen().isEmpty()) {
        sb.socksListen(setup.socksListen(), explicit);
      }
      metrics.watchExplicit(explicit);
    }
    int listenCount = sb.listen().size();
    TcpSplicer splicer = sb.build();
    started.add(splicer);
    splicer.start();

    // the resolver a reload installs is read at each scrape
    AtomicReference<@Nullable ProxyNode> self = new AtomicReference<>();
    metrics.watch(
        splicer::stats,
        () -> splicer.stats().outstandingBuffers(),
        dns::stats,
        dns::tcpConnections,
        () -> Optional.ofNullable(self.get()).flatMap(ProxyNode::resolverStats));
    MetricsEndpoint endpoint = null;
    Optional<InetSocketAddress> metricsListen = setup.app().metricsListen();
    if (metricsListen.isPresent()) {
      // clients.allow guards the endpoint too (issue 18.2): an address outside it is closed at
      // accept
      endpoint =
          MetricsEndpoint.builder()
              .listen(metricsListen.get())
              .registry(metrics.registry())
              .allow(setup.policy().clients())
              .health(() -> !closed.get() && splicer.isServing() && dns.isServing())
              // /healthz?deep=1: the probe's checks through the configured egress, run at most once
              // a minute
              .deepHealth(
                  deepProbe(
                      () -> { // the setup a reload installs
                        ProxyNode n = self.get();
                        return n == null ? setup : n.live.setup();
                      },
                      host -> { // the resolver a reload installs
                        ProxyNode n = self.get();
                        return (n == null ? resolver : n.live.resolver()).resolve(host);
                      }))
              .start();
      started.add(endpoint);
    }

    ScheduledExecutorService timer = null;
    long interval = setup.app().statsInterval().toMillis();
    if (interval > 0) {
      timer =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "apns-proxy-stats");
                t.setDaemon(true);
                return t;
              });
      ScheduledExecutorService statsTimer = timer;
      started.add(statsTimer::shutdownNow);
      // runs until the timer is shut down; the task contains its own failures
      var unused =
          timer.scheduleAtFixedRate(
              () -> {
                try {
                  LOG.info("{}", metrics.statsLine());
                } catch (RuntimeException e) {
                  LOG.warn("stats line failed", e);
                }
              },
              interval,
              interval,
              TimeUnit.MILLISECONDS);
    }

    List<AutoCloseable> fixed = new ArrayList<>(started);
    fixed.removeAll(chainResources);
    fixed.remove(caching);
    Map<InetSocketAddress, InetSocketAddress> listeners = new LinkedHashMap<>();
    // bound in listen order: the plan's listeners, then the CONNECT and SOCKS5 ones (fixed until a
    // restart)
    List<InetSocketAddress> bound = splicer.boundAddresses();
    int explicitListeners = setup.connectListen().size() + setup.socksListen().size();
    for (int i = 0; i < bound.size() - explicitListeners; i++) {
      listeners.put(sb.listen().get(i), bound.get(i));
    }
    ProxyNode node =
        new ProxyNode(
            List.copyOf(fixed),
            new Live(
                setup,
                caching,
                resolver,
                List.copyOf(chainResources),
                Collections.unmodifiableMap(listeners)),
            explicitListeners,
            explicit,
            accessLog,
            dns,
            splicer,
            metrics,
            endpoint,
            timer,
            closed);
    self.set(node);
    LOG.info(
        "apns-proxy started: DNS on {}, splicer on {} addresses ({} plan, {} virtual addresses, at most {}"
            + " connections)",
        dns.udpAddresses(),
        listenCount,
        plan.style().name().toLowerCase(Locale.ROOT),
        plan.entries().size(),
        sb.maxConnections());
    return node;
  }

  /** A deep-check probe made for one plan and egress. */
  private record DeepProbe(AddressPlan plan, Egress egress, Probe probe) {}

  /**
   * The deep health check: {@link Probe} over the plan's hosts through the configured egress, its
   * results cached for a minute; made again when a reload changes the plan or the egress.
   */
  private static Function<Boolean, MetricsEndpoint.DeepHealth> deepProbe(
      Supplier<ProxySetup> current, UpstreamResolver resolver) {
    AtomicReference<@Nullable DeepProbe> made = new AtomicReference<>();
    return unused -> {
      ProxySetup setup = current.get();
      Egress egress = setup.splicer().egress();
      DeepProbe d = made.get();
      if (d == null || d.plan() != setup.plan() || !d.egress().equals(egress)) {
        try {
          d =
              new DeepProbe(
                  setup.plan(),
                  egress,
                  new Probe(
                      Probe.targetsFor(setup.plan()),
                      egress,
                      resolver,
                      null,
                      setup.splicer().connectTimeout()));
        } catch (java.security.GeneralSecurityException e) {
          return new MetricsEndpoint.DeepHealth(
              false, "deep check unavailable: TLS setup failed: " + e.getMessage() + "\n");
        }
        made.set(d);
      }
      Probe probe = d.probe();
      try {
        List<Probe.Result> results = probe.cached(Duration.ofMinutes(1));
        return new MetricsEndpoint.DeepHealth(Probe.allPassed(results), Probe.table(results));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return new MetricsEndpoint.DeepHealth(false, "deep check interrupted\n");
      }
    };
  }

  /** The hosts file (when configured) first, then the caching DNS resolver. */
  private static UpstreamResolver resolver(ProxySetup setup, @Nullable CachingResolver caching) {
    Optional<UpstreamResolver> hosts = setup.hostsResolver();
    if (hosts.isPresent() && caching != null) {
      return hosts.get().orElse(caching);
    }
    if (hosts.isPresent()) {
      return hosts.get();
    }
    if (caching != null) {
      return caching;
    }
    if (!setup.splicer().egress().isDirect()) {
      // upstream.proxy resolves the plan's names; a name it does not take (no_proxy) cannot be
      // resolved here
      return host ->
          CompletableFuture.failedFuture(
              new UnknownHostException(
                  host
                      + ": neither upstream.dns nor"
                      + " upstream.hosts is set, and upstream.proxy does not take this name"));
    }
    throw new IllegalStateException("neither upstream.dns nor upstream.hosts is set");
  }

  /**
   * Plan hosts, zone apex, forwarding of other names (when {@code dns.forward} is set), refusing.
   */
  private static DnsAnswerHandler handlerChain(
      ProxySetup setup, UpstreamResolver resolver, List<AutoCloseable> started) {
    List<DnsAnswerHandler> chain = new ArrayList<>();
    PlanHostsHandler.Builder planHosts = setup.planHosts();
    if (planHosts.checksUpstream()) {
      planHosts.upstreamCheck(resolver); // in place of the stand-in the setup holds
    }
    chain.add(planHosts.build());

    ZoneApexHandler.Builder apex = setup.apex();
    if (apex.otherNames() == ZoneOther.FORWARD) {
      ForwardingHandler zoneForwarder =
          ForwardingHandler.builder()
              .servers(setup.resolver().servers())
              .timeout(setup.resolver().timeout())
              .build();
      started.add(zoneForwarder);
      apex.otherNames(ZoneOther.FORWARD, zoneForwarder);
    }
    chain.add(apex.build());

    if (!setup.forward().servers().isEmpty()) {
      ForwardingHandler forwarder = setup.forward().build();
      started.add(forwarder);
      chain.add(forwarder);
    }
    chain.add(DnsAnswerHandler.refusing());
    return DnsAnswerHandler.firstOf(chain);
  }

  /** What {@link #reload} swaps; replaced as a whole. */
  private record Live(
      ProxySetup setup,
      @Nullable CachingResolver caching,
      UpstreamResolver resolver,
      List<AutoCloseable> chainResources,
      Map<InetSocketAddress, InetSocketAddress> listeners) {}

  /** A reload ready to apply: everything built and checked, nothing running touched yet. */
  private record Prepared(
      ProxySetup setup,
      Set<String> changed,
      @Nullable CachingResolver caching,
      boolean newResolver,
      UpstreamResolver resolver,
      DnsAnswerHandler chain,
      List<AutoCloseable> chainResources,
      List<InetSocketAddress> adding,
      List<InetSocketAddress> removing) {}

  /**
   * The keys a reload applies (and every {@code site.NAME.*} key); a change to any other key needs
   * a restart.
   */
  static final Set<String> RELOADABLE =
      Set.of(
          PLAN_IPV4.name(),
          PLAN_IPV6.name(),
          PLAN_SITES.name(),
          COURIER_COUNT.name(),
          COURIER_VARIANTS.name(),
          DNS_TTL.name(),
          DNS_NEGATIVE_TTL.name(),
          DNS_FORWARD.name(),
          DNS_ZONE_OTHER.name(),
          DNS_NS_NAME.name(),
          DNS_NS_ADDRESS.name(),
          DNS_TXT_COUNT.name(),
          DNS_UPSTREAM_CHECK.name(),
          UPSTREAM_DNS.name(),
          UPSTREAM_HOSTS.name(),
          UPSTREAM_TIMEOUT.name(),
          UPSTREAM_TTL_MIN.name(),
          UPSTREAM_TTL_MAX.name(),
          UPSTREAM_SERVE_STALE.name(),
          UPSTREAM_STALE_ANSWER_TIMEOUT.name(),
          UPSTREAM_ALLOW.name(),
          CLIENTS_ALLOW.name(),
          TCP_LISTEN.name(),
          TCP_COURIER_PORTS.name(),
          TCP_INIT_PORTS.name(),
          TCP_API_PORTS.name(),
          TCP_DRAIN_TIMEOUT.name(),
          TCP_MAX_CONNECTIONS.name(),
          TCP_MAX_PER_CLIENT.name(),
          UPSTREAM_PROXY.name(),
          UPSTREAM_PROXY_CREDENTIALS.name(),
          UPSTREAM_FAMILY.name(),
          TCP_PROXY_PROTOCOL.name(),
          TCP_PROXY_PROTOCOL_FROM.name(),
          TCP_SNI.name(),
          DNS_DENIED_CLIENTS.name(),
          CONNECT_USERS.name(),
          CONNECT_ALLOW_ADDRESSES.name(),
          CONNECT_PAC_ADDRESS.name(),
          LOG_ACCESS.name(),
          LOG_LEVEL.name());

  /** The keys whose change makes a new caching resolver. */
  private static final List<String> RESOLVER_KEYS =
      List.of(
          UPSTREAM_DNS.name(),
          UPSTREAM_TIMEOUT.name(),
          UPSTREAM_TTL_MIN.name(),
          UPSTREAM_TTL_MAX.name(),
          UPSTREAM_SERVE_STALE.name(),
          UPSTREAM_STALE_ANSWER_TIMEOUT.name());

  /** Whether a reload applies a change to {@code key}; the others need a restart. */
  static boolean isReloadable(String key) {
    return key.startsWith("site.") || RELOADABLE.contains(key);
  }

  /**
   * Re-reads the config file ({@link ProxySetup#load}) and applies it with {@link
   * #reload(ProxySetup)}; a file that cannot be read or fails validation is refused the same way:
   * the running config stays, one line names the problem, {@code
   * apns_proxy_config_reloads_total{result="failure"}} counts it. What {@code run} does on SIGHUP.
   * Any thread but a splicer or DNS callback.
   *
   * @return whether the new config was applied
   */
  public boolean reload(Path file) {
    Objects.requireNonNull(file, "file");
    if (!Files.isReadable(file)) {
      return refused("cannot read config file " + file);
    }
    ProxySetup next;
    try {
      next = ProxySetup.load(file);
    } catch (IOException | RuntimeException e) { // ConfigException names the key
      return refused("config: " + e.getMessage());
    }
    return reload(next);
  }

  /**
   * Applies {@code next} to the running node with live splices untouched; uses up {@code next}.
   * Everything is built and checked first (new virtual addresses bound, all or none; the files the
   * config names read again: hosts, proxy credentials, CONNECT users); only then are the DNS
   * handler chain, policy and denied-client handling, the splicer's router, policy, egress ({@code
   * upstream.proxy}, its credentials, {@code upstream.family}), PROXY protocol, limits and front
   * doors ({@code tcp.sni}), the CONNECT/SOCKS5 doors' plan, resolver, users and options, the
   * access log switch and the log level swapped, listeners of addresses that left the plan closed
   * (their live splices go on until they end), and a caching resolver that was replaced (an {@code
   * upstream.*} resolver key changed) closed once nothing new uses it. Keys that need a restart
   * ({@link #isReloadable} false: listen addresses of DNS and metrics, threads, timeouts, {@code
   * plan.style}, ...) keep their running values, with one warning naming them. When anything fails
   * the running config stays as it was, with one line naming the problem; each outcome is counted
   * in {@code apns_proxy_config_reloads_total}. One reload at a time; any thread but a splicer or
   * DNS callback.
   *
   * @return whether {@code next} was applied
   */
  public synchronized boolean reload(ProxySetup next) {
    Objects.requireNonNull(next, "next");
    if (closed.get()) {
      LOG.warn("config reload ignored: the proxy is stopping");
      return false;
    }
    Live old = live;
    Prepared p;
    List<InetSocketAddress> addedBound;
    List<AutoCloseable> made = new ArrayList<>();
    try {
      p = prepare(old, next, made);
      // binds all or none; nobody is sent to a new address before the DNS swap below
      addedBound =
          p.adding().isEmpty()
              ? List.of()
              : p.setup().plan().style() == AddressPlan.Style.SINGLE
                      || p.setup().sni() // as ProxySetup listens
                  ? splicer.addListeners(p.adding(), FrontDoor.tlsServerName())
                  : splicer.addListeners(p.adding());
    } catch (ConfigException e) {
      closeAll(made);
      return refused("config: " + e.getMessage());
    } catch (IOException | RuntimeException e) {
      closeAll(made);
      return refused(e.getMessage() == null ? e.toString() : e.getMessage());
    }

    // nothing below fails
    ProxySetup s = p.setup();
    AddressPolicy policy = s.policy();
    TcpSplicer.Builder sb = s.splicer();
    // router and egress in one snapshot: the router leaves to the proxies the names they resolve
    splicer.update(
        Router.fromPlan(s.plan(), p.resolver(), policy, sb.egress()),
        policy,
        sb.egress(),
        sb.family());
    splicer.proxyProtocol(sb.proxyProtocol(), sb.proxyProtocolFrom());
    splicer.limits(sb.maxConnections(), sb.maxConnectionsPerClient());
    List<InetSocketAddress> gone = new ArrayList<>();
    for (InetSocketAddress a : p.removing()) {
      gone.add(Objects.requireNonNull(old.listeners().get(a), "bound address"));
    }
    if (s.sni() != old.setup().sni()) {
      // tcp.sni: the plan's listeners that stay change their front door, without rebinding (the
      // added ones were bound with the new door)
      List<InetSocketAddress> kept = new ArrayList<>(old.listeners().values());
      kept.removeAll(gone);
      if (!kept.isEmpty()) {
        splicer.door(kept, s.sni() ? FrontDoor.tlsServerName() : null);
      }
    }
    dns.update(
        metrics.timed(p.chain()),
        s.responder().policy().orElse(null),
        s.responder().deniedClients());
    if (explicit != null) {
      // the doors take the new resolver before the old one may be closed below
      explicit.update(s.explicitProxyBuilder(p.resolver()));
    }
    accessLog.set(s.accessLog());
    s.logLevel().apply();
    if (!gone.isEmpty()) {
      splicer.removeListeners(gone); // their live splices go on
    }
    Map<InetSocketAddress, InetSocketAddress> listeners = new LinkedHashMap<>(old.listeners());
    p.removing().forEach(listeners::remove);
    for (int i = 0; i < p.adding().size(); i++) {
      listeners.put(p.adding().get(i), addedBound.get(i));
    }
    live =
        new Live(
            p.setup(),
            p.caching(),
            p.resolver(),
            p.chainResources(),
            Collections.unmodifiableMap(listeners));
    List<AutoCloseable> replaced = new ArrayList<>();
    if (p.newResolver() && old.caching() != null) {
      replaced.add(old.caching());
    }
    replaced.addAll(old.chainResources());
    closeAll(replaced);
    metrics.reloaded(true);
    LOG.info(
        "config reloaded: {}; listeners +{} -{}{}; {} live splices untouched",
        p.changed().isEmpty() ? "no key changed" : "changed " + String.join(", ", p.changed()),
        p.adding().size(),
        p.removing().size(),
        p.newResolver() ? "; new upstream resolver" : "",
        splicer.stats().active());
    return true;
  }

  private Prepared prepare(Live old, ProxySetup proposed, List<AutoCloseable> made)
      throws IOException {
    ProxySetup next = proposed;
    Map<String, String> before = old.setup().effectiveValues();
    Set<String> kept = new TreeSet<>();
    for (String k : changedKeys(before, next.effectiveValues())) {
      if (!isReloadable(k)) {
        kept.add(k);
      }
    }
    if (!kept.isEmpty()) {
      List<String> values = new ArrayList<>();
      Map<String, String> after = next.effectiveValues();
      for (String k : kept) {
        values.add(
            k
                + " = '"
                + after.getOrDefault(k, "")
                + "' (running '"
                + before.getOrDefault(k, "")
                + "')");
      }
      LOG.warn(
          "config reload: {} change only with a restart; keeping the running values",
          String.join(", ", values));
      next = keepRunning(next, old.setup(), kept);
    }
    Set<String> changed = changedKeys(before, next.effectiveValues());
    if (!next.hosts().map(Hosts::table).equals(old.setup().hosts().map(Hosts::table))
        && !changed.contains(UPSTREAM_HOSTS.name())) {
      changed.add(UPSTREAM_HOSTS.name() + " (file contents)");
    }
    // the credentials file is read again at each reload: new passwords alone are a change
    if (!next.splicer().egress().equals(old.setup().splicer().egress())
        && !changed.contains(UPSTREAM_PROXY.name())
        && !changed.contains(UPSTREAM_PROXY_CREDENTIALS.name())) {
      changed.add(UPSTREAM_PROXY_CREDENTIALS.name() + " (file contents)");
    }
    if (!next.connectUsersLines().equals(old.setup().connectUsersLines())
        && !changed.contains(CONNECT_USERS.name())) {
      changed.add(CONNECT_USERS.name() + " (file contents)");
    }
    next.warnings().forEach(w -> LOG.warn("{}", w));

    CachingResolver caching = old.caching();
    boolean newResolver = RESOLVER_KEYS.stream().anyMatch(changed::contains);
    if (newResolver) {
      caching = null;
      if (!next.resolver().servers().isEmpty()) {
        caching = next.resolver().build();
        made.add(caching);
      }
    }
    UpstreamResolver resolver = resolver(next, caching);
    List<AutoCloseable> chainResources = new ArrayList<>();
    DnsAnswerHandler chain;
    try {
      chain = handlerChain(next, resolver, chainResources);
    } finally {
      made.addAll(chainResources);
    }

    List<InetSocketAddress> wanted = next.splicer().listen();
    Set<InetSocketAddress> wantedSet = new HashSet<>(wanted);
    List<InetSocketAddress> adding = new ArrayList<>();
    for (InetSocketAddress a : wanted) {
      if (!old.listeners().containsKey(a)) {
        adding.add(a);
      }
    }
    List<InetSocketAddress> removing = new ArrayList<>();
    for (InetSocketAddress a : old.listeners().keySet()) {
      if (!wantedSet.contains(a)) {
        removing.add(a);
      }
    }
    return new Prepared(
        next,
        changed,
        caching,
        newResolver,
        resolver,
        chain,
        List.copyOf(chainResources),
        List.copyOf(adding),
        List.copyOf(removing));
  }

  /**
   * {@code next} with {@code keys} set as {@code running} has them (or unset where it does not set
   * them).
   */
  private static ProxySetup keepRunning(ProxySetup next, ProxySetup running, Set<String> keys) {
    Properties p = new Properties();
    p.putAll(next.config().texts());
    Map<String, String> runningTexts = running.config().texts();
    for (String k : keys) {
      String v = runningTexts.get(k);
      if (v == null) {
        p.remove(k);
      } else {
        p.setProperty(k, v);
      }
    }
    return ProxySetup.of(ProxyConfig.fromProperties(p));
  }

  private static Set<String> changedKeys(Map<String, String> before, Map<String, String> after) {
    Set<String> changed = new TreeSet<>();
    Set<String> all = new HashSet<>(before.keySet());
    all.addAll(after.keySet());
    for (String k : all) {
      if (!Objects.equals(before.get(k), after.get(k))) {
        changed.add(k);
      }
    }
    return changed;
  }

  private boolean refused(String why) {
    metrics.reloaded(false);
    LOG.error("config reload refused, the running config stays: {}", why);
    return false;
  }

  /** What this node runs now (set up from at start, or by the last successful {@link #reload}). */
  public ProxySetup setup() {
    return live.setup();
  }

  /** The DNS server's bound UDP addresses (real ports). */
  public List<InetSocketAddress> dnsAddresses() {
    return dns.udpAddresses();
  }

  /** The DNS server's bound TCP addresses (real ports). */
  public List<InetSocketAddress> dnsTcpAddresses() {
    return dns.tcpAddresses();
  }

  /** The number of socket addresses the splicer listens on. */
  public int splicerAddressCount() {
    return live.listeners().size() + explicitListeners;
  }

  /** The splicer's bound addresses (real ports). */
  public List<InetSocketAddress> splicerAddresses() {
    return splicer.boundAddresses();
  }

  /** The metrics endpoint's bound address, when {@code metrics.listen} is set. */
  public Optional<InetSocketAddress> metricsAddress() {
    return Optional.ofNullable(metricsEndpoint).map(MetricsEndpoint::address);
  }

  /** The splicer's counters. */
  public SpliceStats spliceStats() {
    return splicer.stats();
  }

  /** The DNS server's counters. */
  public DnsStats dnsStats() {
    return dns.stats();
  }

  /** The caching resolver's counters, when {@code upstream.dns} is set. */
  public Optional<ResolverStats> resolverStats() {
    return Optional.ofNullable(live.caching()).map(CachingResolver::stats);
  }

  /** The splicer's outstanding pooled buffers (zero when no splice is backed up). */
  public int outstandingBuffers() {
    return splicer.stats().outstandingBuffers();
  }

  /**
   * Waits until no splice is active, or {@code max} passes.
   *
   * @return whether the splicer became idle
   */
  public boolean awaitIdle(Duration max) {
    long deadline = System.nanoTime() + max.toNanos();
    while (splicer.stats().active() > 0) {
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /**
   * The node's metrics: the registry behind {@code /metrics}, the stats line and the stats text.
   */
  public ProxyMetrics metrics() {
    return metrics;
  }

  /**
   * The one-line stats summary logged every {@code stats.interval} ({@link
   * ProxyMetrics#statsLine()}).
   */
  public String statsLine() {
    return metrics.statsLine();
  }

  /** A few lines of human-readable stats ({@link ProxyMetrics#statsText()}). */
  public String statsText() {
    return metrics.statsText();
  }

  /** Closes at once (no drain). */
  @Override
  public void close() {
    close(Duration.ZERO);
  }

  /**
   * Stops accepting connections, lets live splices finish for up to {@code drain}, then closes
   * everything. DNS keeps answering through the drain, so devices still resolve (and, with several
   * nodes, find another one) instead of timing out; it closes once the splicer has drained.
   * Idempotent.
   */
  public void close(Duration drain) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    Live l;
    synchronized (
        this) { // waits for a reload in progress; a later one sees closed and changes nothing
      l = live;
    }
    LOG.info(
        "apns-proxy stopping: draining {} live splices for up to {}",
        splicer.stats().active(),
        drain);
    splicer.close(drain);
    dns.close();
    List<AutoCloseable> rest = new ArrayList<>(resources);
    rest.remove(dns);
    rest.remove(splicer);
    List<AutoCloseable> swapped = new ArrayList<>();
    if (l.caching() != null) {
      swapped.add(l.caching());
    }
    swapped.addAll(l.chainResources());
    rest.addAll(0, swapped);
    closeAll(rest);
    if (statsTimer != null) {
      statsTimer.shutdownNow();
    }
    LOG.info("apns-proxy stopped: {}", statsLine());
  }

  private static void closeAll(List<AutoCloseable> resources) {
    for (int i = resources.size() - 1; i >= 0; i--) {
      try {
        resources.get(i).close();
      } catch (Exception e) {
        LOG.warn("closing {} failed", resources.get(i), e);
      }
    }
  }
}
