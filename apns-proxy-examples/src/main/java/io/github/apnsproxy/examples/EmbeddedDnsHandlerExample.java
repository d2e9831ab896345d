// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsResponder;
import io.github.apnsproxy.dns.DnsTransport;
import io.github.apnsproxy.dns.PlanHostsHandler;
import io.github.apnsproxy.dns.ZoneApexHandler;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * A host application that already runs its own DNS server embeds the apns-proxy handler chain
 * through the wire-level entry, {@link DnsResponder#respond}: bytes of a query in, bytes of the
 * answer out (or nothing, when the query must be dropped), with the protocol rules (ID, flags,
 * EDNS, truncation, FORMERR/NOTIMP) applied by the responder. Here the "host's own server" is a
 * minimal blocking UDP loop; in a real gateway it is whatever already receives the packets.
 *
 * <p>Run it (after {@code mvn -B -q package -DskipTests}):
 *
 * <pre>
 * java -cp apns-proxy-examples/target/apns-proxy.jar io.github.apnsproxy.examples.EmbeddedDnsHandlerExample
 * </pre>
 *
 * <p>Expected output (the port differs):
 *
 * <pre>
 * host DNS server on 127.0.0.1:45678, apns-proxy handler chain embedded
 * 17-courier.push.apple.com. A -&gt; NOERROR 17-courier.push.apple.com.	30	IN	A	10.100.100.18
 * 1-courier2.sandbox.push.apple.com. A -&gt; NOERROR 1-courier2.sandbox.push.apple.com.	30	IN	A	10.100.100.155
 * sandbox.push.apple.com. TXT -&gt; NOERROR sandbox.push.apple.com.	30	IN	TXT	"count=50"
 * 99-courier.push.apple.com. A -&gt; NXDOMAIN
 * host server: 4 queries answered through the handler chain
 * </pre>
 */
public final class EmbeddedDnsHandlerExample {
  private EmbeddedDnsHandlerExample() {}

  public static void main(String[] args) throws Exception {
    AddressPlan plan =
        AddressPlan.builder().site(Cidr.parse("10.100.100.0/24")).courierCount(50).build();
    // The host builds the chain it wants: plan hosts, the zone apex, and REFUSED for anything else.
    // A host that
    // answers other names itself sends only the push.apple.com zone to the responder.
    DnsResponder responder =
        DnsResponder.builder(
                DnsAnswerHandler.firstOf(
                    PlanHostsHandler.builder(plan).build(),
                    ZoneApexHandler.builder(plan).build(),
                    DnsAnswerHandler.refusing()))
            .build();

    try (DatagramSocket socket =
        new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      int[] answered = new int[1];
      Thread host = new Thread(() -> serve(socket, responder, answered), "host-dns");
      host.setDaemon(true);
      host.start();
      InetSocketAddress bound = (InetSocketAddress) socket.getLocalSocketAddress();
      System.out.println(
          "host DNS server on "
              + bound.getHostString()
              + ":"
              + bound.getPort()
              + ", apns-proxy handler chain embedded");

      SimpleResolver resolver = new SimpleResolver(bound);
      resolver.setTimeout(Duration.ofSeconds(2));
      DnsOnlyExample.ask(resolver, "17-courier.push.apple.com.", Type.A);
      DnsOnlyExample.ask(resolver, "1-courier2.sandbox.push.apple.com.", Type.A);
      DnsOnlyExample.ask(resolver, "sandbox.push.apple.com.", Type.TXT);
      DnsOnlyExample.ask(resolver, "99-courier.push.apple.com.", Type.A);
      synchronized (answered) {
        System.out.println(
            "host server: " + answered[0] + " queries answered through the handler chain");
      }
    }
  }

  /**
   * The host's own receive loop: hand each datagram to the responder, send back whatever it
   * returns.
   */
  private static void serve(DatagramSocket socket, DnsResponder responder, int[] answered) {
    byte[] buffer = new byte[65535];
    while (!socket.isClosed()) {
      DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
      try {
        socket.receive(packet);
      } catch (SocketException closed) {
        return;
      } catch (IOException e) {
        continue;
      }
      InetSocketAddress client = (InetSocketAddress) packet.getSocketAddress();
      byte[] query = Arrays.copyOf(packet.getData(), packet.getLength());
      try {
        Optional<byte[]> reply =
            responder
                .respond(query, query.length, client, DnsTransport.UDP, 65535)
                .toCompletableFuture()
                .get(5, TimeUnit.SECONDS);
        if (reply.isPresent()) {
          socket.send(new DatagramPacket(reply.get(), reply.get().length, client));
          synchronized (answered) {
            answered[0]++;
          }
        }
      } catch (Exception e) {
        System.err.println("host server: " + e);
      }
    }
  }
}
