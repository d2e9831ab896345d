// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.tcp.ProxyUsers;
import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The {@code passwd USER} subcommand: reads a password (from the terminal without echo, or the
 * first line of stdin) and prints the {@code connect.users} line for it. The password is never
 * printed or logged.
 */
final class Passwd {
  private Passwd() {}

  // On JDK 22+ System.console() is never null; its readPassword then reads the piped line as well,
  // so both ways give
  // the first line of stdin when it is not a terminal.
  @SuppressWarnings("SystemConsoleNull")
  static int run(String[] args, InputStream in, PrintStream out, PrintStream err)
      throws IOException {
    if (args.length != 1 || args[0].startsWith("-")) {
      throw new ApnsProxy.UsageException(
          "passwd: expected one argument, the user name (passwd USER); the"
              + " password is read from stdin");
    }
    char[] password;
    Console console = System.console();
    if (console != null && in == System.in) {
      password = console.readPassword("password for %s: ", args[0]);
      if (password == null) {
        throw new ApnsProxy.UsageException("passwd: no password given");
      }
    } else {
      password = firstLine(in);
    }
    try {
      if (password.length == 0) {
        throw new ApnsProxy.UsageException(
            "passwd: the password is empty (expected one line on stdin)");
      }
      String line;
      try {
        line = ProxyUsers.line(args[0], password);
      } catch (IllegalArgumentException e) {
        throw new ApnsProxy.UsageException("passwd: " + e.getMessage());
      }
      out.println(line);
      return 0;
    } finally {
      Arrays.fill(password, '\0');
    }
  }

  /** The first line of {@code in} (without CR/LF), UTF-8, at most 4 KiB. */
  private static char[] firstLine(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0 && c != '\n' && b.size() < 4096) {
      b.write(c);
    }
    byte[] bytes = b.toByteArray();
    int n = bytes.length;
    if (n > 0 && bytes[n - 1] == '\r') {
      n--;
    }
    CharBuffer chars = StandardCharsets.UTF_8.decode(ByteBuffer.wrap(bytes, 0, n));
    char[] out = new char[chars.remaining()];
    chars.get(out);
    Arrays.fill(bytes, (byte) 0);
    return out;
  }
}
