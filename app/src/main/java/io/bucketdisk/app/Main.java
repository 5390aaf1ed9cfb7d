package io.bucketdisk.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code ./bucketdisk}: dispatches to the subcommands and maps user errors to one line. */
@Command(
    name = "bucketdisk",
    mixinStandardHelpOptions = true,
    version = "bucketdisk 0.1.0",
    description = "Kubernetes block volumes whose bytes live in S3, served over NBD.",
    subcommands = {CommandLine.HelpCommand.class, DevCommand.class, GatewayCommand.class, ControllerCommand.class,
        VolumeCommand.class, NodeCommand.class})
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs one command line and returns the exit code (0 ok, 1 failure, 2 usage error). */
  public static int run(String... args) {
    var cli = new CommandLine(new Main());
    cli.setParameterExceptionHandler(Main::usageError);
    cli.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          if (ex instanceof UserError user) {
            cmd.getErr().println("bucketdisk: " + user.getMessage());
            return 1;
          }
          throw ex;
        });
    return cli.execute(args);
  }

  private static int usageError(CommandLine.ParameterException ex, String[] args) {
    var cmd = ex.getCommandLine();
    cmd.getErr().println("bucketdisk: " + ex.getMessage() + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
    return 2;
  }
}
