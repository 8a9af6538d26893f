#!/usr/bin/env bash
# `make bench`: the codec's frontier (scripts/bench-frontier.sh), the codec
# benchmark of the network presets (scripts/bench-codec.sh, when present),
# the filesystem benchmark (scripts/bench-fs.sh), the block-size table
# (bench-blocks.sh) and background compression (bench-compress.sh), in turn,
# each printing its results side by side with its baseline.
# Environment is passed through (BUILD, FS_BENCH_MB, FADE_CORPUS, ...).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rc=0
echo "== codec: the frontier (presets beside xz, zstd, zpaq, PPMd) =="
"$here/bench-frontier.sh" || { echo "bench: bench-frontier.sh failed" >&2; rc=1; }
echo
if [ -x "$here/bench-codec.sh" ]; then
    echo "== codec =="
    "$here/bench-codec.sh" || { echo "bench: bench-codec.sh failed" >&2; rc=1; }
    echo
fi
echo "== filesystem =="
"$here/bench-fs.sh" || { echo "bench: bench-fs.sh failed" >&2; rc=1; }
echo
echo "== compressed blocks: block size and streams =="
"$here/bench-blocks.sh" || { echo "bench: bench-blocks.sh failed" >&2; rc=1; }
echo
echo "== background compression =="
"$here/bench-compress.sh" || { echo "bench: bench-compress.sh failed" >&2; rc=1; }
exit $rc
