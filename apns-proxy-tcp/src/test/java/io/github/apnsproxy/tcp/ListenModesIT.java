// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Wildcard (AnyIP-style) listening, SO_REUSEPORT, and accepting under file-descriptor exhaustion.
 */
class ListenModesIT extends SplicerTestSupport {
  private static final AddressPolicy LOOPBACK_UPSTREAMS =
      new AddressPolicy(CidrSet.any(), CidrSet.parse("127.0.0.0/8"));

  private static int freePort(InetAddress on) throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, on)) {
      return s.getLocalPort();
    }
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  @Test
  void aWildcardListenerRoutesByTheAddressTheClientDialled() throws Exception {
    int port = freePort(InetAddress.getByName("0.0.0.0"));
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(3)
            .courierVariants(List.of("courier"))
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .build();
    Map<String, List<InetAddress>> table = new HashMap<>();
    List<TestServer> upstreams = new ArrayList<>();
    for (int n = 0; n <= 3; n++) {
      TestServer up = track(TestServer.echo(TestServer.at("127.0.1." + (n + 1), 0)));
      upstreams.add(up);
      table.put(n + "-courier.push.apple.com", List.of(up.address().getAddress()));
    }
    // every courier on its own upstream address, all on one port: route by address only
    Map<Integer, InetSocketAddress> upstreamOf = new ConcurrentHashMap<>();
    Router router = Router.fromPlan(plan, UpstreamResolver.fixed(table), LOOPBACK_UPSTREAMS);
    Router withPorts =
        c ->
            router
                .route(c)
                .thenApply(
                    r ->
                        r.rejection() != null
                            ? r
                            : Route.to(
                                r.host(),
                                r.candidates().stream()
                                    .map(
                                        a ->
                                            upstreams.stream()
                                                .filter(
                                                    u ->
                                                        u.address()
                                                            .getAddress()
                                                            .equals(a.getAddress()))
                                                .findFirst()
                                                .orElseThrow()
                                                .address())
                                    .toList()));
    TcpSplicer sp =
        start(
            TcpSplicer.builder()
                .listen(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), port))
                .router(withPorts)
                .loops(1)
                .listener(
                    new SpliceListener() {
                      @Override
                      public void connected(InboundConnection c, InetSocketAddress upstream) {
                        upstreamOf.put(c.local().getAddress().getAddress()[3] & 0xff, upstream);
                      }
                    }));
    for (int n = 0; n <= 3; n++) {
      InetAddress virtual =
          plan.addressesFor(ApnsHost.courier(n), InetAddress.getLoopbackAddress()).get(0);
      Socket s = connect(new InetSocketAddress(virtual, port));
      s.getOutputStream().write(ascii("hi" + n));
      assertThat(readN(s.getInputStream(), 3)).isEqualTo(ascii("hi" + n));
      int last = virtual.getAddress()[3] & 0xff;
      await("connected reported", () -> upstreamOf.containsKey(last));
      assertThat(upstreamOf.get(last)).isEqualTo(upstreams.get(n).address());
      s.close();
    }
    // an address of the subnet that the plan does not use is refused, not routed
    Socket stray = connect(new InetSocketAddress(InetAddress.getByName("127.100.100.99"), port));
    assertThat(stray.getInputStream().read()).isEqualTo(-1);
    assertQuiet(sp);
  }

  @Test
  void reusePortLetsTwoSplicersShareAnAddress() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer first = start(builder(fixed(up.address())).reusePort(true));
    InetSocketAddress shared = entry(first);
    TcpSplicer second =
        start(
            TcpSplicer.builder()
                .listen(shared)
                .router(fixed(up.address()))
                .loops(1)
                .reusePort(true));
    assertThat(entry(second)).isEqualTo(shared);
    for (int i = 0; i < 8; i++) {
      Socket s = connect(shared);
      s.getOutputStream().write(ascii("r" + i));
      assertThat(readN(s.getInputStream(), 2)).isEqualTo(ascii("r" + i));
      s.close();
    }
    assertThat(first.stats().accepted() + second.stats().accepted()).isEqualTo(8);
    assertQuiet(first);
    assertQuiet(second);
  }

  @Test
  void outOfFileDescriptorsPausesAcceptingWithoutSpinningThenResumes() throws Exception {
    TestServer up = track(TestServer.echo(TestServer.at("127.0.1.1", 0)));
    TcpSplicer sp = start(builder(fixed(up.address())).loops(1));
    // warm up: classes loaded, one full splice
    Socket warm = connect(entry(sp));
    warm.getOutputStream().write(ascii("w"));
    assertThat(readN(warm.getInputStream(), 1)).isEqualTo(ascii("w"));
    warm.close();
    assertQuiet(sp);

    // opened now: reading it later must not need a descriptor
    java.nio.channels.FileChannel loopStat =
        track(java.nio.channels.FileChannel.open(loopTask().resolve("stat")));
    Socket client = new Socket(); // made before the descriptors run out
    client.setSoTimeout(20_000);
    List<Pipe> hog = new ArrayList<>();
    List<java.nio.channels.FileChannel> singles = new ArrayList<>();
    long cpuBefore;
    long wallBefore;
    try {
      try {
        while (true) {
          hog.add(Pipe.open());
        }
      } catch (IOException expected) {
        // a failed Pipe.open() may leave one descriptor free: take the last ones one by one
      }
      try {
        while (true) {
          singles.add(java.nio.channels.FileChannel.open(Path.of("/dev/null")));
        }
      } catch (IOException expected) {
        // the process is out of file descriptors: the splicer cannot accept
      }
      // free a few so that only the splicer's accept (not our connect) fails: the connect needs one
      // descriptor,
      // already held by 'client'; the kernel completes the handshake into the listen backlog
      client.connect(entry(sp), 5_000);
      cpuBefore = cpuTicks(loopStat);
      wallBefore = System.nanoTime();
      TimeUnit.MILLISECONDS.sleep(1_500);
      long cpu = (cpuTicks(loopStat) - cpuBefore) * 10_000_000L; // clock ticks of 10 ms
      long wall = System.nanoTime() - wallBefore;
      // a loop spinning on the ready listener would burn about all of it
      assertThat((double) cpu / wall).as("loop CPU share while accepts fail").isLessThan(0.5);
      assertThat(sp.stats().active()).isZero();
      assertThat(sp.stats().accepted())
          .as("nothing accepted while out of descriptors")
          .isEqualTo(1);
    } finally {
      for (java.nio.channels.FileChannel f : singles) {
        f.close();
      }
      for (Pipe p : hog) {
        p.source().close();
        p.sink().close();
      }
    }
    // descriptors back: the waiting client is accepted and spliced
    client.getOutputStream().write(ascii("back"));
    assertThat(readN(client.getInputStream(), 4)).isEqualTo(ascii("back"));
    client.close();
    assertQuiet(sp);
  }

  /**
   * The /proc task of the one splicer loop thread (Linux names native threads with the first 15
   * characters).
   */
  private static Path loopTask() throws IOException {
    try (var tasks = Files.list(Path.of("/proc/self/task"))) {
      List<Path> loops =
          tasks
              .filter(
                  t -> {
                    try {
                      return Files.readString(t.resolve("comm"))
                          .trim()
                          .startsWith("apns-proxy-tcp");
                    } catch (IOException e) {
                      return false; // the thread ended
                    }
                  })
              .toList();
      assertThat(loops).as("one splicer loop thread").hasSize(1);
      return loops.get(0);
    }
  }

  /** User plus system CPU time of a task, in clock ticks. */
  private static long cpuTicks(java.nio.channels.FileChannel statFile) throws IOException {
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(4096);
    statFile.read(buf, 0); // procfs regenerates the content when read from offset 0
    String stat = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ", -1);
    return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15 of proc(5)
  }
}
