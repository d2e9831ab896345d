// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static io.github.apnsproxy.dns.DnsTestSupport.LOOPBACK_ANY_PORT;
import static io.github.apnsproxy.dns.DnsTestSupport.chain;
import static io.github.apnsproxy.dns.DnsTestSupport.plan;
import static io.github.apnsproxy.dns.DnsTestSupport.query;
import static io.github.apnsproxy.dns.DnsTestSupport.resolver;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.dns.DnsTestSupport.TcpClient;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * Seeded garbage and bit-flipped queries over UDP (and some over TCP): the server must keep
 * answering correctly, keep every thread, account for every packet, and every reply it sends must
 * parse.
 */
class DnsFuzzIT {
  private static final long SEED = 0x5EED_D45L;
  private static final int PACKETS = 100_000;
  private static final int BATCH = 128;

  private static final String[] NAMES = {
    "17-courier.push.apple.com",
    "0-courier2.sandbox.push.apple.com",
    "init.push.apple.com",
    "push.apple.com",
    "www.example.com",
    "51-courier.push.apple.com",
    "017.courier.push.apple.com",
    "api.sandbox.push.apple.com"
  };
  private static final int[] TYPES = {
    Type.A, Type.AAAA, Type.HTTPS, Type.TXT, Type.ANY, Type.SOA, Type.NS, Type.MX
  };

  private static List<byte[]> seeds() {
    List<byte[]> out = new ArrayList<>();
    for (String n : NAMES) {
      for (int t : TYPES) {
        Message q = query(n, t);
        out.add(q.toWire());
        Message e = query(n, t);
        e.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
        out.add(e.toWire());
      }
    }
    return out;
  }

  static byte[] mutate(Random random, List<byte[]> seeds) {
    int kind = random.nextInt(6);
    if (kind == 0) {
      byte[] garbage = new byte[random.nextInt(600)];
      random.nextBytes(garbage);
      return garbage;
    }
    byte[] base = seeds.get(random.nextInt(seeds.size()));
    byte[] m = Arrays.copyOf(base, base.length);
    switch (kind) {
      case 1 -> { // bit flips anywhere
        int flips = 1 + random.nextInt(8);
        for (int i = 0; i < flips; i++) {
          int bit = random.nextInt(m.length * 8);
          m[bit / 8] ^= (byte) (1 << (bit % 8));
        }
      }
      case 2 -> m = Arrays.copyOf(m, random.nextInt(m.length + 1)); // cut short
      case 3 -> { // random bytes appended
        byte[] tail = new byte[1 + random.nextInt(300)];
        random.nextBytes(tail);
        byte[] longer = Arrays.copyOf(m, m.length + tail.length);
        System.arraycopy(tail, 0, longer, m.length, tail.length);
        m = longer;
      }
      case 4 -> { // header counts and flags scrambled
        for (int i = 2; i < 12; i++) {
          if (random.nextBoolean()) {
            m[i] = (byte) random.nextInt(256);
          }
        }
      }
      default -> { // a label length or compression pointer byte overwritten
        int at = 12 + random.nextInt(Math.max(1, m.length - 12));
        m[Math.min(at, m.length - 1)] =
            (byte) (random.nextBoolean() ? 0xC0 | random.nextInt(64) : random.nextInt(64));
      }
    }
    return m;
  }

  @Test
  void hundredThousandBadPacketsNeitherKillNorStallTheServer() throws Exception {
    Set<String> threadsBefore = DnsTestSupport.dnsThreads();
    try (DnsServer server =
        DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(chain(plan())).build().start()) {
      Set<String> serverThreads = DnsTestSupport.dnsThreads();
      assertThat(serverThreads.size()).isGreaterThan(threadsBefore.size());
      InetSocketAddress dns = server.udpAddresses().get(0);
      Random random = new Random(SEED);
      List<byte[]> seeds = seeds();
      int replies = 0;
      List<String> unparsable = new ArrayList<>();
      try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(dns.getAddress(), 0))) {
        socket.setReceiveBufferSize(1 << 20);
        byte[] buf = new byte[65535];
        DatagramPacket in = new DatagramPacket(buf, buf.length);
        for (int sent = 0; sent < PACKETS; ) {
          int n = Math.min(BATCH, PACKETS - sent);
          for (int i = 0; i < n; i++) {
            byte[] p = mutate(random, seeds);
            socket.send(new DatagramPacket(p, p.length, dns));
          }
          sent += n;
          socket.setSoTimeout(sent % 8192 == 0 ? 100 : 4);
          while (true) {
            try {
              in.setLength(buf.length);
              socket.receive(in);
            } catch (SocketTimeoutException e) {
              break;
            }
            replies++;
            try {
              Message reply = new Message(Arrays.copyOf(buf, in.getLength()));
              assertThat(reply.getHeader().getFlag(org.xbill.DNS.Flags.QR)).isTrue();
              assertThat(in.getLength()).isLessThanOrEqualTo(DnsResponder.EDNS_PAYLOAD);
            } catch (IOException e) {
              unparsable.add(e.getMessage());
            }
          }
        }
      }
      assertThat(unparsable).as("replies that do not parse").isEmpty();
      assertThat(replies)
          .as("some mutated queries are still valid and answered")
          .isGreaterThan(PACKETS / 20);

      // still answering correctly, over both transports, with every thread alive
      for (boolean tcp : new boolean[] {false, true}) {
        Message r = resolver(dns, tcp).send(query("17-courier.push.apple.com", Type.A));
        assertThat(r.getRcode()).isEqualTo(Rcode.NOERROR);
        assertThat(((ARecord) r.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress())
            .isEqualTo("127.100.100.18");
      }
      assertThat(DnsTestSupport.dnsThreads()).isEqualTo(serverThreads);
      // each reuse-port receiver drains its own socket: one may still be working through its
      // backlog (a loaded
      // machine) while another answered the checks above; wait (bounded) until every query received
      // is settled
      DnsStats stats = server.stats();
      for (int i = 0; i < 500 && settled(stats) != stats.queries(); i++) {
        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000); // at most 5 s in all
        stats = server.stats();
      }
      assertThat(stats.udpQueries())
          .as("received of %d sent", PACKETS)
          .isGreaterThan(PACKETS * 9L / 10);
      long answered = stats.answersByRcode().values().stream().mapToLong(Long::longValue).sum();
      assertThat(answered + stats.dropped())
          .as("every query answered or dropped, once")
          .isEqualTo(stats.queries());
      assertThat(stats.handlerErrors()).isZero();
    }
  }

  /** Queries answered or dropped. */
  private static long settled(DnsStats stats) {
    return stats.answersByRcode().values().stream().mapToLong(Long::longValue).sum()
        + stats.dropped();
  }

  @Test
  void badTcpFramesCloseOrAnswerButNeverKillTheServer() throws Exception {
    try (DnsServer server =
        DnsServer.builder().listen(LOOPBACK_ANY_PORT).handler(chain(plan())).build().start()) {
      InetSocketAddress dns = server.tcpAddresses().get(0);
      Random random = new Random(SEED + 1);
      List<byte[]> seeds = seeds();
      for (int c = 0; c < 50; c++) {
        try (TcpClient client = new TcpClient(dns)) {
          client.socket.setSoTimeout(500);
          for (int i = 0; i < 40; i++) {
            byte[] m = mutate(random, seeds);
            if (m.length == 0) {
              continue;
            }
            client.send(m);
          }
          client.socket.shutdownOutput();
          // read replies until the server closes; each must parse
          while (true) {
            Message reply;
            try {
              reply = client.receive();
            } catch (java.io.EOFException | SocketTimeoutException | java.net.SocketException e) {
              break;
            }
            assertThat(reply.getHeader().getFlag(org.xbill.DNS.Flags.QR)).isTrue();
          }
        }
      }
      Message r = resolver(dns, true).send(query("17-courier.push.apple.com", Type.A));
      assertThat(r.getRcode()).isEqualTo(Rcode.NOERROR);
    }
  }
}
