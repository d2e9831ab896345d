// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApnsProxyCliTest {
  @TempDir Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return ApnsProxy.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  private Path config(String text) throws IOException {
    Path f = dir.resolve("proxy.properties");
    Files.writeString(f, text);
    return f;
  }

  @Test
  void helpPrintsEveryCommand() {
    assertThat(run("--help")).isZero();
    assertThat(out()).contains("demo", "run --config FILE", "check --config FILE", "bench");
  }

  @Test
  void noArgumentsIsAUsageError() {
    assertThat(run()).isEqualTo(2);
    assertThat(out()).contains("Usage");
  }

  @Test
  void unknownCommandExitsTwo() {
    assertThat(run("serve")).isEqualTo(2);
    assertThat(err()).contains("unknown command 'serve'");
  }

  @Test
  void demoWithABadOptionExitsTwoNamingIt() {
    assertThat(run("demo", "--devices", "abc")).isEqualTo(2);
    assertThat(err()).contains("--devices 'abc'").contains("1..5000");
    assertThat(run("demo", "--devices", "0")).isEqualTo(2);
    assertThat(run("demo", "--verbose")).isEqualTo(2);
    assertThat(err()).contains("unknown option '--verbose'");
    assertThat(out()).as("nothing started").isEmpty();
  }

  @Test
  void runWithABadKeyExitsTwoWithOneLineNamingTheKey() throws IOException {
    Path f = config("upstream.dns=127.0.0.1:53\ndns.ttl=soon\n");
    assertThat(run("run", "--config", f.toString())).isEqualTo(2);
    assertThat(err().strip().lines()).hasSize(1);
    assertThat(err()).contains("dns.ttl").contains("soon");
  }

  @Test
  void aConfigFileThatIsNotUtf8TextExitsTwo() throws IOException {
    Path f = dir.resolve("latin1.properties");
    Files.write(f, new byte[] {'d', 'n', 's', '.', 't', 't', 'l', '=', (byte) 0xE9, '\n'});
    assertThat(run("check", "--config", f.toString())).isEqualTo(2);
    assertThat(err()).contains("not UTF-8");
  }

  @Test
  void runWithAnUnknownKeyExitsTwo() throws IOException {
    Path f = config("upstream.dns=127.0.0.1:53\ndns.tll=5s\n");
    assertThat(run("run", "--config", f.toString())).isEqualTo(2);
    assertThat(err()).contains("dns.tll").contains("dns.ttl");
  }

  @Test
  void probeWithoutConfigOrWithABadOptionIsAUsageError() {
    assertThat(run("probe")).isEqualTo(2);
    assertThat(err()).contains("probe: --config FILE is required");
    assertThat(run("probe", "--fast")).isEqualTo(2);
    assertThat(err()).contains("probe: unknown option '--fast'");
  }

  @Test
  void probeReportsEveryUnresolvableHostAndExitsOne() throws IOException {
    int closedPort;
    try (java.net.DatagramSocket s =
        new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort(); // closed again: the DNS queries get nothing (port unreachable)
    }
    Path cfg =
        config(
            "plan.ipv4=10.100.100.0/24\nupstream.dns=127.0.0.1:"
                + closedPort
                + "\nupstream.timeout=300ms\n");
    assertThat(run("probe", "--config", cfg.toString())).as(err()).isEqualTo(1);
    assertThat(out())
        .contains(
            "courier courier",
            "init",
            "api",
            "dns: DNS does not resolve 1-courier.push.apple.com",
            "hosts failed");
  }

  @Test
  void runWithoutConfigIsAUsageError() {
    assertThat(run("run")).isEqualTo(2);
    assertThat(err()).contains("--config FILE is required");
  }

  @Test
  void runWithAMissingFileIsAUsageError() {
    assertThat(run("run", "--config", dir.resolve("nope.properties").toString())).isEqualTo(2);
    assertThat(err()).contains("cannot read config file");
  }

  @Test
  void checkPrintsEveryVirtualAddressAndWhatItMapsTo() throws IOException {
    Path f = config("upstream.dns=127.0.0.1:53\nplan.ipv4=10.100.100.0/24\n");
    assertThat(run("check", "--config", f.toString())).isZero();
    assertThat(out())
        .contains("config OK")
        .contains("10.100.100.1 ")
        .contains("0-courier.push.apple.com")
        .contains("10.100.100.18 ")
        .contains("17-courier.push.apple.com")
        .contains("10.100.100.254")
        .contains("init.push.apple.com")
        .contains("api.sandbox.push.apple.com")
        .contains("209 virtual addresses")
        .contains("effective configuration")
        .contains("upstream.dns = 127.0.0.1:53")
        .contains("dns.zone-other = nxdomain")
        .contains("tcp.idle-timeout = 1h");
  }

  @Test
  void checkPrintsTheEgressButNeverAPassword() throws IOException {
    Files.writeString(
        dir.resolve("proxy-credentials"),
        "192.0.2.9:1080 bob:fileSecret-2\n",
        StandardCharsets.UTF_8);
    // no upstream.dns, no upstream.hosts: the proxies resolve the names
    Path f =
        config(
            "upstream.proxy=http://alice:urlSecret-1@192.0.2.8:3128,socks5://192.0.2.9:1080\n"
                + "upstream.proxy-credentials=proxy-credentials\nupstream.family=ipv4-first\n");
    assertThat(run("check", "--config", f.toString())).as(err()).isZero();
    assertThat(out())
        .contains(
            "egress: http://alice:***@192.0.2.8:3128,socks5://bob:***@192.0.2.9:1080, address family ipv4-first")
        .contains(
            "upstream.proxy = http://alice:***@192.0.2.8:3128,socks5://bob:***@192.0.2.9:1080")
        .contains("upstream.family = ipv4-first")
        .doesNotContain("urlSecret-1")
        .doesNotContain("fileSecret-2");
    assertThat(err()).doesNotContain("urlSecret-1").doesNotContain("fileSecret-2");
  }

  @Test
  void aBadUpstreamProxyValueIsEchoedWithoutItsPassword() throws IOException {
    Path f =
        config(
            "upstream.proxy=http://alice:urlSecret-1@192.0.2.8:3128,ftp://bob:otherSecret-2@192.0.2.9:21\n");
    assertThat(run("check", "--config", f.toString())).isEqualTo(2);
    assertThat(err())
        .contains("upstream.proxy = 'http://alice:***@192.0.2.8:3128,ftp://bob:***@192.0.2.9:21'")
        .doesNotContain("urlSecret-1")
        .doesNotContain("otherSecret-2");
  }

  @Test
  void checkOfAPooledPlanShowsThePools() throws IOException {
    Path f = config("upstream.dns=127.0.0.1:53\nplan.style=pooled\nplan.ipv4=10.9.0.0/28\n");
    assertThat(run("check", "--config", f.toString())).isZero();
    assertThat(out())
        .contains("10.9.0.1 ")
        .contains("pool of 102 couriers")
        .contains("7 virtual addresses");
  }

  @Test
  void checkOfAPlanThatDoesNotFitExitsTwo() throws IOException {
    Path f = config("upstream.dns=127.0.0.1:53\nplan.ipv4=10.100.100.0/26\n");
    assertThat(run("check", "--config", f.toString())).isEqualTo(2);
    assertThat(err()).contains("plan.ipv4").contains("does not fit");
  }

  @Test
  void keysListsEveryConfigKey() {
    assertThat(run("keys")).isZero();
    assertThat(out())
        .contains(
            "plan.ipv4", "dns.listen", "upstream.hosts", "tcp.idle-timeout", "metrics.listen");
  }

  @Test
  void keysShowTheBuildersDefaults() {
    assertThat(run("keys")).isZero();
    assertThat(out())
        .containsPattern("tcp.max-connections +default 50000 ")
        .containsPattern("tcp.idle-timeout +default 1h ")
        .containsPattern("dns.txt-count +default = courier.count ");
  }

  @Test
  void checkOfDevZeroExitsTwoWithOneLine() {
    assertThat(run("check", "--config", "/dev/zero")).isEqualTo(2);
    assertThat(err())
        .isEqualTo(
            "apns-proxy: config: /dev/zero is not a regular file (expected a file, not a device,"
                + " FIFO or directory)"
                + System.lineSeparator());
  }

  @Test
  void hostsFromDevZeroExitTwoNamingTheKey() throws IOException {
    Path f = config("upstream.dns=127.0.0.1:53\nupstream.hosts=/dev/zero\n");
    assertThat(run("check", "--config", f.toString())).isEqualTo(2);
    assertThat(err())
        .startsWith("apns-proxy: config: upstream.hosts = '/dev/zero': cannot read the file")
        .contains("is not a regular file")
        .hasLineCount(1);
  }

  @Test
  void overflowingDurationsExitTwoNamingTheKey() throws IOException {
    for (String line :
        new String[] {
          "tcp.idle-timeout=106752d",
          "tcp.drain-timeout=200000d",
          "upstream.timeout=999999999d",
          "dns.tcp-idle-timeout=3651d"
        }) {
      err.reset();
      Path f = config("upstream.dns=127.0.0.1:53\n" + line + "\n");
      assertThat(run("run", "--config", f.toString())).as(line).isEqualTo(2);
      String key = line.substring(0, line.indexOf('='));
      assertThat(err())
          .as(line)
          .startsWith("apns-proxy: config: " + key + " = '")
          .contains("expected at most 3650d")
          .hasLineCount(1);
    }
  }

  @Test
  void aHugeValueGivesAShortLine() throws IOException {
    Path f = config("upstream.dns=127.0.0.1:53\ndns.ns-name=" + "a".repeat(500_000) + "_\n");
    assertThat(run("check", "--config", f.toString())).isEqualTo(2);
    assertThat(err())
        .startsWith(
            "apns-proxy: config: dns.ns-name = '" + "a".repeat(100) + "...(500001 chars)': ")
        .hasLineCount(1);
    assertThat(err().length()).isLessThan(1_000);
  }

  @Test
  void checkRefusesAnUpstreamAllowOverThePlanAndPrintsTheEffectiveLimit() throws IOException {
    Path bad =
        config(
            "upstream.dns=127.0.0.1:53\nplan.ipv4=127.100.100.0/24\nupstream.allow=127.0.0.0/8\n");
    assertThat(run("check", "--config", bad.toString())).isEqualTo(2);
    assertThat(err())
        .startsWith(
            "apns-proxy: config: upstream.allow = '127.0.0.0/8': 127.0.0.0/8 overlaps the virtual"
                + " subnet 127.100.100.0/24 of site default");
    Path good = config("upstream.dns=127.0.0.1:53\n");
    assertThat(run("check", "--config", good.toString())).isZero();
    assertThat(out()).containsPattern("splicer: at most [0-9]+ connections at once");
  }
}
