// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.util.List;

/**
 * The JVM options the runnable jar is documented to run with: the README's launcher line and the systemd unit
 * ({@code apns-proxy-examples/packaging/apns-proxy.service}) give exactly these, and {@code bench} runs the proxy
 * with them, so the figures it prints are the ones users get. Measured choices, see {@code bench/README.md}.
 */
public final class JvmDefaults {
  /** The options, in order, as they appear on the documented command line. */
  public static final List<String> OPTIONS = List.of("-XX:+UseSerialGC");

  private JvmDefaults() {}

  /** The options joined by single spaces, as written in the README and the systemd unit. */
  public static String line() {
    return String.join(" ", OPTIONS);
  }
}
