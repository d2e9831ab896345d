// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.internal.Literals;
import java.math.BigInteger;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CidrTest {

  static InetAddress ip(String s) {
    return Literals.parseAddress(s);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    // text,                 canonical,                  prefix, ipv4
    "10.100.100.0/24,        10.100.100.0/24,            24,     true",
    "' 10.0.0.0/8 ',         10.0.0.0/8,                 8,      true",
    "0.0.0.0/0,              0.0.0.0/0,                  0,      true",
    "192.0.2.7,              192.0.2.7/32,               32,     true",
    "192.0.2.7/32,           192.0.2.7/32,               32,     true",
    "10.0.0.0/024,           10.0.0.0/24,                24,     true",
    "fd00:a::/64,            fd00:a:0:0:0:0:0:0/64,      64,     false",
    "[fd00:a::]/64,          fd00:a:0:0:0:0:0:0/64,      64,     false",
    "::/0,                   0:0:0:0:0:0:0:0/0,          0,      false",
    "::1,                    0:0:0:0:0:0:0:1/128,        128,    false",
    "2620:149:a44::/48,      2620:149:a44:0:0:0:0:0/48,  48,     false",
  })
  void parsesCidrs(String text, String canonical, int prefix, boolean ipv4) {
    Cidr c = Cidr.parse(text);

    assertThat(c.toString()).isEqualTo(canonical);
    assertThat(c.prefixLength()).isEqualTo(prefix);
    assertThat(c.isIpv4()).isEqualTo(ipv4);
    assertThat(c.hostBits()).isEqualTo(c.addressBits() - prefix);
    assertThat(Cidr.parse(c.toString())).isEqualTo(c);
    assertThat(Cidr.tryParse(text)).contains(c);
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "10.0.0.1/24           | host bits set (expected 10.0.0.0/24)",
        "10.0.0.0/33           | prefix length 33 of 10.0.0.0 (expected 0..32)",
        "fd00::/129            | (expected 0..128)",
        "10.0.0.0/             | bad prefix length ''",
        "10.0.0.0/-1           | bad prefix length '-1'",
        "10.0.0.0/1000         | bad prefix length '1000'",
        "10.0.0.0/24/1         | bad prefix length",
        "10.0.0.0/ 24          | bad prefix length",
        "/24                   | is not an IP address",
        "10.0.0/24             | is not an IP address",
        "10.0.0.256/32         | is not an IP address",
        "10.0.0.0.0/32         | is not an IP address",
        "example.com/24        | is not an IP address",
        "localhost             | is not an IP address",
        "fd00::g/64            | is not an IP address",
        "fe80::1%eth0/128      | scope id",
        "[10.0.0.0]/8          | brackets are for IPv6 only",
        "::ffff:10.0.0.0/104   | IPv4-mapped IPv6 prefix (expected the IPv4 form, like 10.0.0.0/8)",
        "any                   | is not an IP address",
        "''                    | is not an IP address",
      })
  void rejectsBadCidrs(String text, String why) {
    assertThat(Cidr.tryParse(text)).isEmpty();
    assertThatThrownBy(() -> Cidr.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "'" + text + "' is not a CIDR (expected like 10.100.100.0/24 or fd00::/64)")
        .hasMessageContaining(why);
  }

  @Test
  void containsOffsetsAndAddresses() {
    Cidr v4 = Cidr.parse("10.100.100.0/22");
    assertThat(v4.contains(ip("10.100.103.255"))).isTrue();
    assertThat(v4.contains(ip("10.100.104.0"))).isFalse();
    assertThat(v4.contains(ip("fd00::a64:6400"))).isFalse();
    assertThat(v4.offsetOf(ip("10.100.101.2"))).isEqualTo(258);
    assertThat(v4.offsetOf(ip("10.100.104.0"))).isEqualTo(-1);
    assertThat(v4.addressAt(258)).isEqualTo(ip("10.100.101.2"));
    assertThat(v4.addressAt(1023)).isEqualTo(ip("10.100.103.255"));
    assertThat(v4.size()).isEqualTo(BigInteger.valueOf(1024));
    assertThatThrownBy(() -> v4.addressAt(1024)).hasMessage("offset 1024 outside 10.100.100.0/22");
    assertThatThrownBy(() -> v4.addressAt(-1)).hasMessageContaining("offset -1");

    Cidr v6 = Cidr.parse("fd00:a::/64");
    assertThat(v6.addressAt(0x1_0000_0001L)).isEqualTo(ip("fd00:a::1:0:1"));
    assertThat(v6.offsetOf(ip("fd00:a::1:0:1"))).isEqualTo(0x1_0000_0001L);
    assertThat(v6.contains(ip("10.0.0.1"))).isFalse();
    assertThat(Cidr.parse("::/0").offsetOf(ip("ffff::1"))).as("too big for a long").isEqualTo(-1);
    assertThat(Cidr.parse("::/0").offsetOf(ip("::7fff:ffff:ffff:ffff"))).isEqualTo(Long.MAX_VALUE);
    assertThat(Cidr.parse("0.0.0.0/0").offsetOf(ip("255.255.255.255"))).isEqualTo(0xffff_ffffL);
  }

  @Test
  void overlaps() {
    assertThat(Cidr.parse("10.0.0.0/8").overlaps(Cidr.parse("10.1.0.0/16"))).isTrue();
    assertThat(Cidr.parse("10.1.0.0/16").overlaps(Cidr.parse("10.0.0.0/8"))).isTrue();
    assertThat(Cidr.parse("10.1.0.0/16").overlaps(Cidr.parse("10.2.0.0/16"))).isFalse();
    assertThat(Cidr.parse("10.0.0.0/8").overlaps(Cidr.parse("::/0"))).isFalse();
  }

  @Test
  void cidrSetParsesListsAnyAndEmpty() {
    CidrSet set = CidrSet.parse(" 10.0.0.0/8 , fd00::/8,192.0.2.1 ");
    assertThat(set.networks()).hasSize(3);
    assertThat(set.contains(ip("10.9.9.9"))).isTrue();
    assertThat(set.contains(ip("fd12::1"))).isTrue();
    assertThat(set.contains(ip("192.0.2.1"))).isTrue();
    assertThat(set.contains(ip("192.0.2.2"))).isFalse();
    assertThat(set.isAny()).isFalse();
    assertThat(CidrSet.parse(set.toString())).isEqualTo(set).hasSameHashCodeAs(set);

    assertThat(CidrSet.parse("ANY")).isSameAs(CidrSet.any());
    assertThat(CidrSet.any().contains(ip("8.8.8.8"))).isTrue();
    assertThat(CidrSet.any().contains(ip("::1"))).isTrue();
    assertThat(CidrSet.any().toString()).isEqualTo("any");

    CidrSet empty = CidrSet.parse("  ");
    assertThat(empty).isEqualTo(CidrSet.none()).isEqualTo(CidrSet.of(List.of()));
    assertThat(empty.isEmpty()).isTrue();
    assertThat(empty.contains(ip("10.0.0.1"))).as("empty is nobody").isFalse();
    assertThat(empty.contains(ip("127.0.0.1"))).isFalse();
    assertThat(CidrSet.of(Cidr.parse("10.0.0.0/8"))).isNotEqualTo(CidrSet.any());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "10.0.0.0/8,",
        ",10.0.0.0/8",
        "10.0.0.0/8,,fd00::/8",
        "any,10.0.0.0/8",
        "10.0.0.1/8",
        ","
      })
  void cidrSetRejectsBadLists(String text) {
    assertThatThrownBy(() -> CidrSet.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'" + text.strip());
  }

  @Test
  void policyDefaultsAreAppleUpstreamsAndPrivateClients() {
    AddressPolicy p = AddressPolicy.defaults();

    assertThat(p.allowsUpstream(ip("17.57.146.20"))).isTrue();
    assertThat(p.allowsUpstream(ip("17.0.0.0"))).isTrue();
    assertThat(p.allowsUpstream(ip("2620:149:a44::1"))).isTrue();
    assertThat(p.allowsUpstream(ip("2403:300:a51::9"))).isTrue();
    assertThat(p.allowsUpstream(ip("10.0.0.1"))).isFalse();
    assertThat(p.allowsUpstream(ip("127.0.0.1"))).isFalse();
    assertThat(p.allowsUpstream(ip("18.0.0.1"))).isFalse();
    assertThat(p.allowsUpstream(ip("2620:149:a45::1"))).isFalse();

    assertThat(p.allowsClient(ip("10.1.2.3"))).isTrue();
    assertThat(p.allowsClient(ip("172.31.255.255"))).isTrue();
    assertThat(p.allowsClient(ip("192.168.1.1"))).isTrue();
    assertThat(p.allowsClient(ip("127.0.0.1"))).isTrue();
    assertThat(p.allowsClient(ip("::1"))).isTrue();
    assertThat(p.allowsClient(ip("fd12:3456::1"))).isTrue();
    assertThat(p.allowsClient(ip("172.32.0.1"))).isFalse();
    assertThat(p.allowsClient(ip("17.1.1.1"))).isFalse();
    assertThat(p.allowsClient(ip("2001:db8::1"))).isFalse();
  }

  @Test
  void emptyPolicyAllowsNobodyAndAnyEverybody() {
    AddressPolicy none = new AddressPolicy(CidrSet.none(), CidrSet.none());
    AddressPolicy any = new AddressPolicy(CidrSet.any(), CidrSet.any());
    for (String a : List.of("10.0.0.1", "127.0.0.1", "17.0.0.1", "::1")) {
      assertThat(none.allowsClient(ip(a))).isFalse();
      assertThat(none.allowsUpstream(ip(a))).isFalse();
      assertThat(any.allowsClient(ip(a))).isTrue();
      assertThat(any.allowsUpstream(ip(a))).isTrue();
    }
  }
}
