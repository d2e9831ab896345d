// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.SpliceStats;
import io.github.apnsproxy.tcp.TcpSplicer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The TCP splicer alone, with a {@link Router} the host application supplies: here a table from the
 * virtual address the client dialled to an upstream socket address (a host could equally look up
 * its own service registry). No DNS, no dnsjava: {@code apns-proxy-tcp} depends on {@code
 * apns-proxy-core} only.
 *
 * <p>Run it (after {@code mvn -B -q package -DskipTests}):
 *
 * <pre>
 * java -cp apns-proxy-examples/target/apns-proxy.jar io.github.apnsproxy.examples.SplicerOnlyExample
 * </pre>
 *
 * <p>Expected output (ports differ):
 *
 * <pre>
 * upstream echo server on 127.0.1.1:40123
 * splicer listening on [/127.100.100.18:40125]
 * client -&gt; 127.100.100.18:40125 sent "hello through the splicer", got back "hello through the splicer"
 * stats: accepted 1, active 0, bytes up 25, bytes down 25
 * </pre>
 */
public final class SplicerOnlyExample {
  private SplicerOnlyExample() {}

  public static void main(String[] args) throws Exception {
    // An upstream the host knows about: a line echo server on 127.0.1.1 (any loopback address works
    // on Linux).
    try (ServerSocket upstream = new ServerSocket(0, 50, InetAddress.getByName("127.0.1.1"))) {
      Thread echo = new Thread(() -> echo(upstream), "example-echo");
      echo.setDaemon(true);
      echo.start();
      InetSocketAddress upstreamAddress = (InetSocketAddress) upstream.getLocalSocketAddress();
      System.out.println(
          "upstream echo server on "
              + upstreamAddress.getHostString()
              + ":"
              + upstreamAddress.getPort());

      // The host's own routing: the local (virtual) address the client dialled decides the
      // upstream.
      InetAddress virtual = InetAddress.getByName("127.100.100.18");
      Router router =
          inbound ->
              CompletableFuture.completedFuture(
                  inbound.local().getAddress().equals(virtual)
                      ? Route.to("17-courier.push.apple.com", List.of(upstreamAddress))
                      : Route.reject("no upstream for " + inbound.local()));

      TcpSplicer splicer =
          TcpSplicer.builder()
              .listen(new InetSocketAddress(virtual, 0))
              .router(router)
              .policy(new AddressPolicy(CidrSet.parse("127.0.0.0/8"), CidrSet.parse("127.0.0.0/8")))
              .loops(1)
              .idleTimeout(Duration.ofMinutes(5))
              .build();
      splicer.start();
      try {
        InetSocketAddress front = splicer.boundAddresses().get(0);
        System.out.println("splicer listening on " + splicer.boundAddresses());
        String message = "hello through the splicer";
        try (Socket client = new Socket(front.getAddress(), front.getPort())) {
          client.setSoTimeout(5_000);
          OutputStream out = client.getOutputStream();
          out.write((message + "\n").getBytes(StandardCharsets.UTF_8));
          client.shutdownOutput();
          String back =
              new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
          System.out.println(
              "client -> "
                  + front.getHostString()
                  + ":"
                  + front.getPort()
                  + " sent \""
                  + message
                  + "\", got back \""
                  + back
                  + "\"");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (splicer.stats().active() > 0 && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        SpliceStats stats = splicer.stats();
        System.out.println(
            "stats: accepted "
                + stats.accepted()
                + ", active "
                + stats.active()
                + ", bytes up "
                + stats.bytesClientToUpstream()
                + ", bytes down "
                + stats.bytesUpstreamToClient());
      } finally {
        splicer.close();
      }
    }
  }

  private static void echo(ServerSocket server) {
    while (!server.isClosed()) {
      try (Socket s = server.accept()) {
        InputStream in = s.getInputStream();
        in.transferTo(s.getOutputStream());
        s.shutdownOutput();
      } catch (IOException e) {
        return;
      }
    }
  }
}
