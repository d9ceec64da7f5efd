#!/usr/bin/env bash
# Stages sluice for a package or an image: the `npm pack` of this checkout unpacked into DIR,
# with its production dependencies installed from package-lock.json (no install scripts) and
# the N-API package DogStatsD's unixgram:// socket needs. The image and the Debian package both
# ship what this makes.
#
#   scripts/stage-app.sh DIR
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:?usage: scripts/stage-app.sh DIR}"
packed="$(mktemp -d)"
trap 'rm -rf "$packed"' EXIT

(cd "$root" && npm pack --silent --pack-destination "$packed" >/dev/null)
mkdir -p "$dir"
tar -xzf "$packed"/sluice-*.tgz -C "$dir" --strip-components=1
cp "$root/package-lock.json" "$dir/"
(cd "$dir" &&
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent &&
  npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund --silent node-unix-socket@0.2.7)
rm -f "$dir/package-lock.json"
