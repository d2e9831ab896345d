// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost.Kind;
import io.github.apnsproxy.core.HostNames;
import io.github.apnsproxy.core.HostPattern;
import io.github.apnsproxy.dns.internal.Responses;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.jspecify.annotations.Nullable;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.NSRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/**
 * Answers for the APNs zones themselves ({@code push.apple.com} and {@code sandbox.push.apple.com})
 * and the names inside them that no earlier handler answered; passes names outside the zones.
 *
 * <ul>
 *   <li>At a zone apex: SOA; NS (the proxy's own name, with its address as glue when configured);
 *       TXT {@code count=N}, the courier count devices read before picking a courier; NODATA for
 *       other types.
 *   <li>A name that is only a parent of plan names (e.g. {@code courier.push.apple.com} of the dot
 *       form {@code 17.courier.push.apple.com}): NODATA, since it exists (RFC 8020).
 *   <li>Any other name inside a zone: NXDOMAIN with the SOA, or {@linkplain Builder#otherNames
 *       forwarded} upstream.
 *   <li>A zone transfer (AXFR, IXFR) of any name inside the zones: NOTIMP, as {@link
 *       ForwardingHandler} answers transfers (the zones are synthesized and never transferred).
 * </ul>
 *
 * Place it after a {@link PlanHostsHandler} of the same plan, which answers the host names.
 */
public final class ZoneApexHandler implements DnsAnswerHandler {
  private static final String NUMBER = "{n}";
  private static final String VARIANT = "{courier}";

  private final HostNames names;
  private final Name nsName;
  private final @Nullable InetAddress nsAddress;
  private final String txt;
  private final long ttl;
  private final long negativeTtl;
  private final ZoneOther other;
  private final @Nullable DnsAnswerHandler forwarder;
  private final Set<String> parents;
  private final Map<String, SOARecord> soas;

  private ZoneApexHandler(Builder b) {
    this.names = b.plan.hostNames();
    this.nsName = Responses.absolute(b.nsName);
    this.nsAddress = b.nsAddress;
    this.txt = "count=" + b.txtCount();
    this.ttl = Responses.seconds(b.ttl);
    this.negativeTtl = Responses.seconds(b.negativeTtl);
    this.other = b.other;
    this.forwarder = b.forwarder;
    this.parents = Set.copyOf(parents(b.plan));
    this.soas = Responses.soas(names.zones(), nsName, negativeTtl);
  }

  /** A builder for the zones of {@code plan}'s host names. */
  public static Builder builder(AddressPlan plan) {
    return new Builder(plan);
  }

  @Override
  public CompletionStage<Optional<Message>> answer(DnsQuery query) {
    Record q = query.question();
    if (q.getDClass() != DClass.IN) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    String text = Responses.text(q.getName());
    Optional<String> zoneText = names.zoneOf(text);
    if (zoneText.isEmpty()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    SOARecord zone =
        Objects.requireNonNull(soas.get(zoneText.get()), "soa"); // one SOA per zone of names
    if (!q.getName().subdomain(zone.getName())) {
      // only looks inside in text: a label with an escaped dot ("x\.push" under apple.com) is not
      // in the zone
      return CompletableFuture.completedFuture(Optional.empty());
    }
    if (Responses.isTransfer(q.getType())) {
      return done(Responses.error(Rcode.NOTIMP));
    }
    Message m = Responses.authoritative(query.message(), Rcode.NOERROR);
    if (text.equals(zoneText.get())) {
      return done(apex(m, q, zone));
    }
    if (parents.contains(text)) {
      return done(Responses.withSoa(m, zone));
    }
    if (other == ZoneOther.FORWARD && forwarder != null) {
      return forwarder.answer(query);
    }
    m.getHeader().setRcode(Rcode.NXDOMAIN);
    return done(Responses.withSoa(m, zone));
  }

  /** Fast-path keys. */
  private enum Fixed {
    TRANSFER,
    APEX,
    PARENT,
    NXDOMAIN
  }

  /**
   * What {@link #answer} does with {@code name} (lower case, no trailing dot, letters, digits, '-'
   * and '_' only), for the responder's fast path; null when the name would be forwarded. The
   * answer's records depend only on the zone, the name and the type, which the responder's key
   * holds.
   */
  @Nullable FastAnswer fast(String name, int type) {
    Optional<String> zoneText = names.zoneOf(name);
    if (zoneText.isEmpty()) {
      return FastAnswer.PASS;
    }
    if (Responses.isTransfer(type)) {
      return FastAnswer.fixed(Fixed.TRANSFER);
    }
    if (name.equals(zoneText.get())) {
      return FastAnswer.fixed(Fixed.APEX);
    }
    if (parents.contains(name)) {
      return FastAnswer.fixed(Fixed.PARENT);
    }
    if (other == ZoneOther.FORWARD && forwarder != null) {
      return null;
    }
    return FastAnswer.fixed(Fixed.NXDOMAIN);
  }

  private Message apex(Message m, Record q, SOARecord zone) {
    Name name = q.getName();
    switch (q.getType()) {
      case Type.SOA -> m.addRecord(zone.withName(name), Section.ANSWER);
      case Type.NS -> {
        m.addRecord(new NSRecord(name, DClass.IN, ttl, nsName), Section.ANSWER);
        if (nsAddress != null) {
          m.addRecord(
              nsAddress instanceof Inet4Address
                  ? new ARecord(nsName, DClass.IN, ttl, nsAddress)
                  : new AAAARecord(nsName, DClass.IN, ttl, nsAddress),
              Section.ADDITIONAL);
        }
      }
      case Type.TXT -> m.addRecord(new TXTRecord(name, DClass.IN, ttl, txt), Section.ANSWER);
      default -> Responses.withSoa(m, zone);
    }
    return m;
  }

  private static CompletionStage<Optional<Message>> done(Message m) {
    return CompletableFuture.completedFuture(Optional.of(m));
  }

  /**
   * The names strictly between a zone and a plan name, e.g. {@code courier.push.apple.com}: empty
   * non-terminals.
   */
  private static Set<String> parents(AddressPlan plan) {
    HostNames names = plan.hostNames();
    Set<String> out = new HashSet<>();
    for (HostPattern p : names.patterns()) {
      List<String> variants = p.kind() == Kind.COURIER ? plan.variants() : List.of("");
      int max = p.kind() == Kind.COURIER ? plan.courierCount() : 0;
      for (String v : variants) {
        for (int n = 0; n <= max; n++) {
          String name =
              p.template()
                  .replace(NUMBER, Integer.toString(n))
                  .replace(VARIANT, v)
                  .toLowerCase(java.util.Locale.ROOT);
          Optional<String> zone = names.zoneOf(name);
          if (zone.isEmpty()) {
            continue;
          }
          int dot = name.indexOf('.');
          while (dot > 0) {
            String parent = name.substring(dot + 1);
            if (parent.length() <= zone.get().length()) {
              break;
            }
            out.add(parent);
            dot = name.indexOf('.', dot + 1);
          }
        }
      }
    }
    return out;
  }

  /** Builds a {@link ZoneApexHandler}. */
  public static final class Builder {
    private final AddressPlan plan;
    private String nsName = "ns.push.apple.com";
    private @Nullable InetAddress nsAddress;
    private int txtCount = -1;
    private Duration ttl = Duration.ofSeconds(30);
    private Duration negativeTtl = Duration.ofSeconds(30);
    private ZoneOther other = ZoneOther.NXDOMAIN;
    private @Nullable DnsAnswerHandler forwarder;

    private Builder(AddressPlan plan) {
      this.plan = Objects.requireNonNull(plan, "plan");
    }

    /** The proxy's name in the NS and SOA records; default {@code ns.push.apple.com}. */
    public Builder nsName(String nsName) {
      Responses.absolute(Objects.requireNonNull(nsName, "nsName"));
      this.nsName = nsName;
      return this;
    }

    /** The proxy's address, given as glue with the NS answer; default none. */
    public Builder nsAddress(@Nullable InetAddress address) {
      this.nsAddress = address;
      return this;
    }

    /** The N of TXT {@code count=N}; default the plan's courier count. */
    public Builder txtCount(int count) {
      if (count < 0) {
        throw new IllegalArgumentException("txtCount " + count + " (expected 0 or more)");
      }
      this.txtCount = count;
      return this;
    }

    /** TTL of the SOA, NS and TXT answers; default 30 s. */
    public Builder ttl(Duration ttl) {
      this.ttl = Responses.nonNegative(ttl, "ttl");
      return this;
    }

    /** TTL and minimum of the SOA in NODATA and NXDOMAIN answers; default 30 s. */
    public Builder negativeTtl(Duration negativeTtl) {
      this.negativeTtl = Responses.nonNegative(negativeTtl, "negativeTtl");
      return this;
    }

    /**
     * What other names inside the zones get: {@link ZoneOther#NXDOMAIN} (the default), or {@link
     * ZoneOther#FORWARD} to {@code forwarder}, e.g. a {@link ForwardingHandler} on the upstream
     * DNS.
     *
     * @throws IllegalArgumentException when {@code FORWARD} comes without a forwarder
     */
    public Builder otherNames(ZoneOther other, @Nullable DnsAnswerHandler forwarder) {
      Objects.requireNonNull(other, "other");
      if (other == ZoneOther.FORWARD && forwarder == null) {
        throw new IllegalArgumentException("otherNames FORWARD needs a forwarder");
      }
      this.other = other;
      this.forwarder = forwarder;
      return this;
    }

    /** The NS name. */
    public String nsName() {
      return nsName;
    }

    /** The NS address (glue), if set. */
    public java.util.Optional<InetAddress> nsAddress() {
      return java.util.Optional.ofNullable(nsAddress);
    }

    /** The count in {@code TXT push.apple.com}: as set, else the plan's courier count. */
    public int txtCount() {
      return txtCount >= 0 ? txtCount : plan.courierCount();
    }

    /** The TTL of answers. */
    public Duration ttl() {
      return ttl;
    }

    /** The negative-answer TTL. */
    public Duration negativeTtl() {
      return negativeTtl;
    }

    /** What other names inside the zones get. */
    public ZoneOther otherNames() {
      return other;
    }

    /** The handler. */
    public ZoneApexHandler build() {
      return new ZoneApexHandler(this);
    }
  }
}
