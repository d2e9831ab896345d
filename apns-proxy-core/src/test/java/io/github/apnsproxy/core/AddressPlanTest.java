// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import static io.github.apnsproxy.core.ApnsHost.Environment.PRODUCTION;
import static io.github.apnsproxy.core.ApnsHost.Environment.SANDBOX;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPlan.Entry;
import io.github.apnsproxy.core.AddressPlan.Site;
import io.github.apnsproxy.core.AddressPlan.Style;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.internal.Literals;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class AddressPlanTest {
  private static final InetAddress CLIENT = ip("10.1.2.3");

  static InetAddress ip(String s) {
    return Literals.parseAddress(s);
  }

  static AddressPlan single(Style style) {
    return AddressPlan.builder()
        .style(style)
        .site(Cidr.parse("10.100.100.0/24"), Cidr.parse("fd00:a::/64"))
        .build();
  }

  static AddressPlan multi(Style style) {
    return AddressPlan.builder()
        .style(style)
        .site(
            new Site(
                "east",
                Cidr.parse("10.100.100.0/24"),
                Cidr.parse("fd00:e::/64"),
                CidrSet.parse("10.1.0.0/16")))
        .site(
            new Site(
                "west",
                Cidr.parse("10.100.101.0/24"),
                null,
                CidrSet.parse("10.2.0.0/16,fd00:2::/48")))
        .site(
            new Site("any", Cidr.parse("172.16.0.0/24"), Cidr.parse("fd00:f::/120"), CidrSet.any()))
        .build();
  }

  static Stream<AddressPlan> plans() {
    return Stream.of(
        single(Style.EXACT),
        single(Style.POOLED),
        multi(Style.EXACT),
        multi(Style.POOLED),
        AddressPlan.builder()
            .courierCount(0)
            .courierVariants(List.of("courier"))
            .site(Cidr.parse("10.0.0.0/28"))
            .build(),
        AddressPlan.builder().courierCount(200).site(Cidr.parse("10.0.0.0/22")).build(),
        AddressPlan.builder().style(Style.POOLED).site(Cidr.parse("10.0.0.0/28")).build());
  }

  @ParameterizedTest
  @MethodSource("plans")
  void everyHostMapsToAnAddressAndBack(AddressPlan plan) {
    for (Site s : plan.sites()) {
      InetAddress client =
          s.clients().isAny() ? ip("192.0.2.1") : s.clients().networks().get(0).addressAt(1);
      for (ApnsHost h : plan.hosts()) {
        List<InetAddress> addresses = plan.addressesFor(h, client);
        assertThat(addresses).isNotEmpty();
        for (InetAddress a : addresses) {
          assertThat(plan.hostFor(a)).as("%s -> %s", h, a).contains(h);
        }
      }
    }
  }

  @ParameterizedTest
  @MethodSource("plans")
  void everyAddressMapsToAHostAndBack(AddressPlan plan) {
    Set<InetAddress> seen = new HashSet<>();
    for (Entry e : plan.entries()) {
      assertThat(seen.add(e.address())).as("unique %s", e.address()).isTrue();
      assertThat(plan.hostFor(e.address())).contains(e.host());
      Cidr net = e.address().getAddress().length == 4 ? e.site().ipv4() : e.site().ipv6();
      assertThat(net).isNotNull();
      InetAddress client =
          e.site().clients().isAny()
              ? ip("192.0.2.1")
              : e.site().clients().networks().get(0).addressAt(1);
      assertThat(plan.addressesFor(e.host(), client)).contains(e.address());
    }
    int ipv6Sites = (int) plan.sites().stream().filter(s -> s.ipv6() != null).count();
    assertThat(plan.entries()).hasSize(plan.hosts().size() * (plan.sites().size() + ipv6Sites));
  }

  @ParameterizedTest
  @MethodSource("plans")
  void neverTheNetworkOrBroadcastAddress(AddressPlan plan) {
    for (Site s : plan.sites()) {
      InetAddress network = s.ipv4().addressAt(0);
      InetAddress broadcast = s.ipv4().addressAt(s.ipv4().size().longValueExact() - 1);
      assertThat(plan.entries()).extracting(Entry::address).doesNotContain(network, broadcast);
      assertThat(plan.hostFor(network)).isEmpty();
      assertThat(plan.hostFor(broadcast)).isEmpty();
      if (s.ipv6() != null) {
        assertThat(plan.hostFor(s.ipv6().addressAt(0))).isEmpty();
      }
    }
  }

  @Test
  void exactLayoutMatchesTheDocumentation() {
    AddressPlan plan = single(Style.EXACT);

    assertThat(addressOf(plan, ApnsHost.courier(0))).isEqualTo(ip("10.100.100.1"));
    assertThat(addressOf(plan, ApnsHost.courier(17))).isEqualTo(ip("10.100.100.18"));
    assertThat(addressOf(plan, ApnsHost.courier(50))).isEqualTo(ip("10.100.100.51"));
    assertThat(addressOf(plan, ApnsHost.courier(PRODUCTION, "courier2", 0)))
        .isEqualTo(ip("10.100.100.52"));
    assertThat(addressOf(plan, ApnsHost.courier(SANDBOX, "courier", 0)))
        .isEqualTo(ip("10.100.100.103"));
    assertThat(addressOf(plan, ApnsHost.courier(SANDBOX, "courier2", 50)))
        .isEqualTo(ip("10.100.100.204"));
    assertThat(addressOf(plan, ApnsHost.init(PRODUCTION))).isEqualTo(ip("10.100.100.254"));
    assertThat(addressOf(plan, ApnsHost.provider(SANDBOX))).isEqualTo(ip("10.100.100.250"));
    assertThat(plan.addressesFor(ApnsHost.courier(17), CLIENT))
        .containsExactly(ip("10.100.100.18"), ip("fd00:a::12"));
    assertThat(plan.hostFor(ip("10.100.100.205")))
        .as("gap between couriers and reserved")
        .isEmpty();
    assertThat(plan.hostFor(ip("10.100.101.18"))).as("outside every site").isEmpty();
    assertThat(plan.hostFor(ip("fd00:a::1:12"))).isEmpty();
  }

  @Test
  void singleStyleAnswersOneAddressPerSiteForEveryNameAndListensThereOnEveryPort() {
    AddressPlan plan = single(Style.SINGLE);
    List<InetAddress> one = List.of(ip("10.100.100.1"), ip("fd00:a::1"));
    assertThat(plan.singleAddresses()).isEqualTo(one);
    for (ApnsHost h : plan.hosts()) {
      assertThat(plan.addressesFor(h, CLIENT)).as("%s", h).isEqualTo(one);
    }
    assertThat(plan.hosts())
        .contains(
            ApnsHost.courier(SANDBOX, "courier2", 50),
            ApnsHost.courier(0),
            ApnsHost.init(PRODUCTION),
            ApnsHost.provider(SANDBOX));
    assertThat(plan.hosts()).hasSize(4 * 51 + 5);
    assertThat(plan.addressesFor(ApnsHost.courier(51), CLIENT)).as("beyond the count").isEmpty();
    assertThat(plan.hostFor(ip("10.100.100.1"))).as("SNI decides, not the address").isEmpty();
    assertThat(plan.isSingleAddress(ip("fd00:a::1"))).isTrue();
    assertThat(plan.isSingleAddress(ip("10.100.100.2"))).isFalse();
    assertThat(plan.listenAddresses())
        .containsExactly(
            new InetSocketAddress(ip("10.100.100.1"), 443),
            new InetSocketAddress(ip("10.100.100.1"), 2197),
            new InetSocketAddress(ip("10.100.100.1"), 5223),
            new InetSocketAddress(ip("fd00:a::1"), 443),
            new InetSocketAddress(ip("fd00:a::1"), 2197),
            new InetSocketAddress(ip("fd00:a::1"), 5223));
    assertThat(
            AddressPlan.builder()
                .style(Style.SINGLE)
                .courierCount(100_000)
                .site(Cidr.parse("10.0.0.0/30"))
                .build()
                .singleAddresses())
        .containsExactly(ip("10.0.0.1"));
  }

  private static InetAddress addressOf(AddressPlan plan, ApnsHost host) {
    return plan.addressesFor(host, CLIENT).get(0);
  }

  @ParameterizedTest
  @EnumSource(
      value = Style.class,
      names = {"EXACT", "POOLED"})
  void rangesOfEnvironmentsVariantsAndReservedHostsAreDisjoint(Style style) {
    AddressPlan plan = single(style);
    Set<InetAddress> all = new HashSet<>();
    for (ApnsHost h : plan.hosts()) {
      assertThat(all.add(addressOf(plan, h))).as("%s has its own address", h).isTrue();
    }
    assertThat(all).hasSize(style == Style.EXACT ? 4 * 51 + 5 : 2 + 5);
  }

  @Test
  void zeroCourierIsValidAndNotTheNetworkAddress() {
    AddressPlan plan =
        AddressPlan.builder().courierCount(0).site(Cidr.parse("10.0.0.0/28")).build();

    assertThat(plan.hosts()).hasSize(4 + 5);
    assertThat(addressOf(plan, ApnsHost.courier(0))).isEqualTo(ip("10.0.0.1"));
    assertThat(plan.hostFor(ip("10.0.0.1"), 5223)).contains(ApnsHost.courier(0));
    assertThat(plan.serves(ApnsHost.courier(1))).isFalse();
    assertThat(plan.addressesFor(ApnsHost.courier(1), CLIENT)).isEmpty();
  }

  @Test
  void pooledMapsEveryCourierOfAnEnvironmentToOneAddress() {
    AddressPlan plan = single(Style.POOLED);
    ApnsHost prod = ApnsHost.courier(0);
    ApnsHost sandbox = ApnsHost.courier(SANDBOX, "courier", 0);

    assertThat(plan.hosts()).hasSize(2 + 5).startsWith(prod, sandbox);
    assertThat(plan.planHost(ApnsHost.courier(PRODUCTION, "courier2", 37))).contains(prod);
    assertThat(addressOf(plan, ApnsHost.courier(PRODUCTION, "courier2", 37)))
        .isEqualTo(ip("10.100.100.1"));
    assertThat(addressOf(plan, ApnsHost.courier(SANDBOX, "courier", 3)))
        .isEqualTo(ip("10.100.100.2"));
    assertThat(plan.hostFor(ip("10.100.100.2"))).contains(sandbox);
    assertThat(plan.upstreamsFor(prod))
        .hasSize(2 * 51)
        .contains(ApnsHost.courier(50), ApnsHost.courier(PRODUCTION, "courier2", 0))
        .allMatch(h -> h.environment() == PRODUCTION);
    assertThat(plan.upstreamsFor(sandbox))
        .hasSize(2 * 51)
        .allMatch(h -> h.environment() == SANDBOX);
    assertThat(plan.upstreamsFor(ApnsHost.init(PRODUCTION)))
        .containsExactly(ApnsHost.init(PRODUCTION));
    assertThat(plan.upstreamsFor(ApnsHost.courier(3))).as("not a plan host").isEmpty();
  }

  @Test
  void exactUpstreamsAreTheHostItself() {
    AddressPlan plan = single(Style.EXACT);
    assertThat(plan.upstreamsFor(ApnsHost.courier(17))).containsExactly(ApnsHost.courier(17));
    assertThat(plan.upstreamsFor(ApnsHost.courier(51))).isEmpty();
    assertThat(plan.planHost(ApnsHost.courier(PRODUCTION, "courier3", 1))).isEmpty();
  }

  static Stream<Arguments> ports() {
    return Stream.of(
        Arguments.of("10.100.100.18", 5223, true),
        Arguments.of("10.100.100.18", 443, true),
        Arguments.of("10.100.100.18", 2197, false),
        Arguments.of("10.100.100.18", 80, false),
        Arguments.of("10.100.100.254", 443, true),
        Arguments.of("10.100.100.254", 5223, false),
        Arguments.of("10.100.100.251", 443, true),
        Arguments.of("10.100.100.251", 2197, true),
        Arguments.of("10.100.100.251", 5223, false),
        Arguments.of("fd00:a::fb", 2197, true),
        Arguments.of("fd00:a::12", 5223, true));
  }

  @ParameterizedTest(name = "{0}:{1} -> {2}")
  @MethodSource("ports")
  void hostForChecksThePortOfTheKind(String address, int port, boolean served) {
    AddressPlan plan = single(Style.EXACT);
    assertThat(plan.hostFor(ip(address), port).isPresent()).isEqualTo(served);
    assertThat(plan.hostFor(new InetSocketAddress(ip(address), port)).isPresent())
        .isEqualTo(served);
  }

  @Test
  void portsAreConfigurable() {
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("10.0.0.0/24"))
            .ports(Kind.COURIER, List.of(5223))
            .ports(Kind.PROVIDER, List.of(2197, 2197))
            .build();

    assertThat(plan.ports(Kind.COURIER)).containsExactly(5223);
    assertThat(plan.ports(Kind.PROVIDER)).containsExactly(2197);
    assertThat(plan.allPorts()).containsExactly(443, 2197, 5223);
    assertThat(plan.hostFor(ip("10.0.0.18"), 443)).isEmpty();
    assertThat(plan.hostFor(InetSocketAddress.createUnresolved("10.0.0.18", 5223))).isEmpty();
    assertThat(plan.listenAddresses()).hasSize(4 * 51 + 3 + 2);
    assertThatThrownBy(() -> AddressPlan.builder().ports(Kind.INIT, List.of(0)))
        .hasMessage("INIT port 0 (expected" + " 1..65535)");
    assertThatThrownBy(() -> AddressPlan.builder().ports(Kind.INIT, List.of()))
        .hasMessageContaining("empty");
  }

  @Test
  void listenAddressesCoverEveryEntryOnItsPorts() {
    AddressPlan plan = single(Style.POOLED);
    // 2 pools x 2 courier ports + 3 init x 1 + 2 api x 2, for IPv4 and IPv6
    assertThat(plan.listenAddresses())
        .hasSize(2 * (4 + 3 + 4))
        .contains(
            new InetSocketAddress(ip("10.100.100.1"), 5223),
            new InetSocketAddress(ip("fd00:a::fe"), 443));
  }

  @Test
  void sitesAnswerTheirClientsElseTheAnySites() {
    AddressPlan plan = multi(Style.EXACT);
    ApnsHost h = ApnsHost.courier(17);

    assertThat(plan.addressesFor(h, ip("10.1.9.9")))
        .containsExactly(ip("10.100.100.18"), ip("fd00:e::12"));
    assertThat(plan.addressesFor(h, ip("10.2.9.9"))).containsExactly(ip("10.100.101.18"));
    assertThat(plan.addressesFor(h, ip("fd00:2::9"))).containsExactly(ip("10.100.101.18"));
    assertThat(plan.addressesFor(h, ip("10.3.0.1")))
        .containsExactly(ip("172.16.0.18"), ip("fd00:f::12"));
    assertThat(plan.sitesFor(ip("10.1.0.1"))).extracting(Site::name).containsExactly("east");
    assertThat(plan.hostFor(ip("10.100.101.18"), 5223)).contains(h);
    assertThat(plan.hostFor(ip("fd00:f::12"), 5223)).contains(h);
  }

  @Test
  void sitesWithoutAnAnySiteAnswerNobodyElse() {
    AddressPlan plan =
        AddressPlan.builder()
            .site(new Site("a", Cidr.parse("10.0.0.0/24"), null, CidrSet.parse("10.1.0.0/16")))
            .build();
    assertThat(plan.addressesFor(ApnsHost.courier(1), ip("10.9.0.1"))).isEmpty();
    assertThat(plan.addressesFor(ApnsHost.courier(1), ip("10.1.0.1")))
        .containsExactly(ip("10.0.0.2"));
  }

  @Test
  void misfitSaysWhatDoesNotFitAndWhatWould() {
    AddressPlan.Builder b = AddressPlan.builder().courierCount(50).site(Cidr.parse("10.0.0.0/26"));

    assertThatThrownBy(b::build)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "address plan does not fit: 51 couriers (0..50) x 2 variants x 2 environments + 5 reserved hosts need 209"
                + " addresses but 10.0.0.0/26 has 62 usable; use a /24 or larger subnet, at most 13 as the courier"
                + " count, or the pooled style (which needs 7)");
    // and what it suggests does fit
    AddressPlan.builder().courierCount(13).site(Cidr.parse("10.0.0.0/26")).build();
    AddressPlan.builder().style(Style.POOLED).site(Cidr.parse("10.0.0.0/26")).build();
    assertThatThrownBy(
            () -> AddressPlan.builder().courierCount(14).site(Cidr.parse("10.0.0.0/26")).build())
        .hasMessageContaining("need 65 addresses");
    assertThatThrownBy(
            () -> AddressPlan.builder().style(Style.POOLED).site(Cidr.parse("10.0.0.0/29")).build())
        .hasMessage(
            "address plan does not fit: 2 pools + 5 reserved hosts need 7 addresses but 10.0.0.0/29 has 6"
                + " usable; use a /28 or larger subnet");
  }

  @Test
  void aPlanThatExactlyFillsItsSubnetIsValid() {
    // /24: 254 usable = 4 blocks x 62 couriers + 5 reserved + 1 spare
    AddressPlan plan =
        AddressPlan.builder().courierCount(61).site(Cidr.parse("10.0.0.0/24")).build();
    assertThat(plan.entries()).hasSize(4 * 62 + 5);
    assertThatThrownBy(
            () -> AddressPlan.builder().courierCount(62).site(Cidr.parse("10.0.0.0/24")).build())
        .hasMessageContaining("at most 61 as the courier count");
  }

  static Stream<Arguments> badSites() {
    Site a = new Site("a", Cidr.parse("10.0.0.0/24"), Cidr.parse("fd00::/64"), CidrSet.any());
    return Stream.of(
        Arguments.of(
            List.of(a, new Site("b", Cidr.parse("10.0.0.0/24"), null, CidrSet.any())),
            "sites 'a' and 'b' overlap (10.0.0.0/24, 10.0.0.0/24)"),
        Arguments.of(
            List.of(
                a,
                new Site("b", Cidr.parse("10.0.1.0/24"), Cidr.parse("fd00::/48"), CidrSet.any())),
            "sites 'a' and 'b' overlap (fd00:0:0:0:0:0:0:0/64, fd00:0:0:0:0:0:0:0/48)"),
        Arguments.of(
            List.of(a, new Site("a", Cidr.parse("10.0.1.0/24"), null, CidrSet.any())),
            "two sites are named 'a'"),
        Arguments.of(
            List.of(a, Site.of("b", Cidr.parse("10.0.2.0/23"))),
            "site 'b' ipv4 10.0.2.0/23 has prefix length 23 (expected /24 like the first site"),
        Arguments.of(List.of(), "address plan has no site"));
  }

  @ParameterizedTest
  @MethodSource("badSites")
  void rejectsBadSiteCombinations(List<Site> sites, String message) {
    AddressPlan.Builder b = AddressPlan.builder();
    sites.forEach(b::site);
    assertThatThrownBy(b::build)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(message);
  }

  @Test
  void rejectsBadSites() {
    assertThatThrownBy(() -> Site.of("A", Cidr.parse("10.0.0.0/24"))).hasMessageContaining("'A'");
    assertThatThrownBy(() -> Site.of("a", Cidr.parse("10.0.0.0/31")))
        .hasMessageContaining("10.0.0.0/31");
    assertThatThrownBy(() -> Site.of("a", Cidr.parse("fd00::/64"))).hasMessageContaining("IPv4");
    assertThatThrownBy(
            () ->
                new Site("a", Cidr.parse("10.0.0.0/24"), Cidr.parse("10.1.0.0/16"), CidrSet.any()))
        .hasMessageContaining("IPv6");
    assertThatThrownBy(
            () -> new Site("a", Cidr.parse("10.0.0.0/24"), Cidr.parse("fd00::/121"), CidrSet.any()))
        .hasMessageContaining("expected a prefix length of at most 120");
  }

  @Test
  void rejectsBadBuilderArguments() {
    assertThatThrownBy(() -> AddressPlan.builder().courierCount(-1))
        .hasMessage("courier count -1 (expected" + " 0..100000)");
    assertThatThrownBy(() -> AddressPlan.builder().courierVariants(List.of()))
        .hasMessageContaining("no courier");
    assertThatThrownBy(() -> AddressPlan.builder().courierVariants(List.of("courier", "courier")))
        .hasMessageContaining("duplicates");
    assertThatThrownBy(() -> AddressPlan.builder().courierVariants(List.of("relay")))
        .hasMessageContaining("'relay'");
  }

  @Test
  void describesItself() {
    AddressPlan plan = single(Style.POOLED);
    assertThat(plan.toString())
        .startsWith("AddressPlan[pooled, couriers 0..50 of [courier, courier2], sites [");
    assertThat(plan.hostNames().maxCourier()).isEqualTo(50);
    assertThat(plan.style()).isEqualTo(Style.POOLED);
    assertThat(plan.variants()).containsExactly("courier", "courier2");
  }
}
