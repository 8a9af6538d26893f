#!/usr/bin/env bash
# Background compression benchmark, side by side in one run:
#
#   1. time until a store holding FILES is fully compressed, the coders'
#      throughput against `fade c -t N` on the same files (target: at least
#      0.9 of it), and the daemon's CPU seconds;
#   2. stored bytes against `fade c` with the same preset and block size
#      (target: within 3 %), xz -9e and zstd -19 --long;
#   3. cold reads: 4 KiB random reads of compressed blocks right after a
#      remount (each one decodes its block), p50/p99, and a sequential read
#      of a cold compressed file in MB/s;
#   4. the same machine busy against idle: cached 4 KiB random reads
#      (p50/p99) and a sequential write, once with the coders idle and once
#      while they code a stream of new data (targets: p99 at most 1.5x
#      idle, write at least 0.8x idle).
#
# Environment: COMPRESS_BENCH_FILES (corpus file names; default: all of
# ../shared/corpus), COMPRESS_BENCH_PRESET (default: the filesystem's),
# COMPRESS_BENCH_BS (default 256K), COMPRESS_BENCH_COLD_READS (default 16),
# COMPRESS_BENCH_WRITE_MB (default 256), COMPRESS_BENCH_PARTS (default
# "1 3 4": 2 comes with 1; "3 4" skips the long compression comparison),
# BUILD, FADE_CORPUS, TMPDIR.
# Needs root for dropping the page cache (else the cold rows say so).
set -uo pipefail

BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${FADE_CORPUS:-$root/../shared/corpus}
FADEFS=$BUILD/fadefs
STAT=$BUILD/fadefs-stat
FADE=$BUILD/fade
FSBENCH=$BUILD/tools/fsbench
PRESET=${COMPRESS_BENCH_PRESET:-}
BS=${COMPRESS_BENCH_BS:-256K}
NCOLD=${COMPRESS_BENCH_COLD_READS:-16}
WMB=${COMPRESS_BENCH_WRITE_MB:-256}
NCPU=$(nproc)
PARTS=" ${COMPRESS_BENCH_PARTS:-1 3 4} "
want() { [[ $PARTS == *" $1 "* ]]; }

die() { echo "bench-compress: $*" >&2; exit 1; }
for b in "$FADEFS" "$STAT" "$FADE" "$FSBENCH"; do
    [ -x "$b" ] || die "no $b (run make all $FSBENCH)"
done
[ -d "$CORPUS" ] || die "no corpus at $CORPUS"
command -v xz >/dev/null && command -v zstd >/dev/null || die "xz and zstd needed (scripts/deps.sh)"
if [ -z "$PRESET" ]; then
    # The filesystem's default (fs_sched.h: FS_SCHED_PRESET), from its help.
    PRESET=$("$FADEFS" --help | sed -n '/-o preset=NAME/{n;s/^ *\([a-z-]*\);.*/\1/p}' | head -n1)
    [ -n "$PRESET" ] || die "cannot tell the default preset from fadefs --help"
fi
if [ -n "${COMPRESS_BENCH_FILES:-}" ]; then
    read -r -a names <<<"$COMPRESS_BENCH_FILES"
else
    names=()
    for f in "$CORPUS"/*; do
        case $f in *.md) continue ;; esac
        names+=("$(basename "$f")")
    done
fi
[ ${#names[@]} -gt 0 ] || die "no files"

work=$(mktemp -d "${TMPDIR:-/tmp}/fadefs-cbench.XXXXXX") || die mktemp
store=$work/store; mnt=$work/mnt; log=$work/fadefs.log
mkdir -p "$store" "$mnt"
pid=""
is_mounted() { awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/self/mounts; }
mount_fs() {
    "$FADEFS" -f -o "preset=$PRESET,cold=0,block_size=$BS" "$store" "$mnt" >>"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 400); do
        is_mounted "$mnt" && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "fadefs exited before mounting"; }
        sleep 0.05
    done
    die "mount not live after 20 s"
}
umount_fs() {
    [ -n "$pid" ] || return 0
    fusermount3 -u "$mnt" 2>/dev/null || { sleep 1; fusermount3 -u "$mnt"; }
    wait "$pid" 2>/dev/null
    pid=""
}
cleanup() { umount_fs; rm -rf "$work"; }
trap cleanup EXIT
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null && echo dropped || echo "not dropped (not root)"; }
json() { grep -o "\"$1\":[0-9.]*" | head -n1 | cut -d: -f2; }   # the store's, not a row's

total=0
for n in "${names[@]}"; do
    [ -f "$CORPUS/$n" ] || die "$CORPUS/$n missing"
    total=$((total + $(stat -c %s "$CORPUS/$n")))
done
echo "bench-compress: ${#names[@]} files, $total bytes; preset $PRESET, block $BS, $NCPU CPUs"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1 and 2: the store against fade c, xz, zstd ----
mount_fs
c0=$(cpu_s "$pid"); t0=$(now)
for n in "${names[@]}"; do cp "$CORPUS/$n" "$mnt/$n"; done
"$STAT" --wait --interval 60 "$mnt" >/dev/null 2>"$work/wait.log" || { cat "$work/wait.log" >&2; die "fadefs-stat --wait failed"; }
t1=$(now); c1=$(cpu_s "$pid")
if want 1; then
"$STAT" --json "$mnt" >"$work/stat.json"
logical=$(json logical_bytes <"$work/stat.json"); stored=$(json stored_bytes <"$work/stat.json")
kept=$(json blocks_kept_raw <"$work/stat.json"); comp=$(json blocks_compressed <"$work/stat.json")
pool_s=$(calc "$t1 - $t0"); daemon_cpu=$(calc "$c1 - $c0")

fade_bytes=0; fade_s=0; xz_bytes=0; zstd_bytes=0
for n in "${names[@]}"; do
    ta=$(now)
    "$FADE" c -q -f -t "$NCPU" -b "$BS" -m "$PRESET" "$CORPUS/$n" "$work/f.fade" || die "fade c $n"
    tb=$(now)
    fade_s=$(calc "$fade_s + $tb - $ta")
    fade_bytes=$((fade_bytes + $(stat -c %s "$work/f.fade")))
    xz_bytes=$((xz_bytes + $(xz -9e -T1 -c "$CORPUS/$n" | wc -c)))
    zstd_bytes=$((zstd_bytes + $(zstd -19 --long=27 -q -c "$CORPUS/$n" | wc -c)))
done
echo
echo "1. time to compress (wall s; KB/s = logical bytes / wall; 1000 bytes)"
printf "   %-34s %8s %10s %10s\n" "" "seconds" "KB/s" "ratio"
printf "   %-34s %8.1f %10.1f %10s\n" "fadefs coders ($NCPU), write to drained" "$pool_s" "$(calc "$total / $pool_s / 1000")" "$(calc "($total / $pool_s) / ($total / $fade_s)")"
printf "   %-34s %8.1f %10.1f %10s\n" "fade c -t $NCPU -b $BS (same files)" "$fade_s" "$(calc "$total / $fade_s / 1000")" "1.000"
echo "   daemon CPU while compressing: $daemon_cpu s; blocks: $comp compressed, $kept kept raw"
echo
echo "2. size (bytes; ratio = original / compressed)"
printf "   %-34s %12s %8s %16s\n" "" "bytes" "ratio" "store / this"
printf "   %-34s %12d %8s %16s\n" "fadefs store (stored bytes)" "$stored" "$(calc "$total / $stored")" "1.000"
printf "   %-34s %12d %8s %16s\n" "fade c (same preset, block)" "$fade_bytes" "$(calc "$total / $fade_bytes")" "$(calc "$stored / $fade_bytes")"
printf "   %-34s %12d %8s %16s\n" "xz -9e" "$xz_bytes" "$(calc "$total / $xz_bytes")" "$(calc "$stored / $xz_bytes")"
printf "   %-34s %12d %8s %16s\n" "zstd -19 --long=27" "$zstd_bytes" "$(calc "$total / $zstd_bytes")" "$(calc "$stored / $zstd_bytes")"
echo "   (logical bytes in blocks: $logical; segment files hold dead raw payloads until compaction)"
fi

# ---- 3: cold reads ----
big=""; bigsz=0
for n in "${names[@]}"; do
    s=$(stat -c %s "$CORPUS/$n")
    case $n in *.jpeg|*.jpg) continue ;; esac
    [ "$s" -gt "$bigsz" ] && { big=$n; bigsz=$s; }
done
if want 3; then
umount_fs; dc=$(drop_caches); mount_fs
r=$("$FSBENCH" randread "$mnt/$big" "$NCOLD" 4096 0 7) || die "randread"
umount_fs; drop_caches >/dev/null; mount_fs
sr=$("$FSBENCH" seqread "$mnt/$big") || die "seqread"
echo
echo "3. cold reads of compressed blocks ($big, $bigsz bytes; page cache $dc; fresh mount)"
echo "   $NCOLD random 4 KiB reads: $(sed 's/.*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/p50 \1 us, p99 \2 us/' <<<"$r")"
echo "   sequential read: $sr"
fi

# ---- 4: busy against idle ----
want 4 || exit 0
# Busy first: a backlog of queued compressible blocks (three copies of
# the largest file) keeps every coder working through the measurements
# and nothing else runs meanwhile; idle after the queue has drained.
head -c $((WMB << 20)) /dev/urandom >"$work/src.bin"
cp "$CORPUS/$big" "$mnt/warm"
"$STAT" --wait "$mnt" >/dev/null 2>&1
# O_DIRECT reads: every one reaches the daemon and its block cache (the
# kernel's page cache would answer them without it).  The first pass
# decodes the blocks into the cache.
"$FSBENCH" randread "$mnt/warm" 2000 4096 0 3 direct >/dev/null
for i in 1 2 3; do cp "$CORPUS/$big" "$mnt/backlog$i"; done
sleep 2
busy=$("$STAT" --json "$mnt" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' | head -n1)
rb=$("$FSBENCH" randread "$mnt/warm" 20000 4096 0 5 direct)
wb=$("$FSBENCH" seqwrite "$work/src.bin" "$mnt/w"); rm -f "$mnt/w"
busy2=$("$STAT" --json "$mnt" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' | head -n1)
"$STAT" --wait "$mnt" >/dev/null 2>&1
ri=$("$FSBENCH" randread "$mnt/warm" 20000 4096 0 5 direct)
wi=$("$FSBENCH" seqwrite "$work/src.bin" "$mnt/w"); rm -f "$mnt/w"
busy="$busy, then $busy2"
p99i=$(sed 's/.*p99_us=\([0-9.]*\).*/\1/' <<<"$ri"); p99b=$(sed 's/.*p99_us=\([0-9.]*\).*/\1/' <<<"$rb")
p50i=$(sed 's/.*p50_us=\([0-9.]*\).*/\1/' <<<"$ri"); p50b=$(sed 's/.*p50_us=\([0-9.]*\).*/\1/' <<<"$rb")
mbi=$(sed 's/.*MBps=\([0-9.]*\).*/\1/' <<<"$wi"); mbb=$(sed 's/.*MBps=\([0-9.]*\).*/\1/' <<<"$wb")
echo
echo "4. while the coders are busy (state before and after: $busy) against idle; reads O_DIRECT (daemon cache)"
printf "   %-30s %10s %10s %8s\n" "" "idle" "busy" "busy/idle"
printf "   %-30s %10s %10s %8s\n" "cached 4K read p50 (us)" "$p50i" "$p50b" "$(calc "$p50b / $p50i")"
printf "   %-30s %10s %10s %8s\n" "cached 4K read p99 (us)" "$p99i" "$p99b" "$(calc "$p99b / $p99i")"
printf "   %-30s %10s %10s %8s\n" "sequential write $WMB MiB (MB/s)" "$mbi" "$mbb" "$(calc "$mbb / $mbi")"
