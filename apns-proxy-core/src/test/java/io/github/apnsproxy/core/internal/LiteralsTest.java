// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class LiteralsTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "10.0.0.1,          10.0.0.1,         true",
    "' 10.0.0.1 ',      10.0.0.1,         true",
    "0.0.0.0,           0.0.0.0,          true",
    "255.255.255.255,   255.255.255.255,  true",
    "010.001.0.1,       10.1.0.1,         true",
    "::1,               0:0:0:0:0:0:0:1,  false",
    "[::1],             0:0:0:0:0:0:0:1,  false",
    "fd00:A::1,         fd00:a:0:0:0:0:0:1, false",
    "::,                0:0:0:0:0:0:0:0,  false",
  })
  void parsesAddresses(String text, String expected, boolean ipv4) {
    InetAddress a = Literals.parseAddress(text);
    assertThat(a.getHostAddress()).isEqualTo(expected);
    assertThat(a instanceof Inet4Address).isEqualTo(ipv4);
    assertThat(a instanceof Inet6Address).isEqualTo(!ipv4);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "10.0.0",
        "10.0.0.1.2",
        "10.0.0.256",
        "10.0.0.-1",
        "10.0.0.1a",
        "1000.0.0.1",
        "10..0.1",
        "localhost",
        "example.com",
        "apple.com",
        ":::1",
        "fd00::g",
        "[10.0.0.1]",
        "[::1",
        "fe80::1%eth0",
        "0x0a.0.0.1",
        "1",
        "10.0.0.1 " + "x"
      })
  void rejectsEverythingElseWithoutAskingDns(String text) {
    assertThatThrownBy(() -> Literals.parseAddress(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'" + text + "'");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "10.0.0.1:53,        10.0.0.1:53",
    "10.0.0.1,           10.0.0.1:5353",
    "[::1]:53,           [0:0:0:0:0:0:0:1]:53",
    "[::1],              [0:0:0:0:0:0:0:1]:5353",
    "::1,                [0:0:0:0:0:0:0:1]:5353",
    "' 0.0.0.0:0 ',      0.0.0.0:0",
    "10.0.0.1:65535,     10.0.0.1:65535",
  })
  void parsesSocketAddresses(String text, String formatted) {
    InetSocketAddress a = Literals.parseSocketAddress(text, 5353);
    assertThat(a.isUnresolved()).isFalse();
    assertThat(Literals.format(a)).isEqualTo(formatted);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "10.0.0.1:65536 | bad port '65536' (expected 0..65535)",
        "10.0.0.1:      | bad port ''",
        "10.0.0.1:-1    | bad port '-1'",
        "10.0.0.1:http  | bad port 'http'",
        "10.0.0.1:5x    | bad port '5x'",
        "[::1]53        | is not [address]:port",
        "[::1:53        | no closing ']'",
        "example.com:53 | is not an IP address",
        "[10.0.0.1]:53  | brackets are for IPv6 only",
      })
  void rejectsBadSocketAddresses(String text, String why) {
    assertThatThrownBy(() -> Literals.parseSocketAddress(text, 53))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(why)
        .hasMessageContaining(text.strip().substring(0, 5));
  }

  @Test
  void aMissingPortIsAnErrorWithoutADefault() {
    assertThatThrownBy(() -> Literals.parseSocketAddress("10.0.0.1", -1))
        .hasMessage("'10.0.0.1' has no port (expected address:port)");
    assertThat(Literals.parseSocketAddress("10.0.0.1:0", -1).getPort()).isZero();
  }

  @Test
  void formatsWithoutHostNames() {
    assertThat(Literals.format(Literals.parseAddress("::1"), true)).isEqualTo("[0:0:0:0:0:0:0:1]");
    assertThat(Literals.format(Literals.parseAddress("::1"), false)).isEqualTo("0:0:0:0:0:0:0:1");
    assertThat(Literals.format(InetSocketAddress.createUnresolved("example.com", 80)))
        .isEqualTo("example.com:80");
  }
}
