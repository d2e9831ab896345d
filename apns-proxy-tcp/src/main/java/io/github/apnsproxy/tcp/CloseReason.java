// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

/** Why a splice ended (placeholder until the TCP issue lands). */
public enum CloseReason {
  COMPLETED
}
