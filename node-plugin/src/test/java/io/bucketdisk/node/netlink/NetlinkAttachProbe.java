package io.bucketdisk.node.netlink;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.node.nbd.GatewayConnector;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.OptionalLong;

/**
 * Runs inside the test VM (see {@code NetlinkAttachVmIT}): attaches an export from the host's NBD server with
 * N connections through {@link NbdNetlink}, writes and reads through {@code /dev/nbdN}, checks sysfs, grows
 * the device with RECONFIGURE, hears LINK_DEAD, and disconnects. Prints {@code PROBE ...} lines the host
 * test asserts on; exits non-zero on the first failure.
 */
public final class NetlinkAttachProbe {
  private NetlinkAttachProbe() {}

  public static void main(String[] args) throws Exception {
    String gateway = args[0];
    String export = args[1];
    int connections = Integer.parseInt(args[2]);
    try (var nl = NbdNetlink.open();
        var conns = new GatewayConnector(Endpoint.parse(gateway), Duration.ofSeconds(10)).open(export, connections)) {
      System.out.println("PROBE status-before " + nl.status());
      var info = conns.export();
      int index = nl.connect(new DeviceConfig(info.sizeBytes(), info.kernelBlockSize(), info.transmissionFlags(), 0, 30,
          export, conns.fds()));
      conns.close(); // the kernel holds its own references
      System.out.println("PROBE index=" + index + " connections=" + conns.sockets().size());
      String backend = Files.readString(Path.of("/sys/block/nbd" + index + "/backend")).strip();
      long sectors = Long.parseLong(Files.readString(Path.of("/sys/block/nbd" + index + "/size")).strip());
      System.out.println("PROBE backend=" + backend + " bytes=" + sectors * 512);
      System.out.println("PROBE status " + nl.status(index).orElseThrow());

      var dev = Path.of("/dev/nbd" + index);
      byte[] pattern = new byte[1 << 20];
      for (int i = 0; i < pattern.length; i++) {
        pattern[i] = (byte) (i * 31 + 7);
      }
      try (var ch = FileChannel.open(dev, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(pattern), 1 << 20);
        ch.force(true);
      }
      Runtime.getRuntime().exec(new String[] {"sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"}).waitFor();
      try (var ch = FileChannel.open(dev, StandardOpenOption.READ)) {
        var back = ByteBuffer.allocate(pattern.length);
        while (back.hasRemaining() && ch.read(back, (1 << 20) + back.position()) > 0) {
          // keep reading
        }
        System.out.println("PROBE readback " + (Arrays.equals(back.array(), pattern) ? "equal" : "DIFFERENT"));
      }

      try (var sub = nl.subscribeLinkDead()) {
        nl.reconfigure(index, export, OptionalLong.of(info.sizeBytes() * 2), java.util.List.of());
        long grown = Long.parseLong(Files.readString(Path.of("/sys/block/nbd" + index + "/size")).strip()) * 512;
        System.out.println("PROBE grown=" + grown);
        try {
          nl.reconfigure(index, "wrong-id", OptionalLong.empty(), java.util.List.of());
          System.out.println("PROBE wrong-backend accepted");
        } catch (NetlinkException e) {
          System.out.println("PROBE wrong-backend errno=" + e.errno());
        }
        nl.disconnect(index);
        System.out.println("PROBE disconnected status " + nl.status(index).orElseThrow());
        // DISCONNECT is a requested teardown, so no LINK_DEAD may follow it.
        System.out.println("PROBE linkdead-after-disconnect " + sub.next(Duration.ofMillis(500)));
      }
    }
    System.out.println("PROBE done");
  }
}
