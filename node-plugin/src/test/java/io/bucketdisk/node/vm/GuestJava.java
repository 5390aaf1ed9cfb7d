package io.bucketdisk.node.vm;

import java.io.File;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The shell command that runs a main class inside the guest with the host's JDK and this test JVM's class
 * path (both visible unchanged through the 9p root). C1 only and CDS: JVM start-up dominates under TCG.
 */
public final class GuestJava {
  private GuestJava() {}

  public static String javaHome() {
    return System.getProperty("java.home");
  }

  public static String classPath() {
    return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(p -> !p.isBlank())
        .map(p -> new File(p).getAbsolutePath())
        .collect(Collectors.joining(File.pathSeparator));
  }

  public static String command(Class<?> main, String... args) {
    var sb = new StringBuilder(javaHome()).append("/bin/java -XX:TieredStopAtLevel=1 -Xshare:auto -XX:+UseSerialGC")
        .append(" --enable-native-access=ALL-UNNAMED -cp '").append(classPath()).append("' '").append(main.getName()).append("'");
    for (String a : args) {
      sb.append(" '").append(a.replace("'", "'\\''")).append("'");
    }
    return sb.toString();
  }
}
