#!/bin/sh
# The image's entry point. Same JVM flags as the ./bucketdisk launcher; FFM (netlink) needs native access.
# JAVA_TOOL_OPTIONS adds more (for example a heap size from the pod's memory limit).
exec java --enable-native-access=ALL-UNNAMED -XX:+UseZGC -Xss512k -XX:-UsePerfData \
  -cp '/opt/bucketdisk/lib/*' io.bucketdisk.app.Main "$@"
