// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import io.github.apnsproxy.core.ApnsHost.Environment;
import io.github.apnsproxy.core.ApnsHost.Kind;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The one mapping between upstream APNs hosts and the proxy's virtual addresses, shared by the DNS
 * side (which asks {@link #addressesFor}) and the TCP side (which asks {@link #hostFor}), so the
 * two can never disagree. Immutable and thread-safe; built by {@link #builder()}.
 *
 * <h2>Layout</h2>
 *
 * Every site has a virtual IPv4 subnet and optionally an IPv6 prefix; the same offsets are used in
 * each. Offset 0 (the network address) and the IPv4 broadcast address are never used.
 *
 * <ul>
 *   <li>{@link Style#EXACT}: each courier name gets its own address. Production couriers of the
 *       first variant come first, courier {@code N} at offset {@code 1 + N} (so {@code 0-courier}
 *       is {@code .1}, {@code 17-courier} is {@code .18}), then the next variant, then the sandbox
 *       blocks in the same order: block {@code b} (environment major, variant minor) holds courier
 *       {@code N} at {@code 1 + b * (count + 1) + N}.
 *   <li>{@link Style#POOLED}: couriers are interchangeable, so one address per environment:
 *       production couriers at offset 1, sandbox at offset 2. The address stands for its pool;
 *       {@link #hostFor} returns the pool's representative (courier 0 of the first variant) and
 *       {@link #upstreamsFor} every member.
 *   <li>{@link Style#SINGLE}: one address per site (offset 1, and the same offset of the IPv6
 *       prefix) for every name of the zone: couriers of every number, variant and environment, init
 *       and provider hosts. The splicer routes by the TLS server name, so {@link #hostFor} finds no
 *       host there; {@link #singleAddresses()} lists them.
 * </ul>
 *
 * The init and provider hosts ({@link HostNames#fixedHosts()}) are reserved at the top of the IPv4
 * subnet, just below the broadcast address, in pattern order ({@code init.push.apple.com} at
 * broadcast - 1), so they keep their addresses when the courier count changes.
 *
 * <h2>Sites</h2>
 *
 * With several sites, a DNS client gets the addresses of every site whose client list contains it,
 * or, when none does, of every site that serves any client. One site per proxy node spreads devices
 * over nodes; one site per client network keeps each network on its nearest node.
 */
public final class AddressPlan {

  /** How couriers map to addresses. */
  public enum Style {
    /** One address per courier name (the classic iRule's mapping). */
    EXACT,
    /** One address per environment; the splicer picks an upstream courier. */
    POOLED,
    /** One address per site for every name; the splicer routes by the TLS server name (SNI). */
    SINGLE
  }

  /**
   * A set of virtual addresses: an IPv4 subnet, an optional IPv6 prefix, and the clients it serves.
   *
   * @param name a short name for logs and config keys
   * @param ipv4 the virtual IPv4 subnet (prefix length at most 30)
   * @param ipv6 the virtual IPv6 prefix, with at least as many host bits as {@code ipv4}; null for
   *     none
   * @param clients the DNS clients this site answers; {@link CidrSet#any()} for every client
   */
  public record Site(String name, Cidr ipv4, @Nullable Cidr ipv6, CidrSet clients) {
    public Site {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(ipv4, "ipv4");
      Objects.requireNonNull(clients, "clients");
      if (!name.matches("[a-z0-9][a-z0-9_-]{0,62}")) {
        throw new IllegalArgumentException(
            "site name '" + name + "' (expected lower-case letters, digits, '-', '_')");
      }
      if (!ipv4.isIpv4()) {
        throw new IllegalArgumentException(
            "site '" + name + "' ipv4 " + ipv4 + " (expected an IPv4 subnet)");
      }
      if (ipv4.prefixLength() > 30) {
        throw new IllegalArgumentException(
            "site '" + name + "' ipv4 " + ipv4 + " (expected a prefix length of" + " at most 30)");
      }
      if (ipv6 != null) {
        if (ipv6.isIpv4()) {
          throw new IllegalArgumentException(
              "site '" + name + "' ipv6 " + ipv6 + " (expected an IPv6 prefix)");
        }
        if (ipv6.hostBits() < ipv4.hostBits()) {
          throw new IllegalArgumentException(
              "site '"
                  + name
                  + "' ipv6 "
                  + ipv6
                  + " is smaller than ipv4 "
                  + ipv4
                  + " (expected a prefix length of at most "
                  + (128 - ipv4.hostBits())
                  + ")");
        }
      }
    }

    /** A site serving every client, with no IPv6 prefix. */
    public static Site of(String name, Cidr ipv4) {
      return new Site(name, ipv4, null, CidrSet.any());
    }
  }

  /**
   * One virtual address of the plan.
   *
   * @param site the site it belongs to
   * @param host the plan host it stands for (a pool representative in the pooled style)
   * @param address the virtual address
   */
  public record Entry(Site site, ApnsHost host, InetAddress address) {}

  private final List<Site> sites;
  private final Style style;
  private final HostNames names;
  private final List<String> variants;
  private final Map<Kind, List<Integer>> ports;
  private final List<ApnsHost> reserved;
  private final int count;
  private final int blocks;
  private final long subnetSize;
  private final List<ApnsHost> hosts;

  private AddressPlan(Builder b) {
    this.sites = List.copyOf(b.sites);
    this.style = b.style;
    this.names = b.names.withMaxCourier(b.courierCount);
    this.variants = List.copyOf(b.variants);
    this.ports = new EnumMap<>(b.ports);
    this.reserved = names.fixedHosts();
    this.count = b.courierCount;
    this.blocks =
        style == Style.POOLED
            ? Environment.values().length
            : Environment.values().length * variants.size();
    this.subnetSize = 1L << sites.get(0).ipv4().hostBits();
    List<ApnsHost> h = new ArrayList<>();
    if (style != Style.POOLED) {
      for (Environment e : Environment.values()) {
        for (String v : variants) {
          for (int n = 0; n <= count; n++) {
            h.add(ApnsHost.courier(e, v, n));
          }
        }
      }
    } else {
      for (Environment e : Environment.values()) {
        h.add(ApnsHost.courier(e, variants.get(0), 0));
      }
    }
    h.addAll(reserved);
    this.hosts = List.copyOf(h);
  }

  /**
   * The seed virtual subnet, {@code 10.100.100.0/24}: the site of a proxy configured with no subnet
   * of its own.
   */
  public static final Cidr DEFAULT_SUBNET = Cidr.parse("10.100.100.0/24");

  /**
   * A new builder with the defaults: no site yet, exact style, couriers 0..50 of {@code courier,
   * courier2}.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The sites, in the order they were added. */
  public List<Site> sites() {
    return sites;
  }

  /** The mapping style. */
  public Style style() {
    return style;
  }

  /** The highest courier number served (couriers 0..count). */
  public int courierCount() {
    return count;
  }

  /** The courier variants served, e.g. {@code courier, courier2}. */
  public List<String> variants() {
    return variants;
  }

  /** The name syntax of this plan (its highest courier number is {@link #courierCount()}). */
  public HostNames hostNames() {
    return names;
  }

  /** The TCP ports served for hosts of {@code kind}. */
  public List<Integer> ports(Kind kind) {
    // the builder starts with an entry for every kind and only replaces entries
    return Objects.requireNonNull(ports.get(Objects.requireNonNull(kind, "kind")), "ports");
  }

  /**
   * Every plan host, in address order: one per courier (exact) or per pool (pooled), then the
   * reserved hosts.
   */
  public List<ApnsHost> hosts() {
    return hosts;
  }

  /**
   * The plan host that stands for {@code host}: itself in the exact style, its pool's
   * representative for a courier in the pooled style; empty when the plan does not serve it (a
   * variant not configured, a number above the count).
   */
  public Optional<ApnsHost> planHost(ApnsHost host) {
    if (!serves(host)) {
      return Optional.empty();
    }
    if (host.isCourier() && style == Style.POOLED) {
      return Optional.of(ApnsHost.courier(host.environment(), variants.get(0), 0));
    }
    return Optional.of(host);
  }

  /** True when the plan gives {@code host} a virtual address. */
  public boolean serves(ApnsHost host) {
    if (host.isCourier()) {
      return host.number() <= count && variants.contains(host.variant());
    }
    return reserved.contains(host);
  }

  /**
   * The upstream hosts a connection to {@code planHost}'s address may go to: the host itself, or
   * every member of the pool in the pooled style. Empty when {@code planHost} is not a plan host.
   */
  public List<ApnsHost> upstreamsFor(ApnsHost planHost) {
    if (!hosts.contains(planHost)) {
      return List.of();
    }
    if (!planHost.isCourier() || style != Style.POOLED) {
      return List.of(planHost);
    }
    List<ApnsHost> members = new ArrayList<>();
    for (String v : variants) {
      for (int n = 0; n <= count; n++) {
        members.add(ApnsHost.courier(planHost.environment(), v, n));
      }
    }
    return List.copyOf(members);
  }

  /**
   * The sites that answer DNS client {@code client}: those that list it, else those that serve any
   * client.
   */
  public List<Site> sitesFor(InetAddress client) {
    List<Site> matched = new ArrayList<>();
    for (Site s : sites) {
      if (!s.clients().isAny() && s.clients().contains(client)) {
        matched.add(s);
      }
    }
    if (!matched.isEmpty()) {
      return matched;
    }
    for (Site s : sites) {
      if (s.clients().isAny()) {
        matched.add(s);
      }
    }
    return matched;
  }

  /**
   * The virtual addresses DNS answers for {@code host} to {@code client}: for each of the client's
   * sites, its IPv4 address, then its IPv6 address if the site has a prefix. Empty when the plan
   * does not serve the host.
   */
  public List<InetAddress> addressesFor(ApnsHost host, InetAddress client) {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(client, "client");
    Optional<ApnsHost> planHost = planHost(host);
    if (planHost.isEmpty()) {
      return List.of();
    }
    long offset = offsetOf(planHost.get());
    List<InetAddress> out = new ArrayList<>(2);
    for (Site s : sitesFor(client)) {
      out.add(s.ipv4().addressAt(offset));
      if (s.ipv6() != null) {
        out.add(s.ipv6().addressAt(offset));
      }
    }
    return out;
  }

  /**
   * The plan host whose virtual address is {@code local}, when {@code port} is served for its kind.
   * This is how the splicer learns which host a client dialled.
   */
  public Optional<ApnsHost> hostFor(InetAddress local, int port) {
    Optional<ApnsHost> host = hostFor(local);
    return host.filter(h -> ports(h.kind()).contains(port));
  }

  /** {@link #hostFor(InetAddress, int)} for a socket address. */
  public Optional<ApnsHost> hostFor(InetSocketAddress local) {
    InetAddress a = local.getAddress();
    return a == null ? Optional.empty() : hostFor(a, local.getPort());
  }

  /**
   * The plan host whose virtual address is {@code local}, whatever the port; always empty in the
   * single style.
   */
  public Optional<ApnsHost> hostFor(InetAddress local) {
    Objects.requireNonNull(local, "local");
    if (style == Style.SINGLE) {
      return Optional.empty();
    }
    for (Site s : sites) {
      Cidr net = local instanceof Inet4Address ? s.ipv4() : s.ipv6();
      if (net == null) {
        continue;
      }
      long offset = net.offsetOf(local);
      if (offset >= 0) {
        return Optional.ofNullable(hostAt(offset));
      }
    }
    return Optional.empty();
  }

  /**
   * Every virtual address with the site and plan host it stands for, site by site in address order.
   */
  public List<Entry> entries() {
    List<Entry> out = new ArrayList<>();
    for (Site s : sites) {
      for (ApnsHost h : hosts) {
        out.add(new Entry(s, h, s.ipv4().addressAt(offsetOf(h))));
      }
      if (s.ipv6() != null) {
        for (ApnsHost h : hosts) {
          out.add(new Entry(s, h, s.ipv6().addressAt(offsetOf(h))));
        }
      }
    }
    return out;
  }

  /**
   * The single style's virtual addresses: each site's IPv4 address, then its IPv6 address if it has
   * a prefix. Empty in the other styles.
   */
  public List<InetAddress> singleAddresses() {
    if (style != Style.SINGLE) {
      return List.of();
    }
    List<InetAddress> out = new ArrayList<>();
    for (Site s : sites) {
      out.add(s.ipv4().addressAt(1));
      if (s.ipv6() != null) {
        out.add(s.ipv6().addressAt(1));
      }
    }
    return out;
  }

  /** True when {@code local} is one of the single style's addresses. */
  public boolean isSingleAddress(InetAddress local) {
    return style == Style.SINGLE && singleAddresses().contains(local);
  }

  /**
   * Every virtual address on every port its host's kind is served on: what the splicer listens on.
   * In the single style, each single address on every port of any kind.
   */
  public List<InetSocketAddress> listenAddresses() {
    List<InetSocketAddress> out = new ArrayList<>();
    if (style == Style.SINGLE) {
      for (InetAddress a : singleAddresses()) {
        for (int port : allPorts()) {
          out.add(new InetSocketAddress(a, port));
        }
      }
      return out;
    }
    for (Entry e : entries()) {
      for (int port : ports(e.host().kind())) {
        out.add(new InetSocketAddress(e.address(), port));
      }
    }
    return out;
  }

  /** Every port the plan serves, over all kinds, in ascending order. */
  public List<Integer> allPorts() {
    Set<Integer> all = new HashSet<>();
    ports.values().forEach(all::addAll);
    return all.stream().sorted().toList();
  }

  // the address layout follows Environment's declaration order (addresses are pinned by
  // AddressPlanTest)
  @SuppressWarnings("EnumOrdinal")
  private long offsetOf(ApnsHost planHost) {
    if (style == Style.SINGLE) {
      return 1;
    }
    if (planHost.isCourier()) {
      int env = planHost.environment().ordinal();
      int block =
          style == Style.EXACT ? env * variants.size() + variants.indexOf(planHost.variant()) : env;
      return 1
          + (long) block * (style == Style.EXACT ? count + 1 : 1)
          + (style == Style.EXACT ? planHost.number() : 0);
    }
    return subnetSize - 2 - reserved.indexOf(planHost);
  }

  @SuppressWarnings("EnumOrdinal") // the inverse of offsetOf
  private @Nullable ApnsHost hostAt(long offset) {
    long perBlock = style == Style.EXACT ? count + 1 : 1;
    long courierEnd = 1 + blocks * perBlock;
    if (offset >= 1 && offset < courierEnd) {
      long i = offset - 1;
      int block = (int) (i / perBlock);
      int envs = Environment.values().length;
      if (style == Style.EXACT) {
        Environment e = Environment.values()[block / variants.size()];
        return ApnsHost.courier(e, variants.get(block % variants.size()), (int) (i % perBlock));
      }
      return ApnsHost.courier(Environment.values()[block % envs], variants.get(0), 0);
    }
    long r = subnetSize - 2 - offset;
    if (r >= 0 && r < reserved.size()) {
      return reserved.get((int) r);
    }
    return null;
  }

  @Override
  public String toString() {
    return "AddressPlan["
        + style.name().toLowerCase(java.util.Locale.ROOT)
        + ", couriers 0.."
        + count
        + " of "
        + variants
        + ", sites "
        + sites
        + "]";
  }

  /**
   * Builds an {@link AddressPlan}; arguments are checked at once, cross-field rules in {@link
   * #build()}.
   */
  public static final class Builder {
    private final List<Site> sites = new ArrayList<>();
    private Style style = Style.EXACT;
    private HostNames names = HostNames.defaults();
    private int courierCount = HostNames.DEFAULT_MAX_COURIER;
    private List<String> variants = List.of("courier", "courier2");
    private final Map<Kind, List<Integer>> ports =
        new EnumMap<>(
            Map.of(
                Kind.COURIER,
                List.of(5223, 443),
                Kind.INIT,
                List.of(443),
                Kind.PROVIDER,
                List.of(443, 2197)));

    private Builder() {}

    /** The mapping style set so far. */
    public Style style() {
      return style;
    }

    /** The highest courier number set so far. */
    public int courierCount() {
      return courierCount;
    }

    /** The courier variants set so far. */
    public List<String> courierVariants() {
      return variants;
    }

    /** Adds a site. */
    public Builder site(Site site) {
      sites.add(Objects.requireNonNull(site, "site"));
      return this;
    }

    /**
     * Adds a site named {@code default} (or {@code siteN}) serving every client, with no IPv6
     * prefix.
     */
    public Builder site(Cidr ipv4) {
      return site(ipv4, null);
    }

    /** Adds a site named {@code default} (or {@code siteN}) serving every client. */
    public Builder site(Cidr ipv4, @Nullable Cidr ipv6) {
      String name = sites.isEmpty() ? "default" : "site" + (sites.size() + 1);
      return site(new Site(name, ipv4, ipv6, CidrSet.any()));
    }

    /** The mapping style; default {@link Style#EXACT}. */
    public Builder style(Style style) {
      this.style = Objects.requireNonNull(style, "style");
      return this;
    }

    /** The highest courier number served; default 50 (couriers 0..50). */
    public Builder courierCount(int count) {
      if (count < 0 || count > 100_000) {
        throw new IllegalArgumentException("courier count " + count + " (expected 0..100000)");
      }
      this.courierCount = count;
      return this;
    }

    /** The courier variants served; default {@code courier, courier2}. */
    public Builder courierVariants(List<String> variants) {
      Objects.requireNonNull(variants, "variants");
      if (variants.isEmpty()) {
        throw new IllegalArgumentException(
            "no courier variants (expected at least one, like courier)");
      }
      if (new HashSet<>(variants).size() != variants.size()) {
        throw new IllegalArgumentException(
            "courier variants " + variants + " (expected no duplicates)");
      }
      for (String v : variants) {
        ApnsHost.courier(Environment.PRODUCTION, v, 0); // validates the variant
      }
      this.variants = List.copyOf(variants);
      return this;
    }

    /**
     * The name syntax; default {@link HostNames#defaults()}. Its reserved hosts come from its
     * patterns.
     */
    public Builder hostNames(HostNames names) {
      this.names = Objects.requireNonNull(names, "names");
      return this;
    }

    /** The ports served for a kind; defaults: courier 5223, 443; init 443; provider 443, 2197. */
    public Builder ports(Kind kind, List<Integer> ports) {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(ports, "ports");
      if (ports.isEmpty()) {
        throw new IllegalArgumentException(kind + " ports are empty (expected at least one port)");
      }
      for (int p : ports) {
        if (p < 1 || p > 65535) {
          throw new IllegalArgumentException(kind + " port " + p + " (expected 1..65535)");
        }
      }
      this.ports.put(kind, List.copyOf(new java.util.LinkedHashSet<>(ports)));
      return this;
    }

    /**
     * Builds the plan.
     *
     * @throws IllegalArgumentException when there is no site, sites overlap or share a name, or a
     *     subnet is too small; the message says what does not fit and what would
     */
    public AddressPlan build() {
      if (sites.isEmpty()) {
        throw new IllegalArgumentException(
            "address plan has no site (expected at least one virtual subnet)");
      }
      int hostBits = sites.get(0).ipv4().hostBits();
      Set<String> siteNames = new HashSet<>();
      for (int i = 0; i < sites.size(); i++) {
        Site s = sites.get(i);
        if (!siteNames.add(s.name())) {
          throw new IllegalArgumentException(
              "two sites are named '" + s.name() + "' (expected unique names)");
        }
        if (s.ipv4().hostBits() != hostBits) {
          throw new IllegalArgumentException(
              "site '"
                  + s.name()
                  + "' ipv4 "
                  + s.ipv4()
                  + " has prefix length "
                  + s.ipv4().prefixLength()
                  + " (expected /"
                  + sites.get(0).ipv4().prefixLength()
                  + " like the first site: every site uses the same offsets)");
        }
        for (int j = 0; j < i; j++) {
          Site o = sites.get(j);
          if (o.ipv4().overlaps(s.ipv4())) {
            throw new IllegalArgumentException(
                "sites '"
                    + o.name()
                    + "' and '"
                    + s.name()
                    + "' overlap ("
                    + o.ipv4()
                    + ", "
                    + s.ipv4()
                    + ")");
          }
          if (o.ipv6() != null && s.ipv6() != null && o.ipv6().overlaps(s.ipv6())) {
            throw new IllegalArgumentException(
                "sites '"
                    + o.name()
                    + "' and '"
                    + s.name()
                    + "' overlap ("
                    + o.ipv6()
                    + ", "
                    + s.ipv6()
                    + ")");
          }
        }
      }
      int envs = Environment.values().length;
      int reserved = names.fixedHosts().size();
      long perBlock = style == Style.EXACT ? courierCount + 1L : 1L;
      long blockCount = style == Style.EXACT ? (long) envs * variants.size() : envs;
      long needed = style == Style.SINGLE ? 1 : blockCount * perBlock + reserved;
      long usable = (1L << hostBits) - 2;
      if (needed > usable) {
        int prefix = 32;
        while (prefix > 0 && (1L << (32 - prefix)) - 2 < needed) {
          prefix--;
        }
        long maxCount = (usable - reserved) / ((long) envs * variants.size()) - 1;
        String what =
            style == Style.EXACT
                ? (courierCount + 1)
                    + " couriers (0.."
                    + courierCount
                    + ") x "
                    + variants.size()
                    + " variants x "
                    + envs
                    + " environments + "
                    + reserved
                    + " reserved hosts"
                : envs + " pools + " + reserved + " reserved hosts";
        throw new IllegalArgumentException(
            "address plan does not fit: "
                + what
                + " need "
                + needed
                + " addresses but "
                + sites.get(0).ipv4()
                + " has "
                + usable
                + " usable; use a /"
                + prefix
                + " or larger subnet"
                + (style == Style.EXACT
                    ? (maxCount >= 0 ? ", at most " + maxCount + " as the courier count" : "")
                        + ", or the pooled style (which needs "
                        + (envs + reserved)
                        + ")"
                    : ""));
      }
      return new AddressPlan(this);
    }
  }
}
