// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Parsing of proxy URLs, proxy lists, the standard environment variables, credentials files;
 * address families.
 */
class EgressTest {

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "http://proxy.corp:3128             | HTTP   | proxy.corp | 3128 | ",
        "proxy.corp:8080                    | HTTP   | proxy.corp | 8080 | ",
        "http://proxy.corp                  | HTTP   | proxy.corp | 80   | ",
        "HTTP://Proxy.Corp:3128/            | HTTP   | Proxy.Corp | 3128 | ",
        "socks5://10.0.0.1                  | SOCKS5 | 10.0.0.1   | 1080 | ",
        "socks5h://10.0.0.1:1081            | SOCKS5 | 10.0.0.1   | 1081 | ",
        "http://[::1]:3128                  | HTTP   | ::1        | 3128 | ",
        "http://alice:s%40cret@proxy:3128   | HTTP   | proxy      | 3128 | alice",
        "socks5://bob:p:w@10.0.0.1:1080     | SOCKS5 | 10.0.0.1   | 1080 | bob",
      })
  void parsesProxyUrls(String text, EgressProxy.Scheme scheme, String host, int port, String user) {
    EgressProxy p = EgressProxy.parse(text);
    assertThat(p.scheme()).isEqualTo(scheme);
    assertThat(p.host()).isEqualTo(host);
    assertThat(p.port()).isEqualTo(port);
    assertThat(p.username()).isEqualTo(user);
  }

  @Test
  void decodesPasswordsAndNeverPrintsThem() {
    EgressProxy p = EgressProxy.parse("http://alice:s%40cret+x@proxy:3128");
    assertThat(p.password()).isEqualTo("s@cret+x");
    assertThat(p.toString()).isEqualTo("http://alice:***@proxy:3128");
    assertThat(Egress.parse("http://a:topsecret@p:1,socks5://q:2").toString())
        .isEqualTo("http://a:***@p:1,socks5://q:2");
    assertThat(EgressProxy.parse("socks5://bob:p:w@10.0.0.1").password()).isEqualTo("p:w");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "https://proxy:443                | not supported",
        "ftp://proxy:21                   | scheme 'ftp'",
        "http://proxy:0                   | port 0",
        "http://proxy:99999               | port 99999",
        "http://proxy:abc                 | port 'abc'",
        "http://:3128                     | no host",
        "http://proxy:3128/path           | a path",
        "http://fe80::1:3128              | IPv6 address without brackets",
        "http://alice@proxy:3128          | without a password",
      })
  void rejectsBadUrlsNamingTheValue(String text, String message) {
    assertThatThrownBy(() -> EgressProxy.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void errorsMaskThePassword() {
    assertThatThrownBy(() -> EgressProxy.parse("https://alice:hunter2@proxy:3128"))
        .hasMessageContaining("alice:***@proxy")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
    assertThatThrownBy(() -> Egress.parse("http://a:hunter2@p:1,,http://q:2"))
        .hasMessageContaining("empty entry")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
  }

  @Test
  void parsesOrderedLists() {
    Egress e = Egress.parse(" http://p1:3128 , socks5://p2:1080 ");
    assertThat(e.proxies())
        .extracting(EgressProxy::authority)
        .containsExactly("p1:3128", "p2:1080");
    assertThat(Egress.parse("").isDirect()).isTrue();
    assertThat(Egress.parse("  ")).isEqualTo(Egress.direct());
    assertThat(Egress.direct().toString()).isEqualTo("direct");
  }

  @Test
  void environmentPrefersHttpsProxyThenAllProxyLowerCaseFirst() {
    assertThat(Egress.fromEnvironment(Map.of()).isDirect()).isTrue();
    assertThat(Egress.fromEnvironment(Map.of("http_proxy", "http://only-http:1")).isDirect())
        .isTrue();
    assertThat(
            Egress.fromEnvironment(
                    Map.of("HTTPS_PROXY", "http://up:1", "https_proxy", "http://low:1"))
                .proxies()
                .get(0)
                .host())
        .isEqualTo("low");
    assertThat(
            Egress.fromEnvironment(Map.of("HTTPS_PROXY", "up:3128", "ALL_PROXY", "socks5://all:1"))
                .proxies())
        .containsExactly(EgressProxy.of(EgressProxy.Scheme.HTTP, "up", 3128));
    assertThat(
            Egress.fromEnvironment(Map.of("https_proxy", "", "ALL_PROXY", "socks5://all:1"))
                .proxies())
        .containsExactly(EgressProxy.of(EgressProxy.Scheme.SOCKS5, "all", 1));
    assertThatThrownBy(() -> Egress.fromEnvironment(Map.of("HTTPS_PROXY", "ftp://x:1")))
        .hasMessageContaining("HTTPS_PROXY");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "*                         | 17-courier.push.apple.com | 5223 | false",
        "push.apple.com            | 17-courier.push.apple.com | 5223 | false",
        ".push.apple.com           | 17-courier.push.apple.com | 5223 | false",
        ".push.apple.com           | push.apple.com            | 443  | false",
        "apple.com                 | API.push.apple.com.       | 443  | false",
        "example.com,apple.com     | init.push.apple.com       | 443  | false",
        "example.com apple.com     | init.push.apple.com       | 443  | false",
        "push.apple.com:443        | init.push.apple.com       | 443  | false",
        "push.apple.com:443        | 1-courier.push.apple.com  | 5223 | true",
        "sandbox.push.apple.com    | 1-courier.push.apple.com  | 5223 | true",
        "le.com                    | init.push.apple.com       | 443  | true",
        "10.0.0.0/8                | init.push.apple.com       | 443  | true",
        "17.0.0.0/8                | 17.57.146.10              | 5223 | false",
        "17.57.146.10              | 17.57.146.10              | 5223 | false",
      })
  void noProxyAsCurlAndGoReadIt(String noProxy, String host, int port, boolean proxied) {
    Egress e = Egress.fromEnvironment(Map.of("HTTPS_PROXY", "http://p:1", "NO_PROXY", noProxy));
    assertThat(e.isProxied(host, port)).isEqualTo(proxied);
    assertThat(e.proxiesFor(host, port)).hasSize(proxied ? 1 : 0);
  }

  @Test
  void lowerCaseNoProxyWins() {
    Egress e =
        Egress.fromEnvironment(
            Map.of(
                "HTTPS_PROXY", "http://p:1", "no_proxy", "apple.com", "NO_PROXY", "example.com"));
    assertThat(e.isProxied("api.push.apple.com", 443)).isFalse();
    assertThat(e.noProxy()).containsExactly("apple.com");
  }

  @Test
  void credentialsFileFillsProxiesWithoutCredentials(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("proxy-credentials");
    Files.writeString(
        f, "# comment\n\np2:1080 bob:pass with spaces\nalice:default:pw\n", StandardCharsets.UTF_8);
    Egress e =
        Egress.parse("http://p1:3128,socks5://p2:1080,http://carol:own@p3:1")
            .withCredentialsFile(f);
    assertThat(e.proxies().get(0).username()).isEqualTo("alice");
    assertThat(e.proxies().get(0).password()).isEqualTo("default:pw");
    assertThat(e.proxies().get(1).username()).isEqualTo("bob");
    assertThat(e.proxies().get(1).password()).isEqualTo("pass with spaces");
    assertThat(e.proxies().get(2).password()).isEqualTo("own");
    assertThat(e.toString()).doesNotContain("default:pw").doesNotContain("with spaces");
  }

  @Test
  void credentialsFileErrorsNameTheLineNotThePassword(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("bad");
    Files.writeString(f, "nocolon\n", StandardCharsets.UTF_8);
    assertThatThrownBy(() -> Egress.parse("http://p:1").withCredentialsFile(f))
        .hasMessageContaining("line 1");
    assertThatThrownBy(() -> Egress.parse("http://p:1").withCredentialsFile(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("not a regular file");
    Path big = dir.resolve("big");
    Files.write(big, new byte[70_000]);
    assertThatThrownBy(() -> Egress.parse("http://p:1").withCredentialsFile(big))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("64 KiB");
  }

  @Test
  void addressFamiliesFilterAndOrder() {
    InetSocketAddress v6a = TestServer.at("2001:db8::1", 5223);
    InetSocketAddress v4a = TestServer.at("17.0.0.1", 5223);
    InetSocketAddress v6b = TestServer.at("2001:db8::2", 5223);
    InetSocketAddress v4b = TestServer.at("17.0.0.2", 5223);
    List<InetSocketAddress> resolverOrder = List.of(v6a, v4a, v6b, v4b);
    assertThat(AddressFamily.ANY.apply(resolverOrder)).isSameAs(resolverOrder);
    assertThat(AddressFamily.IPV4.apply(resolverOrder)).containsExactly(v4a, v4b);
    assertThat(AddressFamily.IPV6.apply(resolverOrder)).containsExactly(v6a, v6b);
    assertThat(AddressFamily.IPV4_FIRST.apply(resolverOrder)).containsExactly(v4a, v4b, v6a, v6b);
    assertThat(AddressFamily.IPV6_FIRST.apply(resolverOrder)).containsExactly(v6a, v6b, v4a, v4b);
    InetSocketAddress name = InetSocketAddress.createUnresolved("1-courier.push.apple.com", 5223);
    assertThat(AddressFamily.IPV6.apply(List.of(name))).containsExactly(name);
  }

  @ParameterizedTest
  @CsvSource({
    "any, ANY",
    "IPv4, IPV4",
    "ipv6, IPV6",
    "ipv4-first, IPV4_FIRST",
    "ipv6-first, IPV6_FIRST"
  })
  void parsesFamilies(String text, AddressFamily family) {
    assertThat(AddressFamily.parse(text)).isEqualTo(family);
    assertThat(AddressFamily.parse(family.text())).isEqualTo(family);
  }

  @Test
  void rejectsUnknownFamilies() {
    assertThatThrownBy(() -> AddressFamily.parse("ipv5"))
        .hasMessageContaining("'ipv5'")
        .hasMessageContaining("ipv4-first");
  }
}
