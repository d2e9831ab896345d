// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.dns.internal.Responses;
import io.github.apnsproxy.dns.internal.UpstreamClient;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * Forwards every query to upstream DNS servers (in order, moving on after a timeout or failure) and
 * relays the answer: rcode, AA and RA flags and the answer, authority and additional records. The
 * responder gives the relayed answer the client's ID and question. When no server answers, the
 * client gets SERVFAIL.
 *
 * <p>Off by default in the proxy: a proxy that forwards every name is an open resolver. Use it for
 * the names of the APNs zones that the plan does not know, or, deliberately, for everything else.
 *
 * <p>Threads: a forwarded query's stage completes on the handler's own thread {@code
 * apns-proxy-dns-forward} (started on first use, ended after 30 s without work and by {@link
 * #close()}), never on the JVM-wide common pool; after {@link #close()}, queries still in flight
 * complete on dnsjava's I/O thread. Transfers and mailbox queries are answered at once on the
 * calling thread.
 */
public final class ForwardingHandler implements DnsAnswerHandler, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ForwardingHandler.class);

  private static final Set<Integer> NOT_RELAYED =
      Set.of(Type.AXFR, Type.IXFR, Type.MAILA, Type.MAILB);

  private final UpstreamClient client;
  private final ThreadPoolExecutor executor;

  private ForwardingHandler(Builder b) {
    Responses.positive(b.timeout, "timeout");
    if (b.servers.isEmpty()) {
      throw new IllegalArgumentException("no upstream DNS servers (expected at least one)");
    }
    this.executor =
        new ThreadPoolExecutor(
            1,
            1,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, "apns-proxy-dns-forward");
              t.setDaemon(true);
              return t;
            });
    executor.allowCoreThreadTimeOut(true);
    this.client = new UpstreamClient(b.servers, b.timeout, UpstreamClient.orInline(executor));
  }

  /** A builder; {@link Builder#servers} is required. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public CompletionStage<Optional<Message>> answer(DnsQuery query) {
    Record q = query.question();
    if (NOT_RELAYED.contains(q.getType())) {
      // zone transfers and the obsolete mailbox types are not relayed (dnsjava would run an AXFR as
      // a blocking
      // transfer on a shared pool): NOTIMP, like a resolver that does not do them
      return CompletableFuture.completedFuture(Optional.of(Responses.error(Rcode.NOTIMP)));
    }
    return client
        .query(q.getName(), q.getType())
        .handle(
            (upstream, failure) -> {
              if (failure != null) {
                LOG.debug(
                    "forwarding {} failed: {}",
                    q.getName(),
                    Responses.unwrap(failure).getMessage());
                return Optional.of(Responses.error(Rcode.SERVFAIL));
              }
              return Optional.of(relay(upstream));
            });
  }

  private static Message relay(Message upstream) {
    Message m = new Message();
    m.getHeader().setRcode(upstream.getRcode() & 0xF);
    for (int flag : new int[] {Flags.AA, Flags.RA, Flags.AD}) {
      if (upstream.getHeader().getFlag(flag)) {
        m.getHeader().setFlag(flag);
      }
    }
    for (int section : new int[] {Section.ANSWER, Section.AUTHORITY, Section.ADDITIONAL}) {
      for (Record r : upstream.getSection(section)) {
        if (r.getType() != Type.OPT && r.getType() != Type.TSIG) {
          m.addRecord(r, section);
        }
      }
    }
    return m;
  }

  /** Upstream tries sent so far. */
  public long upstreamQueries() {
    return client.queries();
  }

  /**
   * Ends the handler's thread once the completions already queued have run; later queries still
   * work, completing on dnsjava's I/O thread. Idempotent.
   */
  @Override
  public void close() {
    executor.shutdown();
  }

  /** Builds a {@link ForwardingHandler}. */
  public static final class Builder {
    private List<InetSocketAddress> servers = List.of();
    private Duration timeout = Duration.ofSeconds(2);

    private Builder() {}

    /** The upstream servers, tried in order. */
    public Builder servers(List<InetSocketAddress> servers) {
      this.servers = List.copyOf(Objects.requireNonNull(servers, "servers"));
      return this;
    }

    /** Timeout of one try; default 2 s. */
    public Builder timeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** The servers set. */
    public List<InetSocketAddress> servers() {
      return servers;
    }

    /** The timeout of one try. */
    public Duration timeout() {
      return timeout;
    }

    /**
     * The handler.
     *
     * @throws IllegalArgumentException when no server is given or the timeout is not positive
     */
    public ForwardingHandler build() {
      return new ForwardingHandler(this);
    }
  }
}
