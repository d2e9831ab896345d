// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * A fake upstream (recursive) DNS server for {@link CachingResolverTest}: UDP and TCP on the same
 * 127.0.0.1 port.
 *
 * <ul>
 *   <li>A table of names: A/AAAA/CNAME records with their TTLs, names that are NXDOMAIN and names
 *       that exist without records (NODATA). Negative answers carry an SOA whose minimum is the
 *       name's negative TTL (its own TTL is 3600, so a resolver must take the smaller, RFC 2308).
 *       Names not in the table are NXDOMAIN, negative TTL 60.
 *   <li>CNAMEs are chased inside the answer like a recursive server does, unless {@link
 *       #chaseCnames(boolean)} is off: then the answer holds only the first CNAME (no SOA), and the
 *       client must ask for the target itself.
 *   <li>Counts every query (per {@code name TYPE}, and per transport); can hold UDP replies until
 *       {@link #release()}; can go {@link #silent(boolean) silent} (bound, receiving, never
 *       answering); can answer a forced rcode (SERVFAIL, say) for one type or all; can truncate
 *       every UDP answer so clients retry over TCP.
 * </ul>
 *
 * Every blocking wait is bounded; {@link #close()} stops both threads.
 */
final class FakeUpstreamDns implements AutoCloseable {
  /** Negative TTL of names not in the table. */
  static final long DEFAULT_NEGATIVE_TTL = 60;

  private static final long SOA_OWN_TTL = 3600;
  private static final int ALL_TYPES = -1;

  /** One name's data. */
  private static final class Node {
    final List<Record> records = new CopyOnWriteArrayList<>();
    volatile boolean nxdomain;
    volatile long negativeTtl = DEFAULT_NEGATIVE_TTL;
  }

  @SuppressWarnings("ArrayRecordComponent") // a held datagram, never compared or hashed
  private record Pending(byte[] wire, SocketAddress from) {}

  private final DatagramChannel udp;
  private final ServerSocketChannel tcp;
  private final Thread udpThread;
  private final Thread tcpThread;
  private final Map<Name, Node> table = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> perQuestion = new ConcurrentHashMap<>();
  private final List<String> log = new CopyOnWriteArrayList<>();
  private final AtomicInteger udpQueries = new AtomicInteger();
  private final AtomicInteger tcpQueries = new AtomicInteger();
  private final Map<Integer, Integer> forcedRcodes = new ConcurrentHashMap<>();
  private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
  private final Object lock = new Object();
  private final List<Pending> pending = new ArrayList<>();
  private boolean held; // guarded by lock
  private volatile boolean silent;
  private volatile boolean chaseCnames = true;
  private volatile boolean truncateUdp;
  private volatile boolean closed;

  FakeUpstreamDns() throws IOException {
    Object[] pair = bindPair();
    udp = (DatagramChannel) pair[0];
    tcp = (ServerSocketChannel) pair[1];
    int port = address().getPort();
    udpThread = daemon(this::serveUdp, "fake-upstream-dns-udp-" + port);
    tcpThread = daemon(this::serveTcp, "fake-upstream-dns-tcp-" + port);
  }

  /** A UDP channel and a TCP server channel on the same loopback port. */
  private static Object[] bindPair() throws IOException {
    IOException last = null;
    for (int attempt = 0; attempt < 10; attempt++) {
      DatagramChannel u = DatagramChannel.open();
      try {
        u.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        int port = ((InetSocketAddress) u.getLocalAddress()).getPort();
        ServerSocketChannel t = ServerSocketChannel.open();
        try {
          t.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        } catch (IOException e) {
          t.close();
          throw e;
        }
        return new Object[] {u, t};
      } catch (IOException e) { // the TCP port was taken: try another pair
        u.close();
        last = e;
      }
    }
    throw last;
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  static Name name(String text) {
    try {
      return Name.fromString(text.endsWith(".") ? text : text + ".");
    } catch (TextParseException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal); // literals only: no lookup
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** The UDP and TCP address (127.0.0.1, the same port). */
  InetSocketAddress address() {
    try {
      return (InetSocketAddress) udp.getLocalAddress();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private Node node(String owner) {
    return table.computeIfAbsent(name(owner), k -> new Node());
  }

  FakeUpstreamDns a(String owner, long ttl, String... addresses) {
    Node n = node(owner);
    n.nxdomain = false;
    for (String a : addresses) {
      n.records.add(new ARecord(name(owner), DClass.IN, ttl, ip(a)));
    }
    return this;
  }

  FakeUpstreamDns aaaa(String owner, long ttl, String... addresses) {
    Node n = node(owner);
    n.nxdomain = false;
    for (String a : addresses) {
      n.records.add(new AAAARecord(name(owner), DClass.IN, ttl, ip(a)));
    }
    return this;
  }

  FakeUpstreamDns cname(String owner, long ttl, String target) {
    Node n = node(owner);
    n.nxdomain = false;
    n.records.add(new CNAMERecord(name(owner), DClass.IN, ttl, name(target)));
    return this;
  }

  /** {@code owner} does not exist: NXDOMAIN with an SOA of minimum {@code negativeTtl}. */
  FakeUpstreamDns nxdomain(String owner, long negativeTtl) {
    Node n = node(owner);
    n.records.clear();
    n.nxdomain = true;
    n.negativeTtl = negativeTtl;
    return this;
  }

  /**
   * {@code owner} exists; types it has no records of get NODATA with an SOA of minimum {@code
   * negativeTtl}.
   */
  FakeUpstreamDns nodata(String owner, long negativeTtl) {
    Node n = node(owner);
    n.nxdomain = false;
    n.negativeTtl = negativeTtl;
    return this;
  }

  /**
   * Forgets every record of {@code owner} (it becomes NXDOMAIN with the default negative TTL until
   * set again).
   */
  FakeUpstreamDns remove(String owner) {
    table.remove(name(owner));
    return this;
  }

  /** Whether CNAME answers carry the rest of the chain (default true). */
  FakeUpstreamDns chaseCnames(boolean chase) {
    this.chaseCnames = chase;
    return this;
  }

  /** Answers {@code rcode} (and nothing else) to every query. */
  FakeUpstreamDns forceRcode(int rcode) {
    forcedRcodes.put(ALL_TYPES, rcode);
    return this;
  }

  /** Answers {@code rcode} (and nothing else) to queries of {@code type}. */
  FakeUpstreamDns forceRcode(int type, int rcode) {
    forcedRcodes.put(type, rcode);
    return this;
  }

  /** Receives and counts queries but never answers them (a dead server that still has its port). */
  FakeUpstreamDns silent(boolean on) {
    this.silent = on;
    return this;
  }

  /** Answers every UDP query with an empty TC answer, so the client must ask again over TCP. */
  FakeUpstreamDns truncateUdp(boolean on) {
    this.truncateUdp = on;
    return this;
  }

  /** Holds every UDP reply from now until {@link #release()}. */
  void hold() {
    synchronized (lock) {
      held = true;
    }
  }

  /** Sends the held replies and stops holding. */
  void release() {
    List<Pending> out;
    synchronized (lock) {
      held = false;
      out = new ArrayList<>(pending);
      pending.clear();
    }
    for (Pending p : out) {
      replyUdp(p.wire(), p.from());
    }
  }

  /** Queries received for {@code name}/{@code type} (any transport). */
  int queries(String owner, int type) {
    AtomicInteger c = perQuestion.get(key(name(owner), type));
    return c == null ? 0 : c.get();
  }

  /** Queries received, over both transports. */
  int totalQueries() {
    return udpQueries.get() + tcpQueries.get();
  }

  int udpQueries() {
    return udpQueries.get();
  }

  int tcpQueries() {
    return tcpQueries.get();
  }

  /** Every query received, in order, as {@code name TYPE} (lower case, no trailing dot). */
  List<String> log() {
    return List.copyOf(log);
  }

  /** Waits until at least {@code n} queries arrived, at most {@code wait}; true when they did. */
  boolean awaitQueries(int n, Duration wait) throws InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    synchronized (lock) {
      while (totalQueries() < n) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return true;
    }
  }

  private static String key(Name name, int type) {
    return name.toString(true).toLowerCase(Locale.ROOT) + " " + Type.string(type);
  }

  /** Parses and counts a query; null when it is not a DNS query. */
  private Message received(byte[] wire, AtomicInteger transportCounter) {
    Message q;
    try {
      q = new Message(wire);
    } catch (IOException e) {
      return null;
    }
    Record question = q.getQuestion();
    if (question == null) {
      return null;
    }
    String k = key(question.getName(), question.getType());
    perQuestion.computeIfAbsent(k, x -> new AtomicInteger()).incrementAndGet();
    log.add(k);
    synchronized (lock) {
      transportCounter.incrementAndGet();
      lock.notifyAll();
    }
    return q;
  }

  private void serveUdp() {
    ByteBuffer buf = ByteBuffer.allocate(65535);
    while (!closed) {
      SocketAddress from;
      try {
        buf.clear();
        from = udp.receive(buf);
      } catch (IOException e) {
        return; // closed
      }
      byte[] wire = new byte[buf.position()];
      buf.flip().get(wire);
      if (received(wire, udpQueries) == null || silent) {
        continue;
      }
      synchronized (lock) {
        if (held) {
          pending.add(new Pending(wire, from));
          continue;
        }
      }
      replyUdp(wire, from);
    }
  }

  private void replyUdp(byte[] wire, SocketAddress to) {
    if (closed || silent) {
      return;
    }
    try {
      Message q = new Message(wire);
      Message r;
      if (truncateUdp) {
        r = header(q);
        r.getHeader().setFlag(Flags.TC);
      } else {
        r = answer(q);
      }
      udp.send(ByteBuffer.wrap(r.toWire(65535)), to);
    } catch (IOException e) {
      // closed meanwhile: nothing to answer
    }
  }

  private void serveTcp() {
    while (!closed) {
      SocketChannel c;
      try {
        c = tcp.accept();
      } catch (IOException e) {
        return; // closed
      }
      connections.add(c);
      daemon(() -> serveConnection(c), "fake-upstream-dns-tcp-connection");
    }
  }

  private void serveConnection(SocketChannel c) {
    try (c) {
      while (!closed) {
        ByteBuffer len = ByteBuffer.allocate(2);
        if (!readFully(c, len)) {
          return;
        }
        ByteBuffer body = ByteBuffer.allocate(len.flip().getShort() & 0xffff);
        if (!readFully(c, body)) {
          return;
        }
        Message q = received(body.array(), tcpQueries);
        if (q == null || silent) {
          continue;
        }
        byte[] r = answer(q).toWire(65535);
        ByteBuffer out = ByteBuffer.allocate(r.length + 2);
        out.putShort((short) r.length).put(r).flip();
        while (out.hasRemaining()) {
          c.write(out);
        }
      }
    } catch (IOException e) {
      // the client went away, or we are closing
    } finally {
      connections.remove(c);
    }
  }

  private static boolean readFully(SocketChannel c, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (c.read(b) < 0) {
        return false;
      }
    }
    return true;
  }

  /** A response to {@code q} with its ID, question and flags, and no records. */
  private static Message header(Message q) {
    Message r = new Message(q.getHeader().getID());
    r.getHeader().setFlag(Flags.QR);
    if (q.getHeader().getFlag(Flags.RD)) {
      r.getHeader().setFlag(Flags.RD);
    }
    r.getHeader().setFlag(Flags.RA);
    r.addRecord(q.getQuestion(), Section.QUESTION);
    return r;
  }

  private Message answer(Message q) {
    Message r = header(q);
    Record question = q.getQuestion();
    int type = question.getType();
    Integer forced = forcedRcodes.getOrDefault(type, forcedRcodes.get(ALL_TYPES));
    if (forced != null) {
      r.getHeader().setRcode(forced);
      return r;
    }
    Name current = question.getName();
    for (int link = 0; link < 16; link++) {
      Node n = table.get(current);
      if (n == null || n.nxdomain) {
        r.getHeader().setRcode(Rcode.NXDOMAIN);
        r.addRecord(soa(n == null ? DEFAULT_NEGATIVE_TTL : n.negativeTtl), Section.AUTHORITY);
        return r;
      }
      List<Record> matching = new ArrayList<>();
      Record cname = null;
      for (Record rec : n.records) {
        if (rec.getType() == type) {
          matching.add(rec);
        } else if (rec instanceof CNAMERecord && cname == null) {
          cname = rec;
        }
      }
      if (!matching.isEmpty()) {
        matching.forEach(m -> r.addRecord(m, Section.ANSWER));
        return r;
      }
      if (cname == null) {
        r.addRecord(soa(n.negativeTtl), Section.AUTHORITY); // NODATA
        return r;
      }
      r.addRecord(cname, Section.ANSWER);
      if (!chaseCnames) {
        return r;
      }
      current = ((CNAMERecord) cname).getTarget();
    }
    return r; // a CNAME loop: what was gathered
  }

  private static SOARecord soa(long negativeTtl) {
    return new SOARecord(
        name("test"),
        DClass.IN,
        SOA_OWN_TTL,
        name("ns.test"),
        name("hostmaster.test"),
        1,
        3600,
        600,
        86400,
        negativeTtl);
  }

  @Override
  public void close() throws IOException {
    closed = true;
    synchronized (lock) {
      held = false;
      pending.clear();
    }
    try {
      udp.close();
    } finally {
      tcp.close();
      for (SocketChannel c : connections) {
        c.close();
      }
      try {
        udpThread.join(2000);
        tcpThread.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
