// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.dns.internal.Responses;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.DClass;
import org.xbill.DNS.ExtendedFlags;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The wire-level entry to a handler chain: bytes of a query in, bytes of the response out. {@link
 * DnsServer} uses it; a host that already runs a DNS server calls {@link #respond} from its own
 * receive loop.
 *
 * <p>It applies the protocol rules, so handlers only decide answers:
 *
 * <ul>
 *   <li>fewer than 12 bytes, or QR set (a response): dropped, never answered;
 *   <li>opcode other than QUERY: NOTIMP; a header that parses with a body that does not, or QDCOUNT
 *       other than 1: FORMERR;
 *   <li>clients outside the policy's client list: REFUSED, or dropped ({@link DeniedClients#DROP});
 *   <li>EDNS: a query with OPT gets OPT back (payload {@value #EDNS_PAYLOAD}); version above 0 gets
 *       BADVERS; the UDP size limit is the client's payload size, at least 512 and at most {@value
 *       #EDNS_PAYLOAD} (512 without OPT);
 *   <li>ID, opcode, RD and the question (letter case as sent, for 0x20) are echoed; QR is set; a
 *       response too big for the limit is truncated with TC set, so the client retries over TCP;
 *   <li>a handler that throws, fails or does not complete within the handler timeout: SERVFAIL, one
 *       WARN line; no handler answering: REFUSED.
 * </ul>
 *
 * Thread-safe. A query whose handlers answer at once (the plan handlers) is answered on the calling
 * thread.
 *
 * <p><b>Fast path.</b> When the handler is a {@link DnsAnswerHandler#firstOf chain} of stock
 * handlers, the common query (one question of type A, AAAA, HTTPS, SVCB, TXT, SOA or NS, class IN,
 * a name of letters, digits, '-' and '_', at most an OPT without options, nothing else) whose
 * answer the handlers can decide from the name, type and client alone is answered from the bytes
 * the full path gave the first time, with the ID, the question's letter case and the rotation of
 * the addresses patched in: the same bytes the full path would give, without parsing or building
 * messages. Every other query, and any chain with a handler of its own before the deciding one,
 * takes the full path.
 */
public final class DnsResponder {
  private static final Logger LOG = LoggerFactory.getLogger(DnsResponder.class);

  /**
   * The EDNS UDP payload size this side offers and the most it sends over UDP (DNS flag day 2020).
   */
  public static final int EDNS_PAYLOAD = 1232;

  /** The UDP size limit without EDNS (RFC 1035). */
  public static final int CLASSIC_UDP = 512;

  /**
   * The handler, the policy and the fast path's templates made by that handler; swapped whole by
   * {@link #update}.
   */
  private volatile Current current;

  private final long handlerTimeoutNanos;
  private final boolean fastPath;

  /**
   * What answers: the handler chain, the client policy, and the fast path's answer bytes by
   * question and decision (bounded by {@link #MAX_TEMPLATES}), which belong to that handler.
   */
  private record Current(
      DnsAnswerHandler handler,
      @Nullable AddressPolicy policy,
      DeniedClients denied,
      Map<FastKey, Template> templates) {
    Current(DnsAnswerHandler handler, @Nullable AddressPolicy policy, DeniedClients denied) {
      this(handler, policy, denied, new ConcurrentHashMap<>());
    }
  }

  private static final int MAX_TEMPLATES = 4096;
  private final LongAdder fastAnswers = new LongAdder();

  private final LongAdder udpQueries = new LongAdder();
  private final LongAdder tcpQueries = new LongAdder();
  private final Map<Integer, LongAdder> answers = new ConcurrentHashMap<>();
  private final LongAdder truncated = new LongAdder();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder handlerErrors = new LongAdder();
  private final LongAdder handlerTimeouts = new LongAdder();

  private DnsResponder(Builder b) {
    this.current = new Current(b.handler, b.policy, b.denied);
    this.handlerTimeoutNanos = b.handlerTimeout.toNanos();
    this.fastPath = b.fastPath;
  }

  /**
   * A builder for a responder running {@code handler} (usually a {@link DnsAnswerHandler#firstOf}
   * chain).
   */
  public static Builder builder(DnsAnswerHandler handler) {
    return new Builder(handler);
  }

  /**
   * Swaps the handler chain and the client policy at once, atomically: every query that arrives
   * after this returns is checked against {@code policy} ({@code null}: every client) and answered
   * by {@code handler}; a query already being answered finishes with the old ones. The fast path's
   * remembered answers belong to the old handler and are dropped with it. What happens to denied
   * clients stays as it is. Any thread.
   */
  public void update(DnsAnswerHandler handler, @Nullable AddressPolicy policy) {
    update(handler, policy, current.denied());
  }

  /**
   * Swaps the handler chain, the client policy and what happens to the queries of clients outside
   * it ({@link Builder#deniedClients}) at once, atomically, like {@link #update(DnsAnswerHandler,
   * AddressPolicy)}. Any thread.
   */
  public void update(
      DnsAnswerHandler handler, @Nullable AddressPolicy policy, DeniedClients denied) {
    current =
        new Current(
            Objects.requireNonNull(handler, "handler"),
            policy,
            Objects.requireNonNull(denied, "denied"));
  }

  /**
   * What happens to queries of clients outside the policy (the builder's, or the last {@link
   * #update}'s).
   */
  public DeniedClients deniedClients() {
    return current.denied();
  }

  /** The handler chain queries are answered by (the builder's, or the last {@link #update}'s). */
  public DnsAnswerHandler handler() {
    return current.handler();
  }

  /**
   * The client policy queries are checked against (the builder's, or the last {@link #update}'s);
   * null: none.
   */
  public @Nullable AddressPolicy policy() {
    return current.policy();
  }

  /**
   * {@link #respond(byte[], int, InetSocketAddress, DnsTransport, int)} for a whole array, no extra
   * size limit.
   */
  public CompletionStage<Optional<byte[]>> respond(
      byte[] query, InetSocketAddress client, DnsTransport transport) {
    return respond(query, query.length, client, transport, 65535);
  }

  /**
   * Answers the query in {@code query[0..length)}.
   *
   * @param length the query's length, at most {@code query.length}
   * @param maxSize the most bytes the caller can send back (e.g. 65535); over UDP the EDNS rules
   *     may lower it
   * @return a stage completing with the response bytes, or empty when nothing must be sent; never
   *     failing
   */
  public CompletionStage<Optional<byte[]>> respond(
      byte[] query, int length, InetSocketAddress client, DnsTransport transport, int maxSize) {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(transport, "transport");
    Objects.checkFromIndexSize(0, length, query.length);
    (transport == DnsTransport.UDP ? udpQueries : tcpQueries).increment();
    Current c =
        current; // one handler and policy for the whole query, whatever update() does meanwhile
    FastKey capture = null;
    if (fastPath) {
      FastAnswer.Timed timed = c.handler() instanceof FastAnswer.Timed t ? t : null;
      long start = timed == null ? 0 : System.nanoTime();
      Object fast;
      try {
        fast = fast(c, query, length, client, transport, maxSize);
      } catch (RuntimeException e) {
        fast = null; // the full path decides, and reports a handler's failure
      }
      if (fast instanceof byte[] wire) {
        if (timed != null) {
          timed.timer.answered(transport, System.nanoTime() - start);
        }
        return done(Optional.of(wire));
      }
      capture = (FastKey) fast;
    }
    CompletionStage<Optional<byte[]>> full = fullPath(c, query, length, client, transport, maxSize);
    if (capture != null) {
      capture(c, capture, query, full);
    }
    return full;
  }

  private CompletionStage<Optional<byte[]>> fullPath(
      Current c,
      byte[] query,
      int length,
      InetSocketAddress client,
      DnsTransport transport,
      int maxSize) {
    AddressPolicy policy = c.policy();
    if (length < Header.LENGTH) {
      return drop();
    }
    Header header;
    try {
      header = new Header(query); // reads the first 12 bytes only
    } catch (Exception e) {
      return drop();
    }
    if (header.getFlag(Flags.QR)) {
      return drop();
    }
    if (policy != null
        && client.getAddress() != null
        && !policy.allowsClient(client.getAddress())) {
      if (c.denied() == DeniedClients.DROP) {
        return drop();
      }
      return done(encode(headerOnly(header, Rcode.REFUSED), null, transport, maxSize));
    }
    Message message;
    try {
      message = new Message(ByteBuffer.wrap(query, 0, length));
    } catch (Exception e) { // WireParseException, and dnsjava's runtime exceptions on odd records
      int rcode = header.getOpcode() == Opcode.QUERY ? Rcode.FORMERR : Rcode.NOTIMP;
      return done(encode(headerOnly(header, rcode), null, transport, maxSize));
    }
    if (header.getOpcode() != Opcode.QUERY) {
      return done(encode(echo(message, Responses.error(Rcode.NOTIMP)), null, transport, maxSize));
    }
    // dnsjava accepts a cut-short message when TC is set, so check the parsed section as well as
    // the count
    if (header.getCount(Section.QUESTION) != 1
        || message.getSection(Section.QUESTION).size() != 1) {
      return done(encode(echo(message, Responses.error(Rcode.FORMERR)), null, transport, maxSize));
    }
    OPTRecord opt = message.getOPT();
    if (opt != null && opt.getVersion() > 0) {
      Message badvers = echo(message, Responses.error(0));
      return done(
          encode(badvers, new OPTRecord(EDNS_PAYLOAD, Rcode.BADVERS >>> 4, 0), transport, maxSize));
    }
    int limit =
        transport == DnsTransport.TCP
            ? Math.min(maxSize, 65535)
            : Math.min(
                maxSize,
                opt == null
                    ? CLASSIC_UDP
                    : Math.max(CLASSIC_UDP, Math.min(opt.getPayloadSize(), EDNS_PAYLOAD)));
    // RFC 3225: the DO bit is copied into the response (no DNSSEC records are added: the plan's
    // names are unsigned)
    OPTRecord replyOpt =
        opt == null ? null : new OPTRecord(EDNS_PAYLOAD, 0, 0, opt.getFlags() & ExtendedFlags.DO);

    DnsQuery q = new DnsQuery(message, client, transport);
    CompletableFuture<Optional<Message>> answer;
    try {
      answer = Responses.future(c.handler().answer(q));
    } catch (RuntimeException | Error e) {
      Responses.rethrowFatal(
          e); // a handler's bug, even an Error, is that query's SERVFAIL; a failing JVM is not
      answer = CompletableFuture.failedFuture(e);
    }
    if (answer.isDone()) {
      return done(finish(q, answer, replyOpt, limit));
    }
    CompletableFuture<Optional<Message>> bounded =
        answer.copy().orTimeout(handlerTimeoutNanos, TimeUnit.NANOSECONDS);
    return bounded.handle((m, t) -> finish(q, bounded, replyOpt, limit));
  }

  private Optional<byte[]> finish(
      DnsQuery q, CompletableFuture<Optional<Message>> answer, @Nullable OPTRecord opt, int limit) {
    Message response;
    try {
      Optional<Message> m = answer.join();
      response = m.isPresent() ? m.get() : Responses.error(Rcode.REFUSED);
    } catch (RuntimeException e) {
      Throwable cause = Responses.unwrap(e);
      if (cause instanceof TimeoutException) {
        handlerTimeouts.increment();
        LOG.warn(
            "DNS handler did not answer {} from {} in time: SERVFAIL", describe(q), q.client());
      } else {
        handlerErrors.increment();
        LOG.warn("DNS handler failed on {} from {}: SERVFAIL", describe(q), q.client(), cause);
      }
      response = Responses.error(Rcode.SERVFAIL);
    }
    try {
      return encode(echo(q.message(), response), opt, q.transport(), limit);
    } catch (RuntimeException e) {
      handlerErrors.increment();
      LOG.warn(
          "DNS response to {} from {} could not be encoded: SERVFAIL", describe(q), q.client(), e);
      return encode(echo(q.message(), Responses.error(Rcode.SERVFAIL)), opt, q.transport(), limit);
    }
  }

  private static String describe(DnsQuery q) {
    Record r = q.question();
    return r == null ? "(no question)" : r.getName() + " " + Type.string(r.getType());
  }

  /** Copies ID, opcode, RD and the question of {@code query} into {@code response} and sets QR. */
  private static Message echo(Message query, Message response) {
    Header qh = query.getHeader();
    Header h = response.getHeader();
    h.setID(qh.getID());
    h.setOpcode(qh.getOpcode());
    h.setFlag(Flags.QR);
    if (qh.getFlag(Flags.RD)) {
      h.setFlag(Flags.RD);
    } else {
      h.unsetFlag(Flags.RD);
    }
    h.unsetFlag(Flags.TC);
    response.removeAllRecords(Section.QUESTION);
    if (qh.getCount(Section.QUESTION) == 1 && query.getQuestion() != null) {
      response.addRecord(query.getQuestion(), Section.QUESTION);
    }
    // the responder owns EDNS: drop whatever OPT a handler left (getSection is a view: copy before
    // removing)
    for (Record r : new ArrayList<>(response.getSection(Section.ADDITIONAL))) {
      if (r.getType() == Type.OPT) {
        response.removeRecord(r, Section.ADDITIONAL);
      }
    }
    return response;
  }

  private static Message headerOnly(Header query, int rcode) {
    Message m = Responses.error(rcode);
    Header h = m.getHeader();
    h.setID(query.getID());
    h.setOpcode(query.getOpcode());
    h.setFlag(Flags.QR);
    if (query.getFlag(Flags.RD)) {
      h.setFlag(Flags.RD);
    }
    return m;
  }

  private Optional<byte[]> encode(
      Message response, @Nullable OPTRecord opt, DnsTransport transport, int limit) {
    if (opt != null) {
      response.addRecord(opt, Section.ADDITIONAL);
    }
    byte[] wire = response.toWire(limit);
    if (transport == DnsTransport.UDP && (wire[2] & 0x02) != 0) {
      truncated.increment();
    }
    int rcode = response.getRcode();
    answers.computeIfAbsent(rcode, k -> new LongAdder()).increment();
    return Optional.of(wire);
  }

  private CompletionStage<Optional<byte[]>> drop() {
    dropped.increment();
    return CompletableFuture.completedFuture(Optional.empty());
  }

  private static CompletionStage<Optional<byte[]>> done(Optional<byte[]> wire) {
    return CompletableFuture.completedFuture(wire);
  }

  /**
   * Whether the policy (if any) lets {@code client} use this responder; a server checks it at TCP
   * accept.
   */
  boolean allowsClient(@Nullable InetAddress client) {
    AddressPolicy p = current.policy();
    return p == null || client == null || p.allowsClient(client);
  }

  // ---- the fast path

  /**
   * What the fast path answers for: the question (lower case), RD, the EDNS shape and the handlers'
   * decision.
   */
  private record FastKey(
      String name, int type, boolean rd, int edns, Object decision, int rotating) {}

  /** The full path's answer for a key; {@code slots} are the offsets of the rotating addresses. */
  @SuppressWarnings(
      "ArrayRecordComponent") // never compared or hashed: a value holder, identity is enough
  private record Template(byte[] wire, int questionEnd, int[] slots) {}

  /**
   * The EDNS shapes of a query: no OPT, OPT, OPT with the DO bit (copied into the answer's OPT).
   */
  private static final int NO_EDNS = 0;

  private static final int EDNS = 1;
  private static final int EDNS_DO = 2;

  /**
   * The answer bytes from a template (counted), or the key under which the full path's answer is to
   * be kept, or null when this query must take the full path. Never answers what the full path
   * would answer differently: every condition it does not check sends the query to the full path.
   */
  private @Nullable Object fast(
      Current now,
      byte[] q,
      int length,
      InetSocketAddress client,
      DnsTransport transport,
      int maxSize) {
    AddressPolicy policy = now.policy();
    if (length < Header.LENGTH + 5 || length > 512) {
      return null;
    }
    // header: QR clear, opcode QUERY; one question, no answer or authority records, at most one
    // additional (OPT)
    if ((q[2] & 0xF8) != 0
        || q[4] != 0
        || q[5] != 1
        || q[6] != 0
        || q[7] != 0
        || q[8] != 0
        || q[9] != 0
        || q[10] != 0
        || (q[11] & 0xFE) != 0) {
      return null;
    }
    InetAddress address = client.getAddress();
    if (address == null || (policy != null && !policy.allowsClient(address))) {
      return null;
    }
    // the name: plain labels of letters, digits, '-' and '_' (no compression, nothing that text
    // would escape)
    char[] text = new char[255];
    int n = 0;
    int pos = Header.LENGTH;
    while (true) {
      int len = q[pos++] & 0xFF;
      if (len == 0) {
        break;
      }
      if (len > 63 || pos + len >= length || n + len + 1 > text.length) {
        return null;
      }
      if (n > 0) {
        text[n++] = '.';
      }
      for (int i = 0; i < len; i++) {
        int c = q[pos++];
        if (c >= 'A' && c <= 'Z') {
          c += 'a' - 'A';
        } else if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')) {
          return null;
        }
        text[n++] = (char) c;
      }
    }
    if (n == 0 || pos - Header.LENGTH > 255 || pos + 4 > length) {
      return null;
    }
    int type = (q[pos] & 0xFF) << 8 | q[pos + 1] & 0xFF;
    if (q[pos + 2] != 0 || q[pos + 3] != DClass.IN || !fastType(type)) {
      return null;
    }
    pos += 4;
    int questionEnd = pos;
    int edns = NO_EDNS;
    int udpLimit = CLASSIC_UDP;
    if (q[11] == 1) {
      // OPT: root owner, type 41, class = payload size, extended rcode 0, version 0, flags, no
      // options
      if (pos + 11 != length
          || q[pos] != 0
          || q[pos + 1] != 0
          || q[pos + 2] != Type.OPT
          || q[pos + 5] != 0
          || q[pos + 6] != 0
          || q[pos + 9] != 0
          || q[pos + 10] != 0) {
        return null;
      }
      int payload = (q[pos + 3] & 0xFF) << 8 | q[pos + 4] & 0xFF;
      udpLimit = Math.max(CLASSIC_UDP, Math.min(payload, EDNS_PAYLOAD));
      edns = (q[pos + 7] & 0x80) != 0 ? EDNS_DO : EDNS;
    } else if (pos != length) {
      return null;
    }
    int limit =
        transport == DnsTransport.TCP ? Math.min(maxSize, 65535) : Math.min(maxSize, udpLimit);
    String name = new String(text, 0, n);
    FastAnswer decision = FastAnswer.decide(now.handler(), name, type, address);
    if (decision == null) {
      return null;
    }
    boolean rd = (q[2] & 0x01) != 0;
    FastKey key = new FastKey(name, type, rd, edns, decision.key(), decision.rotated().size());
    Template t = now.templates().get(key);
    if (t == null) {
      return now.templates().size() < MAX_TEMPLATES ? key : null;
    }
    if (t.wire.length > limit || t.questionEnd != questionEnd) {
      return null; // the full path truncates
    }
    byte[] out = t.wire.clone();
    out[0] = q[0];
    out[1] = q[1];
    System.arraycopy(
        q,
        Header.LENGTH,
        out,
        Header.LENGTH,
        questionEnd - Header.LENGTH); // the client's letter case
    int[] slots = t.slots;
    if (slots.length > 1) {
      List<byte[]> rdata = decision.rotated();
      AtomicInteger rotation = Objects.requireNonNull(decision.rotation(), "rotation");
      int count = slots.length;
      int start = Math.floorMod(rotation.getAndIncrement(), count);
      for (int i = 0; i < count; i++) {
        byte[] a = rdata.get((start + i) % count);
        System.arraycopy(a, 0, out, slots[i], a.length);
      }
    }
    answers.computeIfAbsent(out[3] & 0x0F, k -> new LongAdder()).increment();
    fastAnswers.increment();
    return out;
  }

  private static boolean fastType(int type) {
    return type == Type.A
        || type == Type.AAAA
        || type == Type.HTTPS
        || type == Type.SVCB
        || type == Type.TXT
        || type == Type.SOA
        || type == Type.NS;
  }

  /**
   * Keeps the full path's answer to a fast-path query as the template of its key, when it came at
   * once, whole and in the expected shape (the question as asked; for rotating addresses, one
   * compressed A or AAAA record each).
   */
  private void capture(
      Current c, FastKey key, byte[] query, CompletionStage<Optional<byte[]>> full) {
    Map<FastKey, Template> templates = c.templates();
    CompletableFuture<Optional<byte[]>> f = full.toCompletableFuture();
    if (!f.isDone() || f.isCompletedExceptionally()) {
      return;
    }
    Optional<byte[]> answer = f.join();
    if (answer.isEmpty()) {
      return;
    }
    byte[] wire = answer.get();
    int questionEnd = Header.LENGTH + key.name().length() + 2 + 4;
    if (wire.length < questionEnd
        || (wire[2] & 0x02) != 0
        || wire[4] != 0
        || wire[5] != 1
        || !Arrays.equals(wire, Header.LENGTH, questionEnd, query, Header.LENGTH, questionEnd)) {
      return;
    }
    int count = key.rotating();
    int[] slots = new int[count];
    if (count > 1) {
      int rdlength = key.type() == Type.A ? 4 : 16;
      if (wire[6] != 0 || (wire[7] & 0xFF) != count) {
        return;
      }
      int pos = questionEnd;
      for (int i = 0; i < count; i++) {
        // a compressed owner (pointer to the question), the type, class IN, TTL, RDLENGTH, the
        // address
        if (pos + 12 + rdlength > wire.length
            || (wire[pos] & 0xFF) != 0xC0
            || wire[pos + 1] != Header.LENGTH
            || ((wire[pos + 2] & 0xFF) << 8 | wire[pos + 3] & 0xFF) != key.type()
            || wire[pos + 4] != 0
            || wire[pos + 5] != DClass.IN
            || wire[pos + 10] != 0
            || wire[pos + 11] != rdlength) {
          return;
        }
        slots[i] = pos + 12;
        pos += 12 + rdlength;
      }
    }
    if (templates.size() < MAX_TEMPLATES) {
      templates.putIfAbsent(key, new Template(wire.clone(), questionEnd, slots));
    }
  }

  /**
   * Queries answered from precomputed bytes (the plan's names in the common shapes) rather than by
   * asking the handler; also counted in {@link #stats()} like every answer. Any thread.
   */
  public long fastAnswers() {
    return fastAnswers.sum();
  }

  /**
   * Counts one query dropped outside the responder (e.g. a TCP connection over the server's limit).
   */
  void countDropped() {
    dropped.increment();
  }

  /** The counters. */
  public DnsStats stats() {
    Map<String, Long> byRcode = new TreeMap<>();
    answers.forEach((rcode, n) -> byRcode.merge(Responses.rcodeName(rcode), n.sum(), Long::sum));
    return new DnsStats(
        udpQueries.sum(),
        tcpQueries.sum(),
        byRcode,
        truncated.sum(),
        dropped.sum(),
        handlerErrors.sum(),
        handlerTimeouts.sum());
  }

  /** Builds a {@link DnsResponder}. */
  public static final class Builder {
    private final DnsAnswerHandler handler;
    private @Nullable AddressPolicy policy;
    private DeniedClients denied = DeniedClients.REFUSE;
    private Duration handlerTimeout = Duration.ofSeconds(5);
    private boolean fastPath = true;

    private Builder(DnsAnswerHandler handler) {
      this.handler = Objects.requireNonNull(handler, "handler");
    }

    /** Answer only the policy's clients; default none set: every client is answered. */
    public Builder policy(@Nullable AddressPolicy policy) {
      this.policy = policy;
      return this;
    }

    /** What clients outside the policy get: REFUSED (the default) or nothing. */
    public Builder deniedClients(DeniedClients denied) {
      this.denied = Objects.requireNonNull(denied, "denied");
      return this;
    }

    /** How long a handler may take before the client gets SERVFAIL; default 5 s. */
    public Builder handlerTimeout(Duration timeout) {
      this.handlerTimeout = Responses.positive(timeout, "handlerTimeout");
      return this;
    }

    /**
     * Answer the common queries of stock handler chains from the bytes of an earlier identical
     * answer (see the class description); default on. Off, every query takes the full path (the
     * answers are the same bytes).
     */
    public Builder fastPath(boolean on) {
      this.fastPath = on;
      return this;
    }

    /** The client policy, if set. */
    public java.util.Optional<AddressPolicy> policy() {
      return java.util.Optional.ofNullable(policy);
    }

    /** What clients outside the policy get. */
    public DeniedClients deniedClients() {
      return denied;
    }

    /** The responder. */
    public DnsResponder build() {
      return new DnsResponder(this);
    }
  }
}
