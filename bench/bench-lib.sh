# Sourced from the repository root by bench/engine-bench.sh, bench/stream-timeline.sh and bench/run.sh: sizes, CPU
# ticks, free ports, and the counting s3proxy on loopback (start_s3proxy needs $java and $work set, and a die function).

bytes_of() { # 256M / 1G / 4096 -> bytes
  python3 -c 'import sys; s=sys.argv[1].upper().rstrip("IB"); m={"K":10,"M":20,"G":30,"T":40}
print(int(s[:-1]) << m[s[-1]] if s[-1] in m else int(s))' "$1"
}
cpu_ticks() { awk '{print $14 + $15}' "$1"; }  # /proc/PID/stat or /proc/PID/task/TID/stat -> user + system, ticks
clk_tck=$(getconf CLK_TCK)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts bench/CountingS3Proxy.java (s3proxy, counting requests on the server side) on $work/blobs and sets s3pid,
# s3_endpoint and counters_url. Built from the store module's test class path in one reactor run: that path names its
# sibling modules (testing, common) by their target dirs, which exist only in the same run (nothing is installed);
# the store is built last, so its path is the file's.
start_s3proxy() {
  ./mvnw -B -ntp -o -q -pl store -am test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$work/store-test.cp" >"$work/store-build.log" 2>&1 \
    || { tail -30 "$work/store-build.log" >&2; die "the store module's tests do not compile (needed for s3proxy)"; }
  "$java" -Xmx512m -cp "store/target/test-classes:$(cat "$work/store-test.cp")" bench/CountingS3Proxy.java \
    "$work/blobs" "$work/s3.endpoint" >"$work/s3proxy.log" 2>&1 &
  s3pid=$!
  for _ in $(seq 1 600); do [ -s "$work/s3.endpoint" ] && break; kill -0 "$s3pid" 2>/dev/null || break; sleep 0.1; done
  [ -s "$work/s3.endpoint" ] || die "s3proxy did not start (log: $work/s3proxy.log)"
  s3_endpoint=$(sed -n 's/^s3=//p' "$work/s3.endpoint")
  counters_url=$(sed -n 's/^counters=//p' "$work/s3.endpoint")
}
s3_url() { # prefix -> the gateway's store URL; s3proxy's If-Match is not atomic, and one gateway runs at a time here
  python3 -c 'import sys,urllib.parse as u; print("s3://bucketdisk/"+sys.argv[2]+"?endpoint="+u.quote(sys.argv[1],safe="")
+"&region=us-east-1&path-style=true&access-key=access&secret-key=secret&accept-unfenced=true")' "$s3_endpoint" "$1"
}
