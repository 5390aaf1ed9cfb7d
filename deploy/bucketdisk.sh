#!/bin/sh
# The JVM launcher of the image and of ./bucketdisk: the JVM flags live here only. FFM (netlink) needs native access.
# `gateway` and `dev` get a heap sized from --cache-size (default 1Gi): cache + 128 MiB + cache/16, collected by G1,
# so the process keeps to its cache plus a fixed overhead (docs/cache.md#memory); with --disk-cache-size, plus the
# disk tier's in-memory index (128 bytes per 64 KiB slot: size / 512). JAVA_TOOL_OPTIONS and
# BUCKETDISK_JAVA_OPTS add more (a -Xmx there wins). JAVA and BUCKETDISK_CLASSPATH point elsewhere (./bucketdisk).
java=${JAVA:-java}
classpath=${BUCKETDISK_CLASSPATH:-/opt/bucketdisk/lib/*}

# Bytes of a Kubernetes quantity (512Mi, 1Gi, 2G, 1500M, 4096); nothing when it is not one of those forms.
quantity_bytes() {
  q=$1; mult=1
  case "$q" in
    *Ki) q=${q%Ki}; mult=1024 ;;
    *Mi) q=${q%Mi}; mult=1048576 ;;
    *Gi) q=${q%Gi}; mult=1073741824 ;;
    *Ti) q=${q%Ti}; mult=1099511627776 ;;
    *k) q=${q%k}; mult=1000 ;;
    *M) q=${q%M}; mult=1000000 ;;
    *G) q=${q%G}; mult=1000000000 ;;
    *T) q=${q%T}; mult=1000000000000 ;;
  esac
  case "$q" in ''|*[!0-9]*) return 0 ;; esac
  echo $((q * mult))
}

command=""; cache=""; disk=""; previous=""
for arg in "$@"; do
  [ "$previous" = "--cache-size" ] && cache=$arg
  [ "$previous" = "--disk-cache-size" ] && disk=$arg
  case "$arg" in --cache-size=*) cache=${arg#--cache-size=} ;; --disk-cache-size=*) disk=${arg#--disk-cache-size=} ;; esac
  if [ -z "$command" ]; then case "$arg" in -*) ;; *) command=$arg ;; esac; fi
  previous=$arg
done

heap=""
case "$command" in
  gateway|dev)
    bytes=$(quantity_bytes "${cache:-1Gi}")
    # a size the launcher cannot read is left to the command, which names the fix
    index=0
    [ -n "$disk" ] && index=$(quantity_bytes "$disk")
    [ -n "$bytes" ] && heap="-Xmx$(( (bytes + bytes / 16 + ${index:-0} / 512) / 1048576 + 128 ))m"
    ;;
esac

# shellcheck disable=SC2086 # $heap and $BUCKETDISK_JAVA_OPTS are lists of flags
exec "$java" --enable-native-access=ALL-UNNAMED -XX:+UseG1GC -Xss512k -XX:-UsePerfData $heap \
  ${BUCKETDISK_JAVA_OPTS:-} -cp "$classpath" io.bucketdisk.app.Main "$@"
