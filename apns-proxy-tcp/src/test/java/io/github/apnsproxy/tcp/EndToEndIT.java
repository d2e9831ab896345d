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
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * Through the stock plan router: virtual 127.100.100.x -> courier N -> upstream echo server
 * 127.0.1.N.
 */
class EndToEndIT extends SplicerTestSupport {
  private static final int COURIERS = 4;
  private static final AddressPolicy LOOPBACK =
      new AddressPolicy(CidrSet.parse("127.0.0.0/8"), CidrSet.parse("127.0.0.0/8"));

  private final List<TestServer> upstreams = new ArrayList<>();
  private final Map<InetSocketAddress, InetSocketAddress> connectedTo = new ConcurrentHashMap<>();
  private AddressPlan plan;
  private TcpSplicer splicer;

  /**
   * Binds echo upstreams on 127.0.1.N:P and the splicer on every courier's virtual address :P, one
   * free port P.
   */
  private void setUp() throws IOException {
    for (int attempt = 0; ; attempt++) {
      int port;
      try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.100.100.1"))) {
        port = probe.getLocalPort();
      }
      try {
        startAll(port);
        return;
      } catch (BindException e) {
        for (TestServer s : upstreams) {
          s.close();
        }
        upstreams.clear();
        if (attempt == 5) {
          throw e;
        }
      }
    }
  }

  private void startAll(int port) throws IOException {
    plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(COURIERS)
            .courierVariants(List.of("courier"))
            .ports(ApnsHost.Kind.COURIER, List.of(port))
            .build();
    Map<String, List<InetAddress>> table = new HashMap<>();
    List<InetSocketAddress> listen = new ArrayList<>();
    for (int n = 0; n <= COURIERS; n++) {
      InetSocketAddress up = TestServer.at("127.0.1." + (n + 1), port);
      upstreams.add(track(TestServer.echo(up)));
      table.put(ApnsHost.courier(n).name(), List.of(up.getAddress()));
      listen.add(new InetSocketAddress(virtual(n), port));
    }
    Router router = Router.fromPlan(plan, UpstreamResolver.fixed(table), LOOPBACK);
    splicer =
        start(
            TcpSplicer.builder()
                .listen(listen)
                .router(router)
                .policy(LOOPBACK)
                .loops(2)
                .listener(
                    new SpliceListener() {
                      @Override
                      public void connected(InboundConnection c, InetSocketAddress upstream) {
                        connectedTo.put(c.client(), upstream);
                      }
                    }));
  }

  private InetAddress virtual(int courier) {
    return plan.addressesFor(ApnsHost.courier(courier), InetAddress.getLoopbackAddress()).get(0);
  }

  @Test
  void eachVirtualAddressReachesItsCourier() throws Exception {
    setUp();
    for (int n = 0; n <= COURIERS; n++) {
      InetSocketAddress v =
          new InetSocketAddress(virtual(n), splicer.boundAddresses().get(0).getPort());
      assertThat(v.getAddress().getHostAddress()).startsWith("127.100.100.");
      try (Socket s = connect(v)) {
        byte[] msg = ("courier " + n).getBytes(StandardCharsets.US_ASCII);
        s.getOutputStream().write(msg);
        assertThat(readN(s.getInputStream(), msg.length)).isEqualTo(msg);
        InetSocketAddress up = connectedTo.get((InetSocketAddress) s.getLocalSocketAddress());
        assertThat(up.getAddress().getHostAddress()).isEqualTo("127.0.1." + (n + 1));
      }
      assertThat(upstreams.get(n).accepted.get()).isEqualTo(1);
    }
    assertQuiet(splicer);
    assertThat(splicer.stats().accepted()).isEqualTo(COURIERS + 1);
    assertThat(splicer.stats().closed(CloseReason.COMPLETED)).isEqualTo(COURIERS + 1);
  }

  @Test
  void twoHundredConcurrentSplicesArriveByteExact() throws Exception {
    setUp();
    int count = 200;
    ExecutorService pool = Executors.newCachedThreadPool();
    try {
      List<Socket> sockets = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        int n = i % (COURIERS + 1);
        sockets.add(
            connect(new InetSocketAddress(virtual(n), splicer.boundAddresses().get(0).getPort())));
      }
      List<CompletableFuture<long[]>> results = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        Socket s = sockets.get(i);
        Random random = new Random(i);
        int total = 16 * 1024 + random.nextInt(96 * 1024);
        byte[] data = new byte[total];
        random.nextBytes(data);
        CompletableFuture<Long> sent =
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    OutputStream out = s.getOutputStream();
                    CRC32 crc = new CRC32();
                    for (int off = 0; off < total; ) {
                      int chunk = Math.min(total - off, 1 + random.nextInt(8192));
                      out.write(data, off, chunk);
                      crc.update(data, off, chunk);
                      off += chunk;
                    }
                    s.shutdownOutput();
                    return crc.getValue();
                  } catch (IOException e) {
                    throw new IllegalStateException(e);
                  }
                },
                pool);
        CompletableFuture<Long> received =
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    InputStream in = s.getInputStream();
                    CRC32 crc = new CRC32();
                    byte[] buf = new byte[7000];
                    long got = 0;
                    int r;
                    while ((r = in.read(buf)) >= 0) {
                      crc.update(buf, 0, r);
                      got += r;
                    }
                    assertThat(got).isEqualTo(total);
                    return crc.getValue();
                  } catch (IOException e) {
                    throw new IllegalStateException(e);
                  }
                },
                pool);
        results.add(sent.thenCombine(received, (a, b) -> new long[] {a, b}));
      }
      CompletableFuture.allOf(results.toArray(new CompletableFuture<?>[0]))
          .get(90, TimeUnit.SECONDS);
      for (CompletableFuture<long[]> r : results) {
        long[] sums = r.join();
        assertThat(sums[1]).isEqualTo(sums[0]);
      }
    } finally {
      pool.shutdownNow();
    }
    assertQuiet(splicer);
    SpliceStats stats = splicer.stats();
    assertThat(stats.closed(CloseReason.COMPLETED)).isEqualTo(count);
    assertThat(stats.bytesClientToUpstream()).isEqualTo(stats.bytesUpstreamToClient()).isPositive();
  }
}
