#!/usr/bin/env bash
# Block size and sub-streams for the filesystem's compressed blocks: for
# each preset, block size and stream count, the ratio over a few corpus
# files and what a cold read costs (the CPU seconds to decode one block on
# one core: a read of a block nobody has cached waits that long).
#
# Environment: BLOCKS_BENCH_FILES (corpus names; default a text, a log, a
# binary and an image), BLOCKS_BENCH_PRESETS (default "mix tiny-match
# primed-match"), BLOCKS_BENCH_SIZES (default "64K 256K 1M"),
# BLOCKS_BENCH_STREAMS (default "0": one per 64 KiB; e.g. "0 16"), BUILD,
# FADE_CORPUS, TMPDIR.
set -uo pipefail
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${FADE_CORPUS:-$root/../shared/corpus}
FADE=$BUILD/fade
read -r -a files <<<"${BLOCKS_BENCH_FILES:-enwik6 HDFS_2k.log bash_x86-64.elf camera.pgm}"
read -r -a presets <<<"${BLOCKS_BENCH_PRESETS:-mix tiny-match primed-match}"
read -r -a sizes <<<"${BLOCKS_BENCH_SIZES:-64K 256K 1M}"
read -r -a streams <<<"${BLOCKS_BENCH_STREAMS:-0}"
[ -x "$FADE" ] || { echo "bench-blocks: no $FADE (run make)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fadefs-bblk.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
bytes() { stat -c %s "$1"; }
tobytes() { case $1 in *K) echo $(( ${1%K} << 10 ));; *M) echo $(( ${1%M} << 20 ));; *) echo "$1";; esac; }

total=0
for f in "${files[@]}"; do total=$((total + $(bytes "$CORPUS/$f"))); done
echo "bench-blocks: ${files[*]} ($total bytes), one thread; decode s = CPU seconds per block"
printf "%-14s %6s %8s %12s %8s %14s %14s\n" preset block streams bytes ratio "decode s/blk" "c KB/s"
for p in "${presets[@]}"; do
    for bs in "${sizes[@]}"; do
        for s in "${streams[@]}"; do
            out=0; dcpu=0; ccpu=0; nblk=0
            sopt=(); [ "$s" != 0 ] && sopt=(-s "$s")
            for f in "${files[@]}"; do
                c=$( { /usr/bin/time -f "%U %S" "$FADE" c -q -f -t 1 -b "$bs" "${sopt[@]}" -m "$p" \
                        "$CORPUS/$f" "$work/x.fade" 2>&1 >/dev/null; } | tail -n1)
                d=$( { /usr/bin/time -f "%U %S" "$FADE" d -q -f "$work/x.fade" "$work/x.out" \
                        2>&1 >/dev/null; } | tail -n1)
                cmp -s "$CORPUS/$f" "$work/x.out" || { echo "bench-blocks: $f round trip FAILED" >&2; exit 1; }
                out=$((out + $(bytes "$work/x.fade")))
                ccpu=$(awk -v a="$ccpu" -v t="$c" 'BEGIN { split(t, x, " "); print a + x[1] + x[2] }')
                dcpu=$(awk -v a="$dcpu" -v t="$d" 'BEGIN { split(t, x, " "); print a + x[1] + x[2] }')
                b=$(tobytes "$bs")
                nblk=$(( nblk + ($(bytes "$CORPUS/$f") + b - 1) / b ))
            done
            awk -v p="$p" -v bs="$bs" -v s="$s" -v o="$out" -v t="$total" -v d="$dcpu" \
                -v c="$ccpu" -v n="$nblk" 'BEGIN {
                printf "%-14s %6s %8s %12d %8.3f %14.2f %14.1f\n", p, bs, s == 0 ? "1/64K" : s,
                       o, t / o, d / n, t / c / 1000 }'
        done
    done
done
