#!/bin/sh
# The JVM launcher of the image and of ./bucketdisk: the JVM flags live here only. FFM (netlink) needs native access.
# `gateway` and `dev` get a heap sized from --cache-size (default 1Gi): cache + 80 MiB, an old generation of the
# cache + 48 MiB and a young one of 32 MiB, all of it used, on the serial collector. G1 lost here: its 1 MiB
# regions hold a 4 MiB chunk array in 5, so a cache of whole chunks needs 25% more heap than its bytes (the old heap,
# cache + cache/16 + 128 MiB on G1, ran out at 1Gi and reads failed with EIO), and its own tables took ~47 MiB beside
# a 400 MiB heap. Every command gets the native bounds below: 2 malloc arenas, a 64 MiB code cache, 128 MiB of
# metaspace, idle malloc memory trimmed every 5 s, NIO's per-thread temporary direct buffers not cached (capped at
# 256 KiB they still held ~45 MiB in ~1,150 buffers at 256 MiB of cache; not cached, peak RSS 506 against 539-550),
# and at most 40 MiB for any one JIT compilation (C2 once took 98 MiB for the S3 SDK's auth scheme resolver, a
# transient of ~110 MiB; a compilation over the bound is dropped and the method keeps its C1 code). Peak RSS is the cache + ~150-280 MiB (bench/memory-flags.sh, docs/cache.md#memory).
# With --disk-cache-size the heap also holds the disk tier's index: 128 bytes per 64 KiB slot (size / 512).
# That heap is committed from the start (-Xms = -Xmx: no collection only to grow it) and, where the kernel offers
# transparent huge pages on request (madvise), backed by them: a fresh gateway's pages are first touched as the
# cache fills, and 4 KiB faults there cost a first cold read a fifth of its speed (docs/cache.md#memory). It is not
# pre-touched: that costs a start (a gateway restart that the attached volumes wait out) ~2 s per GiB here.
# A JVM out of heap exits (-XX:+ExitOnOutOfMemoryError, status 3): the thread that ran out may have been serving a
# request that then never got a reply (seen on ZGC with this heap, which rounds a 4 MiB array up to a 6 MiB page), and
# a restart (the DaemonSet's, the kill tests' contract) serves the volumes again where a half-working process would not.
# JAVA_TOOL_OPTIONS and BUCKETDISK_JAVA_OPTS add more (a -Xmx there wins; so does a collector named after
# -XX:-UseSerialGC, and then the cache's part of the heap is half as much again). JAVA and BUCKETDISK_CLASSPATH point
# elsewhere (./bucketdisk).
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

gc="-XX:+UseG1GC"; heap=""
case "$command" in
  gateway|dev)
    # a young generation of 32 MiB, an old one of the cache + 48 MiB: the JVM's default young, a third, left the old
    # one smaller than the cache, and then every collection was a full one (121 in a 15 s random read at 256 MiB of
    # cache, a quarter of the IOPS); a ninth of the heap (the launcher until part 20) grew with the cache, past what
    # the garbage of requests needs, and put a 1 GiB cache's RSS past its + 256 MiB bound
    gc="-XX:+UseSerialGC"
    bytes=$(quantity_bytes "${cache:-1Gi}")
    # a size the launcher cannot read is left to the command, which names the fix
    index=0
    [ -n "$disk" ] && index=$(quantity_bytes "$disk")
    if [ -n "$bytes" ]; then
      young="-Xmn32m"
      case "${JAVA_TOOL_OPTIONS:-} ${BUCKETDISK_JAVA_OPTS:-}" in
        # another collector of the caller's: ZGC puts a 4 MiB chunk array on a 6 MiB page and G1 (1-2 MiB regions)
        # on 5-6 MiB, so the cache gets half as much again; its young generation is left to that collector
        *-XX:-UseSerialGC*) bytes=$((bytes * 3 / 2)); young="" ;;
      esac
      mb=$(( (bytes + ${index:-0} / 512) / 1048576 + 80 ))
      case "${JAVA_TOOL_OPTIONS:-} ${BUCKETDISK_JAVA_OPTS:-}" in
        *-Xmx*) ;;  # theirs wins, and a -Xms of ours above it would stop the JVM
        *) heap="-Xms${mb}m -Xmx${mb}m $young" ;;
      esac
    fi
    case "$(cat "${BUCKETDISK_THP_ENABLED:-/sys/kernel/mm/transparent_hugepage/enabled}" 2>/dev/null)" in
      *"[madvise]"*) heap="$heap -XX:+UseTransparentHugePages" ;;
    esac
    ;;
esac
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

# shellcheck disable=SC2086 # $gc, $heap and $BUCKETDISK_JAVA_OPTS are lists of flags
exec "$java" --enable-native-access=ALL-UNNAMED $gc -Xss512k -XX:-UsePerfData -XX:+ExitOnOutOfMemoryError $heap \
  -XX:ReservedCodeCacheSize=64m -XX:MaxMetaspaceSize=128m -XX:TrimNativeHeapInterval=5000 \
  -XX:CompileCommand=quiet '-XX:CompileCommand=MemLimit,*.*,40m' \
  -Djdk.nio.maxCachedBufferSize=0 ${BUCKETDISK_JAVA_OPTS:-} -cp "$classpath" io.bucketdisk.app.Main "$@"
