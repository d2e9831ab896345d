// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TargetsTest {
  private static final AddressPlan PLAN =
      AddressPlan.builder().site(Cidr.parse("10.100.100.0/24")).build();
  private static final AddressPolicy POLICY =
      new AddressPolicy(CidrSet.any(), AddressPolicy.APPLE_APNS);

  @ParameterizedTest(name = "{0}:{1} -> {2} {3}")
  @CsvSource({
    "17-courier.push.apple.com, 5223, courier, true",
    "17-courier.push.apple.com, 443, courier, true",
    "17-courier.push.apple.com, 80, courier, false",
    "017-courier2.sandbox.push.apple.com, 5223, courier, true",
    "51-courier.push.apple.com, 5223, courier, false",
    "3-courier3.push.apple.com, 5223, courier, false",
    "courier.push.apple.com, 5223, courier-unnumbered, true",
    "courier2.push.apple.com, 443, courier-unnumbered, true",
    "courier.sandbox.push.apple.com, 5223, courier-unnumbered, true",
    "courier.push.apple.com, 2197, courier-unnumbered, false",
    "init.push.apple.com, 443, init, true",
    "init.push.apple.com, 80, init, false",
    "init-p01st.push.apple.com, 80, init, true",
    "init-p01st.push.apple.com, 443, init, true",
    "init.sandbox.push.apple.com, 443, init, true",
    "api.push.apple.com, 443, api, true",
    "api.push.apple.com, 2197, api, true",
    "api.sandbox.push.apple.com, 2197, api, true",
    "api.push.apple.com, 5223, api, false",
    "push.apple.com, 443, other, false",
    "www.apple.com, 443, other, false",
    "evil.push.apple.com.example.net, 443, other, false",
    "courier.push.apple.com.evil, 5223, other, false",
    "a_b.push.apple.com, 443, other, false",
  })
  void names(String host, int port, String kind, boolean allowed) {
    Targets.Verdict v = new Targets(PLAN, POLICY, false).judge(host, null, port);
    assertThat(v.kind().label()).isEqualTo(kind);
    assertThat(v.allowed()).as("%s", v.refusal()).isEqualTo(allowed);
  }

  @ParameterizedTest(name = "{0}:{1} allow={2} -> {3}")
  @CsvSource({
    "17.57.146.10, 5223, false, false",
    "17.57.146.10, 5223, true, true",
    "17.57.146.10, 22, true, false",
    "10.0.0.1, 443, true, false",
    "2620:149:a44::1, 443, true, true",
    "::1, 443, true, false",
  })
  void literals(String literal, int port, boolean allowAddresses, boolean allowed)
      throws Exception {
    InetAddress a = InetAddress.getByName(literal);
    Targets.Verdict v = new Targets(PLAN, POLICY, allowAddresses).judge(literal, a, port);
    assertThat(v.kind()).isEqualTo(Targets.Kind.ADDRESS);
    assertThat(v.allowed()).as("%s", v.refusal()).isEqualTo(allowed);
  }

  @Test
  void pacSendsOnlyTheZoneHere() throws Exception {
    String pac = Pac.text(new InetSocketAddress(InetAddress.getByName("10.1.2.3"), 3128));
    assertThat(pac)
        .contains("dnsDomainIs(host, \".push.apple.com\")")
        .contains("return \"PROXY 10.1.2.3:3128\";")
        .contains("return \"DIRECT\";");
    assertThat(Pac.text(new InetSocketAddress(InetAddress.getByName("fd00::1"), 8080)))
        .contains("PROXY [fd00:0:0:0:0:0:0:1]:8080");
    assertThat(Pac.text(InetSocketAddress.createUnresolved("proxy.corp.example", 8080)))
        .contains("PROXY proxy.corp.example:8080");
  }
}
