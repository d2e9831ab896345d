// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.dns;

import java.net.InetSocketAddress;
import java.util.Objects;
import org.xbill.DNS.Message;
import org.xbill.DNS.Record;

/**
 * One DNS query as a handler sees it: a parsed message with exactly one question, opcode QUERY and
 * QR clear (the {@link DnsResponder} checks that before any handler runs), the client's address and
 * the transport it came on.
 *
 * <p>Handlers must not modify {@link #message()}.
 *
 * @param message the query
 * @param client the client's address (for a host's own DNS server: whatever address it passes in)
 * @param transport UDP or TCP
 */
public record DnsQuery(Message message, InetSocketAddress client, DnsTransport transport) {
  public DnsQuery {
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(transport, "transport");
  }

  /** The question: name (with the client's letter case), type and class. */
  public Record question() {
    return message.getQuestion();
  }
}
