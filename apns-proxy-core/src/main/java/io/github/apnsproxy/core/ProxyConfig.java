// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import io.github.apnsproxy.core.AddressPlan.Site;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.internal.Durations;
import io.github.apnsproxy.core.internal.HostsFile;
import io.github.apnsproxy.core.internal.Literals;
import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The configuration of a whole proxy (address plan, DNS side, upstream resolution, TCP side, operations): immutable
 * and thread-safe, built by {@link #builder()} or loaded from a {@code .properties} file with {@link #load(Path)}.
 *
 * <p>Every key is described once, in {@link #keys()}: name, default and meaning. Each value is checked when it is
 * set and the rules between keys when the configuration is built; every mistake is a {@link ConfigException} whose
 * one-line message names the key, the value and what was expected. Unknown keys are mistakes too (the message
 * suggests the nearest known key).
 *
 * <p>Value syntax: durations are a whole number and a unit ({@code 500ms}, {@code 5s}, {@code 10m}, {@code 1h},
 * {@code 1d}) or {@code 0}; lists are comma-separated, whitespace around elements ignored; socket addresses are
 * {@code 192.0.2.1:53} or {@code [2001:db8::1]:53}; an empty value means "none" for optional keys.
 *
 * <p>Several sites: set {@code plan.sites=a,b} and, for each site, {@code site.a.ipv4} (required),
 * {@code site.a.ipv6} and {@code site.a.clients}; these replace {@code plan.ipv4} and {@code plan.ipv6}.
 */
public final class ProxyConfig {

  /** What the DNS side answers for other names inside the APNs zones. */
  public enum ZoneOther {
    /** NXDOMAIN with the synthesized SOA. */
    NXDOMAIN,
    /** Forward to {@code upstream.dns}. */
    FORWARD
  }

  /** What the DNS side does with queries from clients outside {@code clients.allow}. */
  public enum DeniedClients {
    /** Answer REFUSED. */
    REFUSE,
    /** Drop the query without an answer. */
    DROP
  }

  /**
   * One configuration key, for help texts and documentation.
   *
   * @param name the key, e.g. {@code dns.ttl}; per-site keys have {@code NAME} in place of the site name
   * @param defaultText the default as text, or a note such as {@code none} or {@code = courier.count}
   * @param meaning what the key does, one sentence
   */
  public record Key(String name, String defaultText, String meaning) {
    public Key {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(defaultText, "defaultText");
      Objects.requireNonNull(meaning, "meaning");
    }

    /** True for the per-site template keys {@code site.NAME.*}. */
    public boolean isSiteKey() {
      return name.startsWith(SITE_PREFIX);
    }
  }

  /** Parses one value; throws {@link IllegalArgumentException} saying what is wrong and what was expected. */
  @FunctionalInterface
  private interface Parser {
    @Nullable Object parse(String value);
  }

  /** A key's description, its default value (null: none), and its parser. */
  private record Spec(Key key, @Nullable String defaultValue, Parser parser) {}

  /** A hosts file and its table, read when the key is set. */
  private record HostsTable(Path path, Map<String, List<InetAddress>> table) {}

  private static final String SITE_PREFIX = "site.";
  private static final Pattern SITE_KEY = Pattern.compile("site\\.([^.]*)\\.([^.]*)");
  private static final Pattern SITE_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
  private static final List<String> SITE_ATTRIBUTES = List.of("ipv4", "ipv6", "clients");
  private static final Duration MAX_TTL = Duration.ofSeconds(Integer.MAX_VALUE);
  private static final String NONE = "none";

  private static final Map<String, Spec> SPECS = new LinkedHashMap<>();

  static {
    // the one place where every key is described; the README table is copied from keys()
    spec("plan.ipv4", "10.100.100.0/24", "10.100.100.0/24",
        "Virtual IPv4 subnet of the single site (prefix length at most 30).", v -> ipv4Subnet(v));
    spec("plan.ipv6", NONE, null,
        "Optional virtual IPv6 prefix of the single site, with at least as many host bits as plan.ipv4.",
        v -> optional(v, ProxyConfig::ipv6Prefix));
    spec("plan.style", "exact", "exact",
        "exact: one virtual address per courier name; pooled: one per environment, any courier upstream;"
            + " single: one address per site for every name, routed by the TLS server name (SNI).",
        v -> enumValue(v, AddressPlan.Style.class));
    spec("plan.sites", "empty", "",
        "Optional comma list of site names; then site.NAME.* replace plan.ipv4 and plan.ipv6.",
        v -> siteNames(v));
    spec("site.NAME.ipv4", "required for each site", null, "Virtual IPv4 subnet of site NAME.",
        v -> ipv4Subnet(v));
    spec("site.NAME.ipv6", NONE, null, "Optional virtual IPv6 prefix of site NAME.",
        v -> optional(v, ProxyConfig::ipv6Prefix));
    spec("site.NAME.clients", "any", "any",
        "DNS clients that site NAME answers (CIDRs or any); clients no site lists get the any sites.",
        v -> CidrSet.parse(v));
    spec("courier.count", Integer.toString(HostNames.DEFAULT_MAX_COURIER),
        Integer.toString(HostNames.DEFAULT_MAX_COURIER), "Highest courier number served (couriers 0..count).",
        v -> intValue(v, 0, 100_000));
    spec("courier.variants", "courier,courier2", "courier,courier2", "Courier variants served.",
        v -> variants(v));
    spec("dns.listen", "0.0.0.0:53", "0.0.0.0:53",
        "DNS listen addresses, UDP and TCP (addr:port or [v6]:port; port 53 when left out).",
        v -> socketList(v, 53, true, false));
    spec("dns.ttl", "30s", "30s", "TTL of synthesized answers (whole seconds).", v -> ttl(v));
    spec("dns.negative-ttl", "30s", "30s", "SOA minimum and negative-answer TTL (whole seconds).", v -> ttl(v));
    spec("dns.forward", "empty", "",
        "Upstream DNS servers for names outside the APNs zones; empty = REFUSED.",
        v -> socketList(v, 53, false, true));
    spec("dns.zone-other", "nxdomain", "nxdomain",
        "Other names inside push.apple.com: nxdomain, or forward (to upstream.dns).",
        v -> enumValue(v, ZoneOther.class));
    spec("dns.ns-name", "ns.push.apple.com", "ns.push.apple.com", "The proxy's NS name in the apex NS and SOA.",
        v -> hostName(v));
    spec("dns.ns-address", NONE, null, "The proxy's address for the NS name (A or AAAA glue).",
        v -> optional(v, Literals::parseAddress));
    spec("dns.txt-count", "= courier.count", null, "The count=N in TXT push.apple.com.",
        v -> intValue(v, 0, 100_000));
    spec("dns.upstream-check", "false", "false",
        "NXDOMAIN for plan names the real DNS says do not exist.", v -> bool(v));
    spec("dns.denied-clients", "refuse", "refuse",
        "Queries from clients outside clients.allow: refuse (REFUSED) or drop.",
        v -> enumValue(v, DeniedClients.class));
    spec("dns.tcp-idle-timeout", "10s", "10s", "Idle timeout of DNS-over-TCP connections.",
        v -> duration(v, Duration.ofMillis(1)));
    spec("dns.tcp-max-connections", "256", "256", "Most DNS-over-TCP connections at once.",
        v -> intValue(v, 1, Integer.MAX_VALUE));
    spec("dns.threads", "2", "2", "UDP receiver threads.", v -> intValue(v, 1, 1024));
    spec("upstream.dns", "required unless upstream.hosts names every plan host", "",
        "DNS servers that resolve the real Apple names (port 53 when left out).",
        v -> socketList(v, 53, false, true));
    spec("upstream.hosts", NONE, null,
        "Optional hosts-format file (ADDRESS NAME... per line) pinning upstream names, consulted before DNS;"
            + " read at load, a relative path is relative to the config file.",
        v -> optional(v, ProxyConfig::hostsFile));
    spec("upstream.timeout", "2s", "2s", "Timeout of one upstream DNS try.", v -> duration(v, Duration.ofMillis(1)));
    spec("upstream.ttl-min", "10s", "10s", "Floor of the upstream cache TTL.", v -> duration(v, Duration.ZERO));
    spec("upstream.ttl-max", "1h", "1h", "Ceiling of the upstream cache TTL.", v -> duration(v, Duration.ZERO));
    spec("upstream.serve-stale", "1d", "1d",
        "Serve expired upstream answers up to this age when every upstream server fails; 0 = off.",
        v -> duration(v, Duration.ZERO));
    spec("upstream.stale-answer-timeout", "1800ms", "1800ms",
        "How long a lookup waits for slow upstream servers before an expired answer (within upstream.serve-stale)"
            + " stands in while the refresh goes on (RFC 8767's client response timer); 0 = only once every"
            + " server failed.",
        v -> duration(v, Duration.ZERO));
    spec("upstream.allow", "17.0.0.0/8,2620:149:a44::/48,2403:300:a42::/48,2403:300:a51::/48,2a01:b740:a42::/48",
        AddressPolicy.APPLE_APNS.toString(),
        "Networks the proxy may connect to (CIDRs or any): Apple's APNs ranges by default; empty = none.",
        v -> CidrSet.parse(v));
    spec("clients.allow", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7",
        AddressPolicy.PRIVATE_NETWORKS.toString(),
        "Networks allowed to use the proxy, DNS and TCP (CIDRs or any): private, loopback and ULA by default.",
        v -> CidrSet.parse(v));
    spec("tcp.listen", "empty", "",
        "Addresses to listen on instead of every plan address (e.g. 0.0.0.0 with an AnyIP route), on the plan's"
            + " ports.", v -> addressList(v));
    spec("tcp.courier-ports", "5223,443", "5223,443", "Ports served for couriers.", v -> ports(v));
    spec("tcp.init-ports", "443", "443", "Ports served for the init hosts.", v -> ports(v));
    spec("tcp.api-ports", "443,2197", "443,2197", "Ports served for the provider API.", v -> ports(v));
    spec("tcp.connect-timeout", "5s", "5s", "Timeout of one upstream connect attempt.",
        v -> duration(v, Duration.ofMillis(1)));
    spec("tcp.idle-timeout", "1h", "1h", "Close splices idle this long; 0 = off.",
        v -> duration(v, Duration.ZERO));
    spec("tcp.route-timeout", "10s", "10s", "Timeout of routing a connection (resolving its upstream).",
        v -> duration(v, Duration.ofMillis(1)));
    spec("tcp.drain-timeout", "30s", "30s", "How long a graceful shutdown waits for open splices.",
        v -> duration(v, Duration.ZERO));
    spec("tcp.max-connections", "50000", "50000", "Most client connections at once.",
        v -> intValue(v, 1, Integer.MAX_VALUE));
    spec("tcp.max-per-client", "0", "0", "Most connections from one client address; 0 = unlimited.",
        v -> intValue(v, 0, Integer.MAX_VALUE));
    spec("tcp.threads", "0", "0", "Selector loop threads; 0 = one per processor.", v -> intValue(v, 0, 1024));
    spec("tcp.reuse-port", "false", "false", "SO_REUSEPORT on the listeners.", v -> bool(v));
    spec("tcp.keepalive-idle", "5m", "5m", "TCP keepalive idle time on both legs (whole seconds).",
        v -> keepalive(v));
    spec("tcp.keepalive-interval", "30s", "30s", "TCP keepalive probe interval on both legs (whole seconds).",
        v -> keepalive(v));
    spec("metrics.listen", "empty", "",
        "Address (addr:port, or a bare port for 127.0.0.1) of the /metrics and /healthz endpoint; empty = off.",
        v -> optional(v, s -> s.strip().matches("[0-9]{1,5}")
            ? Literals.parseSocketAddress("127.0.0.1:" + s.strip(), -1) : Literals.parseSocketAddress(s, -1)));
    spec("stats.interval", "1m", "1m", "Interval of the periodic stats log line; 0 = off.",
        v -> duration(v, Duration.ZERO));
  }

  private static final List<Key> KEYS = SPECS.values().stream().map(Spec::key).toList();

  private final Map<String, String> effective;
  private final AddressPlan plan;
  private final AddressPolicy policy;
  private final List<InetSocketAddress> dnsListen;
  private final Duration dnsTtl;
  private final Duration dnsNegativeTtl;
  private final List<InetSocketAddress> dnsForward;
  private final ZoneOther dnsZoneOther;
  private final String dnsNsName;
  private final @Nullable InetAddress dnsNsAddress;
  private final int dnsTxtCount;
  private final boolean dnsUpstreamCheck;
  private final DeniedClients dnsDeniedClients;
  private final Duration dnsTcpIdleTimeout;
  private final int dnsTcpMaxConnections;
  private final int dnsThreads;
  private final List<InetSocketAddress> upstreamDns;
  private final @Nullable HostsTable upstreamHosts;
  private final @Nullable UpstreamResolver hostsResolver;
  private final Duration upstreamTimeout;
  private final Duration upstreamTtlMin;
  private final Duration upstreamTtlMax;
  private final Duration upstreamServeStale;
  private final Duration upstreamStaleAnswerTimeout;
  private final List<InetAddress> tcpListen;
  private final List<Integer> tcpCourierPorts;
  private final List<Integer> tcpInitPorts;
  private final List<Integer> tcpApiPorts;
  private final Duration tcpConnectTimeout;
  private final Duration tcpIdleTimeout;
  private final Duration tcpRouteTimeout;
  private final Duration tcpDrainTimeout;
  private final int tcpMaxConnections;
  private final int tcpMaxPerClient;
  private final int tcpThreads;
  private final boolean tcpReusePort;
  private final Duration tcpKeepaliveIdle;
  private final Duration tcpKeepaliveInterval;
  private final @Nullable InetSocketAddress metricsListen;
  private final Duration statsInterval;

  private ProxyConfig(Builder b, AddressPlan plan, Map<String, String> effective) {
    this.plan = plan;
    this.effective = Collections.unmodifiableMap(effective);
    this.policy = new AddressPolicy(b.get("clients.allow"), b.get("upstream.allow"));
    this.dnsListen = b.get("dns.listen");
    this.dnsTtl = b.get("dns.ttl");
    this.dnsNegativeTtl = b.get("dns.negative-ttl");
    this.dnsForward = b.get("dns.forward");
    this.dnsZoneOther = b.get("dns.zone-other");
    this.dnsNsName = b.get("dns.ns-name");
    this.dnsNsAddress = b.getOrNull("dns.ns-address");
    Integer txt = b.getOrNull("dns.txt-count");
    this.dnsTxtCount = txt != null ? txt : plan.courierCount();
    this.dnsUpstreamCheck = b.get("dns.upstream-check");
    this.dnsDeniedClients = b.get("dns.denied-clients");
    this.dnsTcpIdleTimeout = b.get("dns.tcp-idle-timeout");
    this.dnsTcpMaxConnections = b.get("dns.tcp-max-connections");
    this.dnsThreads = b.get("dns.threads");
    this.upstreamDns = b.get("upstream.dns");
    this.upstreamHosts = b.getOrNull("upstream.hosts");
    this.hostsResolver = upstreamHosts == null ? null : UpstreamResolver.fixed(upstreamHosts.table());
    this.upstreamTimeout = b.get("upstream.timeout");
    this.upstreamTtlMin = b.get("upstream.ttl-min");
    this.upstreamTtlMax = b.get("upstream.ttl-max");
    this.upstreamServeStale = b.get("upstream.serve-stale");
    this.upstreamStaleAnswerTimeout = b.get("upstream.stale-answer-timeout");
    this.tcpListen = b.get("tcp.listen");
    this.tcpCourierPorts = b.get("tcp.courier-ports");
    this.tcpInitPorts = b.get("tcp.init-ports");
    this.tcpApiPorts = b.get("tcp.api-ports");
    this.tcpConnectTimeout = b.get("tcp.connect-timeout");
    this.tcpIdleTimeout = b.get("tcp.idle-timeout");
    this.tcpRouteTimeout = b.get("tcp.route-timeout");
    this.tcpDrainTimeout = b.get("tcp.drain-timeout");
    this.tcpMaxConnections = b.get("tcp.max-connections");
    this.tcpMaxPerClient = b.get("tcp.max-per-client");
    this.tcpThreads = b.get("tcp.threads");
    this.tcpReusePort = b.get("tcp.reuse-port");
    this.tcpKeepaliveIdle = b.get("tcp.keepalive-idle");
    this.tcpKeepaliveInterval = b.get("tcp.keepalive-interval");
    this.metricsListen = b.getOrNull("metrics.listen");
    this.statsInterval = b.get("stats.interval");
  }

  // ---------------------------------------------------------------- keys and factories

  /** Every key, in documentation order, with its default and meaning: for {@code --help} and the README. */
  public static List<Key> keys() {
    return KEYS;
  }

  /**
   * The keys as a Markdown table ({@code | key | default | meaning |}), one line per key; literal defaults are
   * code, notes about a default (such as {@code none}) are not.
   */
  public static String keysAsMarkdown() {
    StringBuilder sb = new StringBuilder("| key | default | meaning |\n|---|---|---|\n");
    for (Spec s : SPECS.values()) {
      Key k = s.key();
      // a literal default is code; a note about the default ("none", "= courier.count") is prose
      boolean literal = s.defaultValue() != null && !s.defaultValue().isEmpty();
      sb.append("| `").append(k.name()).append("` | ")
          .append(literal ? "`" + k.defaultText() + "`" : k.defaultText())
          .append(" | ").append(k.meaning()).append(" |\n");
    }
    return sb.toString();
  }

  /** A new builder holding every default. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Every key at its default, without the rule that {@code upstream.dns} or {@code upstream.hosts} must be set: a
   * configuration to inspect and to test with, which cannot resolve upstream names ({@link #upstreamDns()} and
   * {@link #hostsResolver()} are empty). {@link Builder#build()}, {@link #load} and {@link #fromProperties} apply
   * that rule.
   */
  public static ProxyConfig defaults() {
    return new Builder().build(false);
  }

  /**
   * Reads a {@code .properties} file (UTF-8). A relative {@code upstream.hosts} path is resolved against the
   * directory of {@code file}.
   *
   * @throws IOException when the file (or the hosts file it names: then as a {@link ConfigException}) cannot be read
   * @throws ConfigException naming the key and value of the first mistake
   */
  public static ProxyConfig load(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    Properties read = new DuplicateCheckingProperties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      read.load(r);
    } catch (CharacterCodingException e) {
      throw new IOException(file + ": not UTF-8 text (" + e.getMessage() + ")", e);
    } catch (IllegalArgumentException e) {
      if (e instanceof ConfigException) {
        throw e;
      }
      throw new IOException(file + ": " + e.getMessage(), e); // a malformed Unicode escape in the file
    }
    Properties p = new Properties();
    p.putAll(read);
    String hosts = p.getProperty("upstream.hosts");
    if (hosts != null && !hosts.isBlank()) {
      // an absolute path to a file that was just read has a parent directory
      Path dir = Objects.requireNonNull(file.toAbsolutePath().getParent(), "parent of the configuration file");
      try {
        p.setProperty("upstream.hosts", dir.resolve(hosts.strip()).toString());
      } catch (InvalidPathException e) {
        throw new ConfigException("upstream.hosts", hosts, "not a file path (" + e.getMessage() + ")", e);
      }
    }
    return fromProperties(p);
  }

  /**
   * Builds a configuration from properties; keys not in {@code p} keep their defaults.
   *
   * @throws ConfigException naming the key and value of the first mistake
   */
  public static ProxyConfig fromProperties(Properties p) {
    Objects.requireNonNull(p, "p");
    Builder b = new Builder();
    // documentation order, so the first mistake reported does not depend on hashing
    List<String> names = new ArrayList<>(p.stringPropertyNames());
    names.sort(Comparator.comparingInt(ProxyConfig::order).thenComparing(Comparator.naturalOrder()));
    for (Object k : p.keySet()) {
      if (!(k instanceof String) || !(p.get(k) instanceof String)) {
        throw new ConfigException(String.valueOf(k), String.valueOf(p.get(k)), "not a string key and value");
      }
    }
    for (String name : names) {
      b.set(name, p.getProperty(name));
    }
    return b.build();
  }

  private static int order(String key) {
    Matcher m = SITE_KEY.matcher(key);
    int i = 0;
    for (String name : SPECS.keySet()) {
      if (name.equals(key) || (m.matches() && name.equals("site.NAME." + m.group(2)))) {
        return i;
      }
      i++;
    }
    return i;
  }

  // ---------------------------------------------------------------- getters

  /** The address plan: sites, style, couriers, variants and ports. */
  public AddressPlan addressPlan() {
    return plan;
  }

  /** {@code clients.allow} and {@code upstream.allow}. */
  public AddressPolicy addressPolicy() {
    return policy;
  }

  /** The name syntax, with {@code courier.count} as the highest courier number. */
  public HostNames hostNames() {
    return plan.hostNames();
  }

  /** {@code courier.count}: the highest courier number served. */
  public int courierCount() {
    return plan.courierCount();
  }

  /** {@code dns.listen}. */
  public List<InetSocketAddress> dnsListen() {
    return dnsListen;
  }

  /** {@code dns.ttl}, whole seconds. */
  public Duration dnsTtl() {
    return dnsTtl;
  }

  /** {@code dns.negative-ttl}, whole seconds. */
  public Duration dnsNegativeTtl() {
    return dnsNegativeTtl;
  }

  /** {@code dns.forward}; empty = names outside the zones are REFUSED. */
  public List<InetSocketAddress> dnsForward() {
    return dnsForward;
  }

  /** {@code dns.zone-other}. */
  public ZoneOther dnsZoneOther() {
    return dnsZoneOther;
  }

  /** {@code dns.ns-name}, lower case without a trailing dot. */
  public String dnsNsName() {
    return dnsNsName;
  }

  /** {@code dns.ns-address}. */
  public Optional<InetAddress> dnsNsAddress() {
    return Optional.ofNullable(dnsNsAddress);
  }

  /** {@code dns.txt-count}, or {@code courier.count} when not set. */
  public int dnsTxtCount() {
    return dnsTxtCount;
  }

  /** {@code dns.upstream-check}. */
  public boolean dnsUpstreamCheck() {
    return dnsUpstreamCheck;
  }

  /** {@code dns.denied-clients}. */
  public DeniedClients dnsDeniedClients() {
    return dnsDeniedClients;
  }

  /** {@code dns.tcp-idle-timeout}. */
  public Duration dnsTcpIdleTimeout() {
    return dnsTcpIdleTimeout;
  }

  /** {@code dns.tcp-max-connections}. */
  public int dnsTcpMaxConnections() {
    return dnsTcpMaxConnections;
  }

  /** {@code dns.threads}. */
  public int dnsThreads() {
    return dnsThreads;
  }

  /** {@code upstream.dns}; empty only when {@code upstream.hosts} names every plan host (or for {@link #defaults}). */
  public List<InetSocketAddress> upstreamDns() {
    return upstreamDns;
  }

  /** {@code upstream.hosts}, as read (absolute when loaded from a file). */
  public Optional<Path> upstreamHosts() {
    return Optional.ofNullable(upstreamHosts).map(HostsTable::path);
  }

  /**
   * A resolver answering from the {@code upstream.hosts} file (read when the key was set), completing at once; chain
   * it before DNS with {@link UpstreamResolver#orElse}.
   */
  public Optional<UpstreamResolver> hostsResolver() {
    return Optional.ofNullable(hostsResolver);
  }

  /** {@code upstream.timeout}. */
  public Duration upstreamTimeout() {
    return upstreamTimeout;
  }

  /** {@code upstream.ttl-min}. */
  public Duration upstreamTtlMin() {
    return upstreamTtlMin;
  }

  /** {@code upstream.ttl-max}, at least {@link #upstreamTtlMin()}. */
  public Duration upstreamTtlMax() {
    return upstreamTtlMax;
  }

  /** {@code upstream.serve-stale}; zero = off. */
  public Duration upstreamServeStale() {
    return upstreamServeStale;
  }

  /** {@code upstream.stale-answer-timeout}; zero = an expired answer only once every upstream server failed. */
  public Duration upstreamStaleAnswerTimeout() {
    return upstreamStaleAnswerTimeout;
  }

  /** {@code tcp.listen}; empty = listen on every plan address. */
  public List<InetAddress> tcpListen() {
    return tcpListen;
  }

  /** {@code tcp.courier-ports} (also in the plan). */
  public List<Integer> tcpCourierPorts() {
    return tcpCourierPorts;
  }

  /** {@code tcp.init-ports} (also in the plan). */
  public List<Integer> tcpInitPorts() {
    return tcpInitPorts;
  }

  /** {@code tcp.api-ports} (also in the plan). */
  public List<Integer> tcpApiPorts() {
    return tcpApiPorts;
  }

  /** {@code tcp.connect-timeout}. */
  public Duration tcpConnectTimeout() {
    return tcpConnectTimeout;
  }

  /** {@code tcp.idle-timeout}; zero = off. */
  public Duration tcpIdleTimeout() {
    return tcpIdleTimeout;
  }

  /** {@code tcp.route-timeout}. */
  public Duration tcpRouteTimeout() {
    return tcpRouteTimeout;
  }

  /** {@code tcp.drain-timeout}. */
  public Duration tcpDrainTimeout() {
    return tcpDrainTimeout;
  }

  /** {@code tcp.max-connections}. */
  public int tcpMaxConnections() {
    return tcpMaxConnections;
  }

  /** {@code tcp.max-per-client}; 0 = unlimited. */
  public int tcpMaxPerClient() {
    return tcpMaxPerClient;
  }

  /** {@code tcp.threads} as configured; 0 means one per processor, which the caller works out. */
  public int tcpThreads() {
    return tcpThreads;
  }

  /** {@code tcp.reuse-port}. */
  public boolean tcpReusePort() {
    return tcpReusePort;
  }

  /** {@code tcp.keepalive-idle}, whole seconds. */
  public Duration tcpKeepaliveIdle() {
    return tcpKeepaliveIdle;
  }

  /** {@code tcp.keepalive-interval}, whole seconds. */
  public Duration tcpKeepaliveInterval() {
    return tcpKeepaliveInterval;
  }

  /** {@code metrics.listen}; empty = no metrics endpoint. */
  public Optional<InetSocketAddress> metricsListen() {
    return Optional.ofNullable(metricsListen);
  }

  /** {@code stats.interval}; zero = off. */
  public Duration statsInterval() {
    return statsInterval;
  }

  /**
   * Every effective value, defaults included, in {@link #keys()} order (per-site keys for each site), in the form
   * {@link #fromProperties} reads back: what {@code check} prints.
   */
  public Map<String, String> effectiveValues() {
    return effective;
  }

  /** {@link #effectiveValues()} as properties. */
  public Properties toProperties() {
    Properties p = new Properties();
    p.putAll(effective);
    return p;
  }

  @Override
  public String toString() {
    return effective.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
        .collect(Collectors.joining(", ", "ProxyConfig[", "]"));
  }

  // ---------------------------------------------------------------- builder

  /**
   * Builds a {@link ProxyConfig} from key-value pairs. {@link #set} checks a value at once; {@link #build} checks the
   * rules between keys. Not thread-safe.
   */
  public static final class Builder {
    private final Map<String, @Nullable Object> values = new HashMap<>();
    private final Map<String, String> texts = new HashMap<>();
    private final Set<String> explicit = new HashSet<>();
    // site name -> attribute -> parsed value; texts of site keys are in texts
    private final Map<String, Map<String, @Nullable Object>> siteValues = new TreeMap<>();

    private Builder() {
      for (Spec s : SPECS.values()) {
        if (!s.key().isSiteKey() && s.defaultValue() != null) {
          values.put(s.key().name(), s.parser().parse(s.defaultValue()));
          texts.put(s.key().name(), s.defaultValue());
        }
      }
    }

    /**
     * Sets one key; the value is checked at once (surrounding whitespace ignored, empty means "none" for optional
     * keys). Setting a key again replaces its value.
     *
     * @throws ConfigException for an unknown key or a bad value, naming both and what was expected
     */
    public Builder set(String key, String value) {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
      String v = value.strip();
      Matcher m = SITE_KEY.matcher(key);
      Spec spec;
      if (m.matches()) {
        spec = SPECS.get("site.NAME." + m.group(2));
        if (spec == null) {
          throw new ConfigException(key, value, "unknown key" + suggestion(key)
              + " (expected site.NAME.ipv4, site.NAME.ipv6 or site.NAME.clients)");
        }
        if (!SITE_NAME.matcher(m.group(1)).matches()) {
          throw new ConfigException(key, value, "bad site name '" + m.group(1)
              + "' (expected lower-case letters, digits, '-' and '_', like site.east.ipv4)");
        }
      } else {
        spec = SPECS.get(key);
        if (spec == null || spec.key().isSiteKey()) {
          throw new ConfigException(key, value, "unknown key" + suggestion(key));
        }
      }
      Object parsed;
      try {
        parsed = spec.parser().parse(v);
      } catch (ConfigException e) {
        throw e;
      } catch (IllegalArgumentException e) {
        throw new ConfigException(key, value, Objects.requireNonNullElse(e.getMessage(), "bad value"), e);
      }
      if (m.matches()) {
        siteValues.computeIfAbsent(m.group(1), n -> new HashMap<>()).put(m.group(2), parsed);
      } else {
        values.put(key, parsed);
      }
      texts.put(key, format(parsed));
      explicit.add(key);
      return this;
    }

    /**
     * Builds the configuration, checking the rules between keys: the address plan fits, {@code plan.ipv4} and
     * {@code plan.sites} are not both set, every site has an {@code ipv4}, {@code upstream.ttl-min <= ttl-max},
     * {@code dns.zone-other=forward} has {@code upstream.dns}, and {@code upstream.dns} is set unless
     * {@code upstream.hosts} names every upstream host of the plan.
     *
     * @throws ConfigException naming the key and value that break a rule
     */
    public ProxyConfig build() {
      return build(true);
    }

    private ProxyConfig build(boolean requireUpstream) {
      Map<String, String> effective = new LinkedHashMap<>();
      List<String> siteNames = get("plan.sites");
      List<Site> sites = new ArrayList<>();
      if (siteNames.isEmpty()) {
        for (String siteName : siteValues.keySet()) {
          String k = firstSiteKey(siteName);
          throw new ConfigException(k, text(k), "site '" + siteName + "' is not in plan.sites, which is empty"
              + " (expected plan.sites listing it, or plan.ipv4 for a single site)");
        }
        Cidr ipv4 = get("plan.ipv4");
        Cidr ipv6 = getOrNull("plan.ipv6");
        checkIpv6Size("plan.ipv6", ipv4, ipv6);
        sites.add(new Site("default", ipv4, ipv6, CidrSet.any()));
      } else {
        for (String k : List.of("plan.ipv4", "plan.ipv6")) {
          if (explicit.contains(k) && values.get(k) != null) {
            throw new ConfigException(k, text(k), "set together with plan.sites = '"
                + texts.get("plan.sites") + "' (expected one of them: each site has its own site.NAME.ipv4)");
          }
        }
        for (String siteName : siteValues.keySet()) {
          if (!siteNames.contains(siteName)) {
            String k = firstSiteKey(siteName);
            throw new ConfigException(k, text(k), "site '" + siteName + "' is not in plan.sites (expected one"
                + " of " + siteNames + ")");
          }
        }
        for (String siteName : siteNames) {
          Map<String, @Nullable Object> attrs = siteValues.getOrDefault(siteName, Map.of());
          Cidr ipv4 = (Cidr) attrs.get("ipv4");
          if (ipv4 == null) {
            throw new ConfigException("site." + siteName + ".ipv4", "", "missing (expected the virtual IPv4 subnet"
                + " of site '" + siteName + "', which plan.sites lists)");
          }
          Cidr ipv6 = (Cidr) attrs.get("ipv6");
          checkIpv6Size("site." + siteName + ".ipv6", ipv4, ipv6);
          CidrSet clients = attrs.containsKey("clients") ? (CidrSet) attrs.get("clients") : CidrSet.any();
          sites.add(new Site(siteName, ipv4, ipv6, Objects.requireNonNull(clients)));
        }
      }

      AddressPlan plan = buildPlan(sites, !siteNames.isEmpty());

      Duration ttlMin = get("upstream.ttl-min");
      Duration ttlMax = get("upstream.ttl-max");
      if (ttlMin.compareTo(ttlMax) > 0) {
        throw new ConfigException("upstream.ttl-min", text("upstream.ttl-min"), "above upstream.ttl-max = '"
            + texts.get("upstream.ttl-max") + "' (expected ttl-min <= ttl-max)");
      }
      List<InetSocketAddress> upstreamDns = get("upstream.dns");
      if (get("dns.zone-other") == ZoneOther.FORWARD && upstreamDns.isEmpty()) {
        throw new ConfigException("dns.zone-other", text("dns.zone-other"), "forwards to upstream.dns, which is"
            + " empty (expected upstream.dns servers, or dns.zone-other = nxdomain)");
      }
      if (requireUpstream && upstreamDns.isEmpty()) {
        checkHostsCoverPlan(plan);
      }

      for (Key k : KEYS) {
        if (k.isSiteKey()) {
          continue;
        }
        if (k.name().equals("plan.sites") && !siteNames.isEmpty()) {
          effective.put("plan.sites", texts.get("plan.sites"));
          for (Site s : plan.sites()) {
            effective.put("site." + s.name() + ".ipv4", s.ipv4().toString());
            effective.put("site." + s.name() + ".ipv6", s.ipv6() == null ? "" : s.ipv6().toString());
            effective.put("site." + s.name() + ".clients", s.clients().toString());
          }
        } else if (siteNames.isEmpty() || !k.name().startsWith("plan.ipv")) {
          // with sites, plan.ipv4/plan.ipv6 are not in effect and must not be read back
          effective.put(k.name(), texts.getOrDefault(k.name(), ""));
        }
      }
      if (!explicit.contains("dns.txt-count")) {
        effective.put("dns.txt-count", Integer.toString(plan.courierCount()));
      }
      return new ProxyConfig(this, plan, effective);
    }

    private AddressPlan buildPlan(List<Site> sites, boolean multiSite) {
      AddressPlan.Builder pb = AddressPlan.builder()
          .style(get("plan.style"))
          .courierVariants(get("courier.variants"))
          .ports(Kind.COURIER, get("tcp.courier-ports"))
          .ports(Kind.INIT, get("tcp.init-ports"))
          .ports(Kind.PROVIDER, get("tcp.api-ports"));
      int count = get("courier.count");
      pb.courierCount(count);
      sites.forEach(pb::site);
      try {
        return pb.build();
      } catch (IllegalArgumentException e) {
        String key = multiSite ? "plan.sites" : "plan.ipv4";
        return fail(key, "with courier.count = " + count + ", courier.variants = '" + texts.get("courier.variants")
            + "', plan.style = " + texts.get("plan.style") + ": " + e.getMessage(), e);
      }
    }

    private AddressPlan fail(String key, String reason, Throwable cause) {
      throw new ConfigException(key, texts.getOrDefault(key, ""), reason, cause);
    }

    private void checkHostsCoverPlan(AddressPlan plan) {
      HostsTable hosts = getOrNull("upstream.hosts");
      List<String> missing = new ArrayList<>();
      Set<String> seen = new HashSet<>();
      for (ApnsHost h : plan.hosts()) {
        for (ApnsHost u : plan.upstreamsFor(h)) {
          String name = u.name();
          if (seen.add(name) && (hosts == null || !HostsFile.contains(hosts.table(), name))) {
            missing.add(name);
          }
        }
      }
      if (missing.isEmpty()) {
        return;
      }
      String which = missing.get(0) + (missing.size() > 1 ? " and " + (missing.size() - 1) + " more" : "");
      if (hosts == null) {
        throw new ConfigException("upstream.dns", "", "missing (expected DNS servers that resolve the real Apple"
            + " names, like 192.0.2.53, or an upstream.hosts file naming every plan host: " + missing.size()
            + " missing, " + which + ")");
      }
      throw new ConfigException("upstream.dns", "", "missing, and upstream.hosts = '" + hosts.path() + "' does not"
          + " name " + which + " (expected DNS servers like 192.0.2.53, or a hosts file naming every plan host)");
    }

    private void checkIpv6Size(String key, Cidr ipv4, @Nullable Cidr ipv6) {
      if (ipv6 != null && ipv6.hostBits() < ipv4.hostBits()) {
        throw new ConfigException(key, ipv6.toString(), "smaller than the IPv4 subnet " + ipv4 + " (expected a"
            + " prefix length of at most " + (128 - ipv4.hostBits()) + ")");
      }
    }

    private String firstSiteKey(String siteName) {
      for (String a : SITE_ATTRIBUTES) {
        if (texts.containsKey("site." + siteName + "." + a)) {
          return "site." + siteName + "." + a;
        }
      }
      throw new AssertionError("site " + siteName + " has no key");
    }

    /** The text of a key as given (or its default), for error messages; empty for a key without one. */
    private String text(String key) {
      return texts.getOrDefault(key, "");
    }

    // the key table fixes each key's type; the caller names the type it reads
    @SuppressWarnings({"unchecked", "TypeParameterUnusedInFormals"})
    private <T> T get(String key) {
      return (T) Objects.requireNonNull(values.get(key), key);
    }

    @SuppressWarnings({"unchecked", "TypeParameterUnusedInFormals"})
    private <T> @Nullable T getOrNull(String key) {
      return (T) values.get(key);
    }
  }

  // ---------------------------------------------------------------- value parsers

  private static void spec(String name, String defaultText, @Nullable String defaultValue, String meaning,
      Parser parser) {
    SPECS.put(name, new Spec(new Key(name, defaultText, meaning), defaultValue, parser));
  }

  private static @Nullable Object optional(String v, Parser parser) {
    return v.isEmpty() ? null : parser.parse(v);
  }

  private static List<String> list(String v) {
    if (v.isEmpty()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (String part : v.split(",", -1)) {
      String p = part.strip();
      if (p.isEmpty()) {
        throw new IllegalArgumentException("empty list element (expected a comma-separated list)");
      }
      out.add(p);
    }
    return List.copyOf(out);
  }

  private static void noDuplicates(List<?> list) {
    if (new HashSet<>(list).size() != list.size()) {
      throw new IllegalArgumentException("duplicate element (expected each once)");
    }
  }

  private static Cidr ipv4Subnet(String v) {
    Cidr c = Cidr.parse(v);
    if (!c.isIpv4() || c.prefixLength() > 30) {
      throw new IllegalArgumentException("not an IPv4 subnet of prefix length at most 30 (expected like"
          + " 10.100.100.0/24)");
    }
    return c;
  }

  private static Cidr ipv6Prefix(String v) {
    Cidr c = Cidr.parse(v);
    if (c.isIpv4()) {
      throw new IllegalArgumentException("not an IPv6 prefix (expected like fd00:a::/64)");
    }
    return c;
  }

  private static <E extends Enum<E>> E enumValue(String v, Class<E> type) {
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(v)) {
        return e;
      }
    }
    throw new IllegalArgumentException("expected one of " + java.util.Arrays.stream(type.getEnumConstants())
        .map(e -> e.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", ")));
  }

  private static int intValue(String v, int min, int max) {
    if (v.isEmpty() || v.length() > 10 || !v.chars().allMatch(c -> c >= '0' && c <= '9')
        || Long.parseLong(v) < min || Long.parseLong(v) > max) {
      throw new IllegalArgumentException("expected a whole number " + min + ".." + max);
    }
    return Integer.parseInt(v);
  }

  private static boolean bool(String v) {
    if (v.equalsIgnoreCase("true")) {
      return true;
    }
    if (v.equalsIgnoreCase("false")) {
      return false;
    }
    throw new IllegalArgumentException("expected true or false");
  }

  private static Duration duration(String v, Duration min) {
    Duration d = Durations.parse(v);
    if (d.compareTo(min) < 0) {
      throw new IllegalArgumentException("expected at least " + Durations.format(min) + " (0 is not allowed here)");
    }
    return d;
  }

  private static Duration ttl(String v) {
    Duration d = Durations.parse(v);
    if (d.toMillisPart() != 0 || d.compareTo(MAX_TTL) > 0) {
      throw new IllegalArgumentException("expected whole seconds up to " + MAX_TTL.toSeconds() + "s");
    }
    return d;
  }

  private static Duration keepalive(String v) {
    Duration d = Durations.parse(v);
    if (d.toMillisPart() != 0 || d.toSeconds() < 1 || d.toSeconds() > 32_767) {
      throw new IllegalArgumentException("expected whole seconds 1s..32767s");
    }
    return d;
  }

  private static List<String> siteNames(String v) {
    List<String> names = list(v);
    for (String n : names) {
      if (!SITE_NAME.matcher(n).matches()) {
        throw new IllegalArgumentException("bad site name '" + n + "' (expected lower-case letters, digits, '-'"
            + " and '_')");
      }
    }
    noDuplicates(names);
    return names;
  }

  private static List<String> variants(String v) {
    List<String> variants = list(v);
    if (variants.isEmpty()) {
      throw new IllegalArgumentException("empty (expected at least one variant, like courier)");
    }
    for (String variant : variants) {
      ApnsHost.courier(ApnsHost.Environment.PRODUCTION, variant, 0); // checks the variant
    }
    noDuplicates(variants);
    return variants;
  }

  private static List<InetSocketAddress> socketList(String v, int defaultPort, boolean listen, boolean mayBeEmpty) {
    List<InetSocketAddress> out = new ArrayList<>();
    for (String s : list(v)) {
      InetSocketAddress a = Literals.parseSocketAddress(s, defaultPort);
      if (!listen && a.getPort() == 0) {
        throw new IllegalArgumentException("'" + s + "' has port 0 (expected 1..65535)");
      }
      out.add(a);
    }
    if (out.isEmpty() && !mayBeEmpty) {
      throw new IllegalArgumentException("empty (expected at least one address, like 0.0.0.0:53)");
    }
    noDuplicates(out);
    return List.copyOf(out);
  }

  private static List<InetAddress> addressList(String v) {
    List<InetAddress> out = new ArrayList<>();
    for (String s : list(v)) {
      out.add(Literals.parseAddress(s));
    }
    noDuplicates(out);
    return List.copyOf(out);
  }

  private static List<Integer> ports(String v) {
    List<Integer> out = new ArrayList<>();
    for (String s : list(v)) {
      int p = Literals.parsePort(s, s);
      if (p == 0) {
        throw new IllegalArgumentException("port 0 (expected 1..65535)");
      }
      out.add(p);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("empty (expected at least one port 1..65535)");
    }
    noDuplicates(out);
    return List.copyOf(new LinkedHashSet<>(out));
  }

  private static String hostName(String v) {
    return HostNames.normalize(v).orElseThrow(() -> new IllegalArgumentException("not a host name (expected"
        + " letters, digits and hyphens in dot-separated labels, like ns.push.apple.com)"));
  }

  private static HostsTable hostsFile(String v) {
    Path path;
    try {
      path = Path.of(v);
    } catch (InvalidPathException e) {
      throw new IllegalArgumentException("not a file path (" + e.getMessage() + ")", e);
    }
    try {
      return new HostsTable(path, Map.copyOf(HostsFile.read(path)));
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the file (" + e.getClass().getSimpleName() + ": "
          + e.getMessage() + ")", e);
    }
  }

  private static String format(@Nullable Object value) {
    if (value == null) {
      return "";
    }
    if (value instanceof Duration d) {
      return Durations.format(d);
    }
    if (value instanceof List<?> l) {
      return l.stream().map(ProxyConfig::format).collect(Collectors.joining(","));
    }
    if (value instanceof InetSocketAddress a) {
      return Literals.format(a);
    }
    if (value instanceof InetAddress a) {
      return a.getHostAddress();
    }
    if (value instanceof Enum<?> e) {
      return e.name().toLowerCase(Locale.ROOT);
    }
    if (value instanceof HostsTable h) {
      return h.path().toString();
    }
    return value.toString();
  }

  // ---------------------------------------------------------------- unknown keys

  private static String suggestion(String key) {
    Set<String> candidates = new TreeSet<>();
    for (String name : SPECS.keySet()) {
      if (!name.startsWith(SITE_PREFIX)) {
        candidates.add(name);
      }
    }
    Matcher m = Pattern.compile("site\\.([^.]*)\\..*").matcher(key);
    String site = m.matches() ? m.group(1) : "NAME";
    for (String a : SITE_ATTRIBUTES) {
      candidates.add(SITE_PREFIX + site + "." + a);
    }
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    String k = key.toLowerCase(Locale.ROOT);
    for (String c : candidates) {
      int d = distance(k, c);
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    // near means a few edits, and fewer than half the key: "dns.tll" -> dns.ttl, "foo" -> nothing
    return best != null && bestDistance <= Math.max(1, Math.min(3, key.length() / 2))
        ? " (did you mean " + best + "?)" : "";
  }

  /** Levenshtein distance. */
  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** Properties that reject a key written twice, which {@link Properties} would silently resolve to the last. */
  private static final class DuplicateCheckingProperties extends Properties {
    private static final long serialVersionUID = 1L;

    @Override
    public synchronized @Nullable Object put(Object key, Object value) {
      if (containsKey(key)) {
        throw new ConfigException(String.valueOf(key), String.valueOf(value), "set twice in the file, first to '"
            + get(key) + "' (expected each key once)");
      }
      return super.put(key, value);
    }
  }
}
