// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import io.github.apnsproxy.core.ApnsHost.Environment;
import io.github.apnsproxy.core.ApnsHost.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The APNs name syntax: a list of {@link HostPattern}s, the highest courier number, and the zones
 * the names live in. Parses names into {@link ApnsHost}s and formats them back. Immutable and
 * thread-safe.
 *
 * <p>Parsing is case-insensitive, takes an optional trailing dot, accepts leading zeros in courier
 * numbers ({@code 017} is 17), and rejects names over 253 characters, labels that are empty, over
 * 63 characters, not letters-digits-hyphens or that start or end with a hyphen, and courier numbers
 * above the maximum. The first pattern that can express a host is its canonical form, so formatting
 * prefers it over aliases (the old dot form {@code N.courier.push.apple.com} parses to the same
 * host as {@code N-courier.push.apple.com}).
 */
public final class HostNames {
  /**
   * The longest domain name, without the trailing dot (RFC 1035 section 2.3.4, 255 octets on the
   * wire).
   */
  public static final int MAX_NAME_LENGTH = 253;

  /** The default patterns, canonical forms first. */
  public static final List<HostPattern> DEFAULT_PATTERNS =
      List.of(
          new HostPattern("{n}-{courier}.push.apple.com", Kind.COURIER, Environment.PRODUCTION),
          new HostPattern(
              "{n}-{courier}.sandbox.push.apple.com", Kind.COURIER, Environment.SANDBOX),
          new HostPattern("{n}.{courier}.push.apple.com", Kind.COURIER, Environment.PRODUCTION),
          new HostPattern("init.push.apple.com", Kind.INIT, Environment.PRODUCTION),
          new HostPattern("init-p01st.push.apple.com", Kind.INIT, Environment.PRODUCTION),
          new HostPattern("init.sandbox.push.apple.com", Kind.INIT, Environment.SANDBOX),
          new HostPattern("api.push.apple.com", Kind.PROVIDER, Environment.PRODUCTION),
          new HostPattern("api.sandbox.push.apple.com", Kind.PROVIDER, Environment.SANDBOX));

  /** The zones the proxy answers for: {@code push.apple.com} and {@code sandbox.push.apple.com}. */
  public static final List<String> DEFAULT_ZONES =
      List.of("push.apple.com", "sandbox.push.apple.com");

  /** The default highest courier number, the count in Apple's configuration bag today. */
  public static final int DEFAULT_MAX_COURIER = 50;

  private static final HostNames DEFAULTS =
      new HostNames(DEFAULT_PATTERNS, DEFAULT_MAX_COURIER, DEFAULT_ZONES);

  private final List<HostPattern> patterns;
  private final List<Pattern> compiled;
  private final int maxCourier;
  private final List<String> zones;

  private HostNames(List<HostPattern> patterns, int maxCourier, List<String> zones) {
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException("no host patterns (expected at least one)");
    }
    if (maxCourier < 0) {
      throw new IllegalArgumentException(
          "maximum courier number " + maxCourier + " (expected 0 or more)");
    }
    this.patterns = List.copyOf(patterns);
    this.maxCourier = maxCourier;
    List<String> z = new ArrayList<>();
    for (String zone : zones) {
      z.add(normalizeOrThrow(zone));
    }
    this.zones = List.copyOf(z);
    List<Pattern> c = new ArrayList<>();
    for (HostPattern p : patterns) {
      c.add(compile(p.template()));
    }
    this.compiled = List.copyOf(c);
  }

  /** The default syntax: {@link #DEFAULT_PATTERNS}, couriers 0..50, {@link #DEFAULT_ZONES}. */
  public static HostNames defaults() {
    return DEFAULTS;
  }

  /** Custom syntax. */
  public static HostNames of(List<HostPattern> patterns, int maxCourier, List<String> zones) {
    Objects.requireNonNull(patterns, "patterns");
    Objects.requireNonNull(zones, "zones");
    return new HostNames(patterns, maxCourier, zones);
  }

  /** The same patterns and zones with another highest courier number. */
  public HostNames withMaxCourier(int maxCourier) {
    return maxCourier == this.maxCourier ? this : new HostNames(patterns, maxCourier, zones);
  }

  /** The patterns, canonical forms first. */
  public List<HostPattern> patterns() {
    return patterns;
  }

  /** The highest courier number accepted. */
  public int maxCourier() {
    return maxCourier;
  }

  /** The zones, lower case without trailing dots, e.g. {@code push.apple.com}. */
  public List<String> zones() {
    return zones;
  }

  /**
   * The hosts of every kind but couriers that the patterns name (init and provider hosts), in
   * pattern order: the plan's reserved hosts.
   */
  public List<ApnsHost> fixedHosts() {
    List<ApnsHost> hosts = new ArrayList<>();
    for (HostPattern p : patterns) {
      if (p.kind() != Kind.COURIER) {
        ApnsHost h = new ApnsHost(p.kind(), p.environment(), p.literalVariant(), -1);
        if (!hosts.contains(h)) {
          hosts.add(h);
        }
      }
    }
    return List.copyOf(hosts);
  }

  /**
   * Parses an APNs host name.
   *
   * @throws IllegalArgumentException naming the input and why it is not an APNs host name
   */
  public ApnsHost parse(String name) {
    Objects.requireNonNull(name, "name");
    String n = normalizeOrThrow(name);
    for (int i = 0; i < patterns.size(); i++) {
      Matcher m = compiled.get(i).matcher(n);
      if (!m.matches()) {
        continue;
      }
      HostPattern p = patterns.get(i);
      if (p.kind() != Kind.COURIER) {
        return new ApnsHost(p.kind(), p.environment(), p.literalVariant(), -1);
      }
      String digits = m.group("n");
      long number = Long.parseLong(digits);
      if (number > maxCourier) {
        throw new IllegalArgumentException(
            "'" + name + "': courier number " + digits + " is above the maximum " + maxCourier);
      }
      return ApnsHost.courier(p.environment(), m.group("v"), (int) number);
    }
    throw new IllegalArgumentException(
        "'"
            + name
            + "' is not an APNs host name (expected a form like "
            + "17-courier.push.apple.com, init.push.apple.com or api.push.apple.com)");
  }

  /** Like {@link #parse} but returns empty instead of throwing. */
  public Optional<ApnsHost> tryParse(String name) {
    if (name == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(parse(name));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /**
   * Formats a host with its canonical (first matching) pattern.
   *
   * @throws IllegalStateException when no pattern can express the host
   */
  public String format(ApnsHost host) {
    return tryFormat(host)
        .orElseThrow(
            () ->
                new IllegalStateException(
                    "no pattern names "
                        + host.kind()
                        + " "
                        + host.environment()
                        + " variant '"
                        + host.variant()
                        + "'"));
  }

  /** Formats a host, or empty when no pattern can express it. */
  public Optional<String> tryFormat(ApnsHost host) {
    for (HostPattern p : patterns) {
      if (p.kind() != host.kind() || p.environment() != host.environment()) {
        continue;
      }
      if (p.kind() == Kind.COURIER) {
        return Optional.of(
            p.template()
                .replace(HostPattern.NUMBER, Integer.toString(host.number()))
                .replace(HostPattern.VARIANT, host.variant()));
      }
      if (p.literalVariant().equals(host.variant())) {
        return Optional.of(p.template());
      }
    }
    return Optional.empty();
  }

  /**
   * The zone {@code name} is in (the zone itself or a name below it), longest match first, or
   * empty.
   *
   * @param name any domain name; case and a trailing dot do not matter
   */
  public Optional<String> zoneOf(String name) {
    Objects.requireNonNull(name, "name");
    // lenient on purpose: any name (underscores, odd labels) below a zone is still inside it
    String n = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    n = n.toLowerCase(Locale.ROOT);
    String best = null;
    for (String z : zones) {
      if ((n.equals(z) || n.endsWith("." + z)) && (best == null || z.length() > best.length())) {
        best = z;
      }
    }
    return Optional.ofNullable(best);
  }

  /**
   * Lower-cases a name, strips one trailing dot and checks its syntax (length and labels), or empty
   * when it is not a valid host name.
   */
  public static Optional<String> normalize(String name) {
    try {
      return Optional.of(normalizeOrThrow(name));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static String normalizeOrThrow(String name) {
    String n = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    if (n.isEmpty()) {
      throw new IllegalArgumentException("'" + name + "' is empty (expected a host name)");
    }
    if (n.length() > MAX_NAME_LENGTH) {
      // name the input, shortened: a 300-character name in a log line helps nobody
      throw new IllegalArgumentException(
          "'"
              + name.substring(0, 40)
              + "...' is "
              + n.length()
              + " characters long"
              + " (expected at most "
              + MAX_NAME_LENGTH
              + ")");
    }
    for (int i = 0; i < n.length(); i++) {
      // before lower-casing: the Kelvin sign U+212A lower-cases to an ASCII 'k' and would slip
      // through
      if (n.charAt(i) >= 0x80) {
        throw new IllegalArgumentException(
            "'"
                + name
                + "' has a character '"
                + n.charAt(i)
                + "' that is not a"
                + " letter, digit or hyphen");
      }
    }
    n = n.toLowerCase(Locale.ROOT);
    int start = 0;
    while (true) {
      int dot = n.indexOf('.', start);
      int end = dot < 0 ? n.length() : dot;
      checkLabel(name, n, start, end);
      if (dot < 0) {
        break;
      }
      start = dot + 1;
    }
    return n;
  }

  private static void checkLabel(String original, String n, int start, int end) {
    int len = end - start;
    if (len == 0) {
      throw new IllegalArgumentException("'" + original + "' has an empty label");
    }
    if (len > 63) {
      throw new IllegalArgumentException(
          "'" + original + "' has a label of " + len + " characters (expected at" + " most 63)");
    }
    if (n.charAt(start) == '-' || n.charAt(end - 1) == '-') {
      throw new IllegalArgumentException(
          "'" + original + "' has a label that starts or ends with '-'");
    }
    for (int i = start; i < end; i++) {
      char c = n.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        throw new IllegalArgumentException(
            "'"
                + original
                + "' has a character '"
                + c
                + "' that is not a letter,"
                + " digit or hyphen");
      }
    }
  }

  private static Pattern compile(String template) {
    StringBuilder re = new StringBuilder();
    int i = 0;
    while (i < template.length()) {
      if (template.startsWith(HostPattern.NUMBER, i)) {
        re.append("(?<n>[0-9]{1,10})");
        i += HostPattern.NUMBER.length();
      } else if (template.startsWith(HostPattern.VARIANT, i)) {
        re.append("(?<v>courier(?:[1-9][0-9]{0,2})?)");
        i += HostPattern.VARIANT.length();
      } else {
        int next = template.indexOf('{', i);
        int end = next < 0 ? template.length() : next;
        re.append(Pattern.quote(template.substring(i, end)));
        i = end;
      }
    }
    return Pattern.compile(re.toString());
  }
}
