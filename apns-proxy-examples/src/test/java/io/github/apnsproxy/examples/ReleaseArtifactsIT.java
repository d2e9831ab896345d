// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * What Maven Central requires of each published library artifact, checked on the built reactor (the
 * library modules are built before this module's integration tests): name, description, URL,
 * licence, developers and SCM in the POM (its own or the parent's, which is published too), and
 * next to the jar a sources jar and a javadoc jar with real content. Signatures come from the
 * {@code release} profile's GPG plugin, checked to be configured to sign.
 */
class ReleaseArtifactsIT {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  private static Document xml(Path file) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return f.newDocumentBuilder().parse(file.toFile());
  }

  /**
   * The text of the first {@code name} child element of the project (not of nested elements), or
   * "".
   */
  private static String child(Element parent, String name) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        return e.getTextContent().strip();
      }
    }
    return "";
  }

  private static Element project(Path pom) throws Exception {
    return xml(pom).getDocumentElement();
  }

  @ParameterizedTest
  @ValueSource(strings = {"apns-proxy-core", "apns-proxy-dns", "apns-proxy-tcp"})
  void libraryArtifactCarriesWhatCentralRequires(String module) throws Exception {
    Element parent = project(ROOT.resolve("pom.xml"));
    Element pom = project(ROOT.resolve(module).resolve("pom.xml"));
    for (String field : List.of("name", "description", "url")) {
      assertThat(child(pom, field)).as("%s <%s>", module, field).isNotBlank();
    }
    assertThat(child(pom, "url")).startsWith("https://");
    for (String field : List.of("licenses", "developers", "scm")) {
      String own = child(pom, field);
      assertThat(own.isEmpty() ? child(parent, field) : own)
          .as("%s <%s> (own or the parent's)", module, field)
          .isNotBlank();
    }
    Element licence = (Element) parent.getElementsByTagName("license").item(0);
    assertThat(child(licence, "name")).isEqualTo("Apache-2.0");
    assertThat(child(licence, "url")).startsWith("https://");
    Element scm = (Element) parent.getElementsByTagName("scm").item(0);
    for (String field : List.of("connection", "developerConnection", "url")) {
      assertThat(child(scm, field)).as("scm %s", field).isNotBlank();
      // the modules share one repository: the inherited addresses must not get the artifactId
      // appended
      assertThat(scm.getAttribute("child.scm." + field + ".inherit.append.path"))
          .isEqualTo("false");
    }
    assertThat(parent.getAttribute("child.project.url.inherit.append.path")).isEqualTo("false");
    Element developer = (Element) parent.getElementsByTagName("developer").item(0);
    assertThat(child(developer, "name")).isNotBlank();

    String version = child(parent, "version");
    Path target = ROOT.resolve(module).resolve("target");
    Path jar = target.resolve(module + "-" + version + ".jar");
    Path sources = target.resolve(module + "-" + version + "-sources.jar");
    Path javadoc = target.resolve(module + "-" + version + "-javadoc.jar");
    for (Path p : List.of(jar, sources, javadoc)) {
      assertThat(p)
          .as("built before this module's integration tests (run the reactor: -am)")
          .exists();
    }
    try (JarFile j = new JarFile(jar.toFile());
        JarFile s = new JarFile(sources.toFile());
        JarFile d = new JarFile(javadoc.toFile())) {
      assertThat(j.getEntry("module-info.class")).isNotNull();
      List<String> classes =
          j.stream()
              .map(e -> e.getName())
              .filter(
                  n ->
                      n.endsWith(".class")
                          && !n.contains("$")
                          && !n.endsWith("module-info.class")
                          && !n.endsWith("package-info.class")
                          && !n.contains("/internal/"))
              .collect(Collectors.toList());
      assertThat(classes).isNotEmpty();
      for (String c : classes) {
        assertThat(s.getEntry(c.replace(".class", ".java"))).as("source of %s", c).isNotNull();
        String page =
            c.replace(".class", ".html"); // under the module's directory in modular javadoc
        if (!isPublic(c)) {
          continue; // a package-private helper of an exported package has no javadoc page, by
          // design
        }
        assertThat(d.stream().anyMatch(e -> e.getName().endsWith(page)))
            .as("javadoc of %s", c)
            .isTrue();
      }
      assertThat(d.getEntry("index.html")).isNotNull();
    }
  }

  @org.junit.jupiter.api.Test
  void releaseProfileSignsAndPublishesLibrariesOnly() throws Exception {
    Element parent = project(ROOT.resolve("pom.xml"));
    NodeList profiles = parent.getElementsByTagName("profile");
    Element release = null;
    for (int i = 0; i < profiles.getLength(); i++) {
      Element p = (Element) profiles.item(i);
      if (child(p, "id").equals("release")) {
        release = p;
      }
    }
    assertThat(release).as("a release profile").isNotNull();
    List<String> plugins = new ArrayList<>();
    NodeList ps = release.getElementsByTagName("plugin");
    for (int i = 0; i < ps.getLength(); i++) {
      plugins.add(child((Element) ps.item(i), "artifactId"));
    }
    assertThat(plugins).contains("maven-gpg-plugin", "central-publishing-maven-plugin");
    String text = release.getTextContent();
    assertThat(text).contains("sign").contains("apns-proxy-examples");
    assertThat(Files.readString(ROOT.resolve("LICENSE"))).contains("Apache License");
  }

  /**
   * Whether the class named by a jar entry is public (loaded without initialising it; the test path
   * has them all).
   */
  private static boolean isPublic(String entry) {
    String name = entry.substring(0, entry.length() - ".class".length()).replace('/', '.');
    try {
      return java.lang.reflect.Modifier.isPublic(
          Class.forName(name, false, ReleaseArtifactsIT.class.getClassLoader()).getModifiers());
    } catch (ClassNotFoundException e) {
      throw new AssertionError("class " + name + " of the jar is not on the test class path", e);
    }
  }
}
