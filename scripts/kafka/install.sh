#!/usr/bin/env bash
# Fetches Apache Kafka's broker (KRaft mode) from Maven Central, as jars, for the kafka sink's
# integration tests: a tiny pom naming org.apache.kafka:kafka_2.13 and `mvn
# dependency:copy-dependencies` put the broker and everything it needs into
#   .cache/kafka/<version>/libs      (KAFKA_CACHE overrides .cache/kafka)
# which `java -cp '<libs>/*' kafka.Kafka server.properties` runs with Java 17. No tarball, no
# other download: Maven Central is the registry this project may use, and the jars are the same
# ones the distribution ships.
#
# Idempotent: a finished install leaves a marker and later runs only print the path. Prints the
# libs directory as its last line.
#
#   scripts/kafka/install.sh            # 4.1.0
#   KAFKA_VERSION=3.9.1 scripts/kafka/install.sh
set -euo pipefail

# 4.1.0: the newest release @platformatic/kafka 1.x is tested against (3.5.0 to 4.1.0).
KAFKA_VERSION="${KAFKA_VERSION:-4.1.0}"
# Kafka logs through SLF4J 1.7; this binding routes it to the log4j-core 2.24 that kafka_2.13
# already depends on (the distribution ships the same pair). Without it the broker is silent.
LOG4J_VERSION="${LOG4J_VERSION:-2.24.3}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${KAFKA_CACHE:-$root/.cache/kafka}/$KAFKA_VERSION"
libs="$dest/libs"
marker="$dest/.installed"

if [ -f "$marker" ] && [ -d "$libs" ]; then
  echo "$libs"
  exit 0
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool is not on PATH (Debian: openjdk-17-jre-headless maven)" >&2; exit 1; }
done

mkdir -p "$dest"
work="$(mktemp -d "$dest/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM

echo "install.sh: fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven into $libs" >&2
mvn -q -B -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$work/libs" >&2

# The jar set is checked before it is moved into place, so a half-finished download is never
# taken for an install.
[ -f "$work/libs/kafka_2.13-$KAFKA_VERSION.jar" ] || { echo "install.sh: kafka_2.13-$KAFKA_VERSION.jar missing after mvn" >&2; exit 1; }
java -cp "$work/libs/*" kafka.tools.StorageTool random-uuid >/dev/null ||
  { echo "install.sh: the jars do not run kafka.tools.StorageTool" >&2; exit 1; }

rm -rf "$libs"
mv "$work/libs" "$libs"
touch "$marker"
echo "$libs"
