// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns.internal;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;

/** Small helpers to build responses and handle stages; not API. */
public final class Responses {
  /** The serial of synthesized SOA records: the zone never changes while the proxy runs. */
  private static final long SERIAL = 1;

  private Responses() {}

  /**
   * True for the zone transfer types (AXFR, IXFR): the proxy's zones are synthesized and never
   * transferred, so every stock handler answers them NOTIMP, like a server that does not implement
   * transfers.
   */
  public static boolean isTransfer(int type) {
    return type == org.xbill.DNS.Type.AXFR || type == org.xbill.DNS.Type.IXFR;
  }

  /**
   * A response with {@code rcode} and nothing else: the responder fills in ID, question and flags.
   */
  public static Message error(int rcode) {
    Message m = new Message();
    m.getHeader().setRcode(rcode);
    return m;
  }

  /**
   * A fresh authoritative response for {@code query}: AA set, RA mirroring the query's RD (the
   * proxy gives complete answers for the names it serves, so a forwarder configured for a recursive
   * server accepts them).
   */
  public static Message authoritative(Message query, int rcode) {
    Message m = new Message();
    m.getHeader().setRcode(rcode);
    m.getHeader().setFlag(Flags.AA);
    if (query.getHeader().getFlag(Flags.RD)) {
      m.getHeader().setFlag(Flags.RA);
    }
    return m;
  }

  /**
   * The synthesized SOA of {@code zone} for the authority section of NODATA and NXDOMAIN answers
   * (RFC 2308): its TTL and minimum are both the negative TTL.
   */
  public static SOARecord soa(Name zone, Name nsName, long negativeTtl) {
    Name admin = child("hostmaster", zone);
    return new SOARecord(
        zone, DClass.IN, negativeTtl, nsName, admin, SERIAL, 3600, 600, 86400, negativeTtl);
  }

  /**
   * The synthesized SOA of every zone, keyed by the zone's text (lower case, no trailing dot):
   * built once.
   */
  public static java.util.Map<String, SOARecord> soas(
      java.util.List<String> zones, Name nsName, long negativeTtl) {
    java.util.Map<String, SOARecord> out = new java.util.HashMap<>();
    for (String z : zones) {
      out.put(z, soa(absolute(z), nsName, negativeTtl));
    }
    return java.util.Map.copyOf(out);
  }

  /** Adds {@code soa} to the authority section. */
  public static Message withSoa(Message m, SOARecord soa) {
    m.addRecord(soa, Section.AUTHORITY);
    return m;
  }

  /** An absolute name from text with or without the trailing dot. */
  public static Name absolute(String name) {
    try {
      return Name.fromString(name.endsWith(".") ? name : name + ".");
    } catch (TextParseException e) {
      throw new IllegalArgumentException(
          "'" + name + "' is not a domain name: " + e.getMessage(), e);
    }
  }

  /** {@code label.parent}. */
  public static Name child(String label, Name parent) {
    try {
      return Name.concatenate(Name.fromString(label), parent);
    } catch (TextParseException | org.xbill.DNS.NameTooLongException e) {
      throw new IllegalArgumentException("'" + label + "." + parent + "' is not a domain name", e);
    }
  }

  /**
   * A name as lower-case text without the trailing dot, the form core's {@code HostNames} works
   * with.
   */
  public static String text(Name name) {
    String s = name.toString(true);
    return s.toLowerCase(Locale.ROOT);
  }

  /** Whole seconds of a TTL, at least 0 and at most 2^31 - 1 (RFC 2181). */
  public static long seconds(Duration ttl) {
    long s = ttl.toSeconds();
    return Math.max(0, Math.min(s, Integer.MAX_VALUE));
  }

  /**
   * {@code d}, checked to be 0 or more.
   *
   * @throws IllegalArgumentException naming {@code what} when it is negative
   */
  public static Duration nonNegative(Duration d, String what) {
    java.util.Objects.requireNonNull(d, what);
    if (d.isNegative()) {
      throw new IllegalArgumentException(what + " " + d + " (expected 0 or more)");
    }
    return d;
  }

  /**
   * {@code d}, checked to be more than 0.
   *
   * @throws IllegalArgumentException naming {@code what} when it is zero or negative
   */
  public static Duration positive(Duration d, String what) {
    java.util.Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " " + d + " (expected more than 0)");
    }
    return d;
  }

  /** The stage as a future without touching the caller's object when it is not one. */
  public static <T> CompletableFuture<T> future(CompletionStage<T> stage) {
    if (stage instanceof CompletableFuture<T> f) {
      return f;
    }
    try {
      return stage.toCompletableFuture();
    } catch (UnsupportedOperationException e) {
      CompletableFuture<T> f = new CompletableFuture<>();
      stage.whenComplete(
          (v, t) -> {
            if (t != null) {
              f.completeExceptionally(t);
            } else {
              f.complete(v);
            }
          });
      return f;
    }
  }

  /**
   * Rethrows what must not be contained: the JVM running out of memory or failing internally.
   * Everything else a handler throws - a runtime exception, an assertion, a linkage error, a stack
   * overflow - is that query's SERVFAIL.
   */
  public static void rethrowFatal(Throwable t) {
    if (t instanceof VirtualMachineError && !(t instanceof StackOverflowError)) {
      throw (VirtualMachineError) t;
    }
  }

  /** The cause of a stage's failure, unwrapped from {@link CompletionException}. */
  public static Throwable unwrap(Throwable t) {
    Throwable c = t;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }

  /** The name of an rcode as the counters use it, e.g. {@code NOERROR}, {@code NXDOMAIN}. */
  public static String rcodeName(int rcode) {
    return Rcode.string(rcode);
  }
}
