# Sourced by ./bucketdisk and scripts/test.sh: exports JAVA_HOME pointing at a JDK 25 or newer, or explains.
bd_java_version() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/{print $2}'; }
bd_find_java() {
  local candidates=() c v
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/java-25-* /usr/lib/jvm/jdk-25* /usr/lib/jvm/*)
  command -v java >/dev/null 2>&1 && candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    v=$(bd_java_version "$c")
    if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then export JAVA_HOME="$c"; return 0; fi
  done
  echo "bucketdisk needs a JDK 25 or newer and found none (looked at \$JAVA_HOME, /usr/lib/jvm and java on PATH)." >&2
  echo "Install one (e.g. Temurin 25 from https://adoptium.net, or apt-get install temurin-25-jdk) and set JAVA_HOME to it." >&2
  return 1
}
