// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.Cidr;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;

/**
 * Shared bits of the DNS tests: a plan, a started server, raw UDP and TCP exchanges with bounded
 * waits.
 */
final class DnsTestSupport {
  static final InetSocketAddress LOOPBACK_ANY_PORT =
      new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

  private DnsTestSupport() {}

  /** Exact plan in 127.100.100.0/24, couriers 0..50, variants courier and courier2. */
  static AddressPlan plan() {
    return AddressPlan.builder().site(Cidr.parse("127.100.100.0/24")).build();
  }

  /** The stock chain for {@code plan}: plan hosts, zone apex, refusing. */
  static DnsAnswerHandler chain(AddressPlan plan) {
    return DnsAnswerHandler.firstOf(
        PlanHostsHandler.builder(plan).build(),
        ZoneApexHandler.builder(plan).nsAddress(ip("127.0.0.53")).build(),
        DnsAnswerHandler.refusing());
  }

  static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  static Name name(String text) {
    try {
      return Name.fromString(text.endsWith(".") ? text : text + ".");
    } catch (TextParseException e) {
      throw new IllegalArgumentException(e);
    }
  }

  static Message query(String name, int type) {
    return Message.newQuery(Record.newRecord(name(name), type, DClass.IN));
  }

  static SimpleResolver resolver(InetSocketAddress server, boolean tcp) {
    SimpleResolver r = new SimpleResolver(server);
    r.setTCP(tcp);
    r.setTimeout(Duration.ofSeconds(3));
    return r;
  }

  /**
   * Sends {@code wire} over UDP and returns the reply, or empty when none comes within {@code
   * wait}.
   */
  static Optional<byte[]> udp(InetSocketAddress server, byte[] wire, Duration wait)
      throws IOException {
    try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(server.getAddress(), 0))) {
      s.setSoTimeout((int) wait.toMillis());
      s.send(new DatagramPacket(wire, wire.length, server));
      byte[] buf = new byte[65535];
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      try {
        s.receive(p);
      } catch (SocketTimeoutException e) {
        return Optional.empty();
      }
      return Optional.of(Arrays.copyOf(buf, p.getLength()));
    }
  }

  /** {@link #udp} expecting a reply, parsed. */
  static Message udpExchange(InetSocketAddress server, byte[] wire) throws IOException {
    byte[] reply =
        udp(server, wire, Duration.ofSeconds(3))
            .orElseThrow(() -> new AssertionError("no UDP reply within 3 s"));
    return new Message(reply);
  }

  /** A TCP connection with 2-byte framing and a read timeout. */
  static final class TcpClient implements AutoCloseable {
    final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    TcpClient(InetSocketAddress server) throws IOException {
      this(server, null, Duration.ofSeconds(3));
    }

    /**
     * A client bound to {@code local} (any port; null for the default), reads waiting at most
     * {@code timeout}.
     */
    TcpClient(InetSocketAddress server, InetAddress local, Duration timeout) throws IOException {
      socket = new Socket();
      if (local != null) {
        socket.bind(new InetSocketAddress(local, 0));
      }
      socket.connect(server, 3000);
      socket.setSoTimeout((int) timeout.toMillis());
      in = new DataInputStream(socket.getInputStream());
      out = socket.getOutputStream();
    }

    static byte[] frame(byte[] message) {
      byte[] f = new byte[message.length + 2];
      f[0] = (byte) (message.length >>> 8);
      f[1] = (byte) message.length;
      System.arraycopy(message, 0, f, 2, message.length);
      return f;
    }

    void sendRaw(byte[] bytes) throws IOException {
      out.write(bytes);
      out.flush();
    }

    void send(byte[] message) throws IOException {
      sendRaw(frame(message));
    }

    Message receive() throws IOException {
      int length = in.readUnsignedShort();
      byte[] m = new byte[length];
      in.readFully(m);
      return new Message(m);
    }

    /** True when the server closed the connection (EOF or reset) within the socket timeout. */
    boolean closedByServer() throws IOException {
      try {
        return in.read() < 0;
      } catch (SocketTimeoutException e) {
        return false;
      } catch (IOException e) {
        return true; // reset
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** Names of live threads starting with {@code apns-proxy-dns}. */
  static Set<String> dnsThreads() {
    Set<String> names = new TreeSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && t.getName().startsWith("apns-proxy-dns")) {
        names.add(t.getName());
      }
    }
    return names;
  }
}
