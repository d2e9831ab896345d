// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.io.IOException;

/**
 * A proxy handshake that failed in {@link EgressProxy#connect}: the proxy refused or failed the
 * tunnel. The message names the proxy (password masked) and what it answered; never contains a
 * password.
 */
public final class EgressProxyException extends IOException {
  private static final long serialVersionUID = 1L;
  private final boolean configurationProblem;

  /** Makes the exception. */
  public EgressProxyException(String message, boolean configurationProblem) {
    super(message);
    this.configurationProblem = configurationProblem;
  }

  /**
   * Whether the proxy refused on configuration grounds (HTTP 403, 407 and other 4xx; SOCKS "not
   * allowed", failed authentication): the proxy administrator or the credentials must change.
   * Otherwise the proxy failed to reach the host (5xx, SOCKS unreachable or general failure), which
   * may pass.
   */
  public boolean isConfigurationProblem() {
    return configurationProblem;
  }
}
