// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.HostNames;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.dns.internal.Responses;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * Answers the APNs host names of an {@link AddressPlan} (couriers in every form and variant, init
 * and provider API names) with the plan's virtual addresses; passes every other name.
 *
 * <ul>
 *   <li>A: the IPv4 virtual address of each of the client's sites ({@link
 *       AddressPlan#addressesFor}), order rotated per query, AA set.
 *   <li>AAAA: the IPv6 virtual addresses, or NODATA when the sites have no IPv6 prefix.
 *   <li>Every other type (HTTPS, SVCB, TXT, MX, CNAME, ANY, ...): NODATA. Devices ask HTTPS (type
 *       65) first; an immediate NODATA sends them on to A.
 *   <li>A courier number above the plan's count, or a variant the plan does not serve: NXDOMAIN.
 *   <li>A zone transfer (AXFR, IXFR): NOTIMP, as {@link ForwardingHandler} answers transfers.
 * </ul>
 *
 * NODATA and NXDOMAIN carry the zone's synthesized SOA in the authority section (RFC 2308), whose
 * TTL and minimum are the negative TTL.
 *
 * <p>With an {@linkplain Builder#upstreamCheck upstream check}, a name is answered only when the
 * real DNS knows it: NXDOMAIN upstream gives NXDOMAIN here (the resolver caches it); an upstream
 * failure answers from the plan.
 */
public final class PlanHostsHandler implements DnsAnswerHandler {
  private static final Logger LOG = LoggerFactory.getLogger(PlanHostsHandler.class);

  private final AddressPlan plan;
  private final HostNames anyNumber;
  private final long ttl;
  private final long negativeTtl;
  private final Name nsName;
  private final @Nullable UpstreamResolver upstreamCheck;
  private final AtomicInteger rotation = new AtomicInteger();
  private final Map<String, SOARecord> soas;

  private PlanHostsHandler(Builder b) {
    this.plan = b.plan;
    // parse numbers of any size so that a number above the count is an APNs name this handler
    // denies (NXDOMAIN)
    this.anyNumber = plan.hostNames().withMaxCourier(Integer.MAX_VALUE);
    this.ttl = Responses.seconds(b.ttl);
    this.negativeTtl = Responses.seconds(b.negativeTtl);
    this.nsName = Responses.absolute(b.nsName);
    this.upstreamCheck = b.upstreamCheck;
    this.soas = Responses.soas(plan.hostNames().zones(), nsName, negativeTtl);
  }

  /** A builder for the handler of {@code plan}. */
  public static Builder builder(AddressPlan plan) {
    return new Builder(plan);
  }

  @Override
  public CompletionStage<Optional<Message>> answer(DnsQuery query) {
    Record q = query.question();
    if (q.getDClass() != DClass.IN) {
      return pass();
    }
    Name name = q.getName();
    String text = Responses.text(name);
    Optional<ApnsHost> parsed = anyNumber.tryParse(text);
    if (parsed.isEmpty()) {
      return pass();
    }
    if (Responses.isTransfer(q.getType())) {
      return answered(Responses.error(Rcode.NOTIMP));
    }
    ApnsHost host = parsed.get();
    SOARecord zone = soa(text);
    if (!plan.serves(host)) {
      return answered(
          Responses.withSoa(Responses.authoritative(query.message(), Rcode.NXDOMAIN), zone));
    }
    if (upstreamCheck == null) {
      return answered(planAnswer(query, host, zone));
    }
    CompletionStage<List<InetAddress>> check;
    try {
      check = upstreamCheck.resolve(text);
    } catch (RuntimeException e) {
      LOG.debug("upstream check of {} failed, answering from the plan", text, e);
      return answered(planAnswer(query, host, zone));
    }
    return check.handle(
        (addresses, failure) -> {
          if (failure != null && Responses.unwrap(failure) instanceof UnknownHostException) {
            return Optional.of(
                Responses.withSoa(Responses.authoritative(query.message(), Rcode.NXDOMAIN), zone));
          }
          if (failure != null) {
            LOG.debug(
                "upstream check of {} failed ({}), answering from the plan",
                text,
                failure.toString());
          }
          return Optional.of(planAnswer(query, host, zone));
        });
  }

  /** Fast-path keys of the answers that carry no address. */
  private enum Fixed {
    NXDOMAIN,
    NODATA
  }

  /**
   * What {@link #answer} does with {@code name} (lower case, no trailing dot) for {@code client},
   * for the responder's fast path: mirrors {@link #answer} and {@link #planAnswer} without building
   * messages; null with an upstream check (its answer depends on the resolver) and for transfers.
   */
  @Nullable FastAnswer fast(String name, int type, InetAddress client) {
    Optional<ApnsHost> parsed = anyNumber.tryParse(name);
    if (parsed.isEmpty()) {
      return FastAnswer.PASS;
    }
    if (Responses.isTransfer(type) || upstreamCheck != null) {
      return null;
    }
    ApnsHost host = parsed.get();
    if (!plan.serves(host)) {
      return FastAnswer.fixed(Fixed.NXDOMAIN);
    }
    if (type == Type.A || type == Type.AAAA) {
      List<InetAddress> wanted = new ArrayList<>(2);
      for (InetAddress a : plan.addressesFor(host, client)) {
        if (type == Type.A ? a instanceof Inet4Address : a instanceof Inet6Address) {
          wanted.add(a);
        }
      }
      if (!wanted.isEmpty()) {
        List<byte[]> rdata = new ArrayList<>(wanted.size());
        for (InetAddress a : wanted) {
          rdata.add(a.getAddress());
        }
        return FastAnswer.rotating(wanted, rdata, rotation);
      }
    }
    return FastAnswer.fixed(Fixed.NODATA);
  }

  /**
   * The SOA of the zone {@code name} is in (a custom pattern outside every zone: one for the name
   * itself).
   */
  private SOARecord soa(String name) {
    Optional<String> zone = plan.hostNames().zoneOf(name);
    SOARecord soa = zone.map(soas::get).orElse(null);
    return soa != null
        ? soa
        : Responses.soa(Responses.absolute(zone.orElse(name)), nsName, negativeTtl);
  }

  private Message planAnswer(DnsQuery query, ApnsHost host, SOARecord zone) {
    Record q = query.question();
    int type = q.getType();
    Message m = Responses.authoritative(query.message(), Rcode.NOERROR);
    if (type == Type.A || type == Type.AAAA) {
      List<InetAddress> all = plan.addressesFor(host, query.client().getAddress());
      List<InetAddress> wanted = new ArrayList<>(all.size());
      for (InetAddress a : all) {
        if (type == Type.A ? a instanceof Inet4Address : a instanceof Inet6Address) {
          wanted.add(a);
        }
      }
      int n = wanted.size();
      if (n > 0) {
        int start = n == 1 ? 0 : Math.floorMod(rotation.getAndIncrement(), n);
        for (int i = 0; i < n; i++) {
          InetAddress a = wanted.get((start + i) % n);
          Record r =
              type == Type.A
                  ? new ARecord(q.getName(), DClass.IN, ttl, a)
                  : new AAAARecord(q.getName(), DClass.IN, ttl, a);
          m.addRecord(r, Section.ANSWER);
        }
        return m;
      }
    }
    return Responses.withSoa(m, zone);
  }

  private static CompletionStage<Optional<Message>> pass() {
    return CompletableFuture.completedFuture(Optional.empty());
  }

  private static CompletionStage<Optional<Message>> answered(Message m) {
    return CompletableFuture.completedFuture(Optional.of(m));
  }

  /** Builds a {@link PlanHostsHandler}. */
  public static final class Builder {
    private final AddressPlan plan;
    private Duration ttl = Duration.ofSeconds(30);
    private Duration negativeTtl = Duration.ofSeconds(30);
    private String nsName = "ns.push.apple.com";
    private @Nullable UpstreamResolver upstreamCheck;

    private Builder(AddressPlan plan) {
      this.plan = Objects.requireNonNull(plan, "plan");
    }

    /** TTL of the A and AAAA answers; default 30 s. */
    public Builder ttl(Duration ttl) {
      this.ttl = Responses.nonNegative(ttl, "ttl");
      return this;
    }

    /** TTL and minimum of the SOA in NODATA and NXDOMAIN answers; default 30 s. */
    public Builder negativeTtl(Duration negativeTtl) {
      this.negativeTtl = Responses.nonNegative(negativeTtl, "negativeTtl");
      return this;
    }

    /** The primary name server in the synthesized SOA; default {@code ns.push.apple.com}. */
    public Builder nsName(String nsName) {
      Responses.absolute(Objects.requireNonNull(nsName, "nsName"));
      this.nsName = nsName;
      return this;
    }

    /**
     * Answer a name only when this resolver does not say it does not exist; null (the default) for
     * no check.
     */
    public Builder upstreamCheck(@Nullable UpstreamResolver resolver) {
      this.upstreamCheck = resolver;
      return this;
    }

    /** The TTL of answers. */
    public Duration ttl() {
      return ttl;
    }

    /** The negative-answer TTL. */
    public Duration negativeTtl() {
      return negativeTtl;
    }

    /** The NS name in synthesized SOAs. */
    public String nsName() {
      return nsName;
    }

    /** Whether names are checked against the real DNS. */
    public boolean checksUpstream() {
      return upstreamCheck != null;
    }

    /** The handler. */
    public PlanHostsHandler build() {
      return new PlanHostsHandler(this);
    }
  }
}
