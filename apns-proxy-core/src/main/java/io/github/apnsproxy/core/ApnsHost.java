// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One APNs host name, parsed: what kind of host it is, for which environment, which variant and
 * (for couriers) which number. Immutable value; {@link #name()} formats it back with the {@link
 * HostNames#defaults() default patterns}.
 *
 * <p>Examples: {@code 17-courier.push.apple.com} is courier 17 of variant {@code courier} in
 * production; {@code 3-courier2.sandbox.push.apple.com} is courier 3 of variant {@code courier2} in
 * the sandbox; {@code init-p01st.push.apple.com} is the init host of variant {@code init-p01st};
 * {@code api.push.apple.com} is the production provider API.
 *
 * @param kind courier, init (configuration bag) or provider API
 * @param environment production or sandbox
 * @param variant the first-label stem: {@code courier}, {@code courier2}, ... for couriers; {@code
 *     init} or {@code init-p01st} for init hosts; {@code api} for the provider API
 * @param number the courier number (0 or more) for couriers, -1 for every other kind
 */
public record ApnsHost(Kind kind, Environment environment, String variant, int number) {
  private static final Pattern COURIER_VARIANT = Pattern.compile("courier([1-9][0-9]{0,2})?");
  private static final Pattern OTHER_VARIANT = Pattern.compile("[a-z][a-z0-9]*(-[a-z0-9]+)*");

  /** What an APNs host is for. */
  public enum Kind {
    /**
     * A device-side courier: {@code N-courier.push.apple.com} and its variants; ports 5223 and 443.
     */
    COURIER,
    /**
     * The configuration-bag host {@code init.push.apple.com} that devices fetch before any courier;
     * port 443.
     */
    INIT,
    /**
     * The provider API {@code api.push.apple.com} that MDM servers push through; ports 443 and
     * 2197.
     */
    PROVIDER
  }

  /** Production or sandbox (development) APNs. */
  public enum Environment {
    PRODUCTION,
    SANDBOX
  }

  public ApnsHost {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(environment, "environment");
    Objects.requireNonNull(variant, "variant");
    if (kind == Kind.COURIER) {
      if (number < 0) {
        throw new IllegalArgumentException("courier number " + number + " (expected 0 or more)");
      }
      if (!COURIER_VARIANT.matcher(variant).matches()) {
        throw new IllegalArgumentException(
            "courier variant '" + variant + "' (expected courier, courier2, ...)");
      }
    } else {
      if (number != -1) {
        throw new IllegalArgumentException(
            kind
                + " host with number "
                + number
                + " (expected -1: only couriers"
                + " have numbers)");
      }
      if (!OTHER_VARIANT.matcher(variant).matches()) {
        throw new IllegalArgumentException(
            kind + " variant '" + variant + "' (expected a DNS label like init)");
      }
    }
  }

  /** Courier {@code number} of {@code variant} in {@code environment}. */
  public static ApnsHost courier(Environment environment, String variant, int number) {
    return new ApnsHost(Kind.COURIER, environment, variant, number);
  }

  /**
   * Courier {@code number} of variant {@code courier} in production: {@code
   * N-courier.push.apple.com}.
   */
  public static ApnsHost courier(int number) {
    return courier(Environment.PRODUCTION, "courier", number);
  }

  /** The init host of variant {@code init} in {@code environment}. */
  public static ApnsHost init(Environment environment) {
    return new ApnsHost(Kind.INIT, environment, "init", -1);
  }

  /** The provider API host of {@code environment}. */
  public static ApnsHost provider(Environment environment) {
    return new ApnsHost(Kind.PROVIDER, environment, "api", -1);
  }

  /** True for couriers. */
  public boolean isCourier() {
    return kind == Kind.COURIER;
  }

  /**
   * The canonical name, lower case without a trailing dot, e.g. {@code 17-courier.push.apple.com}.
   *
   * @throws IllegalStateException when no default pattern can express this host
   */
  public String name() {
    return HostNames.defaults().format(this);
  }

  /**
   * Parses a name with the {@link HostNames#defaults() default patterns} (couriers 0..50).
   *
   * @throws IllegalArgumentException naming the input when it is not an APNs host name
   */
  public static ApnsHost parse(String name) {
    return HostNames.defaults().parse(name);
  }

  /** Like {@link #parse} but returns empty instead of throwing. */
  public static Optional<ApnsHost> tryParse(String name) {
    return HostNames.defaults().tryParse(name);
  }

  @Override
  public String toString() {
    return HostNames.defaults()
        .tryFormat(this)
        .orElseGet(
            () -> kind + "/" + environment + "/" + variant + (number >= 0 ? "/" + number : ""));
  }
}
