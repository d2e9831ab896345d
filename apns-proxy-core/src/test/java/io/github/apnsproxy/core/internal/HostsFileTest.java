// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostsFileTest {
  @TempDir Path dir;

  static InetAddress ip(String s) {
    return Literals.parseAddress(s);
  }

  private Path write(String content) throws IOException {
    Path f = dir.resolve("hosts");
    Files.writeString(f, content, StandardCharsets.UTF_8);
    return f;
  }

  @Test
  void readsAddressesNamesCommentsAndBlankLines() throws IOException {
    Path f =
        write(
            "# pinned couriers\n"
                + "\n"
                + "17.57.146.20   1-courier.push.apple.com 1.courier.push.apple.com  # two names\n"
                + "17.57.146.21\t1-Courier.Push.Apple.Com.\n"
                + "2620:149:a44::20 1-courier.push.apple.com\n"
                + "17.57.146.20 1-courier.push.apple.com\n"
                + "   \t  \n"
                + "17.57.146.30 init.push.apple.com");

    Map<String, List<InetAddress>> table = HostsFile.read(f);

    assertThat(table)
        .containsOnlyKeys(
            "1-courier.push.apple.com", "1.courier.push.apple.com", "init.push.apple.com");
    assertThat(table.get("1-courier.push.apple.com"))
        .containsExactly(ip("17.57.146.20"), ip("17.57.146.21"), ip("2620:149:a44::20"));
    assertThat(HostsFile.contains(table, "1-COURIER.push.apple.com.")).isTrue();
    assertThat(HostsFile.contains(table, "2-courier.push.apple.com")).isFalse();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "17.57.146.20                     | :2: '17.57.146.20' (expected ADDRESS NAME...)",
        "1-courier.push.apple.com 17.0.0.1 | :2: '1-courier.push.apple.com' is not an IP address",
        "17.0.0.300 1-courier.push.apple.com | :2: '17.0.0.300' is not an IP address",
        "17.0.0.1 bad_name.example        | :2: 'bad_name.example' is not a host name",
        "17.0.0.1 a..b                    | :2: 'a..b' is not a host name",
      })
  void rejectsMalformedLinesNamingFileAndLine(String line, String message) throws IOException {
    Path f = write("17.0.0.9 init.push.apple.com\n" + line + "\n");
    assertThatThrownBy(() -> HostsFile.read(f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(f + message);
  }

  @Test
  void aMissingFileIsAnIoException() {
    assertThatThrownBy(() -> HostsFile.read(dir.resolve("missing")))
        .isInstanceOf(NoSuchFileException.class);
  }
}
