// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import static io.github.apnsproxy.dns.DnsTestSupport.name;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
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
import org.xbill.DNS.Type;

/**
 * A small upstream DNS server for resolver tests, on 127.0.0.1 UDP: a table of records, NXDOMAIN (with an SOA whose
 * minimum is 60) for names not in it, NODATA for types a name lacks. It counts queries, can hold replies until
 * released, and can answer SERVFAIL to everything.
 */
final class UpstreamDnsStub implements AutoCloseable {
  private final DatagramChannel channel;
  private final Thread thread;
  private final Map<Name, List<Record>> table = new ConcurrentHashMap<>();
  private final List<String> queries = new CopyOnWriteArrayList<>();
  private final AtomicInteger received = new AtomicInteger();
  private volatile CountDownLatch gate = new CountDownLatch(0);
  private volatile boolean servfail;
  private volatile boolean followChains = true;

  UpstreamDnsStub() throws IOException {
    channel = DatagramChannel.open();
    channel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    thread = new Thread(this::serve, "upstream-dns-stub");
    thread.setDaemon(true);
    thread.start();
  }

  InetSocketAddress address() throws IOException {
    return (InetSocketAddress) channel.getLocalAddress();
  }

  UpstreamDnsStub a(String owner, long ttl, String... addresses) {
    for (String a : addresses) {
      add(new ARecord(name(owner), DClass.IN, ttl, DnsTestSupport.ip(a)));
    }
    return this;
  }

  UpstreamDnsStub aaaa(String owner, long ttl, String... addresses) {
    for (String a : addresses) {
      add(new AAAARecord(name(owner), DClass.IN, ttl, DnsTestSupport.ip(a)));
    }
    return this;
  }

  UpstreamDnsStub cname(String owner, long ttl, String target) {
    add(new CNAMERecord(name(owner), DClass.IN, ttl, name(target)));
    return this;
  }

  /** Replaces every record of {@code owner}. */
  UpstreamDnsStub clear(String owner) {
    table.remove(name(owner));
    return this;
  }

  private void add(Record r) {
    table.computeIfAbsent(r.getName(), k -> new CopyOnWriteArrayList<>()).add(r);
  }

  /** Whether a CNAME answer also carries the target's records (as recursive servers do); default true. */
  void followChains(boolean follow) {
    this.followChains = follow;
  }

  void servfail(boolean on) {
    this.servfail = on;
  }

  /** Holds every reply until {@link #release()}. */
  void hold() {
    gate = new CountDownLatch(1);
  }

  void release() {
    gate.countDown();
  }

  /** Queries received, as {@code name TYPE} in lower case. */
  List<String> queries() {
    return List.copyOf(queries);
  }

  int queryCount() {
    return received.get();
  }

  /** Waits until {@code n} queries have been answered, at most {@code wait}; true when they have. */
  boolean awaitAnswered(int n, java.time.Duration wait) throws InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    synchronized (answered) {
      while (answered.get() < n) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(answered, left);
      }
      return true;
    }
  }

  private final AtomicInteger answered = new AtomicInteger();

  private void serve() {
    ByteBuffer buf = ByteBuffer.allocate(65535);
    while (channel.isOpen()) {
      SocketAddress from;
      try {
        buf.clear();
        from = channel.receive(buf);
      } catch (IOException e) {
        return;
      }
      byte[] wire = new byte[buf.position()];
      buf.flip().get(wire);
      received.incrementAndGet();
      Thread replier = new Thread(() -> reply(wire, from), "upstream-dns-stub-reply");
      replier.setDaemon(true);
      replier.start();
    }
  }

  private void reply(byte[] wire, SocketAddress to) {
    try {
      Message q = new Message(wire);
      Record question = q.getQuestion();
      queries.add(question.getName().toString().toLowerCase(java.util.Locale.ROOT) + " "
          + Type.string(question.getType()));
      if (!gate.await(10, TimeUnit.SECONDS)) {
        return;
      }
      Message r = answer(q, question);
      channel.send(ByteBuffer.wrap(r.toWire(65535)), to);
      synchronized (answered) {
        answered.incrementAndGet();
        answered.notifyAll();
      }
    } catch (IOException e) {
      // closed: nothing to answer
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Message answer(Message q, Record question) {
    Message r = new Message(q.getHeader().getID());
    r.getHeader().setFlag(Flags.QR);
    r.getHeader().setFlag(Flags.RA);
    r.addRecord(question, Section.QUESTION);
    if (servfail) {
      r.getHeader().setRcode(Rcode.SERVFAIL);
      return r;
    }
    Name current = question.getName();
    for (int link = 0; link < 10; link++) {
      List<Record> records = table.get(current);
      if (records == null) {
        if (link == 0) {
          r.getHeader().setRcode(Rcode.NXDOMAIN);
          r.addRecord(soa(), Section.AUTHORITY);
        }
        return r;
      }
      List<Record> matching = new ArrayList<>();
      Record cname = null;
      for (Record rec : records) {
        if (rec.getType() == question.getType()) {
          matching.add(rec);
        } else if (rec instanceof CNAMERecord) {
          cname = rec;
        }
      }
      if (!matching.isEmpty()) {
        matching.forEach(m -> r.addRecord(m, Section.ANSWER));
        return r;
      }
      if (cname == null) {
        r.addRecord(soa(), Section.AUTHORITY); // NODATA, at the name or at the end of a chain
        return r;
      }
      r.addRecord(cname, Section.ANSWER);
      if (!followChains) {
        return r;
      }
      current = ((CNAMERecord) cname).getTarget();
    }
    return r;
  }

  private static SOARecord soa() {
    return new SOARecord(name("test"), DClass.IN, 300, name("ns.test"), name("hostmaster.test"), 1, 3600, 600,
        86400, 60);
  }

  @Override
  public void close() throws IOException {
    release();
    channel.close();
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
