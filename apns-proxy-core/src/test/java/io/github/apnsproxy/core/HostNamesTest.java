// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import static io.github.apnsproxy.core.ApnsHost.Environment.PRODUCTION;
import static io.github.apnsproxy.core.ApnsHost.Environment.SANDBOX;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.ApnsHost.Environment;
import io.github.apnsproxy.core.ApnsHost.Kind;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HostNamesTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    // name,                                    kind,     environment, variant,    number
    "0-courier.push.apple.com,                  COURIER,  PRODUCTION,  courier,    0",
    "17-courier.push.apple.com,                 COURIER,  PRODUCTION,  courier,    17",
    "50-courier.push.apple.com,                 COURIER,  PRODUCTION,  courier,    50",
    "17-courier2.push.apple.com,                COURIER,  PRODUCTION,  courier2,   17",
    "3-courier7.push.apple.com,                 COURIER,  PRODUCTION,  courier7,   3",
    "3-courier123.push.apple.com,               COURIER,  PRODUCTION,  courier123, 3",
    "17-courier.sandbox.push.apple.com,         COURIER,  SANDBOX,     courier,    17",
    "3-courier2.sandbox.push.apple.com,         COURIER,  SANDBOX,     courier2,   3",
    "17.courier.push.apple.com,                 COURIER,  PRODUCTION,  courier,    17",
    "0.courier.push.apple.com,                  COURIER,  PRODUCTION,  courier,    0",
    "017-courier.push.apple.com,                COURIER,  PRODUCTION,  courier,    17",
    "0000000017-courier.push.apple.com,         COURIER,  PRODUCTION,  courier,    17",
    "00-courier.push.apple.com,                 COURIER,  PRODUCTION,  courier,    0",
    "17-COURIER.PUSH.APPLE.COM,                 COURIER,  PRODUCTION,  courier,    17",
    "17-Courier2.Sandbox.Push.Apple.Com,        COURIER,  SANDBOX,     courier2,   17",
    "17-courier.push.apple.com.,                COURIER,  PRODUCTION,  courier,    17",
    "17.courier.push.apple.com.,                COURIER,  PRODUCTION,  courier,    17",
    "init.push.apple.com,                       INIT,     PRODUCTION,  init,       -1",
    "INIT.push.apple.com.,                      INIT,     PRODUCTION,  init,       -1",
    "init-p01st.push.apple.com,                 INIT,     PRODUCTION,  init-p01st, -1",
    "init.sandbox.push.apple.com,               INIT,     SANDBOX,     init,       -1",
    "api.push.apple.com,                        PROVIDER, PRODUCTION,  api,        -1",
    "api.sandbox.push.apple.com,                PROVIDER, SANDBOX,     api,        -1",
    "API.SANDBOX.PUSH.APPLE.COM.,               PROVIDER, SANDBOX,     api,        -1",
  })
  void parsesEveryAcceptedForm(
      String name, Kind kind, Environment env, String variant, int number) {
    ApnsHost expected = new ApnsHost(kind, env, variant, number);

    assertThat(ApnsHost.parse(name)).isEqualTo(expected);
    assertThat(HostNames.defaults().tryParse(name)).contains(expected);
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("rejectedNames")
  void rejectsEveryOtherForm(String name) {
    assertThat(ApnsHost.tryParse(name)).isEmpty();
    String shown = name.length() > 40 ? name.substring(0, 40) : name;
    assertThatThrownBy(() -> ApnsHost.parse(name))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(shown);
  }

  static Stream<String> rejectedNames() {
    String label63 = "a".repeat(63);
    String label64 = "a".repeat(64);
    // 253 characters is the longest legal name; 254 and 300 are too long even though every label is
    // fine
    String name254 = ("a".repeat(62) + ".").repeat(3) + "a".repeat(50) + ".push.apple.com";
    String name300 =
        "1-courier." + ("b".repeat(60) + ".").repeat(4) + "c".repeat(31) + ".push.apple.com";
    return Stream.of(
        "1-courier.push.apple.com.evil.example",
        "evil.example.1-courier.push.apple.com",
        "-1-courier.push.apple.com",
        "99999999999-courier.push.apple.com",
        "00000000017-courier.push.apple.com",
        "51-courier.push.apple.com",
        "51.courier.push.apple.com",
        "4294967313-courier.push.apple.com",
        "courier.push.apple.com",
        "courier2.push.apple.com",
        "courier.sandbox.push.apple.com",
        "-courier.push.apple.com",
        "x-courier.push.apple.com",
        "1x-courier.push.apple.com",
        "+1-courier.push.apple.com",
        "1-courier0.push.apple.com",
        "1-courier1000.push.apple.com",
        "1-courierx.push.apple.com",
        "1-courier-2.push.apple.com",
        "1--courier.push.apple.com",
        "1-courier..push.apple.com",
        ".1-courier.push.apple.com",
        "1-courier.push.apple.com..",
        "1-courier.push.apple.co",
        "1-courier.apple.com",
        "1.courier.sandbox.push.apple.com",
        "1-courier.sandbox.sandbox.push.apple.com",
        "1_courier.push.apple.com",
        "1-cour ier.push.apple.com",
        "1-courïer.push.apple.com",
        "1-courier.push.apple.com/",
        "init2.push.apple.com",
        "init.p01st.push.apple.com",
        "init-p01st.sandbox.push.apple.com",
        "api2.push.apple.com",
        "api.push.apple.com.evil.example",
        "push.apple.com",
        "sandbox.push.apple.com",
        "apple.com",
        "",
        ".",
        "..",
        label63 + ".push.apple.com",
        label64 + ".push.apple.com",
        "1-courier." + label64 + ".push.apple.com",
        name254,
        name300);
  }

  @Test
  void rejectedLengthsAreWhatTheTableSays() {
    assertThat(rejectedNames().filter(n -> n.length() == 254)).hasSize(1);
    assertThat(rejectedNames().filter(n -> n.length() == 300)).hasSize(1);
    // a legal 253-character name is rejected for not being an APNs name, not for its length
    String name253 = ("a".repeat(62) + ".").repeat(3) + "a".repeat(49) + ".push.apple.com";
    assertThat(name253).hasSize(253);
    assertThat(HostNames.normalize(name253)).isPresent();
    assertThat(HostNames.normalize(name253 + ".")).isPresent();
    assertThat(HostNames.normalize("a" + name253)).isEmpty();
    assertThatThrownBy(() -> ApnsHost.parse("a" + name253))
        .hasMessageContaining("254 characters")
        .hasMessageContaining("at most 253");
  }

  @Test
  void errorsSayWhatIsWrong() {
    assertThatThrownBy(() -> ApnsHost.parse("51-courier.push.apple.com"))
        .hasMessage("'51-courier.push.apple.com': courier number 51 is above the maximum 50");
    assertThatThrownBy(() -> ApnsHost.parse("1-courier..push.apple.com"))
        .hasMessageContaining("empty label");
    assertThatThrownBy(() -> ApnsHost.parse("1_courier.push.apple.com"))
        .hasMessageContaining("'_'");
    assertThatThrownBy(() -> ApnsHost.parse("-1-courier.push.apple.com"))
        .hasMessageContaining("'-'");
    assertThatThrownBy(() -> ApnsHost.parse("a".repeat(64) + ".push.apple.com"))
        .hasMessageContaining("64 characters");
    assertThatThrownBy(() -> ApnsHost.parse("courier.push.apple.com"))
        .hasMessageContaining("'courier.push.apple.com' is not an APNs host name");
  }

  @Test
  void nonAsciiNeverLowerCasesIntoAName() {
    // U+212A KELVIN SIGN lower-cases to ASCII 'k'; U+0130 to "i" plus a combining dot
    assertThat(HostNames.normalize("ns.example.\u212Az")).isEmpty();
    assertThat(HostNames.normalize("\u0130nit.push.apple.com")).isEmpty();
    assertThat(HostNames.normalize("ns.example.kz")).contains("ns.example.kz");
    assertThatThrownBy(() -> ApnsHost.parse("\u0130nit.push.apple.com"))
        .hasMessageContaining("is not a letter, digit or hyphen");
  }

  @Test
  void tryParseOfNullIsEmpty() {
    assertThat(HostNames.defaults().tryParse(null)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 7, 99, 200, 1000})
  void maxCourierBoundsNumbers(int max) {
    HostNames names = HostNames.defaults().withMaxCourier(max);

    assertThat(names.maxCourier()).isEqualTo(max);
    assertThat(names.parse(max + "-courier.push.apple.com").number()).isEqualTo(max);
    assertThat(names.parse("0-courier.push.apple.com").number()).isZero();
    assertThat(names.tryParse((max + 1) + "-courier.push.apple.com")).isEmpty();
    assertThat(names.tryParse((max + 1) + "-courier2.sandbox.push.apple.com")).isEmpty();
  }

  @Test
  void formatRoundTripsEveryDefaultHost() {
    HostNames names = HostNames.defaults();
    List<ApnsHost> hosts =
        Stream.concat(
                Stream.of(PRODUCTION, SANDBOX)
                    .flatMap(
                        e ->
                            Stream.of("courier", "courier2", "courier9")
                                .flatMap(
                                    v ->
                                        IntStream.rangeClosed(0, 50)
                                            .mapToObj(n -> ApnsHost.courier(e, v, n)))),
                names.fixedHosts().stream())
            .toList();

    assertThat(hosts).hasSize(2 * 3 * 51 + 5);
    for (ApnsHost h : hosts) {
      String name = names.format(h);
      assertThat(name).isEqualTo(h.name()).isEqualTo(h.toString());
      assertThat(names.parse(name)).isEqualTo(h);
      assertThat(names.parse(name.toUpperCase(java.util.Locale.ROOT) + ".")).isEqualTo(h);
    }
  }

  @Test
  void formatUsesTheCanonicalForm() {
    assertThat(ApnsHost.parse("017.courier.push.apple.com").name())
        .isEqualTo("17-courier.push.apple.com");
    assertThat(ApnsHost.courier(SANDBOX, "courier2", 3).name())
        .isEqualTo("3-courier2.sandbox.push.apple.com");
    assertThat(ApnsHost.init(PRODUCTION).name()).isEqualTo("init.push.apple.com");
    assertThat(ApnsHost.init(SANDBOX).name()).isEqualTo("init.sandbox.push.apple.com");
    assertThat(ApnsHost.provider(SANDBOX).name()).isEqualTo("api.sandbox.push.apple.com");
  }

  @Test
  void fixedHostsAreTheInitAndApiHostsInPatternOrder() {
    assertThat(HostNames.defaults().fixedHosts())
        .extracting(ApnsHost::name)
        .containsExactly(
            "init.push.apple.com",
            "init-p01st.push.apple.com",
            "init.sandbox.push.apple.com",
            "api.push.apple.com",
            "api.sandbox.push.apple.com");
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      nullValues = "none",
      value = {
        "push.apple.com,                        push.apple.com",
        "PUSH.apple.com.,                       push.apple.com",
        "17-courier.push.apple.com,             push.apple.com",
        "_dns.push.apple.com,                   push.apple.com",
        "sandbox.push.apple.com,                sandbox.push.apple.com",
        "3-courier.sandbox.push.apple.com,      sandbox.push.apple.com",
        "apple.com,                             none",
        "evilpush.apple.com,                    none",
        "push.apple.com.evil.example,           none",
      })
  void zoneOfFindsTheLongestZone(String name, String zone) {
    assertThat(HostNames.defaults().zoneOf(name)).isEqualTo(java.util.Optional.ofNullable(zone));
  }

  @Test
  void customPatternsAreData() {
    HostNames names =
        HostNames.of(
            List.of(
                new HostPattern("{n}-{courier}.example.net", Kind.COURIER, PRODUCTION),
                new HostPattern("bag.example.net", Kind.INIT, PRODUCTION)),
            5,
            List.of("Example.NET."));

    assertThat(names.parse("5-courier3.example.net"))
        .isEqualTo(ApnsHost.courier(PRODUCTION, "courier3", 5));
    assertThat(names.parse("bag.example.net"))
        .isEqualTo(new ApnsHost(Kind.INIT, PRODUCTION, "bag", -1));
    assertThat(names.tryParse("5-courier.push.apple.com")).isEmpty();
    assertThat(names.zones()).containsExactly("example.net");
    assertThat(names.tryFormat(ApnsHost.provider(PRODUCTION))).isEmpty();
    assertThatThrownBy(() -> names.format(ApnsHost.provider(PRODUCTION)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("PROVIDER");
  }

  static Stream<Arguments> badPatterns() {
    return Stream.of(
        Arguments.of("{n}-courier.push.apple.com", Kind.COURIER),
        Arguments.of("{courier}.push.apple.com", Kind.COURIER),
        Arguments.of("{n}-{courier}-{n}.push.apple.com", Kind.COURIER),
        Arguments.of("{n}.init.push.apple.com", Kind.INIT),
        Arguments.of("Init.push.apple.com", Kind.INIT),
        Arguments.of("init.push.apple.com.", Kind.INIT),
        Arguments.of(" ", Kind.INIT),
        Arguments.of("bag_1.example.net", Kind.INIT),
        Arguments.of("bag..example.net", Kind.INIT),
        Arguments.of("-bag.example.net", Kind.PROVIDER));
  }

  @ParameterizedTest
  @MethodSource("badPatterns")
  void rejectsBadPatterns(String template, Kind kind) {
    assertThatThrownBy(() -> new HostPattern(template, kind, PRODUCTION))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(template);
  }

  @Test
  void rejectsBadHostValues() {
    assertThatThrownBy(() -> ApnsHost.courier(-1)).hasMessageContaining("courier number -1");
    assertThatThrownBy(() -> ApnsHost.courier(PRODUCTION, "courier0", 1))
        .hasMessageContaining("'courier0'");
    assertThatThrownBy(() -> new ApnsHost(Kind.INIT, PRODUCTION, "init", 3))
        .hasMessageContaining("number 3");
    assertThatThrownBy(() -> new ApnsHost(Kind.PROVIDER, PRODUCTION, "API", -1))
        .hasMessageContaining("'API'");
    assertThatThrownBy(() -> HostNames.defaults().withMaxCourier(-1)).hasMessageContaining("-1");
    assertThatThrownBy(() -> HostNames.of(List.of(), 5, List.of()))
        .hasMessageContaining("no host patterns");
  }
}
