#!/usr/bin/env bash
# Filesystem benchmark: the same operations on a fadefs mount and on a plain
# directory of the same disk, side by side in one run, each printed with the
# ratio fadefs/plain (for rates: above 1 is faster than plain, below 1 slower).
#
#   sequential write of FS_BENCH_MB MiB (1 MiB writes, fsync at the end)
#   sequential read, uncached (page cache dropped, fadefs remounted) and cached
#   random 4 KiB reads, cached (64 MiB range, warmed) and uncached (whole file)
#   create+write / stat / unlink of FS_BENCH_FILES small files
# and the daemon's CPU time during the sequential write (steadier than the
# rates on a shared machine).
#
# Environment: FS_BENCH_MB (default 1024), FS_BENCH_FILES (default 10000),
# FS_BENCH_RAND (uncached random reads, default 2000), BUILD (default build),
# FADEFS_BIN, FADE_CORPUS, TMPDIR.  Quick run: FS_BENCH_MB=64 FS_BENCH_FILES=1000.
# Dropping the page cache needs root (/proc/sys/vm/drop_caches); without it
# the "uncached" rows are marked as such and only fadefs's own cache is cold.
set -uo pipefail

BUILD=${BUILD:-build}
FADEFS=${FADEFS_BIN:-$BUILD/fadefs}
FSBENCH=$BUILD/tools/fsbench
MB=${FS_BENCH_MB:-1024}
NFILES=${FS_BENCH_FILES:-10000}
NRAND=${FS_BENCH_RAND:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${FADE_CORPUS:-$root/../shared/corpus}

die() { echo "bench-fs: $*" >&2; exit 1; }
[ -x "$FADEFS" ] || die "no $FADEFS (run make)"
[ -x "$FSBENCH" ] || die "no $FSBENCH (run make $FSBENCH)"

work=$(mktemp -d "${TMPDIR:-/tmp}/fadefs-bench.XXXXXX") || die "mktemp"
store=$work/store; mnt=$work/mnt; plain=$work/plain; log=$work/fadefs.log
mkdir -p "$store" "$mnt" "$plain"
pid=""

is_mounted() { awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/self/mounts; }
mount_fs() {
    # The data paths alone: background compression would start coding the
    # written corpus after 5 s and take the CPU the rows below measure;
    # bench-compress.sh measures the mount with the coders busy and idle.
    "$FADEFS" -f -o compress=off "$store" "$mnt" >>"$log" 2>&1 &
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
    for _ in $(seq 1 100); do fusermount3 -u "$mnt" 2>/dev/null && break; sleep 0.1; done
    wait "$pid" 2>/dev/null
    pid=""
}
cleanup() {
    if [ -n "$pid" ]; then umount_fs; fi
    is_mounted "$mnt" && fusermount3 -uz "$mnt" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

can_drop=0
if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then can_drop=1; fi
drop() { [ $can_drop -eq 1 ] && { sync; echo 3 >/proc/sys/vm/drop_caches; }; }
cold_fadefs() { umount_fs; drop; mount_fs; }

# Source data: the corpus repeated up to the size (compressible, real), in
# memory when /dev/shm has room so that reading it costs the same for both.
srcdir=$work
if [ -d /dev/shm ] && [ "$(df -Pm /dev/shm | awk 'NR==2{print $4}')" -gt $((MB * 2)) ]; then
    srcdir=$(mktemp -d /dev/shm/fadefs-bench.XXXXXX)
    trap 'cleanup; rm -rf "$srcdir"' EXIT
fi
src=$srcdir/src
if [ -d "$CORPUS" ] && ls "$CORPUS"/* >/dev/null 2>&1; then
    files=()
    for f in "$CORPUS"/*; do
        [ -f "$f" ] && case "$f" in *.md) ;; *) files+=("$f") ;; esac
    done
    # cat fails with SIGPIPE once head has enough, which ends the loop.
    while cat "${files[@]}"; do :; done 2>/dev/null | head -c $((MB * 1048576)) >"$src"
    srckind="corpus repeated"
else
    head -c $((MB * 1048576)) /dev/urandom >"$src"
    srckind="random bytes (no corpus)"
fi

mount_fs

val() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
row() {  # name unit plain fadefs
    local r
    r=$(awk -v a="$3" -v b="$4" 'BEGIN{ if (a > 0) printf "%.2f", b / a; else print "n/a" }')
    printf "%-38s %12s %12s %8s\n" "$1 ($2)" "$3" "$4" "$r"
}
run() { local out; out=$("$FSBENCH" "$@") || die "fsbench $* failed"; echo "$out"; }

echo "bench-fs: $MB MiB of $srckind, $NFILES small files; page cache drop: $([ $can_drop -eq 1 ] && echo yes || echo no)"
echo "bench-fs: plain = $(df -PT "$plain" | awk 'NR==2{print $2}') directory $plain"
printf "%-38s %12s %12s %8s\n" "test" "plain" "fadefs" "ratio"

# The daemon's CPU time for the write as well: on a shared machine the
# rates move with the load, the CPU time much less.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"; }
a=$(run seqwrite "$src" "$plain/big"); c0=$(cpu_s); b=$(run seqwrite "$src" "$mnt/big"); c1=$(cpu_s)
row "seq write ${MB} MiB + fsync" "MB/s" "$(val MBps "$a")" "$(val MBps "$b")"

# One drop for both sides (dropping again between them would also evict the
# plain file before its "cached" row); the remount empties fadefs's cache.
cold_fadefs; a=$(run seqread "$plain/big"); b=$(run seqread "$mnt/big")
row "seq read uncached" "MB/s" "$(val MBps "$a")" "$(val MBps "$b")"
a=$(run seqread "$plain/big"); b=$(run seqread "$mnt/big")
row "seq read cached" "MB/s" "$(val MBps "$a")" "$(val MBps "$b")"

range=$((64 * 1048576)); [ $((MB * 1048576)) -lt $range ] && range=$((MB * 1048576))
run randread "$plain/big" 20000 4096 $range 5 >/dev/null; run randread "$mnt/big" 20000 4096 $range 5 >/dev/null
a=$(run randread "$plain/big" 20000 4096 $range 9); b=$(run randread "$mnt/big" 20000 4096 $range 9)
row "rand 4K read cached (64 MiB)" "reads/s" "$(val per_s "$a")" "$(val per_s "$b")"

cold_fadefs; a=$(run randread "$plain/big" "$NRAND" 4096 0 13); b=$(run randread "$mnt/big" "$NRAND" 4096 0 13)
row "rand 4K read uncached" "reads/s" "$(val per_s "$a")" "$(val per_s "$b")"

mkdir -p "$plain/meta" "$mnt/meta"
a=$(run meta "$plain/meta" "$NFILES" 100); b=$(run meta "$mnt/meta" "$NFILES" 100)
row "create+write $NFILES x 100 B" "files/s" "$(val create_per_s "$a")" "$(val create_per_s "$b")"
row "stat $NFILES" "files/s" "$(val stat_per_s "$a")" "$(val stat_per_s "$b")"
row "unlink $NFILES" "files/s" "$(val unlink_per_s "$a")" "$(val unlink_per_s "$b")"

umount_fs
echo "bench-fs: fadefs daemon CPU (user + system) during the seq write: $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}') s"
data=$((MB * 1048576))
stored=$(du -sb "$store" | awk '{print $1}')
echo "bench-fs: store holds $stored bytes for $data bytes of data ($(awk -v a=$data -v b=$stored 'BEGIN{printf "%.3f", a / b}') : 1; compression runs in the background and may not have finished)"
