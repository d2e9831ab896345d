// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPlan.Site;
import io.github.apnsproxy.core.AddressPlan.Style;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.ProxyConfig.DeniedClients;
import io.github.apnsproxy.core.ProxyConfig.ZoneOther;
import io.github.apnsproxy.core.internal.Literals;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProxyConfigTest {
  private static final String UPSTREAM = "upstream.dns=192.0.2.53\n";

  @TempDir Path dir;

  static InetAddress ip(String s) {
    return Literals.parseAddress(s);
  }

  static InetSocketAddress sa(String s) {
    return Literals.parseSocketAddress(s, -1);
  }

  private Path write(String name, String content) throws IOException {
    Path f = dir.resolve(name);
    Files.writeString(f, content, StandardCharsets.UTF_8);
    return f;
  }

  private ProxyConfig loadText(String content) throws IOException {
    return ProxyConfig.load(write("proxy.properties", content));
  }

  /** A hosts file naming every upstream host of {@code plan}, but {@code skip} of them. */
  private Path hostsFor(AddressPlan plan, int skip) throws IOException {
    StringBuilder sb = new StringBuilder("# generated\n");
    Set<String> names = new HashSet<>();
    for (ApnsHost h : plan.hosts()) {
      for (ApnsHost u : plan.upstreamsFor(h)) {
        names.add(u.name());
      }
    }
    names.stream().sorted().skip(skip).forEach(n -> sb.append("17.57.146.20 ").append(n).append('\n'));
    return write("hosts", sb.toString());
  }

  @Test
  void defaultsMatchTheTable() {
    ProxyConfig c = ProxyConfig.defaults();

    AddressPlan plan = c.addressPlan();
    assertThat(plan.sites()).containsExactly(Site.of("default", Cidr.parse("10.100.100.0/24")));
    assertThat(plan.style()).isEqualTo(Style.EXACT);
    assertThat(plan.courierCount()).isEqualTo(50);
    assertThat(c.courierCount()).isEqualTo(50);
    assertThat(plan.variants()).containsExactly("courier", "courier2");
    assertThat(plan.ports(Kind.COURIER)).containsExactly(5223, 443);
    assertThat(plan.ports(Kind.INIT)).containsExactly(443);
    assertThat(plan.ports(Kind.PROVIDER)).containsExactly(443, 2197);
    assertThat(c.hostNames().maxCourier()).isEqualTo(50);
    assertThat(c.addressPolicy()).isEqualTo(AddressPolicy.defaults());
    assertThat(c.dnsListen()).containsExactly(sa("0.0.0.0:53"));
    assertThat(c.dnsTtl()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.dnsNegativeTtl()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.dnsForward()).isEmpty();
    assertThat(c.dnsZoneOther()).isEqualTo(ZoneOther.NXDOMAIN);
    assertThat(c.dnsNsName()).isEqualTo("ns.push.apple.com");
    assertThat(c.dnsNsAddress()).isEmpty();
    assertThat(c.dnsTxtCount()).isEqualTo(50);
    assertThat(c.dnsUpstreamCheck()).isFalse();
    assertThat(c.dnsDeniedClients()).isEqualTo(DeniedClients.REFUSE);
    assertThat(c.dnsTcpIdleTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.dnsTcpMaxConnections()).isEqualTo(256);
    assertThat(c.dnsThreads()).isEqualTo(2);
    assertThat(c.upstreamDns()).isEmpty();
    assertThat(c.upstreamHosts()).isEmpty();
    assertThat(c.hostsResolver()).isEmpty();
    assertThat(c.upstreamTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(c.upstreamTtlMin()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.upstreamTtlMax()).isEqualTo(Duration.ofHours(1));
    assertThat(c.upstreamServeStale()).isEqualTo(Duration.ofDays(1));
    assertThat(c.upstreamStaleAnswerTimeout()).isEqualTo(Duration.ofMillis(1800));
    assertThat(c.tcpListen()).isEmpty();
    assertThat(c.tcpCourierPorts()).containsExactly(5223, 443);
    assertThat(c.tcpInitPorts()).containsExactly(443);
    assertThat(c.tcpApiPorts()).containsExactly(443, 2197);
    assertThat(c.tcpConnectTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.tcpIdleTimeout()).isEqualTo(Duration.ofHours(1));
    assertThat(c.tcpRouteTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.tcpDrainTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.tcpMaxConnections()).isEqualTo(50_000);
    assertThat(c.tcpMaxPerClient()).isZero();
    assertThat(c.tcpThreads()).isZero();
    assertThat(c.tcpReusePort()).isFalse();
    assertThat(c.tcpKeepaliveIdle()).isEqualTo(Duration.ofMinutes(5));
    assertThat(c.tcpKeepaliveInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.metricsListen()).isEmpty();
    assertThat(c.statsInterval()).isEqualTo(Duration.ofMinutes(1));
  }

  @Test
  void defaultsNeedUpstreamSettingsToBuild() {
    assertThatThrownBy(() -> ProxyConfig.builder().build()).isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.dns")
        .hasMessageStartingWith("upstream.dns = '': missing (expected DNS servers")
        .hasMessageContaining("209 missing, 0-courier.push.apple.com and 208 more");
    assertThatThrownBy(() -> ProxyConfig.fromProperties(new Properties())).isInstanceOf(ConfigException.class);
  }

  @Test
  void keysDescribeEveryKeyOnce() {
    List<ProxyConfig.Key> keys = ProxyConfig.keys();
    List<String> names = keys.stream().map(ProxyConfig.Key::name).toList();

    assertThat(names).doesNotHaveDuplicates().contains("plan.ipv4", "plan.ipv6", "plan.style", "plan.sites",
        "site.NAME.ipv4", "site.NAME.ipv6", "site.NAME.clients", "courier.count", "courier.variants", "dns.listen",
        "dns.ttl", "dns.negative-ttl", "dns.forward", "dns.zone-other", "dns.ns-name", "dns.ns-address",
        "dns.txt-count", "dns.upstream-check", "dns.denied-clients", "dns.tcp-idle-timeout",
        "dns.tcp-max-connections", "dns.threads", "upstream.dns", "upstream.hosts", "upstream.timeout",
        "upstream.ttl-min", "upstream.ttl-max", "upstream.serve-stale", "upstream.stale-answer-timeout",
        "upstream.allow", "clients.allow",
        "tcp.listen", "tcp.courier-ports", "tcp.init-ports", "tcp.api-ports", "tcp.connect-timeout",
        "tcp.idle-timeout", "tcp.route-timeout", "tcp.drain-timeout", "tcp.max-connections", "tcp.max-per-client",
        "tcp.threads", "tcp.reuse-port", "tcp.keepalive-idle", "tcp.keepalive-interval", "metrics.listen",
        "stats.interval").hasSize(47);
    assertThat(keys).allSatisfy(k -> {
      assertThat(k.meaning()).isNotBlank().endsWith(".");
      assertThat(k.defaultText()).isNotBlank();
    });
    assertThat(keys.stream().filter(ProxyConfig.Key::isSiteKey).map(ProxyConfig.Key::name))
        .containsExactly("site.NAME.ipv4", "site.NAME.ipv6", "site.NAME.clients");
    assertThat(ProxyConfig.keysAsMarkdown().lines()).hasSize(2 + 47)
        .contains("| `dns.ttl` | `30s` | TTL of synthesized answers (whole seconds). |")
        .contains("| `dns.txt-count` | = courier.count | The count=N in TXT push.apple.com. |")
        .contains("| `plan.sites` | empty | Optional comma list of site names; then site.NAME.* replace plan.ipv4 and"
            + " plan.ipv6. |");
  }

  @Test
  void everyLiteralDefaultTextIsTheEffectiveDefault() {
    Map<String, String> effective = ProxyConfig.defaults().effectiveValues();
    int literal = 0;
    for (ProxyConfig.Key k : ProxyConfig.keys()) {
      String shown = k.defaultText();
      if (k.isSiteKey() || Set.of("none", "empty").contains(shown) || k.name().equals("dns.txt-count")
          || k.name().equals("upstream.dns")) {
        continue;
      }
      // what the table shows, set explicitly, gives what the default gives
      ProxyConfig explicit = ProxyConfig.builder().set("upstream.dns", "192.0.2.53").set(k.name(), shown).build();
      assertThat(explicit.effectiveValues().get(k.name())).as(k.name()).isEqualTo(effective.get(k.name()));
      literal++;
    }
    assertThat(literal).isEqualTo(47 - 3 - 2 - 7);
    assertThat(ProxyConfig.keys()).filteredOn(k -> !k.isSiteKey() && k.defaultText().equals("none"))
        .allSatisfy(k -> assertThat(effective.get(k.name())).as(k.name()).isEmpty());
    assertThat(ProxyConfig.keys()).filteredOn(k -> k.defaultText().equals("empty"))
        .allSatisfy(k -> assertThat(effective.get(k.name())).as(k.name()).isEmpty());
  }

  @Test
  void effectiveValuesReadBackToTheSameConfig() throws IOException {
    Path hosts = write("pinned", "17.0.0.1 0-courier.push.apple.com\n");
    ProxyConfig c = ProxyConfig.builder()
        .set("upstream.dns", "192.0.2.53, [2001:db8::53]:5353")
        .set("upstream.hosts", hosts.toString())
        .set("plan.ipv6", "fd00:a::/64")
        .set("dns.ttl", "2m")
        .set("tcp.listen", "0.0.0.0, ::")
        .set("metrics.listen", "127.0.0.1:9100")
        .set("courier.count", "20")
        .build();

    Properties p = c.toProperties();
    ProxyConfig again = ProxyConfig.fromProperties(p);

    assertThat(again.effectiveValues()).isEqualTo(c.effectiveValues());
    assertThat(c.effectiveValues().keySet()).startsWith("plan.ipv4", "plan.ipv6", "plan.style", "plan.sites");
    assertThat(p).containsEntry("upstream.dns", "192.0.2.53:53,[2001:db8:0:0:0:0:0:53]:5353")
        .containsEntry("dns.ttl", "2m").containsEntry("dns.txt-count", "20").containsEntry("plan.ipv6",
            "fd00:a:0:0:0:0:0:0/64").containsEntry("dns.ns-address", "").containsEntry("plan.sites", "");
    assertThat(again.upstreamDns()).containsExactly(sa("192.0.2.53:53"), sa("[2001:db8::53]:5353"));
    assertThat(again.tcpListen()).containsExactly(ip("0.0.0.0"), ip("::"));
    assertThat(again.metricsListen()).contains(sa("127.0.0.1:9100"));
    assertThat(c.toString()).startsWith("ProxyConfig[plan.ipv4=10.100.100.0/24, ");
  }

  @Test
  void loadsEveryKeyFromAFile() throws IOException {
    ProxyConfig c = loadText(String.join("\n",
        "# every key, not at its default",
        "plan.ipv4 = 10.200.0.0/22",
        "plan.ipv6 = fd00:b::/64",
        "plan.style = POOLED",
        "courier.count = 200",
        "courier.variants = courier , courier2,courier3",
        "dns.listen = 127.0.0.1:5353, [::1]",
        "dns.ttl = 1m",
        "dns.negative-ttl = 0",
        "dns.forward = 192.0.2.1",
        "dns.zone-other = forward",
        "dns.ns-name = NS1.Example.NET.",
        "dns.ns-address = 10.200.0.53",
        "dns.txt-count = 100",
        "dns.upstream-check = TRUE",
        "dns.denied-clients = drop",
        "dns.tcp-idle-timeout = 500ms",
        "dns.tcp-max-connections = 10",
        "dns.threads = 4",
        "upstream.dns = 192.0.2.53:5300",
        "upstream.timeout = 1500ms",
        "upstream.ttl-min = 0",
        "upstream.ttl-max = 1d",
        "upstream.serve-stale = 0",
        "upstream.stale-answer-timeout = 250ms",
        "upstream.allow = any",
        "clients.allow = 10.0.0.0/8, fd00::/8",
        "tcp.listen = 0.0.0.0",
        "tcp.courier-ports = 5223",
        "tcp.init-ports = 443, 8443",
        "tcp.api-ports = 2197",
        "tcp.connect-timeout = 3s",
        "tcp.idle-timeout = 0",
        "tcp.route-timeout = 4s",
        "tcp.drain-timeout = 0",
        "tcp.max-connections = 100",
        "tcp.max-per-client = 7",
        "tcp.threads = 3",
        "tcp.reuse-port = true",
        "tcp.keepalive-idle = 2m",
        "tcp.keepalive-interval = 10s",
        "metrics.listen = [::1]:9100",
        "stats.interval = 0",
        ""));

    AddressPlan plan = c.addressPlan();
    assertThat(plan.sites()).containsExactly(new Site("default", Cidr.parse("10.200.0.0/22"),
        Cidr.parse("fd00:b::/64"), CidrSet.any()));
    assertThat(plan.style()).isEqualTo(Style.POOLED);
    assertThat(c.courierCount()).isEqualTo(200);
    assertThat(c.hostNames().tryParse("200-courier3.push.apple.com")).isPresent();
    assertThat(plan.variants()).containsExactly("courier", "courier2", "courier3");
    assertThat(plan.ports(Kind.COURIER)).containsExactly(5223);
    assertThat(plan.ports(Kind.INIT)).containsExactly(443, 8443);
    assertThat(plan.ports(Kind.PROVIDER)).containsExactly(2197);
    assertThat(c.dnsListen()).containsExactly(sa("127.0.0.1:5353"), sa("[::1]:53"));
    assertThat(c.dnsTtl()).isEqualTo(Duration.ofMinutes(1));
    assertThat(c.dnsNegativeTtl()).isZero();
    assertThat(c.dnsForward()).containsExactly(sa("192.0.2.1:53"));
    assertThat(c.dnsZoneOther()).isEqualTo(ZoneOther.FORWARD);
    assertThat(c.dnsNsName()).isEqualTo("ns1.example.net");
    assertThat(c.dnsNsAddress()).contains(ip("10.200.0.53"));
    assertThat(c.dnsTxtCount()).isEqualTo(100);
    assertThat(c.dnsUpstreamCheck()).isTrue();
    assertThat(c.dnsDeniedClients()).isEqualTo(DeniedClients.DROP);
    assertThat(c.dnsTcpIdleTimeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.dnsTcpMaxConnections()).isEqualTo(10);
    assertThat(c.dnsThreads()).isEqualTo(4);
    assertThat(c.upstreamDns()).containsExactly(sa("192.0.2.53:5300"));
    assertThat(c.upstreamTimeout()).isEqualTo(Duration.ofMillis(1500));
    assertThat(c.upstreamTtlMin()).isZero();
    assertThat(c.upstreamTtlMax()).isEqualTo(Duration.ofDays(1));
    assertThat(c.upstreamServeStale()).isZero();
    assertThat(c.upstreamStaleAnswerTimeout()).isEqualTo(Duration.ofMillis(250));
    assertThat(c.addressPolicy().upstreams()).isEqualTo(CidrSet.any());
    assertThat(c.addressPolicy().clients()).isEqualTo(CidrSet.parse("10.0.0.0/8,fd00::/8"));
    assertThat(c.tcpListen()).containsExactly(ip("0.0.0.0"));
    assertThat(c.tcpCourierPorts()).containsExactly(5223);
    assertThat(c.tcpInitPorts()).containsExactly(443, 8443);
    assertThat(c.tcpApiPorts()).containsExactly(2197);
    assertThat(c.tcpConnectTimeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(c.tcpIdleTimeout()).isZero();
    assertThat(c.tcpRouteTimeout()).isEqualTo(Duration.ofSeconds(4));
    assertThat(c.tcpDrainTimeout()).isZero();
    assertThat(c.tcpMaxConnections()).isEqualTo(100);
    assertThat(c.tcpMaxPerClient()).isEqualTo(7);
    assertThat(c.tcpThreads()).isEqualTo(3);
    assertThat(c.tcpReusePort()).isTrue();
    assertThat(c.tcpKeepaliveIdle()).isEqualTo(Duration.ofMinutes(2));
    assertThat(c.tcpKeepaliveInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.metricsListen()).contains(sa("[::1]:9100"));
    assertThat(c.statsInterval()).isZero();
  }

  @Test
  void loadsSeveralSites() throws IOException {
    ProxyConfig c = loadText(UPSTREAM
        + "plan.sites = east, west\n"
        + "site.east.ipv4 = 10.100.100.0/24\n"
        + "site.east.ipv6 = fd00:e::/64\n"
        + "site.east.clients = 10.1.0.0/16\n"
        + "site.west.ipv4 = 10.100.101.0/24\n");

    AddressPlan plan = c.addressPlan();
    assertThat(plan.sites()).containsExactly(
        new Site("east", Cidr.parse("10.100.100.0/24"), Cidr.parse("fd00:e::/64"), CidrSet.parse("10.1.0.0/16")),
        new Site("west", Cidr.parse("10.100.101.0/24"), null, CidrSet.any()));
    assertThat(plan.addressesFor(ApnsHost.courier(1), ip("10.1.0.9")))
        .containsExactly(ip("10.100.100.2"), ip("fd00:e::2"));
    assertThat(c.effectiveValues()).doesNotContainKeys("plan.ipv4", "plan.ipv6")
        .containsEntry("plan.sites", "east,west").containsEntry("site.west.clients", "any")
        .containsEntry("site.west.ipv6", "");
    assertThat(ProxyConfig.fromProperties(c.toProperties()).effectiveValues()).isEqualTo(c.effectiveValues());
  }

  @Test
  void aHostsFileNamingEveryPlanHostReplacesUpstreamDns() throws IOException {
    Path hosts = hostsFor(ProxyConfig.defaults().addressPlan(), 0);

    ProxyConfig c = loadText("upstream.hosts = " + hosts.getFileName() + "\n");

    assertThat(c.upstreamDns()).isEmpty();
    assertThat(c.upstreamHosts()).contains(hosts.toAbsolutePath());
    UpstreamResolver r = c.hostsResolver().orElseThrow();
    assertThat(r.resolve("17-courier2.sandbox.push.apple.com").toCompletableFuture().join())
        .containsExactly(ip("17.57.146.20"));
  }

  @Test
  void aPooledPlanNeedsEveryPoolMemberInTheHostsFile() throws IOException {
    AddressPlan pooled = AddressPlan.builder().style(Style.POOLED).site(Cidr.parse("10.0.0.0/24")).build();
    Path hosts = hostsFor(pooled, 1);

    assertThatThrownBy(() -> loadText("plan.style = pooled\nupstream.hosts = " + hosts + "\n"))
        .isInstanceOf(ConfigException.class).hasFieldOrPropertyWithValue("key", "upstream.dns")
        .hasMessage("upstream.dns = '': missing, and upstream.hosts = '" + hosts + "' does not name"
            + " 0-courier.push.apple.com (expected DNS servers like 192.0.2.53, or a hosts file naming every plan"
            + " host)");
  }

  @Test
  void aHostsFileMissingSomeNamesNeedsUpstreamDns() throws IOException {
    Path hosts = hostsFor(ProxyConfig.defaults().addressPlan(), 3);

    assertThatThrownBy(() -> loadText("upstream.hosts = " + hosts + "\n")).isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.dns").hasMessageContaining("and 2 more");
    assertThat(loadText("upstream.hosts = " + hosts + "\n" + UPSTREAM).hostsResolver()).isPresent();
  }

  /** Each kind of mistake in a file: the message names the key and the value. */
  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      // key                 | value              | message after "KEY = 'VALUE': "
      "dns.ttl               | 5x                 | '5x' is not a duration (expected a whole number and a unit, like 500ms, 5s, 10m, 1h, 1d, or 0)",
      "dns.ttl               | 1500ms             | expected whole seconds up to 2147483647s",
      "dns.ttl               | -30s               | '-30s' is not a duration",
      "upstream.timeout      | 0                  | expected at least 1ms (0 is not allowed here)",
      "tcp.idle-timeout      | 1 h                | '1 h' is not a duration",
      "tcp.keepalive-idle    | 0                  | expected whole seconds 1s..32767s",
      "stats.interval        | \"\"                 | '' is not a duration",
      "plan.ipv4             | 10.100.100.1/24    | '10.100.100.1/24' is not a CIDR",
      "plan.ipv4             | 10.100.100.0/31    | not an IPv4 subnet of prefix length at most 30",
      "plan.ipv4             | fd00::/64          | not an IPv4 subnet",
      "plan.ipv6             | 10.0.0.0/8         | not an IPv6 prefix (expected like fd00:a::/64)",
      "clients.allow         | 10.0.0.0/33        | prefix length 33 of 10.0.0.0 (expected 0..32)",
      "upstream.allow        | 17.0.0.0/8,any     | 'any' must stand alone",
      "site.a.clients        | 10.0.0.0/8,        | empty element",
      "tcp.courier-ports     | 5223,70000         | bad port '70000' (expected 0..65535)",
      "tcp.api-ports         | 0                  | port 0 (expected 1..65535)",
      "tcp.init-ports        | \"\"                 | empty (expected at least one port 1..65535)",
      "tcp.init-ports        | 443,443            | duplicate element (expected each once)",
      "tcp.init-ports        | https              | bad port 'https'",
      "dns.listen            | 0.0.0.0:99999      | bad port '99999'",
      "dns.listen            | \"\"                 | empty (expected at least one address, like 0.0.0.0:53)",
      "dns.forward           | 192.0.2.1:0        | has port 0 (expected 1..65535)",
      "upstream.dns          | dns.example.com    | 'dns.example.com' is not an IP address",
      "metrics.listen        | 127.0.0.1          | has no port (expected address:port)",
      "dns.ns-address        | ns.example.com     | 'ns.example.com' is not an IP address",
      "tcp.listen            | 10.0.0.1:443       | is not an IP address",
      "dns.ns-name           | ns_1.example       | not a host name",
      "plan.style            | round-robin        | expected one of exact, pooled",
      "dns.zone-other        | refuse             | expected one of nxdomain, forward",
      "dns.denied-clients    | ignore             | expected one of refuse, drop",
      "dns.upstream-check    | yes                | expected true or false",
      "courier.count         | -1                 | expected a whole number 0..100000",
      "courier.count         | 100001             | expected a whole number 0..100000",
      "courier.count         | 12345678901        | expected a whole number 0..100000",
      "courier.count         | 5.0                | expected a whole number 0..100000",
      "tcp.max-per-client    | -5                 | expected a whole number 0..2147483647",
      "tcp.max-connections   | 0                  | expected a whole number 1..2147483647",
      "dns.threads           | 0                  | expected a whole number 1..1024",
      "dns.txt-count         | many               | expected a whole number 0..100000",
      "courier.variants      | courier,relay      | courier variant 'relay' (expected courier, courier2, ...)",
      "courier.variants      | \"\"                 | empty (expected at least one variant, like courier)",
      "courier.variants      | courier,,courier2  | empty list element",
      "plan.sites            | East               | bad site name 'East'",
      "plan.sites            | a,a                | duplicate element",
      "upstream.hosts        | no-such-file       | cannot read the file (NoSuchFileException: ",
  })
  void rejectsBadValuesNamingKeyAndValue(String key, String value, String reason) throws IOException {
    String expectedStart = key + " = '" + value + "': ";
    // in a file (upstream.dns set so that only the mistake can fail)
    String upstream = key.equals("upstream.dns") ? "" : UPSTREAM;
    assertThatThrownBy(() -> loadText(upstream + key + " = " + value + "\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", key)
        .hasMessageStartingWith(key.equals("upstream.hosts") ? key + " = '" : expectedStart)
        .hasMessageContaining(reason)
        .hasMessageNotContaining("\n");
    // and through the builder, at once
    assertThatThrownBy(() -> ProxyConfig.builder().set(key, value)).isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("value", value).hasMessageStartingWith(expectedStart)
        .hasMessageContaining(reason);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "dns.tll          | unknown key (did you mean dns.ttl?)",
      "DNS.TTL          | unknown key (did you mean dns.ttl?)",
      "upstream.dsn     | unknown key (did you mean upstream.dns?)",
      "tcp.courier-port | unknown key (did you mean tcp.courier-ports?)",
      "stats-interval   | unknown key (did you mean stats.interval?)",
      "site.a.ipv5      | unknown key (did you mean site.a.ipv4?)",
      "site.a.client    | unknown key (did you mean site.a.clients?)",
      "plan.ipv4.x      | unknown key (did you mean plan.ipv4?)",
      "site.NAME.ipv4   | bad site name 'NAME'",
      "site..ipv4       | bad site name ''",
      "frobnicate       | unknown key",
      "x                | unknown key",
  })
  void rejectsUnknownKeysSuggestingTheNearest(String key, String message) throws IOException {
    assertThatThrownBy(() -> loadText(UPSTREAM + key + " = 1\n")).isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", key)
        .hasMessageStartingWith(key + " = '1': " + message);
  }

  @Test
  void farOffKeysGetNoSuggestion() {
    assertThatThrownBy(() -> ProxyConfig.builder().set("frobnicate", "1")).hasMessage("frobnicate = '1': unknown"
        + " key");
  }

  @Test
  void aPlanThatDoesNotFitNamesThePlanKeys() throws IOException {
    assertThatThrownBy(() -> loadText(UPSTREAM + "plan.ipv4 = 10.0.0.0/26\n"))
        .isInstanceOf(ConfigException.class).hasFieldOrPropertyWithValue("key", "plan.ipv4")
        .hasMessage("plan.ipv4 = '10.0.0.0/26': with courier.count = 50, courier.variants = 'courier,courier2',"
            + " plan.style = exact: address plan does not fit: 51 couriers (0..50) x 2 variants x 2 environments + 5"
            + " reserved hosts need 209 addresses but 10.0.0.0/26 has 62 usable; use a /24 or larger subnet, at"
            + " most 13 as the courier count, or the pooled style (which needs 7)");
    assertThatThrownBy(() -> loadText(UPSTREAM + "courier.count = 100\n"))
        .hasFieldOrPropertyWithValue("key", "plan.ipv4").hasMessageContaining("courier.count = 100")
        .hasMessageContaining("use a /23");
    assertThat(loadText(UPSTREAM + "plan.ipv4 = 10.0.0.0/26\nplan.style = pooled\n").addressPlan().style())
        .isEqualTo(Style.POOLED);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      // the keys (\n between lines)                                             | key              | message start
      "plan.ipv4=10.0.0.0/24\\nplan.sites=a\\nsite.a.ipv4=10.0.1.0/24           | plan.ipv4         | plan.ipv4 = '10.0.0.0/24': set together with plan.sites = 'a'",
      "plan.ipv6=fd00::/64\\nplan.sites=a\\nsite.a.ipv4=10.0.1.0/24             | plan.ipv6         | plan.ipv6 = 'fd00:0:0:0:0:0:0:0/64': set together with plan.sites",
      "plan.sites=a\\nsite.a.ipv4=10.0.1.0/24\\nsite.b.ipv4=10.0.2.0/24         | site.b.ipv4       | site.b.ipv4 = '10.0.2.0/24': site 'b' is not in plan.sites (expected one of [a])",
      "plan.sites=a\\nsite.a.ipv4=10.0.1.0/24\\nsite.c.clients=any              | site.c.clients    | site.c.clients = 'any': site 'c' is not in plan.sites",
      "site.a.ipv4=10.0.1.0/24                                                 | site.a.ipv4       | site.a.ipv4 = '10.0.1.0/24': site 'a' is not in plan.sites, which is empty",
      "plan.sites=a,b\\nsite.a.ipv4=10.0.1.0/24\\nsite.b.clients=10.2.0.0/16    | site.b.ipv4       | site.b.ipv4 = '': missing (expected the virtual IPv4 subnet of site 'b'",
      "plan.sites=a,b\\nsite.a.ipv4=10.0.0.0/24\\nsite.b.ipv4=10.0.0.0/24       | plan.sites        | plan.sites = 'a,b': with courier.count = 50, courier.variants = 'courier,courier2', plan.style = exact: sites 'a' and 'b' overlap",
      "plan.sites=a,b\\nsite.a.ipv4=10.0.0.0/24\\nsite.b.ipv4=10.0.2.0/23       | plan.sites        | plan.sites = 'a,b': with courier.count = 50",
      "plan.ipv6=fd00::/121                                                    | plan.ipv6         | plan.ipv6 = 'fd00:0:0:0:0:0:0:0/121': smaller than the IPv4 subnet 10.100.100.0/24 (expected a prefix length of at most 120)",
      "plan.sites=a\\nsite.a.ipv4=10.0.0.0/24\\nsite.a.ipv6=fd00::/125          | site.a.ipv6       | site.a.ipv6 = 'fd00:0:0:0:0:0:0:0/125': smaller than the IPv4 subnet",
      "upstream.ttl-min=2h                                                     | upstream.ttl-min  | upstream.ttl-min = '2h': above upstream.ttl-max = '1h' (expected ttl-min <= ttl-max)",
      "dns.zone-other=forward\\nupstream.dns=                                  | dns.zone-other    | dns.zone-other = 'forward': forwards to upstream.dns, which is empty",
      "dns.ttl=30s\\ndns.ttl=60s                                                | dns.ttl           | dns.ttl = '60s': set twice in the file, first to '30s' (expected each key once)",
  })
  void rejectsBrokenRulesBetweenKeys(String lines, String key, String message) {
    String text = (lines.contains("upstream.dns") ? "" : UPSTREAM) + lines.replace("\\n", "\n") + "\n";
    assertThatThrownBy(() -> loadText(text)).isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", key).hasMessageStartingWith(message);
  }

  @Test
  void anEmptyPlanIpv6IsAllowedWithSites() throws IOException {
    ProxyConfig c = loadText(UPSTREAM + "plan.ipv6 =\nplan.sites = a\nsite.a.ipv4 = 10.0.1.0/24\n");
    assertThat(c.addressPlan().sites()).extracting(Site::name).containsExactly("a");
  }

  @Test
  void aBadHostsFileLineNamesTheKeyTheFileAndTheLine() throws IOException {
    Path hosts = write("hosts", "17.0.0.1 0-courier.push.apple.com\n17.0.0.1\n");

    assertThatThrownBy(() -> loadText(UPSTREAM + "upstream.hosts = hosts\n")).isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.hosts")
        .hasMessage("upstream.hosts = '" + hosts.toAbsolutePath() + "': " + hosts.toAbsolutePath() + ":2:"
            + " '17.0.0.1' (expected ADDRESS NAME...)");
    write("hosts", "17.0.0.1 0-courier.push.apple.com\n17.0.0.x 1-courier.push.apple.com\n");
    assertThatThrownBy(() -> loadText(UPSTREAM + "upstream.hosts = hosts\n"))
        .hasMessageContaining(":2: '17.0.0.x' is not an IP address");
  }

  @Test
  void aRelativeHostsPathIsRelativeToTheConfigFile() throws IOException {
    Files.createDirectories(dir.resolve("conf"));
    write("conf/pinned.hosts", "17.0.0.1 0-courier.push.apple.com\n");
    ProxyConfig c = ProxyConfig.load(write("conf/proxy.properties", UPSTREAM + "upstream.hosts=pinned.hosts\n"));
    assertThat(c.upstreamHosts()).contains(dir.resolve("conf/pinned.hosts").toAbsolutePath());
  }

  @Test
  void aMissingConfigFileIsAnIoException() {
    assertThatThrownBy(() -> ProxyConfig.load(dir.resolve("missing.properties"))).isInstanceOf(IOException.class);
  }

  @Test
  void aMalformedEscapeIsAnIoExceptionNamingTheFile() throws IOException {
    Path f = write("bad.properties", "dns.ttl = \\u00zz\n");
    assertThatThrownBy(() -> ProxyConfig.load(f)).isInstanceOf(IOException.class).hasMessageStartingWith(f + ": ");
  }

  @Test
  void aFileThatIsNotUtf8IsAnIoExceptionNamingTheFile() throws IOException {
    Path f = dir.resolve("latin1.properties");
    Files.write(f, "dns.ns-name = ns.caf\u00e9.example\n".getBytes(StandardCharsets.ISO_8859_1));
    assertThatThrownBy(() -> ProxyConfig.load(f)).isInstanceOf(IOException.class)
        .hasMessageStartingWith(f + ": not UTF-8 text");
  }

  @Test
  void utf8ValuesAreReadAsUtf8() throws IOException {
    assertThatThrownBy(() -> loadText(UPSTREAM + "dns.ns-name = ns.caf\u00e9.example\n"))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("dns.ns-name = 'ns.caf\u00e9.example': not a"
            + " host name");
  }

  @Test
  void builderSetChecksAtOnceAndAllowsResetting() {
    ProxyConfig.Builder b = ProxyConfig.builder().set("upstream.dns", "192.0.2.53");
    assertThatThrownBy(() -> b.set("courier.count", "lots")).isInstanceOf(ConfigException.class);
    ProxyConfig c = b.set("courier.count", "10").set("courier.count", " 20 ").set("dns.txt-count", "7").build();
    assertThat(c.courierCount()).isEqualTo(20);
    assertThat(c.dnsTxtCount()).isEqualTo(7);
    assertThat(c.effectiveValues()).containsEntry("courier.count", "20").containsEntry("dns.txt-count", "7");
    assertThatThrownBy(() -> ProxyConfig.builder().set("dns.ttl", null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void fromPropertiesRejectsNonStringEntries() {
    Properties p = new Properties();
    p.put("dns.ttl", 30);
    assertThatThrownBy(() -> ProxyConfig.fromProperties(p)).isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("dns.ttl = '30': not a string");
  }

  @Test
  void fromPropertiesReportsTheFirstMistakeInKeyOrder() {
    Properties p = new Properties();
    p.setProperty("stats.interval", "x");
    p.setProperty("plan.ipv4", "x");
    p.setProperty("dns.ttl", "x");
    assertThatThrownBy(() -> ProxyConfig.fromProperties(p)).hasFieldOrPropertyWithValue("key", "plan.ipv4");
  }

  @Test
  void configExceptionIsOneLine() {
    ConfigException e = new ConfigException("k", "v", "line one\n  line two");
    assertThat(e).hasMessage("k = 'v': line one line two").isInstanceOf(IllegalArgumentException.class);
    assertThat(e.key()).isEqualTo("k");
    assertThat(e.value()).isEqualTo("v");
    assertThat(ProxyConfig.keys().stream().map(ProxyConfig.Key::name).collect(Collectors.toSet())).contains("dns.ttl");
  }

  @Test
  void aBarePortForMetricsMeansLoopback() {
    ProxyConfig c = ProxyConfig.builder().set("plan.ipv4", "10.100.100.0/24").set("upstream.dns", "192.0.2.53")
        .set("metrics.listen", "9464").build();
    assertThat(c.metricsListen()).contains(sa("127.0.0.1:9464"));
  }
}
