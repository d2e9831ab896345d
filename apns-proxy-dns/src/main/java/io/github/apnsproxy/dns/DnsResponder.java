// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.dns.internal.Responses;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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
 * The wire-level entry to a handler chain: bytes of a query in, bytes of the response out. {@link DnsServer} uses
 * it; a host that already runs a DNS server calls {@link #respond} from its own receive loop.
 *
 * <p>It applies the protocol rules, so handlers only decide answers:
 * <ul>
 *   <li>fewer than 12 bytes, or QR set (a response): dropped, never answered;
 *   <li>opcode other than QUERY: NOTIMP; a header that parses with a body that does not, or QDCOUNT other than 1:
 *       FORMERR;
 *   <li>clients outside the policy's client list: REFUSED, or dropped ({@link DeniedClients#DROP});
 *   <li>EDNS: a query with OPT gets OPT back (payload {@value #EDNS_PAYLOAD}); version above 0 gets BADVERS; the UDP
 *       size limit is the client's payload size, at least 512 and at most {@value #EDNS_PAYLOAD} (512 without OPT);
 *   <li>ID, opcode, RD and the question (letter case as sent, for 0x20) are echoed; QR is set; a response too big
 *       for the limit is truncated with TC set, so the client retries over TCP;
 *   <li>a handler that throws, fails or does not complete within the handler timeout: SERVFAIL, one WARN line; no
 *       handler answering: REFUSED.
 * </ul>
 * Thread-safe. A query whose handlers answer at once (the plan handlers) is answered on the calling thread.
 */
public final class DnsResponder {
  private static final Logger LOG = LoggerFactory.getLogger(DnsResponder.class);

  /** The EDNS UDP payload size this side offers and the most it sends over UDP (DNS flag day 2020). */
  public static final int EDNS_PAYLOAD = 1232;
  /** The UDP size limit without EDNS (RFC 1035). */
  public static final int CLASSIC_UDP = 512;

  private final DnsAnswerHandler handler;
  private final @Nullable AddressPolicy policy;
  private final DeniedClients denied;
  private final long handlerTimeoutNanos;

  private final LongAdder udpQueries = new LongAdder();
  private final LongAdder tcpQueries = new LongAdder();
  private final Map<Integer, LongAdder> answers = new ConcurrentHashMap<>();
  private final LongAdder truncated = new LongAdder();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder handlerErrors = new LongAdder();
  private final LongAdder handlerTimeouts = new LongAdder();

  private DnsResponder(Builder b) {
    this.handler = b.handler;
    this.policy = b.policy;
    this.denied = b.denied;
    this.handlerTimeoutNanos = b.handlerTimeout.toNanos();
  }

  /** A builder for a responder running {@code handler} (usually a {@link DnsAnswerHandler#firstOf} chain). */
  public static Builder builder(DnsAnswerHandler handler) {
    return new Builder(handler);
  }

  /** {@link #respond(byte[], int, InetSocketAddress, DnsTransport, int)} for a whole array, no extra size limit. */
  public CompletionStage<Optional<byte[]>> respond(byte[] query, InetSocketAddress client, DnsTransport transport) {
    return respond(query, query.length, client, transport, 65535);
  }

  /**
   * Answers the query in {@code query[0..length)}.
   *
   * @param length the query's length, at most {@code query.length}
   * @param maxSize the most bytes the caller can send back (e.g. 65535); over UDP the EDNS rules may lower it
   * @return a stage completing with the response bytes, or empty when nothing must be sent; never failing
   */
  public CompletionStage<Optional<byte[]>> respond(byte[] query, int length, InetSocketAddress client,
      DnsTransport transport, int maxSize) {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(transport, "transport");
    Objects.checkFromIndexSize(0, length, query.length);
    (transport == DnsTransport.UDP ? udpQueries : tcpQueries).increment();
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
    if (policy != null && client.getAddress() != null && !policy.allowsClient(client.getAddress())) {
      if (denied == DeniedClients.DROP) {
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
    // dnsjava accepts a cut-short message when TC is set, so check the parsed section as well as the count
    if (header.getCount(Section.QUESTION) != 1 || message.getSection(Section.QUESTION).size() != 1) {
      return done(encode(echo(message, Responses.error(Rcode.FORMERR)), null, transport, maxSize));
    }
    OPTRecord opt = message.getOPT();
    if (opt != null && opt.getVersion() > 0) {
      Message badvers = echo(message, Responses.error(0));
      return done(encode(badvers, new OPTRecord(EDNS_PAYLOAD, Rcode.BADVERS >>> 4, 0), transport, maxSize));
    }
    int limit = transport == DnsTransport.TCP ? Math.min(maxSize, 65535)
        : Math.min(maxSize, opt == null ? CLASSIC_UDP
            : Math.max(CLASSIC_UDP, Math.min(opt.getPayloadSize(), EDNS_PAYLOAD)));
    // RFC 3225: the DO bit is copied into the response (no DNSSEC records are added: the plan's names are unsigned)
    OPTRecord replyOpt = opt == null ? null : new OPTRecord(EDNS_PAYLOAD, 0, 0, opt.getFlags() & ExtendedFlags.DO);

    DnsQuery q = new DnsQuery(message, client, transport);
    CompletableFuture<Optional<Message>> answer;
    try {
      answer = Responses.future(handler.answer(q));
    } catch (RuntimeException | Error e) {
      Responses.rethrowFatal(e); // a handler's bug, even an Error, is that query's SERVFAIL; a failing JVM is not
      answer = CompletableFuture.failedFuture(e);
    }
    if (answer.isDone()) {
      return done(finish(q, answer, replyOpt, limit));
    }
    CompletableFuture<Optional<Message>> bounded = answer.copy().orTimeout(handlerTimeoutNanos,
        TimeUnit.NANOSECONDS);
    return bounded.handle((m, t) -> finish(q, bounded, replyOpt, limit));
  }

  private Optional<byte[]> finish(DnsQuery q, CompletableFuture<Optional<Message>> answer,
      @Nullable OPTRecord opt, int limit) {
    Message response;
    try {
      Optional<Message> m = answer.join();
      response = m.isPresent() ? m.get() : Responses.error(Rcode.REFUSED);
    } catch (RuntimeException e) {
      Throwable cause = Responses.unwrap(e);
      if (cause instanceof TimeoutException) {
        handlerTimeouts.increment();
        LOG.warn("DNS handler did not answer {} from {} in time: SERVFAIL", describe(q), q.client());
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
      LOG.warn("DNS response to {} from {} could not be encoded: SERVFAIL", describe(q), q.client(), e);
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
    // the responder owns EDNS: drop whatever OPT a handler left (getSection is a view: copy before removing)
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

  private Optional<byte[]> encode(Message response, @Nullable OPTRecord opt, DnsTransport transport, int limit) {
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

  /** Counts one query dropped outside the responder (e.g. a TCP connection over the server's limit). */
  void countDropped() {
    dropped.increment();
  }

  /** The counters. */
  public DnsStats stats() {
    Map<String, Long> byRcode = new TreeMap<>();
    answers.forEach((rcode, n) -> byRcode.merge(Responses.rcodeName(rcode), n.sum(), Long::sum));
    return new DnsStats(udpQueries.sum(), tcpQueries.sum(), byRcode, truncated.sum(), dropped.sum(),
        handlerErrors.sum(), handlerTimeouts.sum());
  }

  /** Builds a {@link DnsResponder}. */
  public static final class Builder {
    private final DnsAnswerHandler handler;
    private @Nullable AddressPolicy policy;
    private DeniedClients denied = DeniedClients.REFUSE;
    private Duration handlerTimeout = Duration.ofSeconds(5);

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

    /** The responder. */
    public DnsResponder build() {
      return new DnsResponder(this);
    }
  }
}
