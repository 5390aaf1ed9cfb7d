package io.bucketdisk.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code bucketdisk volume …} end to end on a directory store: lifecycle, JSON output, one-line errors. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VolumeCommandTest {

  @TempDir Path dir;

  private record Result(int code, String out, String err) {}

  private Result run(String... args) {
    var out = new StringWriter();
    var err = new StringWriter();
    var cli = new CommandLine(new VolumeCommand());
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      if (ex instanceof UserError u) {
        cmd.getErr().println("bucketdisk: " + u.getMessage());
        return 1;
      }
      throw ex;
    });
    String[] all = new String[args.length + 2];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--store";
    all[args.length + 1] = "file://" + dir;
    return new Result(cli.execute(all), out.toString(), err.toString());
  }

  @Test
  void lifecycle() throws Exception {
    var created = run("create", "data", "--size", "10Gi", "--chunk-size", "1Mi", "--json");
    assertThat(created.code()).as(created.err()).isZero();
    var json = new ObjectMapper().readTree(created.out());
    assertThat(json.get("id").asText()).isEqualTo("data");
    assertThat(json.get("sizeBytes").asLong()).isEqualTo(10L << 30);
    assertThat(json.get("chunkSize").asInt()).isEqualTo(1 << 20);
    assertThat(run("create", "data", "--size", "10Gi", "--chunk-size", "1Mi").code()).as("idempotent").isZero();

    assertThat(run("snapshot", "data", "s1").code()).isZero();
    assertThat(run("create", "copy", "--from-snapshot", "s1").out()).contains("snapshot:s1");
    assertThat(run("expand", "data", "--size", "20Gi").out()).contains("20 GiB");
    var ls = run("ls");
    assertThat(ls.out()).contains("data").contains("copy").contains("20 GiB");
    assertThat(run("ls", "--snapshots").out()).contains("s1");
    assertThat(run("inspect", "data").out()).contains("snapshots:    s1").contains("chunk size:   1 MiB");

    assertThat(run("rm", "copy", "data").code()).isZero();
    assertThat(run("rm", "--snapshot", "s1").code()).isZero();
    assertThat(run("rm", "data").code()).as("idempotent").isZero();
    assertThat(new ObjectMapper().readTree(run("ls", "--json").out()).size()).isZero();
  }

  @Test
  void errorsAreOneLineNamingTheFix() {
    var bad = run("create", "x", "--chunk-size", "3Mi");
    assertThat(bad.code()).isEqualTo(1);
    assertThat(bad.err()).startsWith("bucketdisk: parameter chunkSize=3Mi").doesNotContain("Exception");
    assertThat(run("create", "x", "--size", "ten").err()).contains("--size ten is not a size");
    run("create", "y", "--size", "1Gi");
    assertThat(run("create", "y", "--size", "2Gi").err()).contains("exists with");
    assertThat(run("inspect", "nope").err()).contains("no volume or snapshot nope");
    assertThat(run("snapshot", "nope", "s").err()).contains("source volume nope does not exist");
  }
}
