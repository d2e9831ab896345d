// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * A simulated Apple device: it does what a device on the isolated network does, through the proxy
 * only. It asks the proxy's DNS for {@code TXT push.apple.com} (the courier count), picks a courier
 * name, resolves it (A, AAAA and HTTPS, as devices do), connects to the virtual address on port
 * 5223, completes TLS 1.3 with the courier behind the splicer while verifying its certificate and
 * the server name {@code courier.push.apple.com}, exchanges a few lines, half-closes and reads the
 * courier's last words. One device per thread; not thread-safe.
 */
public final class SimulatedDevice {
  /** What one device saw. */
  public record Result(
      int courierCount,
      String courierName,
      InetAddress virtualAddress,
      int aaaaAnswers,
      int httpsAnswers,
      String peerCertificate,
      List<String> replies,
      long bytesSent,
      long bytesReceived,
      Duration dnsTime,
      Duration connectTime,
      Duration total) {}

  private static final java.util.concurrent.atomic.AtomicInteger NEXT_SOURCE =
      new java.util.concurrent.atomic.AtomicInteger();

  private final InetSocketAddress proxyDns;
  private final DemoCertificates tls;
  private final int port;
  private final Consumer<String> log;

  /**
   * @param proxyDns the proxy's DNS server
   * @param tls the demo TLS contexts (the device trusts only the simulated couriers' certificate)
   * @param port the courier port to dial (5223)
   * @param log where each step is told in plain language (a no-op for many devices)
   */
  public SimulatedDevice(
      InetSocketAddress proxyDns, DemoCertificates tls, int port, Consumer<String> log) {
    this.proxyDns = proxyDns;
    this.tls = tls;
    this.port = port;
    this.log = log;
  }

  /** Runs the device's whole flow for courier {@code pick(count)}; throws when any step fails. */
  public Result run(java.util.function.IntUnaryOperator pick, int messages, boolean tcpDns)
      throws IOException {
    long start = System.nanoTime();
    SimpleResolver dns = new SimpleResolver(proxyDns);
    dns.setTCP(tcpDns);
    if (tcpDns) {
      // each device its own TCP connection, as real devices have: dnsjava shares one connection per
      // local and
      // remote address, so give each device its own loopback source address
      int n = NEXT_SOURCE.getAndIncrement();
      dns.setLocalAddress(
          new InetSocketAddress(
              InetAddress.getByAddress(new byte[] {127, 0, 2, (byte) (1 + Math.floorMod(n, 250))}),
              0));
    }
    dns.setTimeout(Duration.ofSeconds(5));

    Message txt = query(dns, "push.apple.com.", Type.TXT);
    int count = -1;
    for (Record r : txt.getSection(Section.ANSWER)) {
      if (r instanceof TXTRecord t) {
        for (String s : t.getStrings()) {
          if (s.startsWith("count=")) {
            count = Integer.parseInt(s.substring("count=".length()));
          }
        }
      }
    }
    if (count < 1) {
      throw new IOException("no count=N in TXT push.apple.com: " + txt);
    }
    log.accept(
        "DNS  TXT push.apple.com -> count="
            + count
            + " (the devices' fallback when the bag is unreachable)");

    int n = pick.applyAsInt(count);
    String courier = n + "-courier.push.apple.com.";
    Message a = query(dns, courier, Type.A);
    InetAddress virtual = null;
    for (Record r : a.getSection(Section.ANSWER)) {
      if (r instanceof ARecord ar) {
        virtual = ar.getAddress();
        break;
      }
    }
    if (virtual == null) {
      throw new IOException("no A record for " + courier + ": " + a);
    }
    int aaaa = query(dns, courier, Type.AAAA).getSection(Section.ANSWER).size();
    int https = query(dns, courier, Type.HTTPS).getSection(Section.ANSWER).size();
    long dnsDone = System.nanoTime();
    log.accept(
        "DNS  A "
            + courier
            + " -> "
            + virtual.getHostAddress()
            + " (virtual address, TTL "
            + a.getSection(Section.ANSWER).get(0).getTTL()
            + "s); AAAA -> "
            + (aaaa == 0 ? "NODATA" : aaaa + " records")
            + "; HTTPS -> "
            + (https == 0 ? "NODATA" : https + " records"));

    SSLSocket socket = (SSLSocket) tls.client().getSocketFactory().createSocket();
    try (socket) {
      socket.connect(new InetSocketAddress(virtual, port), 5_000);
      socket.setSoTimeout(10_000);
      socket.setTcpNoDelay(true);
      SSLParameters params = socket.getSSLParameters();
      params.setServerNames(List.of(new SNIHostName("courier.push.apple.com")));
      params.setEndpointIdentificationAlgorithm(
          "HTTPS"); // verify the certificate is for courier.push.apple.com
      params.setProtocols(new String[] {"TLSv1.3"});
      socket.setSSLParameters(params);
      socket.startHandshake();
      long connected = System.nanoTime();
      String peer =
          ((java.security.cert.X509Certificate) socket.getSession().getPeerCertificates()[0])
              .getSubjectX500Principal()
              .getName();
      log.accept(
          "TCP  "
              + virtual.getHostAddress()
              + ":"
              + port
              + " -> TLS "
              + socket.getSession().getProtocol()
              + " with "
              + peer
              + " (SNI courier.push.apple.com, certificate verified end to end)");

      OutputStream out = socket.getOutputStream();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      List<String> replies = new ArrayList<>();
      long sent = 0;
      long received = 0;
      for (int i = 1; i <= messages; i++) {
        byte[] msg =
            ("hello " + i + " from device " + Thread.currentThread().getName() + "\n")
                .getBytes(StandardCharsets.UTF_8);
        out.write(msg);
        out.flush();
        sent += msg.length;
        String reply = in.readLine();
        if (reply == null) {
          throw new IOException("courier closed before replying to message " + i);
        }
        received += reply.length() + 1;
        replies.add(reply);
        log.accept("TLS  sent " + msg.length + " bytes, courier replied \"" + reply + "\"");
      }
      socket.shutdownOutput(); // TLS 1.3 half-close: close_notify, the reading side stays open
      String tail = in.readLine();
      if (tail != null) {
        throw new IOException("courier sent more after half-close: " + tail);
      }
      log.accept("TCP  half-closed; the courier closed its side too");
      return new Result(
          count,
          courier,
          virtual,
          aaaa,
          https,
          peer,
          replies,
          sent,
          received,
          Duration.ofNanos(dnsDone - start),
          Duration.ofNanos(connected - dnsDone),
          Duration.ofNanos(System.nanoTime() - start));
    }
  }

  private static Message query(SimpleResolver dns, String name, int type) throws IOException {
    Message q;
    try {
      q = Message.newQuery(Record.newRecord(Name.fromString(name), type, DClass.IN));
    } catch (TextParseException e) {
      throw new IOException(e);
    }
    // Like a device's stub resolver (glibc's attempts:3): a query that fails on the wire is asked
    // again; a busy host
    // may drop a UDP datagram, and a device would not give up on the first loss.
    Message r;
    for (int attempt = 1; ; attempt++) {
      try {
        r = dns.send(q);
        break;
      } catch (IOException e) { // timed out (or the datagram was refused): ask again
        if (attempt == 3) {
          throw e;
        }
      }
    }
    if (r.getRcode() != Rcode.NOERROR) {
      throw new IOException(Type.string(type) + " " + name + " -> " + Rcode.string(r.getRcode()));
    }
    return r;
  }
}
