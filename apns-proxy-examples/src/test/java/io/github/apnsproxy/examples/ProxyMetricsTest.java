// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsResponder;
import io.github.apnsproxy.dns.DnsTransport;
import io.github.apnsproxy.dns.PlanHostsHandler;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.net.InetSocketAddress;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Type;

class ProxyMetricsTest {

  /**
   * The runnable proxy times DNS answers into a histogram; the timing must not turn off the
   * responder's precomputed answers for the plan's names (a wrapper of its own did: every query
   * then took the full path).
   */
  @Test
  void timingDnsAnswersKeepsTheResponderFastPath() throws Exception {
    ProxyMetrics metrics = new ProxyMetrics();
    AddressPlan plan = AddressPlan.builder().site(Cidr.parse("127.100.100.0/24")).build();
    DnsResponder responder =
        DnsResponder.builder(
                metrics.timed(
                    DnsAnswerHandler.firstOf(
                        PlanHostsHandler.builder(plan).build(), DnsAnswerHandler.refusing())))
            .build();
    byte[] query =
        Message.newQuery(
                Record.newRecord(Name.fromString("17-courier.push.apple.com."), Type.A, DClass.IN))
            .toWire();
    InetSocketAddress client = new InetSocketAddress("127.0.0.1", 5353);
    for (int i = 0; i < 3; i++) {
      Optional<byte[]> answer =
          responder.respond(query, client, DnsTransport.UDP).toCompletableFuture().join();
      assertThat(answer).isPresent();
      assertThat(new Message(answer.get()).getSection(1)).hasSize(1);
    }
    assertThat(responder.fastAnswers()).as("second and third from the fast path").isEqualTo(2);
    assertThat(answerCount(metrics, "udp")).as("every answer timed").isEqualTo(3);
    assertThat(answerCount(metrics, "tcp")).isZero();
  }

  private static long answerCount(ProxyMetrics metrics, String transport) {
    for (MetricSnapshot m : metrics.registry().scrape()) {
      if (m.getMetadata().getPrometheusName().equals("apns_proxy_dns_answer_duration_seconds")) {
        for (HistogramSnapshot.HistogramDataPointSnapshot p :
            ((HistogramSnapshot) m).getDataPoints()) {
          if (transport.equals(p.getLabels().get("transport"))) {
            return p.getCount();
          }
        }
        throw new AssertionError("no series for transport " + transport);
      }
    }
    throw new AssertionError("no apns_proxy_dns_answer_duration_seconds");
  }
}
