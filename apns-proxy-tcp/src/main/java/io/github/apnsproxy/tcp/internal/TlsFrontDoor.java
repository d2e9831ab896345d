// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.PrefaceParser;

/**
 * The TLS server-name front door: a {@link ClientHelloParser} per connection, capped at 16 KiB.
 * Stateless.
 */
public final class TlsFrontDoor implements FrontDoor {
  /** The one instance. */
  public static final TlsFrontDoor INSTANCE = new TlsFrontDoor();

  /** The door's name in {@link io.github.apnsproxy.tcp.Preface#frontDoor()}. */
  public static final String NAME = "tls";

  private static final int CAP = 16 * 1024;

  private TlsFrontDoor() {}

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int maxPrefaceBytes() {
    return CAP;
  }

  @Override
  public PrefaceParser open(InboundConnection connection) {
    return new ClientHelloParser(NAME, CAP);
  }

  @Override
  public String toString() {
    return "FrontDoor[tls]";
  }
}
