// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPlan.Site;
import io.github.apnsproxy.core.AddressPlan.Style;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.core.config.ConfigException;
import io.github.apnsproxy.tcp.ProxyUsers;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The properties file mapped onto the builders: values, defaults read back, diagnostics. */
class ProxyConfigTest {
  private static final String UPSTREAM = "upstream.dns=192.0.2.53\n";

  @TempDir Path dir;

  static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal); // a literal: never looked up
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private Path write(String name, String content) throws IOException {
    Path f = dir.resolve(name);
    Files.writeString(f, content, StandardCharsets.UTF_8);
    return f;
  }

  private ProxySetup loadText(String content) throws IOException {
    return ProxySetup.of(
        ProxyConfig.load(write("proxy.properties", content)), OptionalLong.empty());
  }

  private static ProxySetup setup(Map<String, String> keys) {
    ProxyConfig.Builder b = ProxyConfig.builder();
    keys.forEach(b::set);
    return ProxySetup.of(b.build(), OptionalLong.empty());
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
    names.stream()
        .sorted()
        .skip(skip)
        .forEach(n -> sb.append("17.57.146.20 ").append(n).append('\n'));
    return write("hosts", sb.toString());
  }

  @Test
  void defaultsAreTheBuildersDefaults() {
    ProxySetup d = ProxySetup.defaults();

    AddressPlan plan = d.plan();
    assertThat(plan.sites()).containsExactly(Site.of("default", Cidr.parse("10.100.100.0/24")));
    assertThat(plan.style()).isEqualTo(Style.EXACT);
    assertThat(plan.courierCount()).isEqualTo(50);
    assertThat(plan.ports(Kind.COURIER)).containsExactly(5223, 443);
    assertThat(d.policy()).isEqualTo(AddressPolicy.defaults());
    assertThat(d.hostsResolver()).isEmpty();
    Map<String, String> expected = new LinkedHashMap<>();
    expected.put("plan.ipv4", "10.100.100.0/24");
    expected.put("plan.ipv6", "");
    expected.put("plan.style", "exact");
    expected.put("plan.sites", "");
    expected.put("courier.count", "50");
    expected.put("courier.variants", "courier,courier2");
    expected.put("dns.listen", "0.0.0.0:53");
    expected.put("dns.ttl", "30s");
    expected.put("dns.negative-ttl", "30s");
    expected.put("dns.forward", "");
    expected.put("dns.zone-other", "nxdomain");
    expected.put("dns.ns-name", "ns.push.apple.com");
    expected.put("dns.ns-address", "");
    expected.put("dns.txt-count", "50");
    expected.put("dns.upstream-check", "false");
    expected.put("dns.denied-clients", "refuse");
    expected.put("dns.tcp-idle-timeout", "10s");
    expected.put("dns.tcp-max-connections", "256");
    expected.put("dns.tcp-max-per-client", "64");
    expected.put("dns.threads", "2");
    expected.put("upstream.dns", "");
    expected.put("upstream.hosts", "");
    expected.put("upstream.timeout", "2s");
    expected.put("upstream.ttl-min", "10s");
    expected.put("upstream.ttl-max", "1h");
    expected.put("upstream.serve-stale", "1d");
    expected.put("upstream.stale-answer-timeout", "1800ms");
    expected.put("upstream.proxy", "");
    expected.put("upstream.proxy-credentials", "");
    expected.put("upstream.family", "any");
    expected.put(
        "upstream.allow",
        "17.0.0.0/8,2620:149:a44::/48,2403:300:a42::/48,2403:300:a51::/48,2a01:b740:a42::/48");
    expected.put(
        "clients.allow", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7");
    expected.put("tcp.listen", "");
    expected.put("tcp.courier-ports", "5223,443");
    expected.put("tcp.init-ports", "443");
    expected.put("tcp.api-ports", "443,2197");
    expected.put("tcp.connect-timeout", "5s");
    expected.put("tcp.idle-timeout", "1h");
    expected.put("tcp.route-timeout", "10s");
    expected.put("tcp.drain-timeout", "30s");
    expected.put("tcp.max-connections", "50000");
    expected.put("tcp.max-per-client", "0");
    expected.put("tcp.threads", Integer.toString(Runtime.getRuntime().availableProcessors()));
    expected.put("tcp.reuse-port", "false");
    expected.put("tcp.keepalive-idle", "5m");
    expected.put("tcp.keepalive-interval", "30s");
    expected.put("tcp.sni", "off");
    expected.put("tcp.preface-timeout", "10s");
    expected.put("tcp.proxy-protocol", "off");
    expected.put("tcp.proxy-protocol-from", "");
    expected.put("connect.listen", "");
    expected.put("socks.listen", "");
    expected.put("connect.allow-addresses", "false");
    expected.put("connect.users", "");
    expected.put("connect.pac-address", "");
    expected.put("metrics.listen", "");
    expected.put("stats.interval", "1m");
    expected.put("log.access", "on");
    expected.put("log.level", "info");
    assertThat(d.effectiveValues()).containsExactlyEntriesOf(expected);
  }

  @Test
  void defaultsNeedUpstreamSettingsToBuild() {
    assertThatThrownBy(() -> ProxySetup.of(ProxyConfig.empty()))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.dns")
        .hasMessageStartingWith("upstream.dns = '': missing (expected DNS servers")
        .hasMessageContaining("209 missing, 0-courier.push.apple.com and 208 more");
    assertThatThrownBy(() -> ProxySetup.of(ProxyConfig.fromProperties(new Properties())))
        .isInstanceOf(ConfigException.class);
  }

  @Test
  void effectiveValuesReadBackToTheSameConfig() throws IOException {
    Path hosts = write("pinned", "17.0.0.1 0-courier.push.apple.com\n");
    ProxySetup c =
        setup(
            Map.of(
                "upstream.dns", "192.0.2.53, [2001:db8::53]:5353",
                "upstream.hosts", hosts.toString(),
                "plan.ipv6", "fd00:a::/64",
                "dns.ttl", "2m",
                "tcp.listen", "0.0.0.0, ::",
                "metrics.listen", "127.0.0.1:9100",
                "courier.count", "20"));

    Properties p = new Properties();
    p.putAll(c.effectiveValues());
    ProxySetup again = ProxySetup.of(ProxyConfig.fromProperties(p), OptionalLong.empty());

    assertThat(again.effectiveValues()).isEqualTo(c.effectiveValues());
    assertThat(c.effectiveValues().keySet())
        .startsWith("plan.ipv4", "plan.ipv6", "plan.style", "plan.sites");
    assertThat(p)
        .containsEntry("upstream.dns", "192.0.2.53:53,[2001:db8::53]:5353")
        .containsEntry("dns.ttl", "2m")
        .containsEntry("dns.txt-count", "20")
        .containsEntry("plan.ipv6", "fd00:a::/64")
        .containsEntry("dns.ns-address", "")
        .containsEntry("plan.sites", "")
        .containsEntry("tcp.listen", "0.0.0.0,::")
        .containsEntry("metrics.listen", "127.0.0.1:9100");
  }

  /**
   * A sample value for every key, not its default: set alone, each must read back from the builders
   * as set.
   */
  static final Map<String, String> SAMPLES =
      Map.ofEntries(
          Map.entry("plan.ipv4", "10.200.0.0/22"),
          Map.entry("plan.ipv6", "fd00:b::/64"),
          Map.entry("plan.style", "pooled"),
          Map.entry("plan.sites", "a"),
          Map.entry("courier.count", "200"),
          Map.entry("courier.variants", "courier,courier2,courier3"),
          Map.entry("dns.listen", "127.0.0.1:5353,[::1]:53"),
          Map.entry("dns.ttl", "1m"),
          Map.entry("dns.negative-ttl", "0"),
          Map.entry("dns.forward", "192.0.2.1:53"),
          Map.entry("dns.zone-other", "forward"),
          Map.entry("dns.ns-name", "ns1.example.net"),
          Map.entry("dns.ns-address", "10.200.0.53"),
          Map.entry("dns.txt-count", "100"),
          Map.entry("dns.upstream-check", "true"),
          Map.entry("dns.denied-clients", "drop"),
          Map.entry("dns.tcp-idle-timeout", "500ms"),
          Map.entry("dns.tcp-max-connections", "10"),
          Map.entry("dns.tcp-max-per-client", "5"),
          Map.entry("dns.threads", "4"),
          Map.entry("upstream.dns", "192.0.2.53:5300"),
          Map.entry("upstream.hosts", "HOSTS"),
          Map.entry("upstream.timeout", "1500ms"),
          Map.entry("upstream.ttl-min", "0"),
          Map.entry("upstream.ttl-max", "1d"),
          Map.entry("upstream.serve-stale", "0"),
          Map.entry("upstream.stale-answer-timeout", "250ms"),
          Map.entry("upstream.proxy", "http://192.0.2.8:3128"),
          Map.entry("upstream.proxy-credentials", "CREDS"),
          Map.entry("upstream.family", "ipv4-first"),
          Map.entry("upstream.allow", "192.0.2.0/24"),
          Map.entry("clients.allow", "10.0.0.0/8,fd00::/8"),
          Map.entry("tcp.listen", "0.0.0.0"),
          Map.entry("tcp.courier-ports", "5223"),
          Map.entry("tcp.init-ports", "443,8443"),
          Map.entry("tcp.api-ports", "2197"),
          Map.entry("tcp.connect-timeout", "3s"),
          Map.entry("tcp.idle-timeout", "0"),
          Map.entry("tcp.route-timeout", "4s"),
          Map.entry("tcp.drain-timeout", "0"),
          Map.entry("tcp.max-connections", "100"),
          Map.entry("tcp.max-per-client", "7"),
          Map.entry("tcp.threads", "3"),
          Map.entry("tcp.reuse-port", "true"),
          Map.entry("tcp.keepalive-idle", "2m"),
          Map.entry("tcp.keepalive-interval", "10s"),
          Map.entry("tcp.sni", "on"),
          Map.entry("tcp.preface-timeout", "3s"),
          Map.entry("tcp.proxy-protocol", "v2"),
          Map.entry("tcp.proxy-protocol-from", "10.1.0.0/16,192.0.2.0/24"),
          Map.entry("connect.listen", "127.0.0.1:3128,[::1]:3128"),
          Map.entry("socks.listen", "127.0.0.1:1080"),
          Map.entry("connect.allow-addresses", "true"),
          Map.entry("connect.users", "USERS"),
          Map.entry("connect.pac-address", "proxy.example.net:3128"),
          Map.entry("metrics.listen", "[::1]:9100"),
          Map.entry("stats.interval", "0"),
          Map.entry("log.access", "off"),
          Map.entry("log.level", "debug"));

  @Test
  void everyKeyMapsOntoItsBuilderAndReadsBack() throws IOException {
    Path hosts = write("hosts", "192.0.2.20 0-courier.push.apple.com\n");
    Path creds = write("proxy-credentials", "user:secret\n");
    Path users = write("users", ProxyUsers.line("mdm", "pw".toCharArray()) + "\n");
    ProxySetup defaults = ProxySetup.defaults();
    for (ProxyKey<?> k : ProxyKeys.all()) {
      if (k.isSiteKey()) {
        continue;
      }
      assertThat(SAMPLES)
          .as("a sample value for %s (add one with a new key)", k.name())
          .containsKey(k.name());
      String sample =
          SAMPLES
              .get(k.name())
              .replace("HOSTS", hosts.toString())
              .replace("CREDS", creds.toString())
              .replace("USERS", users.toString());
      Map<String, String> keys = new LinkedHashMap<>();
      keys.put("upstream.dns", "192.0.2.53");
      keys.put(k.name(), sample);
      if (k.name().equals("plan.sites")) {
        keys.put("site.a.ipv4", "10.0.1.0/24");
      }
      // keys set together
      if (k.name().equals("tcp.proxy-protocol")) {
        keys.put("tcp.proxy-protocol-from", "10.0.0.0/8");
      }
      if (k.name().equals("tcp.proxy-protocol-from")) {
        keys.put("tcp.proxy-protocol", "any");
      }
      if (k.name().equals("upstream.proxy-credentials")) {
        keys.put("upstream.proxy", "http://192.0.2.8:3128");
      }
      if (k.name().equals("courier.count") || k.name().equals("courier.variants")) {
        keys.put("plan.ipv4", "10.0.0.0/22");
      }
      ProxySetup s = setup(keys);
      assertThat(k.effective(s)).as(k.name()).isEqualTo(sample).isNotEqualTo(k.effective(defaults));
    }
  }

  @Test
  void loadsSeveralSites() throws IOException {
    ProxySetup c =
        loadText(
            UPSTREAM
                + "plan.sites = east, west\n"
                + "site.east.ipv4 = 10.100.100.0/24\n"
                + "site.east.ipv6 = fd00:e::/64\n"
                + "site.east.clients = 10.1.0.0/16\n"
                + "site.west.ipv4 = 10.100.101.0/24\n");

    AddressPlan plan = c.plan();
    assertThat(plan.sites())
        .containsExactly(
            new Site(
                "east",
                Cidr.parse("10.100.100.0/24"),
                Cidr.parse("fd00:e::/64"),
                CidrSet.parse("10.1.0.0/16")),
            new Site("west", Cidr.parse("10.100.101.0/24"), null, CidrSet.any()));
    assertThat(plan.addressesFor(ApnsHost.courier(1), ip("10.1.0.9")))
        .containsExactly(ip("10.100.100.2"), ip("fd00:e::2"));
    assertThat(c.effectiveValues())
        .doesNotContainKeys("plan.ipv4", "plan.ipv6")
        .containsEntry("plan.sites", "east,west")
        .containsEntry("site.west.clients", "any")
        .containsEntry("site.west.ipv6", "");
    Properties p = new Properties();
    p.putAll(c.effectiveValues());
    assertThat(ProxySetup.of(ProxyConfig.fromProperties(p), OptionalLong.empty()).effectiveValues())
        .isEqualTo(c.effectiveValues());
  }

  @Test
  void aHostsFileNamingEveryPlanHostReplacesUpstreamDns() throws IOException {
    Path hosts = hostsFor(ProxySetup.defaults().plan(), 0);

    ProxySetup c = loadText("upstream.hosts = " + hosts.getFileName() + "\n");

    assertThat(c.effectiveValues())
        .containsEntry("upstream.dns", "")
        .containsEntry("upstream.hosts", hosts.toAbsolutePath().toString());
    UpstreamResolver r = c.hostsResolver().orElseThrow();
    assertThat(r.resolve("17-courier2.sandbox.push.apple.com").toCompletableFuture().join())
        .containsExactly(ip("17.57.146.20"));
    assertThat(c.warnings()).isEmpty();
  }

  @Test
  void aPooledPlanNeedsEveryPoolMemberInTheHostsFile() throws IOException {
    AddressPlan pooled =
        AddressPlan.builder().style(Style.POOLED).site(Cidr.parse("10.0.0.0/24")).build();
    Path hosts = hostsFor(pooled, 1);

    assertThatThrownBy(() -> loadText("plan.style = pooled\nupstream.hosts = " + hosts + "\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.dns")
        .hasMessage(
            "upstream.dns = '': missing, and upstream.hosts = '"
                + hosts
                + "' does not name"
                + " 0-courier.push.apple.com (expected DNS servers like 192.0.2.53, or a hosts file naming every plan"
                + " host)");
  }

  @Test
  void aHostsFileMissingSomeNamesNeedsUpstreamDns() throws IOException {
    Path hosts = hostsFor(ProxySetup.defaults().plan(), 3);

    assertThatThrownBy(() -> loadText("upstream.hosts = " + hosts + "\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.dns")
        .hasMessageContaining("and 2 more");
    assertThat(loadText("upstream.hosts = " + hosts + "\n" + UPSTREAM).hostsResolver()).isPresent();
  }

  /** Each kind of mistake in a file: the message names the key and the value. */
  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '"',
      value = {
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
        "tcp.idle-timeout      | 106752d            | expected at most 3650d",
        "tcp.drain-timeout     | 200000d            | expected at most 3650d",
        "upstream.serve-stale  | 999999999d         | expected at most 3650d",
        "tcp.connect-timeout   | 3651d              | expected at most 3650d",
      })
  void rejectsBadValuesNamingKeyAndValue(String key, String value, String reason)
      throws IOException {
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
    assertThatThrownBy(() -> ProxyConfig.builder().set(key, value))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("value", value)
        .hasMessageStartingWith(expectedStart)
        .hasMessageContaining(reason);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
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
    assertThatThrownBy(() -> loadText(UPSTREAM + key + " = 1\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", key)
        .hasMessageStartingWith(key + " = '1': " + message);
  }

  @Test
  void farOffKeysGetNoSuggestion() {
    assertThatThrownBy(() -> ProxyConfig.builder().set("frobnicate", "1"))
        .hasMessage("frobnicate = '1': unknown" + " key");
  }

  @Test
  void aPlanThatDoesNotFitNamesThePlanKeys() throws IOException {
    assertThatThrownBy(() -> loadText(UPSTREAM + "plan.ipv4 = 10.0.0.0/26\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "plan.ipv4")
        .hasMessage(
            "plan.ipv4 = '10.0.0.0/26': with courier.count = 50, courier.variants = 'courier,courier2',"
                + " plan.style = exact: address plan does not fit: 51 couriers (0..50) x 2 variants x 2 environments + 5"
                + " reserved hosts need 209 addresses but 10.0.0.0/26 has 62 usable; use a /24 or larger subnet, at"
                + " most 13 as the courier count, or the pooled style (which needs 7)");
    assertThatThrownBy(() -> loadText(UPSTREAM + "courier.count = 100\n"))
        .hasFieldOrPropertyWithValue("key", "plan.ipv4")
        .hasMessageContaining("courier.count = 100")
        .hasMessageContaining("use a /23");
    assertThat(loadText(UPSTREAM + "plan.ipv4 = 10.0.0.0/26\nplan.style = pooled\n").plan().style())
        .isEqualTo(Style.POOLED);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '"',
      value = {
        // the keys (\n between lines)                                             | key
        //  | message start
        "plan.ipv4=10.0.0.0/24\\nplan.sites=a\\nsite.a.ipv4=10.0.1.0/24           | plan.ipv4         | plan.ipv4 = '10.0.0.0/24': set together with plan.sites = 'a'",
        "plan.ipv6=fd00::/64\\nplan.sites=a\\nsite.a.ipv4=10.0.1.0/24             | plan.ipv6         | plan.ipv6 = 'fd00::/64': set together with plan.sites",
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
        "upstream.proxy=http://u:first-secret@192.0.2.8:3128\\nupstream.proxy=http://u:second-secret@192.0.2.8:3128 | upstream.proxy | upstream.proxy = 'http://u:***@192.0.2.8:3128': set twice in the file, first to 'http://u:***@192.0.2.8:3128' (expected each key once)",
        "upstream.proxi=http://u:secret@192.0.2.8:3128                           | upstream.proxi    | upstream.proxi = 'http://u:***@192.0.2.8:3128': unknown key",
        "tcp.proxy-protocol=v1                                                   | tcp.proxy-protocol-from | tcp.proxy-protocol-from = '': missing, but tcp.proxy-protocol = v1 (expected the CIDRs of the balancers",
        "tcp.proxy-protocol=any\\ntcp.proxy-protocol-from=                       | tcp.proxy-protocol-from | tcp.proxy-protocol-from = '': missing, but tcp.proxy-protocol = any",
        "tcp.proxy-protocol-from=10.0.0.0/8                                      | tcp.proxy-protocol | tcp.proxy-protocol = '': missing, but tcp.proxy-protocol-from = '10.0.0.0/8' is set (expected v1, v2 or any)",
        "tcp.proxy-protocol=off\\ntcp.proxy-protocol-from=10.0.0.0/8            | tcp.proxy-protocol | tcp.proxy-protocol = 'off': off, but tcp.proxy-protocol-from = '10.0.0.0/8' is set",
        "upstream.proxy-credentials=/dev/null                                    | upstream.proxy-credentials | upstream.proxy-credentials = '/dev/null': set, but upstream.proxy is empty",
        "upstream.proxy=http://192.0.2.8:3128\\nupstream.proxy-credentials=/dev/null | upstream.proxy-credentials | upstream.proxy-credentials = '/dev/null': cannot be read (proxy credentials file /dev/null is not a regular file)",
        "connect.users=/dev/null                                                 | connect.users     | connect.users = '/dev/null': not a regular file (expected a users file made with the passwd command)",
        "connect.users=/nonexistent/users                                        | connect.users     | connect.users = '/nonexistent/users': not a regular file",
        "tcp.sni=yes                                                             | tcp.sni           | tcp.sni = 'yes': expected on or off",
        "upstream.family=ipv5                                                    | upstream.family   | upstream.family = 'ipv5': address family 'ipv5' (expected any, ipv4, ipv6, ipv4-first or ipv6-first)",
        "connect.pac-address=proxy.example.net                                   | connect.pac-address | connect.pac-address = 'proxy.example.net': ",
      })
  void rejectsBrokenRulesBetweenKeys(String lines, String key, String message) {
    String text =
        (lines.contains("upstream.dns") ? "" : UPSTREAM) + lines.replace("\\n", "\n") + "\n";
    assertThatThrownBy(() -> loadText(text))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", key)
        .hasMessageStartingWith(message);
  }

  @Test
  void anUpstreamProxyNeedsNeitherUpstreamDnsNorHosts() throws IOException {
    ProxySetup c = loadText("upstream.proxy=socks5://192.0.2.9:1080\nupstream.family=ipv6\n");
    assertThat(c.splicer().egress().proxies()).hasSize(1);
    assertThat(c.resolver().servers()).isEmpty();
    assertThat(c.effectiveValues())
        .containsEntry("upstream.proxy", "socks5://192.0.2.9:1080")
        .containsEntry("upstream.dns", "")
        .containsEntry("upstream.family", "ipv6");
    // direct egress still needs them
    assertThatThrownBy(() -> loadText("upstream.proxy=\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.dns");
  }

  @Test
  void relativeCredentialsAndUsersFilesAreRelativeToTheConfigFile() throws IOException {
    write("creds", "user:secret\n");
    write("users", ProxyUsers.line("mdm", "pw".toCharArray()) + "\n");
    ProxySetup c =
        loadText(
            UPSTREAM
                + "upstream.proxy=http://192.0.2.8:3128\nupstream.proxy-credentials=creds\n"
                + "connect.listen=127.0.0.1:0\nconnect.users=users\n");
    assertThat(c.proxyCredentials()).contains(dir.resolve("creds").toAbsolutePath());
    assertThat(c.connectUsersFile()).contains(dir.resolve("users").toAbsolutePath());
    assertThat(c.splicer().egress().proxies().get(0).hasCredentials()).isTrue();
  }

  @Test
  void sniIsOnForEveryStyleWhenSetAndAlwaysForSingle() throws IOException {
    assertThat(loadText(UPSTREAM).sni()).isFalse();
    assertThat(loadText(UPSTREAM + "tcp.sni=on\n").sni()).isTrue();
    assertThat(loadText(UPSTREAM + "plan.style=single\n").effectiveValues())
        .containsEntry("tcp.sni", "on");
  }

  @Test
  void anEmptyPlanIpv6IsAllowedWithSites() throws IOException {
    ProxySetup c = loadText(UPSTREAM + "plan.ipv6 =\nplan.sites = a\nsite.a.ipv4 = 10.0.1.0/24\n");
    assertThat(c.plan().sites()).extracting(Site::name).containsExactly("a");
  }

  @Test
  void aBadHostsFileLineNamesTheKeyTheFileAndTheLine() throws IOException {
    Path hosts = write("hosts", "17.0.0.1 0-courier.push.apple.com\n17.0.0.1\n");

    assertThatThrownBy(() -> loadText(UPSTREAM + "upstream.hosts = hosts\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.hosts")
        .hasMessage(
            "upstream.hosts = '"
                + hosts.toAbsolutePath()
                + "': "
                + hosts.toAbsolutePath()
                + ":2:"
                + " '17.0.0.1' (expected ADDRESS NAME...)");
    write("hosts", "17.0.0.1 0-courier.push.apple.com\n17.0.0.x 1-courier.push.apple.com\n");
    assertThatThrownBy(() -> loadText(UPSTREAM + "upstream.hosts = hosts\n"))
        .hasMessageContaining(":2: '17.0.0.x' is not an IP address");
  }

  @Test
  void aRelativeHostsPathIsRelativeToTheConfigFile() throws IOException {
    Files.createDirectories(dir.resolve("conf"));
    write("conf/pinned.hosts", "17.0.0.1 0-courier.push.apple.com\n");
    ProxyConfig c =
        ProxyConfig.load(
            write("conf/proxy.properties", UPSTREAM + "upstream.hosts=pinned.hosts\n"));
    assertThat(c.get(ProxyKeys.UPSTREAM_HOSTS).orElseThrow().orElseThrow().path())
        .isEqualTo(dir.resolve("conf/pinned.hosts").toAbsolutePath());
  }

  @Test
  void aMissingConfigFileIsAnIoException() {
    assertThatThrownBy(() -> ProxyConfig.load(dir.resolve("missing.properties")))
        .isInstanceOf(IOException.class);
  }

  @Test
  void aMalformedEscapeIsAnIoExceptionNamingTheFile() throws IOException {
    Path f = write("bad.properties", "dns.ttl = \\u00zz\n");
    assertThatThrownBy(() -> ProxyConfig.load(f))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith(f + ": ");
  }

  @Test
  void aFileThatIsNotUtf8IsAnIoExceptionNamingTheFile() throws IOException {
    Path f = dir.resolve("latin1.properties");
    Files.write(f, "dns.ns-name = ns.caf\u00e9.example\n".getBytes(StandardCharsets.ISO_8859_1));
    assertThatThrownBy(() -> ProxyConfig.load(f))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith(f + ": not UTF-8 text");
  }

  @Test
  void utf8ValuesAreReadAsUtf8() throws IOException {
    assertThatThrownBy(() -> loadText(UPSTREAM + "dns.ns-name = ns.caf\u00e9.example\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("dns.ns-name = 'ns.caf\u00e9.example': not a" + " host name");
  }

  @Test
  void builderSetChecksAtOnceAndAllowsResetting() {
    ProxyConfig.Builder b = ProxyConfig.builder().set("upstream.dns", "192.0.2.53");
    assertThatThrownBy(() -> b.set("courier.count", "lots")).isInstanceOf(ConfigException.class);
    ProxySetup c =
        ProxySetup.of(
            b.set("courier.count", "10")
                .set("courier.count", " 20 ")
                .set("dns.txt-count", "7")
                .build(),
            OptionalLong.empty());
    assertThat(c.plan().courierCount()).isEqualTo(20);
    assertThat(c.effectiveValues())
        .containsEntry("courier.count", "20")
        .containsEntry("dns.txt-count", "7");
    assertThatThrownBy(() -> ProxyConfig.builder().set("dns.ttl", null))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void fromPropertiesRejectsNonStringEntries() {
    Properties p = new Properties();
    p.put("dns.ttl", 30);
    assertThatThrownBy(() -> ProxyConfig.fromProperties(p))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("dns.ttl = '30': not a string");
  }

  @Test
  void fromPropertiesReportsTheFirstMistakeInKeyOrder() {
    Properties p = new Properties();
    p.setProperty("stats.interval", "x");
    p.setProperty("plan.ipv4", "x");
    p.setProperty("dns.ttl", "x");
    assertThatThrownBy(() -> ProxyConfig.fromProperties(p))
        .hasFieldOrPropertyWithValue("key", "plan.ipv4");
  }

  @Test
  void configExceptionIsOneLine() {
    ConfigException e = new ConfigException("k", "v", "line one\n  line two");
    assertThat(e)
        .hasMessage("k = 'v': line one line two")
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(e.key()).isEqualTo("k");
    assertThat(e.value()).isEqualTo("v");
  }

  @Test
  void aBarePortForMetricsMeansLoopback() {
    ProxySetup c = setup(Map.of("upstream.dns", "192.0.2.53", "metrics.listen", "9464"));
    assertThat(c.effectiveValues()).containsEntry("metrics.listen", "127.0.0.1:9464");
  }

  // ---------------------------------------------------------------- the README table is the keys'
  // table

  @Test
  void theReadmeTableIsTheKeysTableKeyByKeyAndDefaultByDefault() throws IOException {
    Path readme = Path.of(System.getProperty("user.dir")).getParent().resolve("README.md");
    List<String> lines = Files.readAllLines(readme, StandardCharsets.UTF_8);
    int start = lines.indexOf("| key | default | reload | meaning |");
    assertThat(start).as("the configuration table in " + readme).isNotNegative();
    Map<String, String> documented = new LinkedHashMap<>();
    for (String line : lines.subList(start + 2, lines.size())) {
      if (!line.startsWith("| `")) {
        break;
      }
      documented.put(line.substring(3, line.indexOf('`', 3)), line);
    }
    Map<String, String> generated = new LinkedHashMap<>();
    for (String line : ProxyKeys.asMarkdown(ProxySetup.defaults()).lines().skip(2).toList()) {
      generated.put(line.substring(3, line.indexOf('`', 3)), line);
    }
    // key by key: the same keys in the same order, and each row (default, reload, meaning) the same
    assertThat(documented.keySet()).containsExactlyElementsOf(generated.keySet());
    generated.forEach((key, row) -> assertThat(documented.get(key)).as(key).isEqualTo(row));
    assertThat(generated)
        .containsEntry(
            "tcp.max-connections",
            "| `tcp.max-connections` | `50000` | yes | Most client"
                + " connections at once; at start capped to what the open-file limit holds (two descriptors per splice, see"
                + " the operator guide). |")
        .containsEntry(
            "log.level",
            "| `log.level` | `info` | yes | The level of the io.github.apnsproxy loggers: error, warn,"
                + " info, debug (one line per connection) or trace; the access log keeps to"
                + " log.access. |");
    assertThat(generated.get("tcp.idle-timeout"))
        .startsWith("| `tcp.idle-timeout` | `1h` | restart |");
    assertThat(generated.get("upstream.proxy")).contains(" | yes | ");
  }

  // ---------------------------------------------------------------- issue 18 defects on the config
  // side

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "plan.ipv4=127.100.100.0/24\\nupstream.allow=127.0.0.0/8  | 127.0.0.0/8 overlaps the virtual subnet 127.100.100.0/24 of site default",
        "upstream.allow=any                                        | covers the virtual subnet 10.100.100.0/24 of site default",
        "plan.ipv6=fd00:a::/64\\nupstream.allow=17.0.0.0/8,fd00::/8 | overlaps the virtual subnet fd00:a::/64",
        "plan.sites=a,b\\nsite.a.ipv4=10.0.0.0/24\\nsite.b.ipv4=10.9.0.0/24\\nupstream.allow=10.9.0.128/25 | 10.9.0.128/25 overlaps the virtual subnet 10.9.0.0/24 of site b",
      })
  void anUpstreamAllowOverlappingThePlanIsRefused(String lines, String reason) {
    assertThatThrownBy(() -> loadText(UPSTREAM + lines.replace("\\n", "\n") + "\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.allow")
        .hasMessageStartingWith("upstream.allow = '")
        .hasMessageContaining(reason)
        .hasMessageContaining("would connect to its own addresses");
  }

  @Test
  void hostsEntriesOutsideUpstreamAllowAreWarnedAbout() throws IOException {
    Path hosts =
        write("hosts", "17.0.0.1 0-courier.push.apple.com\n192.0.2.7 1-courier.push.apple.com\n");
    ProxySetup s = loadText(UPSTREAM + "upstream.hosts = hosts\n");
    assertThat(s.warnings())
        .singleElement()
        .asString()
        .startsWith(
            "upstream.hosts = '"
                + hosts.toAbsolutePath()
                + "': 1 entries lie outside upstream.allow")
        .contains("1-courier.push.apple.com -> 192.0.2.7")
        .doesNotContain("17.0.0.1");
    assertThat(
            loadText(
                    UPSTREAM
                        + "upstream.hosts = hosts\nupstream.allow = 17.0.0.0/8, 192.0.2.0/24\n")
                .warnings())
        .isEmpty();
  }

  @Test
  void specialAndEndlessFilesAreRefusedBeforeTheyAreRead() throws Exception {
    Path zero = Path.of("/dev/zero");
    assertThatThrownBy(() -> ProxyConfig.load(zero))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "/dev/zero is not a regular file (expected a file, not a device, FIFO or directory)");
    assertThatThrownBy(() -> loadText(UPSTREAM + "upstream.hosts = /dev/zero\n"))
        .isInstanceOf(ConfigException.class)
        .hasFieldOrPropertyWithValue("key", "upstream.hosts")
        .hasMessageContaining("is not a regular file");
    Path fifo = dir.resolve("fifo");
    Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assertThat(mkfifo.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(mkfifo.exitValue()).isZero();
    // opening a FIFO with no writer would block forever: refused without opening it
    assertThatThrownBy(() -> ProxyConfig.load(fifo))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("is not a regular file");
    assertThatThrownBy(() -> loadText(UPSTREAM + "upstream.hosts = fifo\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("is not a regular file");
    Path big = dir.resolve("big.properties");
    Files.write(big, new byte[(int) ProxyConfig.MAX_FILE_BYTES + 1]);
    assertThatThrownBy(() -> ProxyConfig.load(big))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("has 1048577 bytes (expected at most 1048576)");
  }

  @Test
  void aHugeValueIsEchoedCutShort() {
    String huge = "1".repeat(5_000_000) + "x";
    assertThatThrownBy(() -> ProxyConfig.builder().set("dns.ttl", huge))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("dns.ttl = '" + "1".repeat(100) + "...(5000001 chars)': ")
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(700));
    String hugeKey = "k".repeat(1_000_000);
    assertThatThrownBy(() -> ProxyConfig.builder().set(hugeKey, huge))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "k".repeat(100)
                + "...(1000000 chars) = '"
                + "1".repeat(100)
                + "...(5000001 chars)': unknown key")
        .hasFieldOrPropertyWithValue("key", hugeKey);
  }

  @Test
  void maxConnectionsIsCappedByTheOpenFileLimit() {
    Map<String, String> keys = Map.of("upstream.dns", "192.0.2.53", "tcp.listen", "0.0.0.0");
    ProxyConfig c = ProxyConfig.fromProperties(props(keys));
    // 5 listeners (0.0.0.0 on 5223, 443, 2197... the plan's ports) + 2 DNS sockets + 256 DNS/TCP +
    // 128 reserve
    ProxySetup capped = ProxySetup.of(c, OptionalLong.of(20_000));
    int listeners = capped.splicer().listen().size() + 2;
    int expected = (20_000 - listeners - 256 - Descriptors.RESERVE) / 2;
    assertThat(expected).isBetween(9_700, 9_900);
    assertThat(capped.effectiveValues())
        .containsEntry("tcp.max-connections", Integer.toString(expected));
    assertThat(capped.configuredMaxConnections()).isEqualTo(50_000);
    assertThat(capped.warnings())
        .singleElement()
        .asString()
        .startsWith(
            "tcp.max-connections = 50000 is more than" + " the open-file limit of 20000 holds")
        .contains("capped at " + expected);
    ProxySetup roomy = ProxySetup.of(c, OptionalLong.of(1_048_576));
    assertThat(roomy.effectiveValues()).containsEntry("tcp.max-connections", "50000");
    assertThat(roomy.warnings()).isEmpty();
    assertThat(Descriptors.maxSplices(100, 10, 256)).isEqualTo(1);
  }

  private static Properties props(Map<String, String> keys) {
    Properties p = new Properties();
    p.putAll(keys);
    return p;
  }
}
