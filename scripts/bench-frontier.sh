#!/usr/bin/env bash
# The codec's frontier: every corpus file compressed and decompressed by each
# FADE preset of FRONTIER_PRESETS and by xz -9e, zstd -19 --long=27,
# zpaq -m4, zpaq -m5 and 7-Zip's PPMd, one thread each, in one run on this
# machine; every round trip is compared byte for byte.  Prints, per file,
# each codec's ratio; per type and in total, ratio and compress / decompress
# KB/s per core (1000 bytes; CPU seconds, user + sys, so a loaded machine
# slows the clock but not the count much); draws ratio against speed into
# $BUILD/frontier.png (gnuplot); and times the decode of one block of 64
# KiB, 256 KiB and 1 MiB with -t 1 and -t 2.
#
# Environment:
#   BUILD               build folder holding `fade` (default build)
#   FADE_CORPUS         corpus folder (default ../shared/corpus beside the repo)
#   FRONTIER_FILES      files (names in the corpus; default every file but *.md)
#   FRONTIER_PRESETS    FADE presets (default "mix"; add max for the ratio end,
#                       which runs at a few KB/s)
#   FRONTIER_BASELINES  0 leaves the other tools out (default 1)
#   FRONTIER_LATENCY    0 skips the block latency table (default 1)
# Raw results: $BUILD/bench/frontier.tsv (file type codec bytes packed c_s d_s).
set -euo pipefail

BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
FADE=$BUILD/fade
CORPUS=${FADE_CORPUS:-$root/../shared/corpus}
PRESETS=${FRONTIER_PRESETS:-mix}
BASELINES=${FRONTIER_BASELINES:-1}
die() { echo "bench-frontier: $*" >&2; exit 1; }
[ -x "$FADE" ] || die "no $FADE (run: make)"
[ -d "$CORPUS" ] || die "no corpus folder $CORPUS (set FADE_CORPUS)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package time)"
if [ "$BASELINES" != 0 ]; then
    for t in xz zstd zpaq 7z; do
        command -v $t >/dev/null || die "$t not found (scripts/deps.sh --bench installs it)"
    done
fi

files=()
if [ -n "${FRONTIER_FILES:-}" ]; then
    for f in $FRONTIER_FILES; do
        [ -f "$CORPUS/$f" ] || die "no such corpus file: $f"
        files+=("$f")
    done
else
    for f in "$CORPUS"/*; do
        [ -f "$f" ] && [ "${f%.md}" = "$f" ] && files+=("$(basename "$f")")
    done
fi
[ ${#files[@]} -gt 0 ] || die "no files in $CORPUS"

# The type of each file, from the corpus manifest (else "other").
type_of() {
    local t=""
    [ -f "$CORPUS/MANIFEST.md" ] &&
        t=$(awk -F'|' -v f="\`$1\`" '$2 ~ f { gsub(/ /, "", $6); print $6; exit }' \
            "$CORPUS/MANIFEST.md")
    echo "${t:-other}"
}

codecs=()
for p in $PRESETS; do codecs+=("fade-$p"); done
[ "$BASELINES" != 0 ] && codecs+=(xz-9e zstd-19 zpaq-m4 zpaq-m5 7z-ppmd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$BUILD/bench"
tsv=$BUILD/bench/frontier.tsv
: > "$tsv"

# cpu CMD...: runs CMD, leaves its user + sys seconds in $cpu_s.
cpu() {
    /usr/bin/time -f "%U %S" -o "$work/time" "$@"
    cpu_s=$(awk '{ printf "%.3f", $1 + $2 }' "$work/time")
}

# run CODEC FILE: compresses and decompresses one file; appends its line.
run() {
    local c=$1 f=$2 in=$CORPUS/$2 packed c_s d_s
    rm -rf "$work/x"; mkdir -p "$work/x"
    case $c in
        fade-*)
            cpu "$FADE" c -q -f -t 1 -m "${c#fade-}" "$in" "$work/x/p"; c_s=$cpu_s
            cpu "$FADE" d -q -f -t 1 "$work/x/p" "$work/x/back"; d_s=$cpu_s ;;
        xz-9e)
            cpu sh -c 'xz -9e -T1 -c "$1" > "$2"' - "$in" "$work/x/p"; c_s=$cpu_s
            cpu sh -c 'xz -d -T1 -c "$1" > "$2"' - "$work/x/p" "$work/x/back"; d_s=$cpu_s ;;
        zstd-19)
            cpu sh -c 'zstd -q -19 --long=27 -T1 -c "$1" > "$2"' - "$in" "$work/x/p"; c_s=$cpu_s
            cpu sh -c 'zstd -q -d --long=27 -c "$1" > "$2"' - "$work/x/p" "$work/x/back"
            d_s=$cpu_s ;;
        zpaq-m*)
            cp "$in" "$work/x/$f"
            cpu sh -c 'cd "$1" && zpaq a p.zpaq "$2" -m"$3" -t1 >/dev/null 2>&1' - \
                "$work/x" "$f" "${c#zpaq-m}"; c_s=$cpu_s
            rm "$work/x/$f"; mkdir "$work/x/o"
            cpu sh -c 'cd "$1" && zpaq x ../p.zpaq -to . -t1 >/dev/null 2>&1' - "$work/x/o"
            d_s=$cpu_s; mv "$work/x/o/$f" "$work/x/back"; mv "$work/x/p.zpaq" "$work/x/p" ;;
        7z-ppmd)
            cpu sh -c '7z a -m0=PPMd -mx=9 -mmt=1 "$2" "$1" >/dev/null' - "$in" "$work/x/p.7z"
            c_s=$cpu_s; mv "$work/x/p.7z" "$work/x/p"
            cpu sh -c '7z e -so -t7z "$1" > "$2" 2>/dev/null' - "$work/x/p" "$work/x/back"
            d_s=$cpu_s ;;
    esac
    cmp -s "$in" "$work/x/back" || die "$c: $f does not round-trip"
    packed=$(stat -c %s "$work/x/p")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$(type_of "$f")" "$c" \
        "$(stat -c %s "$in")" "$packed" "$c_s" "$d_s" >> "$tsv"
}

echo "# frontier: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# ratio per file (original / compressed); every round trip compared"
printf '%-34s %-7s %10s' file type bytes
for c in "${codecs[@]}"; do printf ' %9s' "$c"; done
echo
for f in "${files[@]}"; do
    for c in "${codecs[@]}"; do run "$c" "$f"; done
    awk -F'\t' -v f="$f" -v list="${codecs[*]}" '
        $1 == f { r[$3] = $4 / $5; t = $2; b = $4 }
        END {
            printf "%-34s %-7s %10d", f, t, b
            n = split(list, cs, " ")
            for (i = 1; i <= n; i++) printf " %9.3f", r[cs[i]]
            printf "\n"
        }' "$tsv"
done

echo
echo "# per type and in total: ratio, compress KB/s, decompress KB/s (per core)"
awk -F'\t' -v list="${codecs[*]}" '
    { k = $2 SUBSEP $3; raw[k] += $4; pk[k] += $5; cs[k] += $6; ds[k] += $7
      K = "TOTAL" SUBSEP $3; raw[K] += $4; pk[K] += $5; cs[K] += $6; ds[K] += $7
      if (!($2 in seen)) { seen[$2] = 1; types[++nt] = $2 } }
    END {
        n = split(list, c, " ")
        printf "%-8s", "type"
        for (i = 1; i <= n; i++) printf " %24s", c[i]
        printf "\n"
        types[++nt] = "TOTAL"
        for (j = 1; j <= nt; j++) {
            printf "%-8s", types[j]
            for (i = 1; i <= n; i++) {
                k = types[j] SUBSEP c[i]
                printf " %7.3f %7.0f %8.0f", raw[k] / pk[k], raw[k] / 1000 / (cs[k] > 0 ? cs[k] : 1e-3),
                       raw[k] / 1000 / (ds[k] > 0 ? ds[k] : 1e-3)
            }
            printf "\n"
        }
    }' "$tsv" | tee "$BUILD/bench/frontier-totals.txt"

# The picture: total ratio against compress and decompress KB/s.
awk -F'\t' '{ raw[$3] += $4; pk[$3] += $5; cs[$3] += $6; ds[$3] += $7 }
    END { for (c in raw) printf "%s %.4f %.2f %.2f\n", c, raw[c] / pk[c],
              raw[c] / 1000 / (cs[c] > 0 ? cs[c] : 1e-3),
              raw[c] / 1000 / (ds[c] > 0 ? ds[c] : 1e-3) }' "$tsv" > "$BUILD/bench/frontier.dat"
if command -v gnuplot >/dev/null; then
    gnuplot <<EOF
set terminal pngcairo size 900,600 noenhanced
set output "$BUILD/frontier.png"
set title "Ratio against speed, $(nproc)-CPU machine, one thread, $(wc -l < "$tsv") runs"
set xlabel "KB/s per core (log scale)"
set ylabel "total ratio (original / compressed)"
set logscale x
set grid
set key top right
plot "$BUILD/bench/frontier.dat" using 3:2 with points pt 7 ps 1.5 title "compress", \
     "" using 4:2 with points pt 6 ps 1.5 title "decompress", \
     "" using 3:2:1 with labels offset 0,1 notitle
EOF
    echo "# picture: $BUILD/frontier.png"
else
    echo "# gnuplot not found: no picture (scripts/deps.sh --bench installs it)"
fi

[ "${FRONTIER_LATENCY:-1}" = 0 ] && exit 0
echo
echo "# one block's decode, seconds of wall clock (fade d of a one-block file;"
echo "# includes process start), first bytes of three files, default preset"
printf '%-28s %6s %10s %10s %10s\n' file block bytes "-t 1" "-t 2"
for f in enwik6 Chinook_Sqlite.sqlite astronaut.ppm; do
    [ -f "$CORPUS/$f" ] || continue
    for b in 64K 256K 1M; do
        case $b in *K) n=$(( ${b%K} * 1024 )) ;; *M) n=$(( ${b%M} * 1048576 )) ;; esac
        head -c "$n" "$CORPUS/$f" > "$work/blk"
        "$FADE" c -q -f -t 1 -b "$b" "$work/blk" "$work/blk.fade"
        row=()
        for t in 1 2; do
            s=$(date +%s.%N)
            "$FADE" d -q -f -t "$t" "$work/blk.fade" "$work/blk.back"
            e=$(date +%s.%N)
            cmp -s "$work/blk" "$work/blk.back" || die "latency: $f $b does not round-trip"
            row+=("$(echo "$e - $s" | bc -l)")
        done
        printf '%-28s %6s %10d %10.3f %10.3f\n' "$f" "$b" "$n" "${row[0]}" "${row[1]}"
    done
done
