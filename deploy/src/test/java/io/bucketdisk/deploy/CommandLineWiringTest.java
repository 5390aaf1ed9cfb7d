package io.bucketdisk.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.app.Main;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * Parses the args of every bucketdisk container in the manifests with the real {@code bucketdisk} command line
 * (picocli, without running it), so a renamed or missing flag fails here rather than as a crash-looping pod.
 * {@code $(VAR)} references are replaced by sample values of the right shape first.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
final class CommandLineWiringTest {

  static final Map<String, String> SAMPLE_ENV = Map.of(
      "BUCKETDISK_STORE", "s3://bucket/prefix?endpoint=http://minio:9000&region=us-east-1&path-style=true",
      "NODE_NAME", "node-1");

  static Manifests m;

  @BeforeAll
  static void load() throws IOException {
    m = Manifests.load(DeployManifestTest.BASE);
    DeployManifestTest.m = m;
  }

  @TestFactory
  Stream<DynamicTest> manifestArgsParseWithTheRealCommands() {
    return DeployManifestTest.bucketdisk().map(bc -> DynamicTest.dynamicTest(bc.where(), () -> {
      var args = bc.container().getArgs().stream().map(CommandLineWiringTest::substitute).toArray(String[]::new);
      var cli = new CommandLine(Main.class);
      assertThat(cli.getSubcommands()).as("`bucketdisk %s` is a command of io.bucketdisk.app.Main", args[0])
          .containsKey(args[0]);
      try {
        var parsed = cli.parseArgs(args);
        assertThat(parsed.subcommand().commandSpec().name()).isEqualTo(args[0]);
      } catch (CommandLine.ParameterException e) {
        throw new AssertionError(bc.where() + ": `bucketdisk " + String.join(" ", args) + "` is rejected: " + e.getMessage(), e);
      }
    }));
  }

  static String substitute(String arg) {
    var matcher = Pattern.compile("\\$\\(([A-Z0-9_]+)\\)").matcher(arg);
    return matcher.replaceAll(r -> {
      var value = SAMPLE_ENV.get(r.group(1));
      assertThat(value).as("sample value for $(" + r.group(1) + ")").isNotNull();
      return java.util.regex.Matcher.quoteReplacement(value);
    });
  }
}
