#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmarks need,
# and only those that are missing, so that a machine that has them all does
# not touch the network.
set -euo pipefail
#
#   scripts/deps.sh           what the build and the tests need
#   scripts/deps.sh --bench   also the benchmarks' baselines and plotting
pkgs=(gcc make pkg-config libfuse3-dev fuse3 libsqlite3-dev libcriterion-dev
      sqlite3 xz-utils zstd clang)
if [ "${1:-}" = --bench ]; then
    pkgs+=(zpaq p7zip-full gnuplot-nox)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q "${missing[@]}" >/dev/null
}
