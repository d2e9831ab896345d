// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

/** The all-in-one apns-proxy command line (placeholder until the examples issue lands). */
public final class ApnsProxy {
  private ApnsProxy() {}

  public static void main(String[] args) {
    System.out.println("apns-proxy: not yet");
  }
}
