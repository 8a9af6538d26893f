#!/usr/bin/env bash
# Codec benchmark: for every corpus file, one line with the FADE ratio of the
# default preset next to xz -9e and zstd -19 --long=27 (both run here, in the
# same run), FADE's compress and decompress speed, and its arithmetic rate in
# GFLOP/s against the FMA peak measured on this machine; then the `paper`
# preset on the three reference files, one block per file and 512
# sub-streams, against the reference implementation's sizes.  Every FADE
# round trip is verified (`fade bench` decodes and compares in memory).
#
# Environment:
#   BUILD                build folder holding `fade` (default build)
#   FADE_BIN             the fade binary (default $BUILD/fade)
#   FADE_CORPUS          corpus folder (default ../shared/corpus next to the repo)
#   FADE_BENCH_FILES     files to measure, names in the corpus or paths
#                        (default: every file of the corpus but *.md)
#   FADE_BENCH_PRESET    preset of the main table (default: fade's default)
#   FADE_BENCH_BLOCK     block size of the main table (default: fade's default)
#   FADE_BENCH_THREADS   threads per fade run (default 1, so KB/s is per core)
#   FADE_BENCH_PAPER     0 skips the paper preset part (default 1; it runs at
#                        about 1.2 KB/s per core: some 35 minutes of one idle core)
#   FADE_BENCH_BASELINES 0 skips xz and zstd (default 1)
# Quick run: FADE_BENCH_FILES="alice29.txt html" FADE_BENCH_PAPER=0 scripts/bench-codec.sh
set -euo pipefail

BUILD=${BUILD:-build}
FADE=${FADE_BIN:-$BUILD/fade}
root=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${FADE_CORPUS:-$root/../shared/corpus}
THREADS=${FADE_BENCH_THREADS:-1}
PAPER=${FADE_BENCH_PAPER:-1}
BASELINES=${FADE_BENCH_BASELINES:-1}

die() { echo "bench-codec: $*" >&2; exit 1; }
[ -x "$FADE" ] || die "no $FADE (run: make $FADE)"
[ -d "$CORPUS" ] || die "no corpus folder $CORPUS (set FADE_CORPUS)"
if [ "$BASELINES" != 0 ]; then
    command -v xz >/dev/null || die "xz not found (install xz-utils, or FADE_BENCH_BASELINES=0)"
    command -v zstd >/dev/null || die "zstd not found (install zstd, or FADE_BENCH_BASELINES=0)"
fi
command -v awk >/dev/null || die "awk not found"

# The file list: names relative to the corpus, or paths as given.
files=()
if [ -n "${FADE_BENCH_FILES:-}" ]; then
    for f in $FADE_BENCH_FILES; do
        if [ -f "$f" ]; then files+=("$f")
        elif [ -f "$CORPUS/$f" ]; then files+=("$CORPUS/$f")
        else die "no such file: $f (neither a path nor in $CORPUS)"
        fi
    done
else
    for f in "$CORPUS"/*; do
        [ -f "$f" ] && [ "${f%.md}" = "$f" ] && files+=("$f")
    done
fi
[ ${#files[@]} -gt 0 ] || die "no files to measure in $CORPUS"

opts=(-t "$THREADS")
[ -n "${FADE_BENCH_PRESET:-}" ] && opts+=(-m "$FADE_BENCH_PRESET")
[ -n "${FADE_BENCH_BLOCK:-}" ] && opts+=(-b "$FADE_BENCH_BLOCK")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fade-bench.XXXXXX") || die "mktemp"
trap 'rm -rf "$tmp"' EXIT

# Compressed size of one file by a baseline tool (stdout counted, not kept).
csize() { "$@" | wc -c | tr -d ' '; }

# One `fade bench` run on one file: prints its data line
# (name bytes fade ratio ckbs dkbs gflops pct blocks check) and leaves the
# header lines in $tmp/head.  Fails if the round trip does not verify.
fade_line() {
    local out=$tmp/fade.out
    if ! "$FADE" bench -q "$@" >"$out" 2>"$tmp/fade.err"; then
        cat "$out" "$tmp/fade.err" >&2
        return 1
    fi
    grep '^#' "$out" | grep -v '^# file' >"$tmp/head" || true
    grep -v '^#' "$out" | tail -n 1
}

fmt='%-34s %10s %10s %8s %8s %8s %8s %8s %8s %6s %5s\n'
failed=0

# ---- main table: the default preset (or FADE_BENCH_PRESET) on every file ----
first=1
results=$tmp/results
: >"$results"
for f in "${files[@]}"; do
    line=$(fade_line "${opts[@]}" "$f") || { echo "bench-codec: $f: fade bench failed" >&2; failed=1; continue; }
    if [ $first = 1 ]; then
        cat "$tmp/head"
        echo "# ratio = bytes / compressed bytes; KB/s = 1000 bytes of input per second (wall clock)"
        printf "$fmt" "# file" "bytes" "fade bytes" "fade" "xz -9e" "zstd -19" "c KB/s" "d KB/s" "GFLOP/s" "%peak" "check"
        first=0
    fi
    read -r name bytes fsz ratio ckbs dkbs gf pct _blocks check <<<"$line"
    xsz=0; zsz=0
    if [ "$BASELINES" != 0 ]; then
        xsz=$(csize xz -9e -T1 -c "$f") || die "xz -9e failed on $f"
        zsz=$(csize zstd -q -19 --long=27 -c "$f") || die "zstd -19 failed on $f"
    fi
    [ "$check" = ok ] || failed=1
    echo "$name $bytes $fsz $xsz $zsz $ckbs $dkbs $gf $pct $check" >>"$results"
    awk -v fmt="$fmt" '{
        printf fmt, $1, $2, $3, sprintf("%.3f", $2 / $3),
            ($4 > 0 ? sprintf("%.3f", $2 / $4) : "-"), ($5 > 0 ? sprintf("%.3f", $2 / $5) : "-"),
            $6, $7, $8, $9, $10
    }' <<<"$name $bytes $fsz $xsz $zsz $ckbs $dkbs $gf $pct $check"
done

# Total: ratios are sum(bytes)/sum(compressed); speeds are sum(bytes) over
# the summed times; GFLOP/s is the time-weighted mean of the per-file rates.
awk -v fmt="$fmt" '
    { b += $2; f += $3; x += $4; z += $5
      tc = $2 / 1000 / $6; td = $2 / 1000 / $7; TC += tc; TD += td; G += $8 * tc; P += $9 * tc
      if ($4 > 0 && $3 >= $4) lx++
      n++ }
    END { if (!n) exit
          printf fmt, sprintf("TOTAL (%d files)", n), b, f, sprintf("%.3f", b / f),
              (x > 0 ? sprintf("%.3f", b / x) : "-"), (z > 0 ? sprintf("%.3f", b / z) : "-"),
              sprintf("%.1f", b / 1000 / TC), sprintf("%.1f", b / 1000 / TD),
              sprintf("%.3f", G / TC), sprintf("%.2f", P / TC), ""
          if (x > 0) printf "# fade is no smaller than xz -9e on %d of %d files\n", lx + 0, n }
' "$results"

# ---- paper preset on the reference files ----
if [ "$PAPER" != 0 ]; then
    echo
    echo "# paper preset, one block per file, 512 sub-streams, $THREADS thread(s)," \
         "against the reference implementation (512 streams, T16 D32)"
    pfmt='%-34s %10s %10s %8s %10s %8s %8s %8s %8s %6s %5s\n'
    printf "$pfmt" "# file" "bytes" "fade" "ratio" "reference" "ratio" "c KB/s" "d KB/s" "GFLOP/s" "%peak" "check"
    for ref in alice29.txt:56690 kppkn.gtb:31924 enwik6:275660; do
        name=${ref%%:*}; rsz=${ref##*:}; f=$CORPUS/$name
        [ -f "$f" ] || { echo "bench-codec: $f missing, skipped" >&2; continue; }
        bytes=$(wc -c <"$f" | tr -d ' ')
        kib=$(( (bytes + 1023) / 1024 ))
        line=$(fade_line -m paper -b "${kib}K" -s 512 -t "$THREADS" "$f") ||
            { echo "bench-codec: $f: fade bench (paper) failed" >&2; failed=1; continue; }
        read -r _ bytes fsz ratio ckbs dkbs gf pct _blocks check <<<"$line"
        [ "$check" = ok ] || failed=1
        verdict=$(awk -v a="$fsz" -v r="$rsz" 'BEGIN { print (a <= r ? "" : "  (larger than the reference)") }')
        printf "$pfmt" "$name" "$bytes" "$fsz" "$ratio" "$rsz" \
            "$(awk -v b="$bytes" -v r="$rsz" 'BEGIN { printf "%.3f", b / r }')" \
            "$ckbs" "$dkbs" "$gf" "$pct" "$check$verdict"
    done
fi

[ $failed = 0 ] || die "some runs failed or did not verify (see above)"
