// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.config.ConfigException;
import io.github.apnsproxy.examples.demo.Demo;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The all-in-one apns-proxy command line: {@code demo}, {@code run --config FILE}, {@code check
 * --config FILE} and {@code bench}. Exit codes: 0 success, 1 a runtime failure, 2 bad usage or a
 * bad config (one line naming the key).
 *
 * <pre>
 * java -jar apns-proxy-examples/target/apns-proxy.jar demo
 * java -jar apns-proxy-examples/target/apns-proxy.jar demo --devices 1000
 * java -jar apns-proxy-examples/target/apns-proxy.jar check --config proxy.properties
 * java -jar apns-proxy-examples/target/apns-proxy.jar run --config proxy.properties
 * </pre>
 */
public final class ApnsProxy {
  private static final Logger LOG = LoggerFactory.getLogger(ApnsProxy.class);

  static final String USAGE =
      """
      Usage: java -jar apns-proxy.jar <command> [options]

      Commands:
        demo [--devices N] [--messages N]
              Run the whole chain on loopback with no setup and no internet: a simulated upstream DNS and TLS
              couriers, the proxy (DNS server + splicer from one plan, virtual subnet 127.100.100.0/24), and
              simulated devices that resolve a courier through the proxy, connect to its virtual address and talk
              TLS to the courier through the splicer. Prints each step and the stats.
        run --config FILE
              Run the proxy from a properties file. SIGTERM drains live connections (tcp.drain-timeout) and exits 0;
              SIGHUP re-reads FILE and applies it with live connections untouched (a bad file is refused).
        check --config FILE
              Validate a config and print the resulting plan: every virtual address and what it maps to.
        probe --config FILE [--trust-store FILE [--trust-store-password PW]]
              From this host, through the configured egress, check each kind of upstream (a courier of each
              variant and environment, init, api): DNS (or the proxy's CONNECT), TCP connect, TLS handshake with
              the server name a device sends, certificate checked against the JDK trust store (or FILE). Prints a
              table with the failed step and its cause per host; exit 0 only if every host passed.
        bench [--quick] [--targets direct,apns-proxy,haproxy,nginx] [--only ...]
              Benchmarks: the proxy (a separate JVM) against a direct loopback connection.
        keys  Print every config key with its default and meaning.
        passwd USER
              Read a password from stdin (the terminal without echo) and print the connect.users line for USER
              (PBKDF2-HMAC-SHA256, random salt). Append it to the users file.

      Exit codes: 0 ok, 1 failure, 2 bad usage or bad config.
      """;

  private ApnsProxy() {}

  public static void main(String[] args) {
    int code = run(args, System.out, System.err);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs a command; returns the exit code. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0
        || args[0].equals("--help")
        || args[0].equals("-h")
        || args[0].equals("help")) {
      out.print(USAGE);
      return args.length == 0 ? 2 : 0;
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    try {
      return switch (args[0]) {
        case "demo" -> Demo.run(rest, out, err);
        case "run" -> runProxy(rest, out, err);
        case "check" -> check(rest, out);
        case "probe" -> ProbeCommand.run(rest, out, err); // through the config's upstream.proxy
        case "keys" -> {
          ProxySetup defaults = ProxySetup.defaults();
          for (ProxyKey<?> k : ProxyKeys.all()) {
            out.printf(
                "%-26s default %-22s %s%n", k.name(), k.defaultText(defaults), k.description());
          }
          yield 0;
        }
        case "bench" -> io.github.apnsproxy.examples.bench.Bench.run(rest);
        case "passwd" -> Passwd.run(rest, System.in, out, err);
        default -> {
          err.println(
              "apns-proxy: unknown command '"
                  + args[0]
                  + "' (expected demo, run, check, probe, bench, keys or passwd)");
          yield 2;
        }
      };
    } catch (UsageException e) {
      err.println("apns-proxy: " + e.getMessage());
      return 2;
    } catch (ConfigException e) {
      err.println("apns-proxy: config: " + e.getMessage());
      return 2;
    } catch (IOException e) {
      err.println("apns-proxy: " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("apns-proxy: interrupted");
      return 1;
    }
  }

  /**
   * Makes SIGHUP (what {@code systemctl reload} sends) run {@code reload} instead of stopping the
   * proxy. The signal thread only hands it to the thread {@code apns-proxy-reload}, which runs one
   * reload after the other. {@code sun.misc.Signal} (module jdk.unsupported) is used by reflection,
   * so a JDK without it only loses this: the proxy then logs that a hangup stops it.
   */
  static void onHangup(Runnable reload) {
    ExecutorService reloader =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "apns-proxy-reload");
              t.setDaemon(true);
              return t;
            });
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
      Object hup = signal.getConstructor(String.class).newInstance("HUP");
      Object handler =
          Proxy.newProxyInstance(
              handlerType.getClassLoader(),
              new Class<?>[] {handlerType},
              (proxy, method, methodArgs) ->
                  switch (method.getName()) {
                    case "handle" -> {
                      // on the JVM's signal dispatch thread: hand over and return at once
                      LOG.info("SIGHUP: reloading the config");
                      reloader.execute(
                          () -> {
                            try {
                              reload.run();
                            } catch (RuntimeException e) {
                              LOG.error("config reload failed", e);
                            }
                          });
                      yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> methodArgs != null && proxy == methodArgs[0];
                    default -> "SIGHUP handler of apns-proxy";
                  });
      signal.getMethod("handle", signal, handlerType).invoke(null, hup, handler);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      LOG.warn("SIGHUP cannot be handled here ({}); a hangup stops the proxy", e.toString());
    }
  }

  /** Bad command-line usage: exit code 2 with the message. */
  static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  static Path configOption(String[] args, String command) {
    Path config = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        config = Path.of(args[++i]);
      } else if (args[i].startsWith("--config=")) {
        config = Path.of(args[i].substring("--config=".length()));
      } else {
        throw new UsageException(
            command + ": unknown option '" + args[i] + "' (expected --config FILE)");
      }
    }
    if (config == null) {
      throw new UsageException(command + ": --config FILE is required");
    }
    if (!Files.isReadable(config)) {
      throw new UsageException(command + ": cannot read config file " + config);
    }
    return config;
  }

  /**
   * Loads a config and maps it onto the builders; a file that cannot be read as properties text
   * (not a regular file, too large, not UTF-8, a bad escape) is bad usage too: exit 2.
   */
  static ProxySetup loadConfig(Path file) {
    try {
      return ProxySetup.load(file);
    } catch (IOException e) {
      throw new UsageException("config: " + e.getMessage());
    }
  }

  private static int check(String[] args, PrintStream out) throws IOException {
    ProxySetup setup = loadConfig(configOption(args, "check"));
    out.print(PlanReport.describe(setup));
    return 0;
  }

  private static int runProxy(String[] args, PrintStream out, PrintStream err)
      throws IOException, InterruptedException {
    Path configFile = configOption(args, "run");
    ProxySetup setup = loadConfig(configFile);
    ProxyNode node = ProxyNode.start(setup);
    onHangup(() -> node.reload(configFile)); // re-reads the same file
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook =
        new Thread(
            () -> {
              int code = 0;
              try {
                node.close(node.setup().app().drainTimeout()); // as the last reload set it
              } catch (RuntimeException | Error e) {
                err.println("apns-proxy: stopping failed: " + e);
                code = 1;
              }
              stopped.countDown();
              err.flush();
              out.flush();
              // SIGTERM is the normal way to stop the proxy: after a clean drain, exit 0 rather
              // than the JVM's 143
              Runtime.getRuntime().halt(code);
            },
            "apns-proxy-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    out.println(
        "apns-proxy running: DNS "
            + node.dnsAddresses()
            + ", splicer on "
            + node.splicerAddressCount()
            + " addresses"
            + node.metricsAddress()
                .map(a -> ", metrics http://" + a.getHostString() + ":" + a.getPort() + "/metrics")
                .orElse("")
            + " (pid "
            + ProcessHandle.current().pid()
            + ")");
    out.flush();
    stopped.await();
    return 0;
  }
}
