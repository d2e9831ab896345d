// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How the splicer reaches upstream hosts: directly, or through an ordered list of {@link
 * EgressProxy corporate proxies} tried in order (failover), except for the hosts a no-proxy list
 * names. Immutable; passwords never appear in {@link #toString()}.
 *
 * <p>Through a proxy the splicer asks for the upstream host <em>by name</em> ({@code CONNECT
 * 17-courier.push.apple.com:5223}, or SOCKS5 with a domain name) and the proxy resolves it; so a
 * router need not (and should not) resolve names that go through a proxy, see {@link
 * #isProxied(String, int)} and {@link Route#toHost}.
 */
public final class Egress {
  private static final Egress DIRECT = new Egress(List.of(), List.of());
  private static final long MAX_CREDENTIALS_FILE = 64 * 1024;

  private final List<EgressProxy> proxies;
  private final List<String> noProxy;

  private Egress(List<EgressProxy> proxies, List<String> noProxy) {
    this.proxies = List.copyOf(proxies);
    this.noProxy = List.copyOf(noProxy);
  }

  /** Direct egress (no proxy): the default. */
  public static Egress direct() {
    return DIRECT;
  }

  /** Egress through {@code proxies}, tried in order; empty means direct. */
  public static Egress through(List<EgressProxy> proxies) {
    Objects.requireNonNull(proxies, "proxies");
    proxies.forEach(p -> Objects.requireNonNull(p, "proxy"));
    return proxies.isEmpty() ? DIRECT : new Egress(proxies, List.of());
  }

  /** Egress through {@code proxies}, tried in order. */
  public static Egress through(EgressProxy... proxies) {
    return through(List.of(proxies));
  }

  /**
   * Parses the value of {@code upstream.proxy}: empty for direct, or a comma list of proxy URLs
   * (see {@link EgressProxy#parse}). The value {@code env} is not handled here: see {@link
   * #fromEnvironment}.
   */
  public static Egress parse(String text) {
    Objects.requireNonNull(text, "text");
    List<EgressProxy> list = new ArrayList<>();
    for (String part : text.split(",", -1)) {
      if (part.isBlank()) {
        if (!text.isBlank()) {
          throw new IllegalArgumentException(
              "proxy list '"
                  + EgressProxy.mask(text)
                  + "' has an empty entry (expected comma-separated proxy URLs)");
        }
        continue;
      }
      list.add(EgressProxy.parse(part));
    }
    return through(list);
  }

  /**
   * The proxy the environment names for HTTPS traffic, as curl and Go programs read it: {@code
   * https_proxy}, then {@code HTTPS_PROXY}, then {@code all_proxy}, then {@code ALL_PROXY} (the
   * first one set and not empty; a URL without a scheme is http), and the hosts {@code no_proxy} /
   * {@code NO_PROXY} exclude: comma- or space-separated entries, {@code *} for every host, a domain
   * (with or without a leading dot) matching itself and its subdomains, optionally with {@code
   * :port}, or an IP address / CIDR matched against IP-literal hosts only. Nothing set: direct.
   *
   * @param env the environment, e.g. {@code System.getenv()}
   * @throws IllegalArgumentException naming the variable whose value does not parse
   */
  public static Egress fromEnvironment(Map<String, String> env) {
    Objects.requireNonNull(env, "env");
    EgressProxy proxy = null;
    for (String name : new String[] {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
      String v = env.get(name);
      if (v != null && !v.isBlank()) {
        try {
          proxy = EgressProxy.parse(v);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(
              "environment variable " + name + ": " + e.getMessage(), e);
        }
        break;
      }
    }
    if (proxy == null) {
      return DIRECT;
    }
    String no = env.get("no_proxy");
    if (no == null || no.isBlank()) {
      no = env.get("NO_PROXY");
    }
    List<String> entries = new ArrayList<>();
    if (no != null) {
      for (String e : no.split("[,\\s]+", -1)) {
        String t = e.strip().toLowerCase(Locale.ROOT);
        if (!t.isEmpty()) {
          entries.add(t);
        }
      }
    }
    return new Egress(List.of(proxy), entries);
  }

  /**
   * This egress with credentials from a file (config key {@code upstream.proxy-credentials}), so
   * passwords need not sit in the configuration: UTF-8 lines {@code host:port user:password} for
   * one proxy, or {@code user:password} for every proxy; blank lines and {@code #} comments
   * ignored; the password runs to the end of the line. Credentials in a proxy URL win over the
   * file. A regular file of at most 64 KiB.
   *
   * @throws IOException when the file cannot be read (the message names the file, never a password)
   * @throws IllegalArgumentException naming the file and line that does not parse
   */
  public Egress withCredentialsFile(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(file)) {
      throw new IOException("proxy credentials file " + file + " is not a regular file");
    }
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes((int) MAX_CREDENTIALS_FILE + 1);
    }
    if (bytes.length > MAX_CREDENTIALS_FILE) {
      throw new IOException("proxy credentials file " + file + " is larger than 64 KiB");
    }
    String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\r?\n", -1);
    String[] all = null;
    Map<String, String[]> byAuthority = new java.util.HashMap<>();
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String where = "proxy credentials file " + file + " line " + (i + 1);
      int space = line.indexOf(' ');
      String key = null;
      String cred = line;
      if (space > 0
          && line.substring(0, space).indexOf(':') >= 0
          && line.substring(space).strip().indexOf(':') > 0
          && !line.substring(0, space).contains("@")) {
        key = line.substring(0, space).toLowerCase(Locale.ROOT);
        cred = line.substring(space).strip();
      }
      int colon = cred.indexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException(where + ": expected [host:port] user:password");
      }
      String[] pair = {cred.substring(0, colon), cred.substring(colon + 1)};
      if (key == null) {
        all = pair;
      } else {
        byAuthority.put(key, pair);
      }
    }
    List<EgressProxy> out = new ArrayList<>(proxies.size());
    for (EgressProxy p : proxies) {
      String[] c = byAuthority.getOrDefault(p.authority().toLowerCase(Locale.ROOT), all);
      out.add(p.hasCredentials() || c == null ? p : p.withCredentials(c[0], c[1]));
    }
    return new Egress(out, noProxy);
  }

  /** The proxies in order (empty: direct). */
  public List<EgressProxy> proxies() {
    return proxies;
  }

  /** The no-proxy entries (lower case), from the environment only. */
  public List<String> noProxy() {
    return noProxy;
  }

  /** Whether no proxy is configured at all. */
  public boolean isDirect() {
    return proxies.isEmpty();
  }

  /**
   * Whether connections to {@code host:port} ({@code host} a name or an IP literal) go through the
   * proxies.
   */
  public boolean isProxied(String host, int port) {
    return !proxiesFor(host, port).isEmpty();
  }

  /** The proxies to try for {@code host:port} in order; empty when the egress is direct for it. */
  public List<EgressProxy> proxiesFor(String host, int port) {
    Objects.requireNonNull(host, "host");
    if (proxies.isEmpty() || noProxy.isEmpty()) {
      return proxies;
    }
    String h = host.toLowerCase(Locale.ROOT);
    while (h.endsWith(".")) {
      h = h.substring(0, h.length() - 1);
    }
    for (String entry : noProxy) {
      if (matches(entry, h, port)) {
        return List.of();
      }
    }
    return proxies;
  }

  private static boolean matches(String entry, String host, int port) {
    if (entry.equals("*")) {
      return true;
    }
    String e = entry;
    boolean literal = isIpLiteral(host);
    if (e.contains("/")) {
      if (!literal) {
        return false;
      }
      try {
        return io.github.apnsproxy.core.Cidr.parse(e)
            .contains(java.net.InetAddress.getByName(host));
      } catch (IllegalArgumentException | java.net.UnknownHostException ex) {
        return false; // an entry that is not a CIDR matches nothing, as in curl
      }
    }
    int entryPort = -1;
    int colon = e.lastIndexOf(':');
    if (colon > 0
        && e.indexOf(':') == colon
        && e.substring(colon + 1).chars().allMatch(Character::isDigit)
        && colon < e.length() - 1) {
      entryPort = Integer.parseInt(e.substring(colon + 1));
      e = e.substring(0, colon);
    }
    if (e.startsWith("[") && e.endsWith("]")) {
      e = e.substring(1, e.length() - 1);
    }
    if (entryPort >= 0 && port >= 0 && entryPort != port) {
      return false;
    }
    while (e.startsWith(".") || e.startsWith("*.")) {
      e = e.substring(e.charAt(0) == '*' ? 2 : 1);
    }
    while (e.endsWith(".")) {
      e = e.substring(0, e.length() - 1);
    }
    if (e.isEmpty()) {
      return false;
    }
    if (literal) {
      return host.equals(e);
    }
    return host.equals(e) || host.endsWith("." + e);
  }

  private static boolean isIpLiteral(String host) {
    return host.indexOf(':') >= 0 || host.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Egress e && e.proxies.equals(proxies) && e.noProxy.equals(noProxy);
  }

  @Override
  public int hashCode() {
    return proxies.hashCode() * 31 + noProxy.hashCode();
  }

  /** {@code direct}, or the proxies (passwords masked) and the no-proxy entries. */
  @Override
  public String toString() {
    if (proxies.isEmpty()) {
      return "direct";
    }
    StringBuilder b = new StringBuilder();
    for (EgressProxy p : proxies) {
      b.append(b.length() == 0 ? "" : ",").append(p);
    }
    if (!noProxy.isEmpty()) {
      b.append(" (no proxy for ").append(String.join(",", noProxy)).append(')');
    }
    return b.toString();
  }
}
