// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.dns.DnsAnswerHandler;
import io.github.apnsproxy.dns.DnsServer;
import io.github.apnsproxy.dns.PlanHostsHandler;
import io.github.apnsproxy.dns.ZoneApexHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * The DNS side alone: a {@link DnsServer} answering the APNs names from an address plan (courier,
 * init and API names get virtual addresses in {@code 10.100.100.0/24}; the zone apex answers SOA,
 * NS and {@code TXT count=N}; anything else is REFUSED). Useful when the TCP side is a different
 * product (a load balancer configured from the same plan, see {@code check --config}). No TCP
 * splicer involved.
 *
 * <p>Run it (after {@code mvn -B -q package -DskipTests}); it starts on a free loopback port, asks
 * itself a few questions with dnsjava's {@code SimpleResolver}, prints the answers and exits:
 *
 * <pre>
 * java -cp apns-proxy-examples/target/apns-proxy.jar io.github.apnsproxy.examples.DnsOnlyExample
 * </pre>
 *
 * <p>Expected output (the port differs):
 *
 * <pre>
 * DNS server on 127.0.0.1:41234 (UDP and TCP)
 * 17-courier.push.apple.com. A -&gt; NOERROR 17-courier.push.apple.com.	30	IN	A	10.100.100.18
 * 17-courier.push.apple.com. AAAA -&gt; NOERROR (no answer; SOA push.apple.com. in authority)
 * push.apple.com. TXT -&gt; NOERROR push.apple.com.	30	IN	TXT	"count=50"
 * www.example.com. A -&gt; REFUSED
 * </pre>
 *
 * <p>With {@code --listen 127.0.0.1:5353} it serves until interrupted instead, e.g. for {@code
 * dig @127.0.0.1 -p 5353 17-courier.push.apple.com}.
 */
public final class DnsOnlyExample {
  private DnsOnlyExample() {}

  public static void main(String[] args) throws Exception {
    InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 0);
    boolean serve = false;
    if (args.length == 2 && args[0].equals("--listen")) {
      int colon = args[1].lastIndexOf(':');
      listen =
          new InetSocketAddress(
              args[1].substring(0, colon), Integer.parseInt(args[1].substring(colon + 1)));
      serve = true;
    }
    AddressPlan plan =
        AddressPlan.builder().site(Cidr.parse("10.100.100.0/24")).courierCount(50).build();
    DnsAnswerHandler chain =
        DnsAnswerHandler.firstOf(
            PlanHostsHandler.builder(plan).ttl(Duration.ofSeconds(30)).build(),
            ZoneApexHandler.builder(plan).build(),
            DnsAnswerHandler.refusing());
    try (DnsServer server = DnsServer.builder().listen(listen).handler(chain).build().start()) {
      InetSocketAddress bound = server.udpAddresses().get(0);
      System.out.println(
          "DNS server on " + bound.getHostString() + ":" + bound.getPort() + " (UDP and TCP)");
      if (serve) {
        Thread.currentThread().join();
      }
      SimpleResolver resolver = new SimpleResolver(bound);
      resolver.setTimeout(Duration.ofSeconds(2));
      ask(resolver, "17-courier.push.apple.com.", Type.A);
      ask(resolver, "17-courier.push.apple.com.", Type.AAAA);
      ask(resolver, "push.apple.com.", Type.TXT);
      ask(resolver, "www.example.com.", Type.A);
    }
  }

  static void ask(SimpleResolver resolver, String name, int type) throws Exception {
    Message query = Message.newQuery(Record.newRecord(Name.fromString(name), type, DClass.IN));
    Message response = resolver.send(query);
    StringBuilder line =
        new StringBuilder(
            name + " " + Type.string(type) + " -> " + Rcode.string(response.getRcode()));
    if (!response.getSection(Section.ANSWER).isEmpty()) {
      for (Record r : response.getSection(Section.ANSWER)) {
        line.append(' ').append(r);
      }
    } else if (response.getRcode() == Rcode.NOERROR) {
      line.append(" (no answer; ");
      response.getSection(Section.AUTHORITY).stream()
          .filter(r -> r.getType() == Type.SOA)
          .findFirst()
          .ifPresentOrElse(
              soa -> line.append("SOA ").append(soa.getName()).append(" in authority)"),
              () -> line.append("no SOA)"));
    }
    System.out.println(line);
  }
}
