// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.SpliceListener;
import io.github.apnsproxy.tcp.SpliceSummary;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Wraps the user's listener so that an exception it throws is logged and contained. */
final class SafeListener implements SpliceListener {
  private static final Logger LOG = LoggerFactory.getLogger(SafeListener.class);
  private final SpliceListener delegate;

  SafeListener(SpliceListener delegate) {
    this.delegate = delegate;
  }

  @Override
  public void accepted(InboundConnection connection) {
    try {
      delegate.accepted(connection);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      LOG.warn("SpliceListener.accepted threw for {}", connection, e);
    }
  }

  @Override
  public void routed(InboundConnection connection, Route route) {
    try {
      delegate.routed(connection, route);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      LOG.warn("SpliceListener.routed threw for {}", connection, e);
    }
  }

  @Override
  public void connected(InboundConnection connection, InetSocketAddress upstream) {
    try {
      delegate.connected(connection, upstream);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      LOG.warn("SpliceListener.connected threw for {}", connection, e);
    }
  }

  @Override
  public void closed(InboundConnection connection, SpliceSummary summary) {
    try {
      delegate.closed(connection, summary);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      LOG.warn("SpliceListener.closed threw for {}", connection, e);
    }
  }
}
