// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "0,           PT0S,       0",
    "0s,          PT0S,       0",
    "0ms,         PT0S,       0",
    "500ms,       PT0.5S,     500ms",
    "1000ms,      PT1S,       1s",
    "5s,          PT5S,       5s",
    "' 5s ',      PT5S,       5s",
    "90s,         PT1M30S,    90s",
    "120s,        PT2M,       2m",
    "10m,         PT10M,      10m",
    "60m,         PT1H,       1h",
    "1h,          PT1H,       1h",
    "36h,         PT36H,      36h",
    "1d,          PT24H,      1d",
    "007s,        PT7S,       7s",
    "999999999d,  PT23999999976H, 999999999d",
  })
  void parsesAndFormats(String text, Duration expected, String formatted) {
    assertThat(Durations.parse(text)).isEqualTo(expected);
    assertThat(Durations.format(expected)).isEqualTo(formatted);
    assertThat(Durations.parse(formatted)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "5",
        "s",
        "-5s",
        "5 s",
        "5S",
        "1.5s",
        "5sec",
        "5us",
        "1w",
        "1y",
        "PT5S",
        "1000000000d",
        "5s5",
        "1h30m",
        "+5s"
      })
  void rejectsOtherForms(String text) {
    assertThatThrownBy(() -> Durations.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "'"
                + text
                + "' is not a duration (expected a whole number and a unit, like 500ms, 5s, 10m, 1h,"
                + " 1d, or 0)");
  }

  @Test
  void formatRejectsWhatParseCannotRead() {
    assertThatThrownBy(() -> Durations.format(Duration.ofNanos(1)))
        .hasMessageContaining("PT0.000000001S");
    assertThatThrownBy(() -> Durations.format(Duration.ofSeconds(-1)))
        .hasMessageContaining("PT-1S");
  }
}
