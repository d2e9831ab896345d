// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;

/**
 * Sends one question to a list of upstream DNS servers in order, moving on after a timeout, a
 * network error or an answer other than NOERROR/NXDOMAIN. Truncated UDP answers are retried over
 * TCP (dnsjava's {@link SimpleResolver} does that). Non-blocking: every stage completes on the
 * executor given to the constructor (dnsjava parses answers there, and failures are handed over to
 * it from dnsjava's I/O thread), never on the JVM-wide common pool. Not API.
 */
public final class UpstreamClient {
  /** The EDNS payload size offered upstream (the DNS flag day 2020 value). */
  public static final int EDNS_PAYLOAD = 1232;

  private final List<InetSocketAddress> servers;
  private final List<SimpleResolver> resolvers;
  private final LongAdder queries = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final Executor executor;

  /**
   * A client for {@code servers}.
   *
   * @param executor runs dnsjava's answer parsing and every completion; must not reject tasks (a
   *     closed owner runs them inline instead)
   */
  public UpstreamClient(List<InetSocketAddress> servers, Duration timeout, Executor executor) {
    this.executor = java.util.Objects.requireNonNull(executor, "executor");
    Responses.positive(timeout, "timeout");
    if (servers.isEmpty()) {
      throw new IllegalArgumentException("no upstream DNS servers (expected at least one)");
    }
    this.servers = List.copyOf(servers);
    List<SimpleResolver> r = new ArrayList<>();
    for (InetSocketAddress s : this.servers) {
      SimpleResolver sr = new SimpleResolver(s);
      sr.setTimeout(timeout);
      sr.setEDNS(0, EDNS_PAYLOAD, 0, List.of());
      r.add(sr);
    }
    this.resolvers = List.copyOf(r);
  }

  /**
   * {@code executor}, or, once it rejects a task (its owner was closed), the calling thread:
   * answers to queries sent before a close still complete.
   */
  public static Executor orInline(Executor executor) {
    java.util.Objects.requireNonNull(executor, "executor");
    return task -> {
      try {
        executor.execute(task);
      } catch (java.util.concurrent.RejectedExecutionException closed) {
        task.run();
      }
    };
  }

  /** The servers, in the order tried. */
  public List<InetSocketAddress> servers() {
    return servers;
  }

  /** Upstream tries sent so far (one per server tried). */
  public long queries() {
    return queries.sum();
  }

  /** Tries that timed out, failed on the network or got an answer other than NOERROR/NXDOMAIN. */
  public long failures() {
    return failures.sum();
  }

  /**
   * Asks {@code name}/{@code type} (class IN, RD set).
   *
   * @return the first NOERROR or NXDOMAIN answer; else the last server's answer; or a failure with
   *     an {@link IOException} naming every server and what went wrong when none answered
   */
  public CompletionStage<Message> query(Name name, int type) {
    CompletableFuture<Message> result = new CompletableFuture<>();
    attempt(name, type, 0, new ArrayList<>(), null, result);
    return result;
  }

  private void attempt(
      Name name,
      int type,
      int index,
      List<String> errors,
      @Nullable Message lastAnswer,
      CompletableFuture<Message> result) {
    if (index >= resolvers.size()) {
      if (lastAnswer != null) {
        result.complete(lastAnswer);
      } else {
        result.completeExceptionally(
            new IOException(
                "no upstream DNS server answered "
                    + name
                    + " "
                    + org.xbill.DNS.Type.string(type)
                    + ": "
                    + String.join("; ", errors)));
      }
      return;
    }
    Message q = Message.newQuery(Record.newRecord(name, type, DClass.IN));
    q.getHeader().setFlag(Flags.RD);
    queries.increment();
    CompletionStage<Message> stage;
    try {
      stage = resolvers.get(index).sendAsync(q, executor);
    } catch (RuntimeException e) {
      stage = CompletableFuture.failedFuture(e);
    }
    // a success arrives on the executor already (dnsjava parses there); a failure (timeout, network
    // error) arrives on
    // dnsjava's I/O thread: hand it over so that no caller code runs on that shared thread
    stage.whenCompleteAsync(
        (answer, failure) -> {
          if (failure != null) {
            failures.increment();
            Throwable t = Responses.unwrap(failure);
            errors.add(
                servers.get(index)
                    + " "
                    + t.getClass().getSimpleName()
                    + (t.getMessage() == null ? "" : " " + t.getMessage()));
            attempt(name, type, index + 1, errors, lastAnswer, result);
            return;
          }
          int rcode = answer.getRcode();
          if (rcode == Rcode.NOERROR || rcode == Rcode.NXDOMAIN) {
            result.complete(answer);
            return;
          }
          failures.increment();
          errors.add(servers.get(index) + " " + Rcode.string(rcode));
          attempt(name, type, index + 1, errors, answer, result);
        },
        executor);
  }
}
