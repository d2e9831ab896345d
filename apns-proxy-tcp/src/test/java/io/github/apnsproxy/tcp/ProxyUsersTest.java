// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ProxyUsersTest {

  @Test
  void lineVerifiesItsPasswordOnlyAndCountsFailures() {
    String line = ProxyUsers.line("mdm", "pässword".toCharArray(), 1_000);
    assertThat(line).startsWith("mdm:pbkdf2-sha256:1000:").doesNotContain("pässword");
    ProxyUsers users =
        ProxyUsers.parse(
            List.of("# users", "", line, ProxyUsers.line("other", "x".toCharArray(), 1_000)),
            "test");
    assertThat(users.names()).containsExactly("mdm", "other");
    byte[] right = "pässword".getBytes(StandardCharsets.UTF_8);
    assertThat(users.quickCheck("mdm", right)).isEmpty();
    assertThat(users.verify("mdm", "password".getBytes(StandardCharsets.UTF_8))).isFalse();
    assertThat(users.verify("mdm", right)).isTrue();
    assertThat(users.quickCheck("mdm", right)).contains(true);
    assertThat(users.quickCheck("mdm", "wrong".getBytes(StandardCharsets.UTF_8))).contains(false);
    assertThat(users.verify("nobody", right)).isFalse();
    assertThat(users.verify("other", right)).isFalse();
    assertThat(users.failedAttempts()).isEqualTo(4);
    assertThat(users.toString()).doesNotContain("pässword").contains("2 users");
  }

  @Test
  void twoLinesForOnePasswordDiffer() {
    assertThat(ProxyUsers.line("u", "p".toCharArray(), 1_000))
        .isNotEqualTo(ProxyUsers.line("u", "p".toCharArray(), 1_000));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "mdm:pbkdf2-sha256:1000:AAAAAAAAAAA=",
        "mdm:md5:1000:AAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "mdm:pbkdf2-sha256:10:AAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "mdm:pbkdf2-sha256:1000:AAAAAAAAAAA=:AAAA",
        "mdm:pbkdf2-sha256:1000:not base64:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ":pbkdf2-sha256:1000:AAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      })
  void malformedLinesNameTheLine(String line) {
    assertThatThrownBy(() -> ProxyUsers.parse(List.of("", line), "users.txt"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("users.txt line 2: ");
  }

  @Test
  void duplicateUserAndBadNames() {
    String l = ProxyUsers.line("a", "p".toCharArray(), 1_000);
    assertThatThrownBy(() -> ProxyUsers.parse(List.of(l, l), "f"))
        .hasMessageContaining("line 2")
        .hasMessageContaining("twice");
    assertThatThrownBy(() -> ProxyUsers.line("a:b", "p".toCharArray()))
        .hasMessageContaining("colon");
    assertThatThrownBy(() -> ProxyUsers.line("a", "p".repeat(256).toCharArray()))
        .hasMessageContaining("255");
  }
}
