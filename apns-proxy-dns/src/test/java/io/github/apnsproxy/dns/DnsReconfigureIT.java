// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static io.github.apnsproxy.dns.DnsTestSupport.LOOPBACK_ANY_PORT;
import static io.github.apnsproxy.dns.DnsTestSupport.query;
import static io.github.apnsproxy.dns.DnsTestSupport.udpExchange;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** Swapping the handler chain and the policy of a running server, over real UDP and TCP sockets. */
class DnsReconfigureIT {

  private static DnsAnswerHandler chain(AddressPlan plan, Duration ttl) {
    return DnsAnswerHandler.firstOf(
        PlanHostsHandler.builder(plan).ttl(ttl).build(), DnsAnswerHandler.refusing());
  }

  @Test
  void newHandlerAndPolicyAnswerFromTheNextQueryOnOpenSocketsToo() throws Exception {
    AddressPlan first = AddressPlan.builder().site(Cidr.parse("127.100.100.0/24")).build();
    AddressPlan second = AddressPlan.builder().site(Cidr.parse("127.100.101.0/24")).build();
    try (DnsServer dns =
            DnsServer.builder()
                .listen(LOOPBACK_ANY_PORT)
                .handler(chain(first, Duration.ofSeconds(30)))
                .build()
                .start();
        DnsTestSupport.TcpClient tcp = new DnsTestSupport.TcpClient(dns.tcpAddresses().get(0))) {
      byte[] q = query("17-courier.push.apple.com", Type.A).toWire();
      for (int i = 0; i < 3; i++) { // the fast path remembers this answer after the first
        Message m = udpExchange(dns.udpAddresses().get(0), q);
        assertThat(only(m).getTTL()).isEqualTo(30);
        assertThat(only(m).getAddress().getHostAddress()).startsWith("127.100.100.");
      }
      tcp.send(q);
      assertThat(only(tcp.receive()).getTTL()).isEqualTo(30);

      DnsAnswerHandler next = chain(second, Duration.ofSeconds(5));
      dns.update(next, null);
      assertThat(dns.responder().handler()).isSameAs(next);
      for (int i = 0; i < 3; i++) {
        Message m = udpExchange(dns.udpAddresses().get(0), q);
        assertThat(only(m).getTTL()).isEqualTo(5);
        assertThat(only(m).getAddress().getHostAddress()).startsWith("127.100.101.");
      }
      tcp.send(q); // the connection opened before the swap stays, and sees the new chain
      assertThat(only(tcp.receive()).getAddress().getHostAddress()).startsWith("127.100.101.");

      dns.update(next, new AddressPolicy(CidrSet.parse("10.0.0.0/8"), CidrSet.any()));
      assertThat(udpExchange(dns.udpAddresses().get(0), q).getRcode()).isEqualTo(Rcode.REFUSED);
      tcp.send(q);
      assertThat(tcp.receive().getRcode()).isEqualTo(Rcode.REFUSED);

      dns.update(next, new AddressPolicy(CidrSet.parse("127.0.0.0/8"), CidrSet.any()));
      assertThat(only(udpExchange(dns.udpAddresses().get(0), q)).getTTL()).isEqualTo(5);
      assertThat(dns.responder().policy()).isNotNull();
    }
  }

  /**
   * Issue 17: dns.denied-clients at a reload. REFUSED, then dropped, then REFUSED again, over one
   * UDP socket: the dropped query's reply never comes, since the next reply on that socket is the
   * next query's.
   */
  @Test
  void deniedClientsSwapBetweenRefusedAndDropped() throws Exception {
    AddressPlan plan = AddressPlan.builder().site(Cidr.parse("127.100.100.0/24")).build();
    DnsAnswerHandler chain = chain(plan, Duration.ofSeconds(30));
    AddressPolicy elsewhere = new AddressPolicy(CidrSet.parse("10.0.0.0/8"), CidrSet.any());
    try (DnsServer dns =
            DnsServer.builder()
                .listen(LOOPBACK_ANY_PORT)
                .responder(DnsResponder.builder(chain).policy(elsewhere).build())
                .build()
                .start();
        DatagramSocket client = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      client.setSoTimeout(20_000);
      InetSocketAddress server = dns.udpAddresses().get(0);
      assertThat(dns.responder().deniedClients()).isEqualTo(DeniedClients.REFUSE);
      assertThat(exchange(client, server, 1).getRcode()).isEqualTo(Rcode.REFUSED);

      dns.update(chain, elsewhere, DeniedClients.DROP);
      assertThat(dns.responder().deniedClients()).isEqualTo(DeniedClients.DROP);
      long dropped = dns.stats().dropped();
      send(client, server, 2);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (dns.stats().dropped() == dropped) {
        assertThat(System.nanoTime() - deadline).as("the query dropped within 30 s").isNegative();
        Thread.sleep(5);
      }

      dns.update(chain, elsewhere); // the two-argument form keeps DROP
      assertThat(dns.responder().deniedClients()).isEqualTo(DeniedClients.DROP);
      dns.update(chain, elsewhere, DeniedClients.REFUSE);
      Message next = exchange(client, server, 3);
      assertThat(next.getHeader().getID()).as("no reply to the dropped query 2").isEqualTo(3);
      assertThat(next.getRcode()).isEqualTo(Rcode.REFUSED);
    }
  }

  private static void send(DatagramSocket client, InetSocketAddress server, int id)
      throws Exception {
    Message q = query("17-courier.push.apple.com", Type.A);
    q.getHeader().setID(id);
    byte[] wire = q.toWire();
    client.send(new DatagramPacket(wire, wire.length, server));
  }

  private static Message exchange(DatagramSocket client, InetSocketAddress server, int id)
      throws Exception {
    send(client, server, id);
    byte[] buf = new byte[65535];
    DatagramPacket p = new DatagramPacket(buf, buf.length);
    client.receive(p);
    return new Message(Arrays.copyOf(buf, p.getLength()));
  }

  private static ARecord only(Message m) {
    assertThat(m.getRcode()).isEqualTo(Rcode.NOERROR);
    List<Record> answers = m.getSection(Section.ANSWER);
    assertThat(answers).hasSize(1);
    assertThat(answers.get(0)).isInstanceOf(ARecord.class);
    InetAddress unused = ((ARecord) answers.get(0)).getAddress();
    assertThat(unused).isNotNull();
    return (ARecord) answers.get(0);
  }
}
