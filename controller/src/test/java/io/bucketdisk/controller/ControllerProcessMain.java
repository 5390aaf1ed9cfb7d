package io.bucketdisk.controller;

import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.VolumeCatalog;
import java.net.URI;
import java.nio.file.Path;
import java.util.Set;

/** A controller in its own JVM for the crash tests: {@code <store-url> <socket>}; runs until killed. */
public final class ControllerProcessMain {
  private ControllerProcessMain() {}

  public static void main(String[] args) throws Exception {
    var catalog = VolumeCatalog.open(URI.create(args[0]), CatalogOptions.defaults());
    var plugin = new ControllerPlugin(catalog, NodeDirectory.of(Set.of("node-1")), null);
    var server = plugin.serve(Path.of(args[1]), null);
    System.out.println("READY");
    System.out.flush();
    server.awaitTermination();
  }
}
