// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.config.ConfigKey;
import io.github.apnsproxy.core.config.ValueType;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * One key of the runnable proxy's properties file: a typed {@link ConfigKey} and where its
 * effective value is read back from ({@link ProxySetup}'s builders and plan), so {@code check} and
 * {@code keys} print what runs. The key holds no default; the builder it maps onto does. Immutable.
 *
 * @param <T> the value's type
 */
public final class ProxyKey<T> {
  private final ConfigKey<T> key;
  private final @Nullable String defaultNote;
  private final @Nullable Function<ProxySetup, T> readBack;

  private ProxyKey(
      ConfigKey<T> key, @Nullable String defaultNote, @Nullable Function<ProxySetup, T> readBack) {
    this.key = key;
    this.defaultNote = defaultNote;
    this.readBack = readBack;
  }

  /**
   * A key read back with {@code readBack}.
   *
   * @param defaultNote how {@code keys} and the README show the default instead of the read-back
   *     value (e.g. {@code none}, {@code = courier.count}), or null to show the read-back default
   */
  static <T> ProxyKey<T> of(
      String name,
      ValueType<T> type,
      @Nullable String defaultNote,
      String description,
      Function<ProxySetup, T> readBack) {
    return new ProxyKey<>(
        ConfigKey.of(name, type, description), defaultNote, Objects.requireNonNull(readBack));
  }

  /**
   * A per-site template key {@code site.NAME.ATTRIBUTE}; read back per site by {@link ProxySetup}.
   */
  static <T> ProxyKey<T> site(
      String attribute, ValueType<T> type, String defaultNote, String description) {
    return new ProxyKey<>(
        ConfigKey.of(ProxyKeys.SITE_PREFIX + "NAME." + attribute, type, description),
        defaultNote,
        null);
  }

  /** The typed key. */
  public ConfigKey<T> key() {
    return key;
  }

  /**
   * The key's name, e.g. {@code dns.ttl}; per-site keys have {@code NAME} in place of the site
   * name.
   */
  public String name() {
    return key.name();
  }

  /** What the key does. */
  public String description() {
    return key.description();
  }

  /** True for the per-site template keys {@code site.NAME.*}. */
  public boolean isSiteKey() {
    return readBack == null;
  }

  /** The attribute of a site key ({@code ipv4} of {@code site.NAME.ipv4}). */
  String siteAttribute() {
    return name().substring(name().lastIndexOf('.') + 1);
  }

  /**
   * The default as {@code keys} and the README show it: the note, or the value read back from
   * {@code defaults}.
   */
  public String defaultText(ProxySetup defaults) {
    return defaultNote != null ? defaultNote : effective(defaults);
  }

  /** Whether the default shown is a value (code in the README) rather than a note. */
  public boolean defaultIsLiteral() {
    return defaultNote == null;
  }

  /** The effective value in {@code setup}, formatted as the file would write it. */
  public String effective(ProxySetup setup) {
    Function<ProxySetup, T> r = readBack;
    if (r == null) {
      throw new IllegalStateException(name() + " is read back per site");
    }
    return key.format(r.apply(setup));
  }

  /** The effective value in {@code setup}. */
  public T value(ProxySetup setup) {
    Function<ProxySetup, T> r = readBack;
    if (r == null) {
      throw new IllegalStateException(name() + " is read back per site");
    }
    return r.apply(setup);
  }

  @Override
  public String toString() {
    return name();
  }
}
