// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.config.ConfigException;
import io.github.apnsproxy.core.config.ValueTypes;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The runnable proxy's properties file, parsed: the typed value of each key that is set, nothing
 * for the keys that are not (their builders' defaults stand). Immutable. {@link ProxySetup} maps it
 * onto the library builders and checks the rules between keys.
 *
 * <p>Each value is checked when it is set; every mistake is a {@link ConfigException} whose
 * one-line message names the key, the value and what was expected. Unknown keys are mistakes too
 * (the message suggests the nearest known key), and so is a key written twice in a file. Only a
 * regular file of at most {@link #MAX_FILE_BYTES} is read.
 */
public final class ProxyConfig {
  /** The largest config file read: 1 MiB. */
  public static final long MAX_FILE_BYTES = 1024 * 1024;

  private static final Pattern SITE_KEY = Pattern.compile("site\\.([^.]*)\\.([^.]*)");

  private final Map<ProxyKey<?>, Object> values;
  private final Map<String, String> texts;
  private final Map<String, Map<String, Object>> sites;

  private ProxyConfig(Builder b) {
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(b.values));
    this.texts = Map.copyOf(b.texts);
    Map<String, Map<String, Object>> s = new TreeMap<>();
    b.sites.forEach((name, attrs) -> s.put(name, Map.copyOf(attrs)));
    this.sites = Collections.unmodifiableMap(s);
  }

  /** A builder with no key set. */
  public static Builder builder() {
    return new Builder();
  }

  /** No key set: every builder default. */
  public static ProxyConfig empty() {
    return new Builder().build();
  }

  /**
   * Reads a {@code .properties} file (UTF-8). A relative {@code upstream.hosts} path is resolved
   * against the directory of {@code file}.
   *
   * @throws IOException when the file cannot be read, is not a regular file, is larger than {@link
   *     #MAX_FILE_BYTES} or is not properties text (not UTF-8, a malformed escape); the message
   *     names the file
   * @throws ConfigException naming the key and value of the first mistake
   */
  public static ProxyConfig load(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    byte[] bytes = ValueTypes.readRegularFile(file, MAX_FILE_BYTES);
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw new IOException(file + ": not UTF-8 text (" + e + ")", e);
    }
    Properties read = new DuplicateCheckingProperties();
    try {
      read.load(new StringReader(text));
    } catch (IllegalArgumentException e) {
      if (e instanceof ConfigException) {
        throw e;
      }
      throw new IOException(
          file + ": " + e.getMessage(), e); // a malformed Unicode escape in the file
    }
    Properties p = new Properties();
    p.putAll(read);
    // file keys: a relative path is relative to the config file
    for (ProxyKey<?> k :
        List.of(
            ProxyKeys.UPSTREAM_HOSTS,
            ProxyKeys.UPSTREAM_PROXY_CREDENTIALS,
            ProxyKeys.CONNECT_USERS)) {
      String v = p.getProperty(k.name());
      if (v != null && !v.isBlank()) {
        Path dir = file.toAbsolutePath().getParent();
        try {
          p.setProperty(k.name(), dir.resolve(v.strip()).toString());
        } catch (InvalidPathException e) {
          throw new ConfigException(k.name(), v, "not a file path (" + e.getMessage() + ")", e);
        }
      }
    }
    return fromProperties(p);
  }

  /**
   * Parses properties; keys not in {@code p} stay unset. The first mistake in key order is
   * reported.
   *
   * @throws ConfigException naming the key and value of the first mistake
   */
  public static ProxyConfig fromProperties(Properties p) {
    Objects.requireNonNull(p, "p");
    for (Object k : p.keySet()) {
      if (!(k instanceof String) || !(p.get(k) instanceof String)) {
        throw new ConfigException(
            String.valueOf(k), String.valueOf(p.get(k)), "not a string key and value");
      }
    }
    List<String> names = new ArrayList<>(p.stringPropertyNames());
    // documentation order, so the first mistake reported does not depend on hashing
    names.sort(
        Comparator.comparingInt(ProxyConfig::order).thenComparing(Comparator.naturalOrder()));
    Builder b = new Builder();
    for (String name : names) {
      b.set(name, p.getProperty(name));
    }
    return b.build();
  }

  private static int order(String key) {
    Matcher m = SITE_KEY.matcher(key);
    int i = 0;
    for (ProxyKey<?> k : ProxyKeys.all()) {
      if (k.name().equals(key) || (m.matches() && k.name().equals("site.NAME." + m.group(2)))) {
        return i;
      }
      i++;
    }
    return i;
  }

  /** The value of {@code key}, if set. */
  @SuppressWarnings("unchecked") // set() stores only values parsed by the key's own type
  public <T> Optional<T> get(ProxyKey<T> key) {
    return Optional.ofNullable((T) values.get(key));
  }

  /** Whether {@code key} is set. */
  public boolean isSet(ProxyKey<?> key) {
    return values.containsKey(key);
  }

  /**
   * Calls {@code option} with the value of {@code key} when it is set, and does nothing when it is
   * not (the builder's default stands). A value the option refuses becomes a {@link
   * ConfigException} naming the key.
   */
  public <T> void ifSet(ProxyKey<T> key, Consumer<T> option) {
    Optional<T> v = get(key);
    if (v.isPresent()) {
      try {
        option.accept(v.get());
      } catch (ConfigException e) {
        throw e;
      } catch (IllegalArgumentException e) {
        throw new ConfigException(
            key.name(), text(key.name()), Objects.requireNonNullElse(e.getMessage(), "refused"), e);
      }
    }
  }

  /** The value of {@code key} as written (a key not set: empty). */
  public String text(String key) {
    return texts.getOrDefault(key, "");
  }

  /**
   * The sites named in {@code site.NAME.*} keys: name to attribute ({@code ipv4}, ...) to parsed
   * value.
   */
  Map<String, Map<String, Object>> siteValues() {
    return sites;
  }

  /** The keys that are set, with their values as written (per-site keys by their full names). */
  public Map<String, String> texts() {
    return new TreeMap<>(texts);
  }

  @Override
  public String toString() {
    return "ProxyConfig" + new TreeMap<>(texts);
  }

  /** Sets keys one by one, each checked at once. Not thread-safe. */
  public static final class Builder {
    private final Map<ProxyKey<?>, Object> values = new HashMap<>();
    private final Map<String, String> texts = new HashMap<>();
    private final Map<String, Map<String, Object>> sites = new TreeMap<>();

    private Builder() {}

    /**
     * Sets one key; the value is checked at once (surrounding whitespace ignored, empty means
     * "none" for optional keys). Setting a key again replaces its value.
     *
     * @throws ConfigException for an unknown key or a bad value, naming both and what was expected
     */
    public Builder set(String key, String value) {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
      Matcher m = SITE_KEY.matcher(key);
      ProxyKey<?> spec;
      if (m.matches()) {
        spec =
            ProxyKeys.siteKeys()
                .filter(k -> k.siteAttribute().equals(m.group(2)))
                .findFirst()
                .orElse(null);
        if (spec == null) {
          throw new ConfigException(
              key,
              value,
              "unknown key"
                  + suggestion(key)
                  + " (expected site.NAME.ipv4, site.NAME.ipv6 or site.NAME.clients)");
        }
        if (!ValueTypes.isSiteName(m.group(1))) {
          throw new ConfigException(
              key,
              value,
              "bad site name '"
                  + m.group(1)
                  + "' (expected lower-case letters, digits, '-' and '_', like site.east.ipv4)");
        }
      } else {
        spec =
            ProxyKeys.all().stream()
                .filter(k -> !k.isSiteKey() && k.name().equals(key))
                .findFirst()
                .orElse(null);
        if (spec == null) {
          throw new ConfigException(key, value, "unknown key" + suggestion(key));
        }
      }
      Object parsed = spec.key().parse(key, value);
      if (m.matches()) {
        sites.computeIfAbsent(m.group(1), n -> new HashMap<>()).put(m.group(2), parsed);
      } else {
        values.put(spec, parsed);
      }
      texts.put(key, format(spec, parsed));
      return this;
    }

    /** The parsed configuration; the rules between keys are {@link ProxySetup}'s. */
    public ProxyConfig build() {
      return new ProxyConfig(this);
    }

    @SuppressWarnings("unchecked") // parsed by the same key
    private static <T> String format(ProxyKey<T> key, Object parsed) {
      return key.key().format((T) parsed);
    }
  }

  // ---------------------------------------------------------------- unknown keys

  private static String suggestion(String key) {
    if (key.length() > 2 * ConfigException.ECHO_LIMIT) {
      return ""; // not a mistyped key; and the distance would cost time in proportion to its length
    }
    Set<String> candidates = new TreeSet<>();
    for (ProxyKey<?> k : ProxyKeys.all()) {
      if (!k.isSiteKey()) {
        candidates.add(k.name());
      }
    }
    Matcher m = Pattern.compile("site\\.([^.]*)\\..*").matcher(key);
    String site = m.matches() ? m.group(1) : "NAME";
    ProxyKeys.siteKeys()
        .forEach(k -> candidates.add(ProxyKeys.SITE_PREFIX + site + "." + k.siteAttribute()));
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    String k = key.toLowerCase(Locale.ROOT);
    for (String c : candidates) {
      int d = distance(k, c);
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    // near means a few edits, and fewer than half the key: "dns.tll" -> dns.ttl, "foo" -> nothing
    return best != null && bestDistance <= Math.max(1, Math.min(3, key.length() / 2))
        ? " (did you mean " + best + "?)"
        : "";
  }

  /** Levenshtein distance. */
  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /**
   * Properties that reject a key written twice, which {@link Properties} would silently resolve to
   * the last.
   */
  private static final class DuplicateCheckingProperties extends Properties {
    private static final long serialVersionUID = 1L;

    @Override
    public synchronized @Nullable Object put(Object key, Object value) {
      if (containsKey(key)) {
        throw new ConfigException(
            String.valueOf(key),
            String.valueOf(value),
            "set twice in the file, first to '"
                + ConfigException.echo(String.valueOf(get(key)))
                + "' (expected each key once)");
      }
      return super.put(key, value);
    }
  }
}
