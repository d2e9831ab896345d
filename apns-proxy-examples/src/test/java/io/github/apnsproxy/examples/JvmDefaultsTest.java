// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The runnable jar's documented JVM options are the same everywhere: the README's launcher line,
 * the systemd unit's {@code ExecStart} and what {@code bench} runs the proxy with ({@link
 * JvmDefaults#OPTIONS}).
 */
class JvmDefaultsTest {
  private static final String JAR_RUN = "-jar ";

  @Test
  void systemdUnitStartsTheJarWithExactlyTheDocumentedOptions() throws IOException {
    List<String> lines =
        Files.readAllLines(Path.of("packaging", "apns-proxy.service"), StandardCharsets.UTF_8);
    List<String> starts = lines.stream().filter(l -> l.startsWith("ExecStart=")).toList();
    assertThat(starts).hasSize(1);
    String start = starts.get(0);
    String options =
        start.substring("ExecStart=/usr/bin/java ".length(), start.indexOf(JAR_RUN)).trim();
    assertThat(options).isEqualTo(JvmDefaults.line());
  }

  @Test
  void readmeGivesTheSameLauncherLine() throws IOException {
    String readme = Files.readString(Path.of("..", "README.md"), StandardCharsets.UTF_8);
    assertThat(readme)
        .contains(
            "java " + JvmDefaults.line() + " -jar apns-proxy-examples/target/apns-proxy.jar run");
  }

  @Test
  void optionsAreSingleTokensWithoutDuplicates() {
    assertThat(JvmDefaults.OPTIONS)
        .isNotEmpty()
        .doesNotHaveDuplicates()
        .allSatisfy(o -> assertThat(o).startsWith("-").doesNotContainAnyWhitespaces());
    assertThat(JvmDefaults.line()).isEqualTo(String.join(" ", JvmDefaults.OPTIONS));
  }
}
