// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * Issue 17 item 1: {@code run --config} as its own process, reloaded with SIGHUP while 200 splices
 * carry data. The reload changes the plan's TTL, adds a site and removes a courier port (and
 * changes a key that needs a restart); every live splice survives it, new DNS answers and
 * connections see the new config. A broken file is then refused: the old config serves on and the
 * failure is counted in {@code /metrics}.
 */
class ReloadIT {
  private static final int SPLICES = 200;
  private static final String SITE_A = "127.100.120.0/24";
  private static final String SITE_B = "127.100.121.0/24";
  private static final Duration WAIT = Duration.ofSeconds(90);

  private final List<AutoCloseable> closeLater = new CopyOnWriteArrayList<>();
  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "reload-it");
            t.setDaemon(true);
            return t;
          });
  private Process proxy;

  @AfterEach
  void tearDown() {
    if (proxy != null) {
      proxy.destroyForcibly();
    }
    for (int i = closeLater.size() - 1; i >= 0; i--) {
      try {
        closeLater.get(i).close();
      } catch (Exception e) {
        // closing test resources; the test result stands
      }
    }
    threads.shutdownNow();
  }

  @Test
  void sighupAppliesANewConfigWithLiveSplicesUntouchedAndRefusesABrokenOne(@TempDir Path dir)
      throws Exception {
    // two echo upstreams on 127.0.0.1; the plan's ports are theirs, so a splice reaches the one on
    // its dialled port
    ServerSocket echo1 = echoServer();
    ServerSocket echo2 = echoServer();
    int p1 = echo1.getLocalPort();
    int p2 = echo2.getLocalPort();

    List<String> common =
        List.of(
            "dns.listen=127.0.0.1:0",
            "metrics.listen=127.0.0.1:0",
            "stats.interval=0s",
            "upstream.allow=127.0.0.1/32",
            "clients.allow=127.0.0.0/8",
            "courier.count=3",
            "tcp.max-per-client=0",
            "tcp.init-ports=" + p1,
            "tcp.api-ports=" + p1);
    List<String> v1 = new ArrayList<>(common);
    v1.addAll(
        List.of(
            "plan.sites=a",
            "site.a.ipv4=" + SITE_A,
            "dns.ttl=60s",
            "tcp.courier-ports=" + p1 + "," + p2));
    List<String> v2 = new ArrayList<>(common);
    v2.addAll(
        List.of(
            "plan.sites=a,b",
            "site.a.ipv4=" + SITE_A,
            "site.b.ipv4=" + SITE_B,
            "site.b.clients=127.0.0.2/32",
            "dns.ttl=120s",
            "tcp.courier-ports=" + p1,
            "tcp.idle-timeout=7200s")); // needs a restart: kept, with a warning

    // a hosts file naming every upstream of both plans as 127.0.0.1
    Path hosts = dir.resolve("hosts.txt");
    Set<String> names = new LinkedHashSet<>();
    for (List<String> v : List.of(v1, v2)) {
      AddressPlan plan = plan(v);
      for (ApnsHost h : plan.hosts()) {
        plan.upstreamsFor(h).forEach(u -> names.add(u.name()));
      }
    }
    Files.writeString(hosts, "127.0.0.1 " + String.join(" ", names) + "\n");
    Path config = dir.resolve("proxy.properties");
    write(config, v1, hosts);

    Path stderr = dir.resolve("stderr.txt");
    proxy = ProxyProcess.start(config, stderr, "-Xss512k");
    String first = ProxyProcess.firstLine(proxy, WAIT);
    Matcher m =
        Pattern.compile(
                "DNS \\[/127\\.0\\.0\\.1:(\\d+)].*metrics http://127\\.0\\.0\\.1:(\\d+)/metrics")
            .matcher(first);
    assertThat(m.find())
        .as("first line: %s (stderr: %s)", first, Files.readString(stderr))
        .isTrue();
    InetSocketAddress dns = new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1)));
    URI metrics = URI.create("http://127.0.0.1:" + m.group(2) + "/metrics");

    // before: TTL 60, site a only, both courier ports
    Message a1 = query(dns, "127.0.0.1");
    assertThat(ttl(a1)).isEqualTo(60);
    assertThat(address(a1).getHostAddress()).startsWith("127.100.120.");
    Message b1 = query(dns, "127.0.0.2");
    assertThat(address(b1).getHostAddress()).as("no site b yet").startsWith("127.100.120.");

    // 200 splices carrying data, half on the courier port that the reload removes
    List<InetAddress> couriers =
        plan(v1).listenAddresses().stream()
            .filter(s -> s.getPort() == p2)
            .map(InetSocketAddress::getAddress)
            .toList();
    assertThat(couriers).isNotEmpty();
    List<Socket> splices = new ArrayList<>();
    for (int i = 0; i < SPLICES; i++) {
      Socket s =
          connect(new InetSocketAddress(couriers.get(i % couriers.size()), i % 2 == 0 ? p1 : p2));
      splices.add(s);
      roundTrip(s, i);
    }

    // keeps data moving over every splice while the proxy reloads
    AtomicBoolean pumping = new AtomicBoolean(true);
    AtomicReference<Throwable> pumpFailure = new AtomicReference<>();
    AtomicLong rounds = new AtomicLong();
    CompletableFuture<Void> pump =
        CompletableFuture.runAsync(
            () -> {
              try {
                while (pumping.get()) {
                  for (int i = 0; i < splices.size(); i++) {
                    roundTrip(splices.get(i), i);
                  }
                  rounds.incrementAndGet();
                }
              } catch (IOException | RuntimeException | AssertionError e) {
                pumpFailure.set(e);
              }
            },
            threads);
    awaitRounds(rounds, 1, pumpFailure);

    // reload: TTL 120, site b added, courier port p2 removed
    write(config, v2, hosts);
    hangup();
    awaitLog(stderr, "config reloaded", 1);
    long after = rounds.get();
    awaitRounds(rounds, after + 2, pumpFailure);
    String log = Files.readString(stderr);
    assertThat(log)
        .contains("tcp.idle-timeout = '")
        .contains("change only with a restart; keeping the running values")
        .containsPattern(
            "config reloaded: changed .*dns\\.ttl.*plan\\.sites.*site\\.b\\.ipv4.*tcp\\.courier-ports")
        .contains(SPLICES + " live splices untouched");
    assertThat(reloads(metrics, "success")).isEqualTo(1);
    assertThat(reloads(metrics, "failure")).isZero();

    // new DNS answers see the new config
    Message a2 = query(dns, "127.0.0.1");
    assertThat(ttl(a2)).isEqualTo(120);
    assertThat(address(a2).getHostAddress()).startsWith("127.100.120.");
    Message b2 = query(dns, "127.0.0.2");
    assertThat(ttl(b2)).isEqualTo(120);
    InetAddress siteB = address(b2);
    assertThat(siteB.getHostAddress()).startsWith("127.100.121.");
    // new connections: the new site accepts, the removed port refuses, the kept port accepts
    try (Socket s = connect(new InetSocketAddress(siteB, p1))) {
      roundTrip(s, 1000);
    }
    try (Socket s = connect(new InetSocketAddress(couriers.get(0), p1))) {
      roundTrip(s, 1001);
    }
    assertThatThrownBy(() -> connect(new InetSocketAddress(couriers.get(0), p2)).close())
        .isInstanceOf(ConnectException.class);

    // a broken file is refused as a whole: the old config serves on, the failure is counted and
    // names the key
    List<String> broken = new ArrayList<>(v2);
    broken.replaceAll(l -> l.startsWith("dns.ttl=") ? "dns.ttl=banana" : l);
    broken.replaceAll(l -> l.startsWith("site.b.ipv4=") ? "site.b.ipv4=127.100.122.0/24" : l);
    write(config, broken, hosts);
    hangup();
    awaitLog(stderr, "config reload refused", 1);
    assertThat(Files.readString(stderr))
        .containsPattern(
            "config reload refused, the running config stays: config: " + "dns\\.ttl = 'banana'");
    assertThat(reloads(metrics, "failure")).isEqualTo(1);
    assertThat(reloads(metrics, "success")).isEqualTo(1);
    Message b3 = query(dns, "127.0.0.2");
    assertThat(ttl(b3)).isEqualTo(120);
    assertThat(address(b3)).isEqualTo(siteB);
    try (Socket s = connect(new InetSocketAddress(siteB, p1))) {
      roundTrip(s, 1002);
    }
    after = rounds.get();
    awaitRounds(rounds, after + 2, pumpFailure);

    pumping.set(false);
    pump.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(pumpFailure.get()).isNull();
    for (int i = 0; i < splices.size(); i++) {
      roundTrip(splices.get(i), i); // every one of the 200 still carries data
    }
    for (Socket s : splices) {
      s.close();
    }
    proxy.destroy(); // SIGTERM
    assertThat(proxy.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS))
        .as("exited after SIGTERM")
        .isTrue();
    assertThat(proxy.exitValue()).isZero();
  }

  /**
   * Issue 17 item 1, the keys that were restart-only: {@code upstream.proxy} and its credentials
   * file (re-read at each reload: new contents alone apply), {@code log.level} and {@code
   * log.access}, each changed by SIGHUP on a running process with a splice open throughout; a
   * broken proxy URL is refused and counted with the running egress kept.
   */
  @Test
  void sighupSwapsTheEgressProxyItsCredentialsTheLogLevelAndTheAccessLog(@TempDir Path dir)
      throws Exception {
    ServerSocket echo = echoServer();
    int port = echo.getLocalPort();
    List<String> v1 =
        List.of(
            "dns.listen=127.0.0.1:0",
            "metrics.listen=127.0.0.1:0",
            "stats.interval=0s",
            "upstream.allow=127.0.0.1/32",
            "clients.allow=127.0.0.0/8",
            "courier.count=2",
            "plan.ipv4=127.100.177.0/24",
            "tcp.courier-ports=" + port,
            "tcp.init-ports=" + port,
            "tcp.api-ports=" + port);
    AddressPlan plan = plan(v1);
    Map<String, InetSocketAddress> table = new HashMap<>();
    for (ApnsHost h : plan.hosts()) {
      plan.upstreamsFor(h)
          .forEach(u -> table.put(u.name(), new InetSocketAddress("127.0.0.1", port)));
    }
    Path hosts = dir.resolve("hosts.txt");
    Files.writeString(hosts, "127.0.0.1 " + String.join(" ", table.keySet()) + "\n");
    TestConnectProxy corporate = TestConnectProxy.start(table, Set.of(port));
    closeLater.add(corporate);
    Path credentials = dir.resolve("proxy-credentials");
    Files.writeString(credentials, "apns:first\n");
    Path config = dir.resolve("proxy.properties");
    write(config, v1, hosts);

    Path stderr = dir.resolve("stderr.txt");
    proxy = ProxyProcess.start(config, stderr);
    String first = ProxyProcess.firstLine(proxy, WAIT);
    Matcher m = Pattern.compile("metrics http://127\\.0\\.0\\.1:(\\d+)/metrics").matcher(first);
    assertThat(m.find()).as("first line: %s", first).isTrue();
    URI metrics = URI.create("http://127.0.0.1:" + m.group(1) + "/metrics");
    InetSocketAddress courier = plan.listenAddresses().get(0);

    // direct, INFO, access log on: one access line per connection, no DEBUG line
    Socket live = connect(courier);
    roundTrip(live, 1);
    Socket direct = connect(courier);
    roundTrip(direct, 2);
    String directClient = client(direct);
    direct.close();
    awaitLog(stderr, "client=" + directClient + " ", 1);
    assertThat(Files.readString(stderr)).doesNotContain("] DEBUG io.github.apnsproxy.");
    assertThat(corporate.requested).isEmpty();

    // through the corporate proxy with the file's credentials; DEBUG on, the access log off
    List<String> v2 = new ArrayList<>(v1);
    v2.addAll(
        List.of(
            "upstream.proxy=http://127.0.0.1:" + corporate.port(),
            "upstream.proxy-credentials=" + credentials,
            "log.level=debug",
            "log.access=off"));
    write(config, v2, hosts);
    hangup();
    awaitLog(stderr, "config reloaded", 1);
    assertThat(Files.readString(stderr))
        .containsPattern(
            "config reloaded: changed .*log\\.access.*log\\.level.*upstream\\.proxy.*"
                + "upstream\\.proxy-credentials")
        .doesNotContain("change only with a restart");
    Socket proxied = connect(courier);
    roundTrip(proxied, 3);
    assertThat(corporate.requested).hasSize(1);
    assertThat(corporate.requested.get(0)).endsWith(":" + port);
    assertThat(corporate.authorizations).containsExactly(basic("apns:first"));
    String proxiedClient = client(proxied);
    proxied.close();
    awaitLog(stderr, "] DEBUG io.github.apnsproxy.", 1); // DEBUG lines now appear
    roundTrip(live, 4); // the splice made before the reload goes on, direct

    // the credentials file alone changes: read again at the next reload
    Files.writeString(credentials, "apns:second\n");
    hangup();
    awaitLog(stderr, "config reloaded", 2);
    assertThat(Files.readString(stderr)).contains("upstream.proxy-credentials (file contents)");
    Socket again = connect(courier);
    roundTrip(again, 5);
    assertThat(corporate.authorizations).containsExactly(basic("apns:first"), basic("apns:second"));
    String againClient = client(again);
    again.close();

    // a broken proxy URL: refused as a whole, counted, the running egress stays
    List<String> broken = new ArrayList<>(v2);
    broken.replaceAll(l -> l.startsWith("upstream.proxy=") ? "upstream.proxy=ftp://x:1" : l);
    write(config, broken, hosts);
    hangup();
    awaitLog(stderr, "config reload refused", 1);
    assertThat(Files.readString(stderr))
        .containsPattern(
            "config reload refused, the running config stays: config: upstream\\.proxy");
    assertThat(reloads(metrics, "failure")).isEqualTo(1);
    assertThat(reloads(metrics, "success")).isEqualTo(2);
    Socket stillProxied = connect(courier);
    roundTrip(stillProxied, 6);
    assertThat(corporate.requested).hasSize(3);
    String stillClient = client(stillProxied);
    stillProxied.close();

    // back to direct with the access log on: the next connection is logged, none of those closed
    // while it was off were
    write(config, v1, hosts);
    hangup();
    awaitLog(stderr, "config reloaded", 3);
    Socket last = connect(courier);
    roundTrip(last, 7);
    String lastClient = client(last);
    last.close();
    awaitLog(stderr, "client=" + lastClient + " ", 1);
    assertThat(corporate.requested).hasSize(3);
    String log = Files.readString(stderr);
    for (String quiet : List.of(proxiedClient, againClient, stillClient)) {
      assertThat(log).doesNotContain("client=" + quiet + " ");
    }
    roundTrip(live, 8);
    live.close();
    proxy.destroy(); // SIGTERM
    assertThat(proxy.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(proxy.exitValue()).isZero();
  }

  private static String client(Socket s) {
    return s.getLocalAddress().getHostAddress() + ":" + s.getLocalPort();
  }

  private static String basic(String userPass) {
    return "Basic "
        + java.util.Base64.getEncoder()
            .encodeToString(userPass.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  // ---------------------------------------------------------------- helpers

  private static AddressPlan plan(List<String> lines) {
    Properties p = new Properties();
    for (String l : lines) {
      int eq = l.indexOf('=');
      p.setProperty(l.substring(0, eq), l.substring(eq + 1));
    }
    return ProxySetup.forInspection(ProxyConfig.fromProperties(p)).plan();
  }

  private static void write(Path config, List<String> lines, Path hosts) throws IOException {
    List<String> all = new ArrayList<>(lines);
    all.add("upstream.hosts=" + hosts);
    Path tmp = config.resolveSibling("proxy.properties.tmp");
    Files.writeString(tmp, String.join("\n", all) + "\n");
    Files.move(
        tmp,
        config,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  private void hangup() throws Exception {
    Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(proxy.pid())).start();
    assertThat(kill.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(kill.exitValue()).isZero();
  }

  private void awaitLog(Path stderr, String text, int count) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (occurrences(Files.readString(stderr), text) < count) {
      assertThat(proxy.isAlive()).as("proxy alive").isTrue();
      assertThat(System.nanoTime() - deadline).as("'%s' logged within %s", text, WAIT).isNegative();
      Thread.sleep(20);
    }
  }

  private static int occurrences(String s, String text) {
    int n = 0;
    for (int i = s.indexOf(text); i >= 0; i = s.indexOf(text, i + 1)) {
      n++;
    }
    return n;
  }

  private static void awaitRounds(
      AtomicLong rounds, long atLeast, AtomicReference<Throwable> failure)
      throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (rounds.get() < atLeast) {
      assertThat(failure.get()).as("pump failure").isNull();
      assertThat(System.nanoTime() - deadline)
          .as("%s rounds over every splice within %s", atLeast, WAIT)
          .isNegative();
      Thread.sleep(10);
    }
    assertThat(failure.get()).as("pump failure").isNull();
  }

  private static Socket connect(InetSocketAddress to) throws IOException {
    Socket s = new Socket();
    try {
      s.connect(to, (int) WAIT.toMillis());
      s.setSoTimeout((int) WAIT.toMillis());
      s.setTcpNoDelay(true);
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  /**
   * Sends 256 bytes tagged with {@code n} and reads them back through the splice and the echo
   * upstream.
   */
  private static void roundTrip(Socket s, int n) throws IOException {
    byte[] sent = new byte[256];
    for (int i = 0; i < sent.length; i++) {
      sent[i] = (byte) (n + i);
    }
    OutputStream o = s.getOutputStream();
    o.write(sent);
    o.flush();
    byte[] got = s.getInputStream().readNBytes(sent.length);
    if (!Arrays.equals(sent, got)) {
      throw new AssertionError(
          "splice "
              + n
              + " to "
              + s.getRemoteSocketAddress()
              + ": echoed "
              + got.length
              + " bytes, not what was sent");
    }
  }

  private ServerSocket echoServer() throws IOException {
    ServerSocket server = new ServerSocket(0, 512, InetAddress.getByName("127.0.0.1"));
    closeLater.add(server);
    threads.execute(
        () -> {
          while (!server.isClosed()) {
            try {
              Socket c = server.accept();
              closeLater.add(c);
              threads.execute(() -> echo(c));
            } catch (IOException e) {
              return; // closed at the end of the test
            }
          }
        });
    return server;
  }

  private static void echo(Socket c) {
    try (c;
        InputStream in = c.getInputStream();
        OutputStream o = c.getOutputStream()) {
      byte[] buf = new byte[4096];
      for (int n; (n = in.read(buf)) >= 0; ) {
        o.write(buf, 0, n);
      }
    } catch (IOException e) {
      // the client went away
    }
  }

  private static Message query(InetSocketAddress dns, String from) throws IOException {
    SimpleResolver r = new SimpleResolver(dns);
    r.setLocalAddress(new InetSocketAddress(from, 0));
    r.setTimeout(Duration.ofSeconds(20));
    Message answer =
        r.send(
            Message.newQuery(
                Record.newRecord(Name.fromString("0-courier.push.apple.com."), Type.A, DClass.IN)));
    assertThat(answer.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(answer.getSection(Section.ANSWER)).isNotEmpty();
    return answer;
  }

  private static long ttl(Message m) {
    return m.getSection(Section.ANSWER).get(0).getTTL();
  }

  private static InetAddress address(Message m) {
    return ((ARecord) m.getSection(Section.ANSWER).get(0)).getAddress();
  }

  private static long reloads(URI metrics, String result) throws Exception {
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).build();
    HttpResponse<String> r =
        client.send(
            HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(30)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    String prefix = "apns_proxy_config_reloads_total{result=\"" + result + "\"} ";
    return r.body()
        .lines()
        .filter(l -> l.startsWith(prefix))
        .map(l -> (long) Double.parseDouble(l.substring(prefix.length()).trim().split(" ")[0]))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + prefix + "in /metrics"));
  }
}
