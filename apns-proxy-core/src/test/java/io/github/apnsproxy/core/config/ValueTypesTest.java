// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPolicy;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ValueTypesTest {

  @ParameterizedTest
  @CsvSource({
    "2620:149:a44::/48, 2620:149:a44::/48",
    "::1/128, ::1/128",
    "fd00:0:0:1::/64, fd00:0:0:1::/64",
    "2001:db8:0:1:0:0:0:0/64, 2001:db8:0:1::/64",
    "2001:0:0:1:0:0:1:0/128, 2001::1:0:0:1:0/128",
    "1:0:2:0:3:0:4:0/128, 1:0:2:0:3:0:4:0/128",
    "10.0.0.0/8, 10.0.0.0/8",
  })
  void cidrsAreFormattedInTheShortForm(String in, String out) {
    ValueType<io.github.apnsproxy.core.CidrSet> t = ValueTypes.cidrSet();
    assertThat(t.format(t.parse(in))).isEqualTo(out);
    assertThat(t.parse(t.format(t.parse(in)))).isEqualTo(t.parse(in));
  }

  @Test
  void theAppleRangesReadAsWritten() {
    assertThat(ValueTypes.cidrSet().format(AddressPolicy.APPLE_APNS))
        .isEqualTo(
            "17.0.0.0/8,2620:149:a44::/48,2403:300:a42::/48,2403:300:a51::/48,2a01:b740:a42::/48");
  }

  @Test
  void durationsStopAtTenYears() {
    ValueType<Duration> d = ValueTypes.duration(Duration.ZERO);
    assertThat(d.parse("3650d")).isEqualTo(ValueTypes.MAX_DURATION);
    assertThat(ValueTypes.MAX_DURATION.toNanos())
        .isPositive(); // no overflow anywhere below the cap
    assertThatThrownBy(() -> d.parse("3651d")).hasMessage("expected at most 3650d");
    assertThatThrownBy(() -> d.parse("106752d")).hasMessage("expected at most 3650d");
  }

  @Test
  void aKeyNamesItselfInItsErrors() {
    ConfigKey<Integer> k = ConfigKey.of("x.count", ValueTypes.integer(1, 9), "A count.");
    assertThat(k.parse(" 7 ")).isEqualTo(7);
    assertThatThrownBy(() -> k.parse("site.a.count", "70"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("site.a.count = '70': expected a whole number 1..9");
  }
}
