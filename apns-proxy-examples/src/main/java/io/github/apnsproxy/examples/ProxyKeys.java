// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static io.github.apnsproxy.core.config.ValueTypes.optional;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.config.ConfigException;
import io.github.apnsproxy.core.config.ValueType;
import io.github.apnsproxy.core.config.ValueTypes;
import io.github.apnsproxy.core.config.ValueTypes.Hosts;
import io.github.apnsproxy.dns.DeniedClients;
import io.github.apnsproxy.dns.ZoneOther;
import io.github.apnsproxy.tcp.AddressFamily;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.ProxyProtocol;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Every key of the runnable proxy's properties file, once: name, type, description and where its
 * effective value is read back from. Defaults are not here: an absent key calls nothing, and the
 * default of the builder the key maps onto stands ({@link ProxySetup} makes the calls).
 *
 * <p>Adding a key: one constant here (listed in {@link #all()}, in documentation order) and one
 * {@code config.ifSet(KEY, builder::option)} line in {@link ProxySetup}; {@code ProxyKeysTest}
 * fails until the README's table row and a sample value that reads back are there too.
 */
public final class ProxyKeys {
  static final String SITE_PREFIX = "site.";

  private ProxyKeys() {}

  // ---------------------------------------------------------------- the plan

  public static final ProxyKey<Cidr> PLAN_IPV4 =
      ProxyKey.of(
          "plan.ipv4",
          ValueTypes.ipv4Subnet(),
          null,
          "Virtual IPv4 subnet of the single site (prefix length at most 30).",
          s -> s.plan().sites().get(0).ipv4());
  public static final ProxyKey<Optional<Cidr>> PLAN_IPV6 =
      ProxyKey.of(
          "plan.ipv6",
          optional(ValueTypes.ipv6Prefix()),
          "none",
          "Optional virtual IPv6 prefix of the single site, with at least as many host bits as plan.ipv4.",
          s -> Optional.ofNullable(s.plan().sites().get(0).ipv6()));
  public static final ProxyKey<AddressPlan.Style> PLAN_STYLE =
      ProxyKey.of(
          "plan.style",
          ValueTypes.enumeration(AddressPlan.Style.class),
          null,
          "exact: one virtual address per courier name; pooled: one per environment, any courier upstream;"
              + " single: one address per site for every name, routed by the TLS server name (SNI).",
          s -> s.plan().style());
  public static final ProxyKey<List<String>> PLAN_SITES =
      ProxyKey.of(
          "plan.sites",
          ValueTypes.siteNames(),
          "empty",
          "Optional comma list of site names; then site.NAME.* replace plan.ipv4 and plan.ipv6.",
          ProxySetup::siteNames);
  public static final ProxyKey<Cidr> SITE_IPV4 =
      ProxyKey.site(
          "ipv4",
          ValueTypes.ipv4Subnet(),
          "required for each site",
          "Virtual IPv4 subnet of site NAME.");
  public static final ProxyKey<Optional<Cidr>> SITE_IPV6 =
      ProxyKey.site(
          "ipv6",
          optional(ValueTypes.ipv6Prefix()),
          "none",
          "Optional virtual IPv6 prefix of site NAME.");
  public static final ProxyKey<CidrSet> SITE_CLIENTS =
      ProxyKey.site(
          "clients",
          ValueTypes.cidrSet(),
          "any",
          "DNS clients that site NAME answers (CIDRs or any); clients no site lists get the any sites.");
  public static final ProxyKey<Integer> COURIER_COUNT =
      ProxyKey.of(
          "courier.count",
          ValueTypes.integer(0, 100_000),
          null,
          "Highest courier number served (couriers 0..count).",
          s -> s.plan().courierCount());
  public static final ProxyKey<List<String>> COURIER_VARIANTS =
      ProxyKey.of(
          "courier.variants",
          ValueTypes.courierVariants(),
          null,
          "Courier variants served.",
          s -> s.plan().variants());

  // ---------------------------------------------------------------- DNS

  public static final ProxyKey<List<InetSocketAddress>> DNS_LISTEN =
      ProxyKey.of(
          "dns.listen",
          ValueTypes.socketAddresses(53, true, false),
          null,
          "DNS listen addresses, UDP and TCP (addr:port or [v6]:port; port 53 when left out).",
          s -> s.dnsServer().udpAddresses());
  public static final ProxyKey<Duration> DNS_TTL =
      ProxyKey.of(
          "dns.ttl",
          ValueTypes.ttl(),
          null,
          "TTL of synthesized answers (whole seconds).",
          s -> s.planHosts().ttl());
  public static final ProxyKey<Duration> DNS_NEGATIVE_TTL =
      ProxyKey.of(
          "dns.negative-ttl",
          ValueTypes.ttl(),
          null,
          "SOA minimum and negative-answer TTL (whole seconds).",
          s -> s.planHosts().negativeTtl());
  public static final ProxyKey<List<InetSocketAddress>> DNS_FORWARD =
      ProxyKey.of(
          "dns.forward",
          ValueTypes.socketAddresses(53, false, true),
          "empty",
          "Upstream DNS servers for names outside the APNs zones; empty = REFUSED.",
          s -> s.forward().servers());
  public static final ProxyKey<ZoneOther> DNS_ZONE_OTHER =
      ProxyKey.of(
          "dns.zone-other",
          ValueTypes.enumeration(ZoneOther.class),
          null,
          "Other names inside push.apple.com: nxdomain, or forward (to upstream.dns).",
          s -> s.apex().otherNames());
  public static final ProxyKey<String> DNS_NS_NAME =
      ProxyKey.of(
          "dns.ns-name",
          ValueTypes.hostName(),
          null,
          "The proxy's NS name in the apex NS and SOA.",
          s -> s.apex().nsName());
  public static final ProxyKey<Optional<InetAddress>> DNS_NS_ADDRESS =
      ProxyKey.of(
          "dns.ns-address",
          optional(ValueTypes.address()),
          "none",
          "The proxy's address for the NS name (A or AAAA glue).",
          s -> s.apex().nsAddress());
  public static final ProxyKey<Integer> DNS_TXT_COUNT =
      ProxyKey.of(
          "dns.txt-count",
          ValueTypes.integer(0, 100_000),
          "= courier.count",
          "The count=N in TXT push.apple.com.",
          s -> s.apex().txtCount());
  public static final ProxyKey<Boolean> DNS_UPSTREAM_CHECK =
      ProxyKey.of(
          "dns.upstream-check",
          ValueTypes.bool(),
          null,
          "NXDOMAIN for plan names the real DNS says do not exist.",
          s -> s.planHosts().checksUpstream());
  public static final ProxyKey<DeniedClients> DNS_DENIED_CLIENTS =
      ProxyKey.of(
          "dns.denied-clients",
          ValueTypes.enumeration(DeniedClients.class),
          null,
          "Queries from clients outside clients.allow: refuse (REFUSED) or drop.",
          s -> s.responder().deniedClients());
  public static final ProxyKey<Duration> DNS_TCP_IDLE_TIMEOUT =
      ProxyKey.of(
          "dns.tcp-idle-timeout",
          ValueTypes.duration(Duration.ofMillis(1)),
          null,
          "Idle timeout of DNS-over-TCP connections.",
          s -> s.dnsServer().tcpIdleTimeout());
  public static final ProxyKey<Integer> DNS_TCP_MAX_CONNECTIONS =
      ProxyKey.of(
          "dns.tcp-max-connections",
          ValueTypes.integer(1, Integer.MAX_VALUE),
          null,
          "Most DNS-over-TCP connections at once; when full, a newcomer closes the"
              + " longest-idle one.",
          s -> s.dnsServer().maxTcpConnections());
  public static final ProxyKey<Integer> DNS_TCP_MAX_PER_CLIENT =
      ProxyKey.of(
          "dns.tcp-max-per-client",
          ValueTypes.integer(1, Integer.MAX_VALUE),
          null,
          "Most DNS-over-TCP connections from one client address.",
          s -> s.dnsServer().maxTcpConnectionsPerClient());
  public static final ProxyKey<Integer> DNS_THREADS =
      ProxyKey.of(
          "dns.threads",
          ValueTypes.integer(1, 1024),
          null,
          "UDP receiver threads.",
          s -> s.dnsServer().threads());

  // ---------------------------------------------------------------- upstream

  public static final ProxyKey<List<InetSocketAddress>> UPSTREAM_DNS =
      ProxyKey.of(
          "upstream.dns",
          ValueTypes.socketAddresses(53, false, true),
          "required unless upstream.hosts names every plan host",
          "DNS servers that resolve the real Apple names (port 53 when left out).",
          s -> s.resolver().servers());
  public static final ProxyKey<Optional<Hosts>> UPSTREAM_HOSTS =
      ProxyKey.of(
          "upstream.hosts",
          optional(ValueTypes.hostsFile()),
          "none",
          "Optional hosts-format file (ADDRESS NAME... per line) pinning upstream names, consulted before DNS;"
              + " read at load, a relative path is relative to the config file.",
          ProxySetup::hosts);
  public static final ProxyKey<Duration> UPSTREAM_TIMEOUT =
      ProxyKey.of(
          "upstream.timeout",
          ValueTypes.duration(Duration.ofMillis(1)),
          null,
          "Timeout of one upstream DNS try.",
          s -> s.resolver().timeout());
  public static final ProxyKey<Duration> UPSTREAM_TTL_MIN =
      ProxyKey.of(
          "upstream.ttl-min",
          ValueTypes.duration(Duration.ZERO),
          null,
          "Floor of the upstream cache TTL.",
          s -> s.resolver().ttlFloor());
  public static final ProxyKey<Duration> UPSTREAM_TTL_MAX =
      ProxyKey.of(
          "upstream.ttl-max",
          ValueTypes.duration(Duration.ZERO),
          null,
          "Ceiling of the upstream cache TTL.",
          s -> s.resolver().ttlCeiling());
  public static final ProxyKey<Duration> UPSTREAM_SERVE_STALE =
      ProxyKey.of(
          "upstream.serve-stale",
          ValueTypes.duration(Duration.ZERO),
          null,
          "Serve expired upstream answers up to this age when every upstream server fails; 0 = off.",
          s -> s.resolver().serveStale());
  public static final ProxyKey<Duration> UPSTREAM_STALE_ANSWER_TIMEOUT =
      ProxyKey.of(
          "upstream.stale-answer-timeout",
          ValueTypes.duration(Duration.ZERO),
          null,
          "How long a lookup waits for slow upstream servers before an expired answer (within upstream.serve-stale)"
              + " stands in while the refresh goes on (RFC 8767's client response timer); 0 = only once every"
              + " server failed.",
          s -> s.resolver().staleAnswerTimeout());
  public static final ProxyKey<Egress> UPSTREAM_PROXY =
      ProxyKey.of(
          "upstream.proxy",
          egress(),
          "empty (direct)",
          "Reach Apple through proxies: a comma list of http://[user:pass@]host:port or socks5://... URLs, tried in"
              + " order, or env (https_proxy, all_proxy, no_proxy as curl reads them); the proxy resolves the names,"
              + " so upstream.dns is then not required. Passwords are never printed.",
          s -> s.splicer().egress());
  public static final ProxyKey<Optional<Path>> UPSTREAM_PROXY_CREDENTIALS =
      ProxyKey.of(
          "upstream.proxy-credentials",
          optional(path()),
          "none",
          "Optional file of proxy credentials (host:port user:password, or user:password for every proxy, per line);"
              + " a relative path is relative to the config file.",
          ProxySetup::proxyCredentials);
  public static final ProxyKey<AddressFamily> UPSTREAM_FAMILY =
      ProxyKey.of(
          "upstream.family",
          ValueTypes.of(AddressFamily::parse, AddressFamily::text),
          null,
          "Which resolved upstream addresses direct egress tries, in which order: any (resolver order), ipv4, ipv6,"
              + " ipv4-first or ipv6-first.",
          s -> s.splicer().family());
  public static final ProxyKey<CidrSet> UPSTREAM_ALLOW =
      ProxyKey.of(
          "upstream.allow",
          ValueTypes.cidrSet(),
          null,
          "Networks the proxy may connect to (CIDRs or any): Apple's APNs ranges by default; empty = none; must not"
              + " overlap the plan's virtual subnets.",
          s -> s.policy().upstreams());
  public static final ProxyKey<CidrSet> CLIENTS_ALLOW =
      ProxyKey.of(
          "clients.allow",
          ValueTypes.cidrSet(),
          null,
          "Networks allowed to use the proxy, DNS and TCP (CIDRs or any): private, loopback and ULA by default.",
          s -> s.policy().clients());

  // ---------------------------------------------------------------- TCP

  public static final ProxyKey<List<InetAddress>> TCP_LISTEN =
      ProxyKey.of(
          "tcp.listen",
          ValueTypes.addresses(),
          "empty",
          "Addresses to listen on instead of every plan address (e.g. 0.0.0.0 with an AnyIP route), on the"
              + " plan's ports.",
          ProxySetup::tcpListen);
  public static final ProxyKey<List<Integer>> TCP_COURIER_PORTS =
      ProxyKey.of(
          "tcp.courier-ports",
          ValueTypes.ports(),
          null,
          "Ports served for couriers.",
          s -> s.plan().ports(Kind.COURIER));
  public static final ProxyKey<List<Integer>> TCP_INIT_PORTS =
      ProxyKey.of(
          "tcp.init-ports",
          ValueTypes.ports(),
          null,
          "Ports served for the init hosts.",
          s -> s.plan().ports(Kind.INIT));
  public static final ProxyKey<List<Integer>> TCP_API_PORTS =
      ProxyKey.of(
          "tcp.api-ports",
          ValueTypes.ports(),
          null,
          "Ports served for the provider API.",
          s -> s.plan().ports(Kind.PROVIDER));
  public static final ProxyKey<Duration> TCP_CONNECT_TIMEOUT =
      ProxyKey.of(
          "tcp.connect-timeout",
          ValueTypes.duration(Duration.ofMillis(1)),
          null,
          "Timeout of one upstream connect attempt.",
          s -> s.splicer().connectTimeout());
  public static final ProxyKey<Duration> TCP_IDLE_TIMEOUT =
      ProxyKey.of(
          "tcp.idle-timeout",
          ValueTypes.duration(Duration.ZERO),
          null,
          "Close splices idle this long; 0 = off.",
          s -> s.splicer().idleTimeout());
  public static final ProxyKey<Duration> TCP_ROUTE_TIMEOUT =
      ProxyKey.of(
          "tcp.route-timeout",
          ValueTypes.duration(Duration.ofMillis(1)),
          null,
          "Timeout of routing a connection (resolving its upstream).",
          s -> s.splicer().routeTimeout());
  public static final ProxyKey<Duration> TCP_DRAIN_TIMEOUT =
      ProxyKey.of(
          "tcp.drain-timeout",
          ValueTypes.duration(Duration.ZERO),
          null,
          "How long a graceful shutdown waits for open splices (DNS answers until they are done).",
          s -> s.app().drainTimeout());
  public static final ProxyKey<Integer> TCP_MAX_CONNECTIONS =
      ProxyKey.of(
          "tcp.max-connections",
          ValueTypes.integer(1, Integer.MAX_VALUE),
          null,
          "Most client connections at once; at start capped to what the open-file limit holds (two descriptors per"
              + " splice, see the operator guide).",
          s -> s.splicer().maxConnections());
  public static final ProxyKey<Integer> TCP_MAX_PER_CLIENT =
      ProxyKey.of(
          "tcp.max-per-client",
          ValueTypes.integer(0, Integer.MAX_VALUE),
          null,
          "Most connections from one client address; 0 = unlimited.",
          s -> s.splicer().maxConnectionsPerClient());
  public static final ProxyKey<Integer> TCP_THREADS =
      ProxyKey.of(
          "tcp.threads",
          ValueTypes.integer(0, 1024),
          "0 (one per processor)",
          "Selector loop threads; 0 = one per processor.",
          s -> s.splicer().loops());
  public static final ProxyKey<Boolean> TCP_REUSE_PORT =
      ProxyKey.of(
          "tcp.reuse-port",
          ValueTypes.bool(),
          null,
          "SO_REUSEPORT on the listeners.",
          s -> s.splicer().reusePort());
  public static final ProxyKey<Duration> TCP_KEEPALIVE_IDLE =
      ProxyKey.of(
          "tcp.keepalive-idle",
          ValueTypes.keepalive(),
          null,
          "TCP keepalive idle time on both legs (whole seconds).",
          s -> s.splicer().keepAliveIdle());
  public static final ProxyKey<Duration> TCP_KEEPALIVE_INTERVAL =
      ProxyKey.of(
          "tcp.keepalive-interval",
          ValueTypes.keepalive(),
          null,
          "TCP keepalive probe interval on both legs (whole seconds).",
          s -> s.splicer().keepAliveInterval());

  public static final ProxyKey<Boolean> TCP_SNI =
      ProxyKey.of(
          "tcp.sni",
          onOff(),
          null,
          "Route by the TLS server name (SNI) on every plan address, by the dialled address for a ClientHello without"
              + " one (a connection that does not start with a ClientHello is refused); always on with plan.style ="
              + " single.",
          ProxySetup::sni);
  public static final ProxyKey<Duration> TCP_PREFACE_TIMEOUT =
      ProxyKey.of(
          "tcp.preface-timeout",
          ValueTypes.duration(Duration.ofMillis(1)),
          null,
          "How long a client may take to send its preface (TLS ClientHello with tcp.sni, CONNECT or SOCKS5 request,"
              + " PROXY header).",
          s -> s.splicer().prefaceTimeout());
  public static final ProxyKey<ProxyProtocol> TCP_PROXY_PROTOCOL =
      ProxyKey.of(
          "tcp.proxy-protocol",
          ValueTypes.enumeration(ProxyProtocol.class),
          null,
          "PROXY protocol header required on every listener from a balancer: off, v1, v2 or any; set together with"
              + " tcp.proxy-protocol-from.",
          s -> s.splicer().proxyProtocol());
  public static final ProxyKey<CidrSet> TCP_PROXY_PROTOCOL_FROM =
      ProxyKey.of(
          "tcp.proxy-protocol-from",
          ValueTypes.cidrSet(),
          "empty",
          "The balancers (CIDRs) a PROXY header is accepted from; required with tcp.proxy-protocol.",
          s -> s.splicer().proxyProtocolFrom());

  // ---------------------------------------------------------------- explicit proxy

  public static final ProxyKey<List<InetSocketAddress>> CONNECT_LISTEN =
      ProxyKey.of(
          "connect.listen",
          ValueTypes.socketAddresses(-1, true, true),
          "empty",
          "HTTP CONNECT listeners (addr:port, comma list) for APNs names only, also serving GET /proxy.pac; empty ="
              + " off.",
          ProxySetup::connectListen);
  public static final ProxyKey<List<InetSocketAddress>> SOCKS_LISTEN =
      ProxyKey.of(
          "socks.listen",
          ValueTypes.socketAddresses(-1, true, true),
          "empty",
          "SOCKS5 listeners (addr:port, comma list) for APNs names only; empty = off.",
          ProxySetup::socksListen);
  public static final ProxyKey<Boolean> CONNECT_ALLOW_ADDRESSES =
      ProxyKey.of(
          "connect.allow-addresses",
          ValueTypes.bool(),
          null,
          "Let CONNECT and SOCKS5 requests name an IP address (then only inside upstream.allow) instead of an APNs"
              + " name.",
          ProxySetup::connectAllowAddresses);
  public static final ProxyKey<Optional<Path>> CONNECT_USERS =
      ProxyKey.of(
          "connect.users",
          optional(path()),
          "none (no authentication)",
          "Users file of the CONNECT and SOCKS5 listeners (lines from the passwd command); a relative path is relative"
              + " to the config file.",
          ProxySetup::connectUsersFile);
  public static final ProxyKey<Optional<InetSocketAddress>> CONNECT_PAC_ADDRESS =
      ProxyKey.of(
          "connect.pac-address",
          optional(hostPort()),
          "none (the address the client reached)",
          "host:port written into the PAC file as PROXY host:port.",
          ProxySetup::pacAddress);

  // ---------------------------------------------------------------- operations

  public static final ProxyKey<Optional<InetSocketAddress>> METRICS_LISTEN =
      ProxyKey.of(
          "metrics.listen",
          optional(ValueTypes.listenAddressOrLoopbackPort()),
          "empty",
          "Address (addr:port, or a bare port for 127.0.0.1) of the /metrics and /healthz endpoint; empty = off.",
          s -> s.app().metricsListen());
  public static final ProxyKey<Duration> STATS_INTERVAL =
      ProxyKey.of(
          "stats.interval",
          ValueTypes.duration(Duration.ZERO),
          null,
          "Interval of the periodic stats log line; 0 = off.",
          s -> s.app().statsInterval());
  public static final ProxyKey<Boolean> LOG_ACCESS =
      ProxyKey.of(
          "log.access",
          onOff(),
          null,
          "One access log line per finished or refused connection, on the logger io.github.apnsproxy.access.",
          ProxySetup::accessLog);
  public static final ProxyKey<LogLevel> LOG_LEVEL =
      ProxyKey.of(
          "log.level",
          ValueTypes.enumeration(LogLevel.class),
          null,
          "The level of the io.github.apnsproxy loggers: error, warn, info, debug (one line per connection) or"
              + " trace; the access log keeps to log.access.",
          ProxySetup::logLevel);

  private static final List<ProxyKey<?>> ALL =
      List.of(
          PLAN_IPV4,
          PLAN_IPV6,
          PLAN_STYLE,
          PLAN_SITES,
          SITE_IPV4,
          SITE_IPV6,
          SITE_CLIENTS,
          COURIER_COUNT,
          COURIER_VARIANTS,
          DNS_LISTEN,
          DNS_TTL,
          DNS_NEGATIVE_TTL,
          DNS_FORWARD,
          DNS_ZONE_OTHER,
          DNS_NS_NAME,
          DNS_NS_ADDRESS,
          DNS_TXT_COUNT,
          DNS_UPSTREAM_CHECK,
          DNS_DENIED_CLIENTS,
          DNS_TCP_IDLE_TIMEOUT,
          DNS_TCP_MAX_CONNECTIONS,
          DNS_TCP_MAX_PER_CLIENT,
          DNS_THREADS,
          UPSTREAM_DNS,
          UPSTREAM_HOSTS,
          UPSTREAM_TIMEOUT,
          UPSTREAM_TTL_MIN,
          UPSTREAM_TTL_MAX,
          UPSTREAM_SERVE_STALE,
          UPSTREAM_STALE_ANSWER_TIMEOUT,
          UPSTREAM_PROXY,
          UPSTREAM_PROXY_CREDENTIALS,
          UPSTREAM_FAMILY,
          UPSTREAM_ALLOW,
          CLIENTS_ALLOW,
          TCP_LISTEN,
          TCP_COURIER_PORTS,
          TCP_INIT_PORTS,
          TCP_API_PORTS,
          TCP_CONNECT_TIMEOUT,
          TCP_IDLE_TIMEOUT,
          TCP_ROUTE_TIMEOUT,
          TCP_DRAIN_TIMEOUT,
          TCP_MAX_CONNECTIONS,
          TCP_MAX_PER_CLIENT,
          TCP_THREADS,
          TCP_REUSE_PORT,
          TCP_KEEPALIVE_IDLE,
          TCP_KEEPALIVE_INTERVAL,
          TCP_SNI,
          TCP_PREFACE_TIMEOUT,
          TCP_PROXY_PROTOCOL,
          TCP_PROXY_PROTOCOL_FROM,
          CONNECT_LISTEN,
          SOCKS_LISTEN,
          CONNECT_ALLOW_ADDRESSES,
          CONNECT_USERS,
          CONNECT_PAC_ADDRESS,
          METRICS_LISTEN,
          STATS_INTERVAL,
          LOG_ACCESS,
          LOG_LEVEL);

  /** {@code on} or {@code off}, any case. */
  private static ValueType<Boolean> onOff() {
    return ValueTypes.of(
        v -> {
          if (v.equalsIgnoreCase("on")) {
            return true;
          }
          if (v.equalsIgnoreCase("off")) {
            return false;
          }
          throw new IllegalArgumentException("expected on or off");
        },
        b -> b ? "on" : "off");
  }

  /** A file path (not read here). */
  private static ValueType<Path> path() {
    return ValueTypes.of(
        v -> {
          try {
            return Path.of(v);
          } catch (InvalidPathException e) {
            throw new IllegalArgumentException("not a file path (" + e.getMessage() + ")", e);
          }
        },
        Path::toString);
  }

  /**
   * {@code upstream.proxy}: empty for direct, {@code env} for the environment's proxy (read when
   * the value is parsed), or proxy URLs; formatted with passwords masked ({@link
   * Egress#toString()}), empty for direct.
   */
  private static ValueType<Egress> egress() {
    return ValueTypes.of(
        v -> {
          try {
            return v.strip().equalsIgnoreCase("env")
                ? Egress.fromEnvironment(System.getenv())
                : Egress.parse(v);
          } catch (IllegalArgumentException e) {
            // the value is echoed with its passwords masked; the library's messages mask them too
            throw new ConfigException(
                "upstream.proxy",
                maskPasswords(v),
                Objects.requireNonNullElse(e.getMessage(), "bad value"));
          }
        },
        e -> e.isDirect() ? "" : e.toString());
  }

  /** {@code scheme://user:password@host} with {@code ***} for each password. */
  static String maskPasswords(String text) {
    return text.replaceAll("://([^:/@,\\s]*):[^@,\\s]*@", "://$1:***@");
  }

  /** {@code host:port} or {@code [v6]:port}: an address literal, or a host name kept unresolved. */
  private static ValueType<InetSocketAddress> hostPort() {
    return ValueTypes.of(
        v -> {
          int colon = v.lastIndexOf(':');
          if (v.startsWith("[")
              || colon < 0
              || v.indexOf(':') != colon
              || v.substring(0, colon).chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'))) {
            return ValueTypes.socketAddresses(-1, false, false).parse(v).get(0);
          }
          String host = ValueTypes.hostName().parse(v.substring(0, colon));
          String port = v.substring(colon + 1);
          if (port.isEmpty()
              || port.length() > 5
              || !port.chars().allMatch(c -> c >= '0' && c <= '9')
              || Integer.parseInt(port) < 1
              || Integer.parseInt(port) > 65_535) {
            throw new IllegalArgumentException("port '" + port + "' (expected 1..65535)");
          }
          return InetSocketAddress.createUnresolved(host, Integer.parseInt(port));
        },
        a ->
            a.isUnresolved()
                ? a.getHostString().toLowerCase(Locale.ROOT) + ":" + a.getPort()
                : ValueTypes.format(a));
  }

  /** Every key in documentation order. */
  public static List<ProxyKey<?>> all() {
    return ALL;
  }

  /** The per-site template keys {@code site.NAME.*}. */
  static Stream<ProxyKey<?>> siteKeys() {
    return ALL.stream().filter(ProxyKey::isSiteKey);
  }

  /**
   * The keys as a Markdown table ({@code | key | default | reload | meaning |}), one line per key,
   * defaults read back from {@code defaults}; literal defaults are code, notes about a default
   * (such as {@code none}) are not; {@code reload} is {@code yes} when a reload applies the key
   * ({@link ProxyNode#isReloadable}), else {@code restart}.
   */
  public static String asMarkdown(ProxySetup defaults) {
    StringBuilder sb =
        new StringBuilder("| key | default | reload | meaning |\n|---|---|---|---|\n");
    for (ProxyKey<?> k : ALL) {
      String d = k.defaultText(defaults);
      sb.append("| `")
          .append(k.name())
          .append("` | ")
          .append(k.defaultIsLiteral() ? "`" + d + "`" : d)
          .append(" | ")
          .append(ProxyNode.isReloadable(k.name()) ? "yes" : "restart")
          .append(" | ")
          .append(k.description())
          .append(" |\n");
    }
    return sb.toString();
  }
}
