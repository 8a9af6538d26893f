#!/usr/bin/env bash
# `make bench`: the codec benchmark (scripts/bench-codec.sh, when present)
# and the filesystem benchmark (scripts/bench-fs.sh), one after the other,
# each printing its results side by side with its baseline.
# Environment is passed through (BUILD, FS_BENCH_MB, FADE_CORPUS, ...).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rc=0
if [ -x "$here/bench-codec.sh" ]; then
    echo "== codec =="
    "$here/bench-codec.sh" || { echo "bench: bench-codec.sh failed" >&2; rc=1; }
    echo
fi
echo "== filesystem =="
"$here/bench-fs.sh" || { echo "bench: bench-fs.sh failed" >&2; rc=1; }
exit $rc
