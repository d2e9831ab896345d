// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.tcp.ProxyUsers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PasswdTest {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int passwd(String stdin, String... args) throws Exception {
    return Passwd.run(
        args,
        new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @Test
  void printsALineThatVerifiesThePasswordFromStdin() throws Exception {
    assertThat(passwd("s3cret pass\r\nignored\n", "mdm")).isZero();
    String line = out.toString(StandardCharsets.UTF_8).strip();
    assertThat(line).startsWith("mdm:pbkdf2-sha256:").doesNotContain("s3cret");
    ProxyUsers users = ProxyUsers.parse(List.of(line), "stdout");
    assertThat(users.verify("mdm", "s3cret pass".getBytes(StandardCharsets.UTF_8))).isTrue();
    assertThat(users.verify("mdm", "s3cret".getBytes(StandardCharsets.UTF_8))).isFalse();
  }

  @Test
  void badUsageIsExitTwo() {
    assertThatThrownBy(() -> passwd("x\n"))
        .isInstanceOf(ApnsProxy.UsageException.class)
        .hasMessageContaining("passwd USER");
    assertThatThrownBy(() -> passwd("\n", "mdm")).hasMessageContaining("empty");
    assertThatThrownBy(() -> passwd("x\n", "a:b")).hasMessageContaining("colon");
  }
}
