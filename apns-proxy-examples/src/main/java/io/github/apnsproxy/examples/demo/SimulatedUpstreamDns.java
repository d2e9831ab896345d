// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.demo;

import java.io.Closeable;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * A simulated "real" DNS server on loopback standing in for the internet's DNS: it answers A and
 * AAAA queries for the names in its table (the real courier, init and API names, pointing at the
 * simulated couriers) and NXDOMAIN for everything else. UDP only, one thread; {@link #close()}
 * stops it, which the end-to-end test uses to show that the proxy keeps routing from its stale
 * cache.
 */
public final class SimulatedUpstreamDns implements Closeable {
  private final DatagramSocket socket;
  private final Map<String, List<InetAddress>> table = new ConcurrentHashMap<>();
  private final AtomicLong queries = new AtomicLong();
  private final long ttl;
  private final Thread thread;

  private SimulatedUpstreamDns(DatagramSocket socket, long ttlSeconds) {
    this.socket = socket;
    this.ttl = ttlSeconds;
    this.thread = new Thread(this::loop, "demo-upstream-dns");
    this.thread.setDaemon(true);
  }

  /**
   * Starts a server on {@code address} (port 0 picks a free port) whose answers carry {@code
   * ttlSeconds}.
   */
  public static SimulatedUpstreamDns start(InetSocketAddress address, long ttlSeconds)
      throws SocketException {
    SimulatedUpstreamDns dns = new SimulatedUpstreamDns(new DatagramSocket(address), ttlSeconds);
    dns.thread.start();
    return dns;
  }

  /** Adds or replaces a name's addresses. */
  public void put(String name, List<InetAddress> addresses) {
    table.put(key(name), List.copyOf(addresses));
  }

  /** The bound address. */
  public InetSocketAddress address() {
    return (InetSocketAddress) socket.getLocalSocketAddress();
  }

  /** Queries answered so far. */
  public long queries() {
    return queries.get();
  }

  private static String key(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return n.endsWith(".") ? n : n + ".";
  }

  private void loop() {
    byte[] buf = new byte[65535];
    while (!socket.isClosed()) {
      DatagramPacket packet = new DatagramPacket(buf, buf.length);
      try {
        socket.receive(packet);
        byte[] reply = answer(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
        if (reply != null) {
          socket.send(new DatagramPacket(reply, reply.length, packet.getSocketAddress()));
        }
      } catch (IOException e) {
        if (socket.isClosed()) {
          return; // close() ends receive(): expected
        }
      }
    }
  }

  private byte @org.jspecify.annotations.Nullable [] answer(byte[] query) {
    Message q;
    try {
      q = new Message(query);
    } catch (IOException e) {
      return null; // garbage: a real server would drop it too
    }
    Record question = q.getQuestion();
    if (question == null || q.getHeader().getFlag(Flags.QR)) {
      return null;
    }
    queries.incrementAndGet();
    Message r = new Message(q.getHeader().getID());
    r.getHeader().setFlag(Flags.QR);
    r.getHeader().setFlag(Flags.RA);
    if (q.getHeader().getFlag(Flags.RD)) {
      r.getHeader().setFlag(Flags.RD);
    }
    r.addRecord(question, Section.QUESTION);
    Name name = question.getName();
    List<InetAddress> addresses = table.get(key(name.toString()));
    if (addresses == null) {
      r.getHeader().setRcode(Rcode.NXDOMAIN);
    } else {
      for (InetAddress a : addresses) {
        if (question.getType() == Type.A && a instanceof Inet4Address) {
          r.addRecord(new ARecord(name, DClass.IN, ttl, a), Section.ANSWER);
        } else if (question.getType() == Type.AAAA && a instanceof Inet6Address) {
          r.addRecord(new AAAARecord(name, DClass.IN, ttl, a), Section.ANSWER);
        }
      }
    }
    return r.toWire(512);
  }

  @Override
  public void close() {
    socket.close();
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
