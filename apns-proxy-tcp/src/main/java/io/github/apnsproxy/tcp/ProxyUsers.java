// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The users of the explicit-proxy listeners (HTTP CONNECT Basic authentication, SOCKS5
 * username/password): one line per user, {@code USER:pbkdf2-sha256:ITERATIONS:SALT:HASH} with the
 * salt and the PBKDF2-HMAC-SHA256 hash in base64, made by {@link #line}. Blank lines and lines
 * starting with {@code #} are ignored. Immutable and thread-safe.
 *
 * <p>A password is checked with the slow hash the first time; a right password is then remembered
 * as an HMAC under a key made at random for this object (never the password itself), so a client
 * that reconnects often is checked in microseconds, and a wrong password for a user whose right one
 * was seen is refused as fast. Comparisons are in constant time ({@link MessageDigest#isEqual}). A
 * user not in the file costs a full hash too, so timing does not tell which users exist. Passwords
 * are never logged, stored or put in exception messages.
 */
public final class ProxyUsers {
  /** The PBKDF2 iterations {@link #line(String, char[])} uses. */
  public static final int DEFAULT_ITERATIONS = 210_000;

  private static final String SCHEME = "pbkdf2-sha256";
  private static final int SALT_BYTES = 16;
  private static final int HASH_BYTES = 32;

  @SuppressWarnings("ArrayRecordComponent") // private, never compared or hashed as a record
  private record Entry(int iterations, byte[] salt, byte[] hash) {}

  private final Map<String, Entry> users;
  private final Entry dummy;
  private final byte[] cacheKey = new byte[32];
  private final ConcurrentHashMap<String, byte[]> verified = new ConcurrentHashMap<>();
  private final LongAdder failures = new LongAdder();

  private ProxyUsers(Map<String, Entry> users) {
    this.users = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(users));
    SecureRandom random = new SecureRandom();
    random.nextBytes(cacheKey);
    byte[] salt = new byte[SALT_BYTES];
    random.nextBytes(salt);
    int iterations =
        users.values().stream().mapToInt(Entry::iterations).max().orElse(DEFAULT_ITERATIONS);
    this.dummy = new Entry(iterations, salt, new byte[HASH_BYTES]);
  }

  /**
   * Reads a users file.
   *
   * @throws IOException when it cannot be read
   * @throws IllegalArgumentException naming the file and line of a malformed or duplicate entry
   */
  public static ProxyUsers load(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    return parse(Files.readAllLines(file, StandardCharsets.UTF_8), file.toString());
  }

  /**
   * Parses the lines of a users file; {@code source} names it in messages.
   *
   * @throws IllegalArgumentException naming the source and line of a malformed or duplicate entry
   */
  public static ProxyUsers parse(List<String> lines, String source) {
    Objects.requireNonNull(lines, "lines");
    Objects.requireNonNull(source, "source");
    Map<String, Entry> users = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String where = source + " line " + (i + 1);
      String[] f = line.split(":", -1);
      if (f.length != 5) {
        throw new IllegalArgumentException(
            where
                + ": expected USER:"
                + SCHEME
                + ":ITERATIONS:SALT:HASH (made by the passwd subcommand)");
      }
      checkUser(f[0], where);
      if (!f[1].equals(SCHEME)) {
        throw new IllegalArgumentException(
            where + ": scheme '" + f[1] + "' (expected " + SCHEME + ")");
      }
      int iterations;
      try {
        iterations = Integer.parseInt(f[2]);
      } catch (NumberFormatException e) {
        iterations = -1;
      }
      if (iterations < 1_000 || iterations > 10_000_000) {
        throw new IllegalArgumentException(
            where + ": iterations '" + f[2] + "' (expected 1000..10000000)");
      }
      byte[] salt;
      byte[] hash;
      try {
        salt = Base64.getDecoder().decode(f[3]);
        hash = Base64.getDecoder().decode(f[4]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": salt or hash is not base64");
      }
      if (salt.length < 8 || hash.length != HASH_BYTES) {
        throw new IllegalArgumentException(
            where
                + ": salt of "
                + salt.length
                + " bytes, hash of "
                + hash.length
                + " (expected at least 8 and exactly "
                + HASH_BYTES
                + ")");
      }
      if (users.put(f[0], new Entry(iterations, salt, hash)) != null) {
        throw new IllegalArgumentException(where + ": user '" + f[0] + "' is listed twice");
      }
    }
    return new ProxyUsers(users);
  }

  /** No users: the listeners then ask for no credentials. */
  public static ProxyUsers none() {
    return new ProxyUsers(Map.of());
  }

  /**
   * A users-file line for {@code user} and {@code password}, with a fresh random salt and {@link
   * #DEFAULT_ITERATIONS}.
   *
   * @throws IllegalArgumentException when the user name is empty, has a colon or control
   *     characters, or either is longer than 255 bytes in UTF-8 (the SOCKS5 limit, RFC 1929)
   */
  public static String line(String user, char[] password) {
    return line(user, password, DEFAULT_ITERATIONS);
  }

  /** {@link #line(String, char[])} with another iteration count (1000 or more). */
  public static String line(String user, char[] password, int iterations) {
    checkUser(Objects.requireNonNull(user, "user"), "user");
    Objects.requireNonNull(password, "password");
    if (iterations < 1_000 || iterations > 10_000_000) {
      throw new IllegalArgumentException("iterations " + iterations + " (expected 1000..10000000)");
    }
    byte[] utf8 = utf8(password);
    if (utf8.length > 255) {
      throw new IllegalArgumentException(
          "password of " + utf8.length + " bytes (expected at most 255)");
    }
    Arrays.fill(utf8, (byte) 0);
    byte[] salt = new byte[SALT_BYTES];
    new SecureRandom().nextBytes(salt);
    byte[] hash = pbkdf2(password, salt, iterations);
    Base64.Encoder b64 = Base64.getEncoder();
    return user
        + ":"
        + SCHEME
        + ":"
        + iterations
        + ":"
        + b64.encodeToString(salt)
        + ":"
        + b64.encodeToString(hash);
  }

  private static void checkUser(String user, String where) {
    if (user.isEmpty() || user.getBytes(StandardCharsets.UTF_8).length > 255) {
      throw new IllegalArgumentException(
          where + ": user name of " + user.length() + " characters (expected 1 to 255 bytes)");
    }
    for (int i = 0; i < user.length(); i++) {
      char c = user.charAt(i);
      if (c == ':' || c < 0x20 || c == 0x7f) {
        throw new IllegalArgumentException(
            where
                + ": user name '"
                + user.replaceAll("[\\p{Cntrl}]", "?")
                + "' has a colon or a control character");
      }
    }
  }

  /** Whether no user is configured. */
  public boolean isEmpty() {
    return users.isEmpty();
  }

  /** The user names, in file order. */
  public Set<String> names() {
    return users.keySet();
  }

  /** Failed verifications so far (wrong password, unknown user). */
  public long failedAttempts() {
    return failures.sum();
  }

  /**
   * The answer for {@code user} and {@code password} (UTF-8) when it is known without the slow
   * hash: true for the remembered right password, false for another one of a user whose right
   * password was seen; empty otherwise. Fast; any thread. A false answer is counted as a failed
   * attempt.
   */
  public Optional<Boolean> quickCheck(String user, byte[] password) {
    byte[] known = verified.get(user);
    if (known == null) {
      return Optional.empty();
    }
    boolean ok = MessageDigest.isEqual(known, mac(user, password));
    if (!ok) {
      failures.increment();
    }
    return Optional.of(ok);
  }

  /**
   * Checks {@code user} and {@code password} (UTF-8) with the slow hash (tens to hundreds of
   * milliseconds: call it off any event loop). Any thread. A false answer is counted as a failed
   * attempt.
   */
  public boolean verify(String user, byte[] password) {
    Objects.requireNonNull(user, "user");
    Objects.requireNonNull(password, "password");
    Optional<Boolean> quick = quickCheck(user, password);
    if (quick.isPresent()) {
      return quick.get();
    }
    Entry e = users.get(user);
    Entry against = e == null ? dummy : e;
    char[] chars = chars(password);
    byte[] hash = pbkdf2(chars, against.salt(), against.iterations());
    Arrays.fill(chars, '\0');
    boolean ok = MessageDigest.isEqual(hash, against.hash()) && e != null;
    if (ok) {
      verified.put(user, mac(user, password));
    } else {
      failures.increment();
    }
    return ok;
  }

  private byte[] mac(String user, byte[] password) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(cacheKey, "HmacSHA256"));
      m.update(user.getBytes(StandardCharsets.UTF_8));
      m.update((byte) 0);
      return m.doFinal(password);
    } catch (GeneralSecurityException ex) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", ex);
    }
  }

  private static byte[] pbkdf2(char[] password, byte[] salt, int iterations) {
    PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, HASH_BYTES * 8);
    try {
      return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
    } catch (GeneralSecurityException ex) {
      throw new IllegalStateException("PBKDF2WithHmacSHA256 is missing from this JDK", ex);
    } finally {
      spec.clearPassword();
    }
  }

  /**
   * The password bytes as chars for PBKDF2 (the JDK's PBKDF2 hashes chars as UTF-8); malformed
   * UTF-8 is kept.
   */
  private static char[] chars(byte[] utf8) {
    try {
      CharBuffer cb =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(utf8));
      char[] out = new char[cb.remaining()];
      cb.get(out);
      Arrays.fill(cb.array(), '\0');
      return out;
    } catch (CharacterCodingException e) {
      // not UTF-8: map each byte to a char of its own, which matches no password made by line()
      char[] out = new char[utf8.length];
      for (int i = 0; i < utf8.length; i++) {
        out[i] = (char) (0xE000 + (utf8[i] & 0xff));
      }
      return out;
    }
  }

  private static byte[] utf8(char[] chars) {
    ByteBuffer b = StandardCharsets.UTF_8.encode(CharBuffer.wrap(chars));
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  @Override
  public String toString() {
    return "ProxyUsers[" + users.size() + " users]";
  }
}
