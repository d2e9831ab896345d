// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.config;

import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.HostNames;
import io.github.apnsproxy.core.internal.Durations;
import io.github.apnsproxy.core.internal.HostsFile;
import io.github.apnsproxy.core.internal.Literals;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The value types of apns-proxy's text configuration. Syntax: durations are a whole number and a
 * unit ({@code 500ms}, {@code 5s}, {@code 10m}, {@code 1h}, {@code 1d}) or {@code 0}, at most
 * {@link #MAX_DURATION} (so no time ever overflows a nanosecond count); lists are comma-separated,
 * whitespace around elements ignored; socket addresses are {@code 192.0.2.1:53} or {@code
 * [2001:db8::1]:53}; an empty value means "none" for {@link #optional} types.
 */
public final class ValueTypes {
  /** The longest duration any key accepts: ten years (3650d). */
  public static final Duration MAX_DURATION = Duration.ofDays(3650);

  /** The longest hosts file read: 16 MiB. */
  public static final long MAX_HOSTS_FILE_BYTES = HostsFile.MAX_BYTES;

  private static final Duration MAX_TTL = Duration.ofSeconds(Integer.MAX_VALUE);
  private static final Pattern SITE_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

  private ValueTypes() {}

  /** A type from a parser and a formatter. */
  public static <T> ValueType<T> of(Function<String, T> parser, Function<T, String> formatter) {
    Objects.requireNonNull(parser, "parser");
    Objects.requireNonNull(formatter, "formatter");
    return new ValueType<>() {
      @Override
      public T parse(String text) {
        return parser.apply(text);
      }

      @Override
      public String format(T value) {
        return formatter.apply(value);
      }
    };
  }

  /** {@code type}, or empty text for none. */
  public static <T> ValueType<Optional<T>> optional(ValueType<T> type) {
    return of(
        v -> v.isEmpty() ? Optional.empty() : Optional.of(type.parse(v)),
        o -> o.map(type::format).orElse(""));
  }

  /** A duration of at least {@code min} and at most {@link #MAX_DURATION}. */
  public static ValueType<Duration> duration(Duration min) {
    return of(
        v -> {
          Duration d = Durations.parse(v);
          if (d.compareTo(min) < 0) {
            throw new IllegalArgumentException(
                "expected at least " + Durations.format(min) + " (0 is not allowed here)");
          }
          if (d.compareTo(MAX_DURATION) > 0) {
            throw new IllegalArgumentException(
                "expected at most " + Durations.format(MAX_DURATION));
          }
          return d;
        },
        Durations::format);
  }

  /** A DNS TTL: whole seconds, 0 to 2^31-1 s. */
  public static ValueType<Duration> ttl() {
    return of(
        v -> {
          Duration d = Durations.parse(v);
          if (d.toMillisPart() != 0 || d.compareTo(MAX_TTL) > 0) {
            throw new IllegalArgumentException(
                "expected whole seconds up to " + MAX_TTL.toSeconds() + "s");
          }
          return d;
        },
        Durations::format);
  }

  /** A TCP keepalive time: whole seconds, 1 s to 32767 s (the Linux limits). */
  public static ValueType<Duration> keepalive() {
    return of(
        v -> {
          Duration d = Durations.parse(v);
          if (d.toMillisPart() != 0 || d.toSeconds() < 1 || d.toSeconds() > 32_767) {
            throw new IllegalArgumentException("expected whole seconds 1s..32767s");
          }
          return d;
        },
        Durations::format);
  }

  /** A whole number {@code min..max}. */
  public static ValueType<Integer> integer(int min, int max) {
    return of(
        v -> {
          if (v.isEmpty()
              || v.length() > 10
              || !v.chars().allMatch(c -> c >= '0' && c <= '9')
              || Long.parseLong(v) < min
              || Long.parseLong(v) > max) {
            throw new IllegalArgumentException("expected a whole number " + min + ".." + max);
          }
          return Integer.parseInt(v);
        },
        String::valueOf);
  }

  /** {@code true} or {@code false}, any case. */
  public static ValueType<Boolean> bool() {
    return of(
        v -> {
          if (v.equalsIgnoreCase("true")) {
            return true;
          }
          if (v.equalsIgnoreCase("false")) {
            return false;
          }
          throw new IllegalArgumentException("expected true or false");
        },
        String::valueOf);
  }

  /** A constant of {@code type}, any case; formatted in lower case. */
  public static <E extends Enum<E>> ValueType<E> enumeration(Class<E> type) {
    return of(
        v -> {
          for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(v)) {
              return e;
            }
          }
          throw new IllegalArgumentException(
              "expected one of "
                  + Arrays.stream(type.getEnumConstants())
                      .map(e -> e.name().toLowerCase(Locale.ROOT))
                      .collect(Collectors.joining(", ")));
        },
        e -> e.name().toLowerCase(Locale.ROOT));
  }

  /** An IPv4 subnet of prefix length at most 30. */
  public static ValueType<Cidr> ipv4Subnet() {
    return of(
        v -> {
          Cidr c = Cidr.parse(v);
          if (!c.isIpv4() || c.prefixLength() > 30) {
            throw new IllegalArgumentException(
                "not an IPv4 subnet of prefix length at most 30 (expected like"
                    + " 10.100.100.0/24)");
          }
          return c;
        },
        ValueTypes::format);
  }

  /** An IPv6 prefix. */
  public static ValueType<Cidr> ipv6Prefix() {
    return of(
        v -> {
          Cidr c = Cidr.parse(v);
          if (c.isIpv4()) {
            throw new IllegalArgumentException("not an IPv6 prefix (expected like fd00:a::/64)");
          }
          return c;
        },
        ValueTypes::format);
  }

  /** A list of CIDRs, or {@code any}. */
  public static ValueType<CidrSet> cidrSet() {
    return of(
        CidrSet::parse,
        set ->
            set.isAny()
                ? "any"
                : set.networks().stream().map(ValueTypes::format).collect(Collectors.joining(",")));
  }

  /** An address literal, IPv6 in the short form of RFC 5952 ({@code 2620:149:a44::}). */
  public static String format(InetAddress address) {
    byte[] b = address.getAddress();
    if (b.length == 4) {
      return address.getHostAddress();
    }
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) {
      groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLength = 1; // a single zero group is not shortened (RFC 5952 section 4.2.2)
    for (int i = 0; i < 8; i++) {
      int j = i;
      while (j < 8 && groups[j] == 0) {
        j++;
      }
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = Math.max(i, j);
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLength - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(groups[i]));
    }
    return sb.toString();
  }

  /** A CIDR with its address in the short form. */
  public static String format(Cidr cidr) {
    return format(cidr.network()) + "/" + cidr.prefixLength();
  }

  /** A socket address: {@code 192.0.2.1:53} or {@code [2001:db8::1]:53}. */
  public static String format(InetSocketAddress address) {
    InetAddress a = address.getAddress();
    if (a == null) {
      return Literals.format(address);
    }
    return (a.getAddress().length == 16 ? "[" + format(a) + "]" : format(a))
        + ":"
        + address.getPort();
  }

  /** Site names: lower-case letters, digits, '-' and '_', each once. */
  public static ValueType<List<String>> siteNames() {
    return of(
        v -> {
          List<String> names = list(v);
          for (String n : names) {
            if (!isSiteName(n)) {
              throw new IllegalArgumentException(
                  "bad site name '"
                      + n
                      + "' (expected lower-case letters, digits, '-'"
                      + " and '_')");
            }
          }
          noDuplicates(names);
          return names;
        },
        l -> String.join(",", l));
  }

  /** Whether {@code name} is a valid site name. */
  public static boolean isSiteName(String name) {
    return SITE_NAME.matcher(name).matches();
  }

  /** Courier variants ({@code courier}, {@code courier2}, ...), at least one, each once. */
  public static ValueType<List<String>> courierVariants() {
    return of(
        v -> {
          List<String> variants = list(v);
          if (variants.isEmpty()) {
            throw new IllegalArgumentException(
                "empty (expected at least one variant, like courier)");
          }
          for (String variant : variants) {
            ApnsHost.courier(ApnsHost.Environment.PRODUCTION, variant, 0); // checks the variant
          }
          noDuplicates(variants);
          return variants;
        },
        l -> String.join(",", l));
  }

  /**
   * Socket addresses, each once; {@code defaultPort} when an address has none.
   *
   * @param listen whether port 0 (any free port) is allowed
   * @param mayBeEmpty whether an empty list is allowed
   */
  public static ValueType<List<InetSocketAddress>> socketAddresses(
      int defaultPort, boolean listen, boolean mayBeEmpty) {
    return of(
        v -> {
          List<InetSocketAddress> out = new ArrayList<>();
          for (String s : list(v)) {
            InetSocketAddress a = Literals.parseSocketAddress(s, defaultPort);
            if (!listen && a.getPort() == 0) {
              throw new IllegalArgumentException("'" + s + "' has port 0 (expected 1..65535)");
            }
            out.add(a);
          }
          if (out.isEmpty() && !mayBeEmpty) {
            throw new IllegalArgumentException(
                "empty (expected at least one address, like 0.0.0.0:53)");
          }
          noDuplicates(out);
          return List.copyOf(out);
        },
        l -> l.stream().map(ValueTypes::format).collect(Collectors.joining(",")));
  }

  /**
   * A socket address to listen on ({@code addr:port}), or a bare port meaning {@code
   * 127.0.0.1:port}.
   */
  public static ValueType<InetSocketAddress> listenAddressOrLoopbackPort() {
    return of(
        v ->
            v.matches("[0-9]{1,5}")
                ? Literals.parseSocketAddress("127.0.0.1:" + v, -1)
                : Literals.parseSocketAddress(v, -1),
        ValueTypes::format);
  }

  /** An IP address literal (never looked up in DNS). */
  public static ValueType<InetAddress> address() {
    return of(Literals::parseAddress, ValueTypes::format);
  }

  /** IP address literals, each once. */
  public static ValueType<List<InetAddress>> addresses() {
    return of(
        v -> {
          List<InetAddress> out = new ArrayList<>();
          for (String s : list(v)) {
            out.add(Literals.parseAddress(s));
          }
          noDuplicates(out);
          return List.copyOf(out);
        },
        l -> l.stream().map(ValueTypes::format).collect(Collectors.joining(",")));
  }

  /** Ports 1..65535, at least one, each once. */
  public static ValueType<List<Integer>> ports() {
    return of(
        v -> {
          List<Integer> out = new ArrayList<>();
          for (String s : list(v)) {
            int p = Literals.parsePort(s, s);
            if (p == 0) {
              throw new IllegalArgumentException("port 0 (expected 1..65535)");
            }
            out.add(p);
          }
          if (out.isEmpty()) {
            throw new IllegalArgumentException("empty (expected at least one port 1..65535)");
          }
          noDuplicates(out);
          return List.copyOf(new LinkedHashSet<>(out));
        },
        l -> l.stream().map(String::valueOf).collect(Collectors.joining(",")));
  }

  /** A host name, lower case without a trailing dot. */
  public static ValueType<String> hostName() {
    return of(
        v ->
            HostNames.normalize(v)
                .orElseThrow(
                    () ->
                        new IllegalArgumentException(
                            "not a host name"
                                + " (expected letters, digits and hyphens in dot-separated labels, like ns.push.apple.com)")),
        s -> s);
  }

  /** A hosts file and its table: name to addresses. */
  public record Hosts(Path path, Map<String, List<InetAddress>> table) {
    /** Copies the table. */
    public Hosts {
      Objects.requireNonNull(path, "path");
      table = Map.copyOf(table);
    }

    /** Whether the file names {@code host} (any case, trailing dot or not). */
    public boolean contains(String host) {
      return HostsFile.contains(table, host);
    }
  }

  /**
   * A hosts-format file ({@code ADDRESS NAME...} per line), read when the value is parsed: a
   * regular file of at most {@link #MAX_HOSTS_FILE_BYTES}. A relative path is relative to the
   * working directory (resolve it first).
   */
  public static ValueType<Hosts> hostsFile() {
    return of(
        v -> {
          Path path;
          try {
            path = Path.of(v);
          } catch (InvalidPathException e) {
            throw new IllegalArgumentException("not a file path (" + e.getMessage() + ")", e);
          }
          try {
            return new Hosts(path, HostsFile.read(path));
          } catch (IOException e) {
            throw new IllegalArgumentException(
                "cannot read the file ("
                    + e.getClass().getSimpleName()
                    + ": "
                    + e.getMessage()
                    + ")",
                e);
          }
        },
        h -> h.path().toString());
  }

  /**
   * Reads a whole regular file of at most {@code maxBytes}: devices ({@code /dev/zero}), FIFOs and
   * directories are refused before they are opened, and so is a file that grows past the cap while
   * it is read.
   *
   * @throws IOException naming the file and what is wrong
   */
  public static byte[] readRegularFile(Path file, long maxBytes) throws IOException {
    return HostsFile.readRegularFile(file, maxBytes);
  }

  /** Splits a comma-separated list; empty text is an empty list, an empty element is a mistake. */
  public static List<String> list(String v) {
    if (v.isEmpty()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (String part : v.split(",", -1)) {
      String p = part.strip();
      if (p.isEmpty()) {
        throw new IllegalArgumentException("empty list element (expected a comma-separated list)");
      }
      out.add(p);
    }
    return List.copyOf(out);
  }

  private static void noDuplicates(List<?> list) {
    if (new HashSet<>(list).size() != list.size()) {
      throw new IllegalArgumentException("duplicate element (expected each once)");
    }
  }
}
