#!/bin/sh
# The image's entry point (deploy/Dockerfile): the same JVM flags as the ./bucketdisk launcher; FFM (netlink) needs
# native access. JAVA_TOOL_OPTIONS adds more.
exec java --enable-native-access=ALL-UNNAMED -XX:+UseZGC -Xss512k -XX:-UsePerfData \
  -cp '/opt/bucketdisk/lib/*' io.bucketdisk.app.Main "$@"
