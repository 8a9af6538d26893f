#!/usr/bin/env bash
# The first thing to run on a fresh machine (as root, or with sudo for the
# packages): installs what is missing, builds, mounts a demo store, copies a
# few sample files in, shows the store's size against the data's, reads a
# random 4 KiB piece back and compares it with the original, unmounts.
#
# Environment: DEMO_DIR (default /tmp/fadefs-demo; replaced on each run),
# DEMO_WAIT (seconds to give background compression, default 10),
# FADE_CORPUS (sample files; default ../shared/corpus beside the repo),
# BUILD (default build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
DEMO_DIR=${DEMO_DIR:-/tmp/fadefs-demo}
DEMO_WAIT=${DEMO_WAIT:-10}
CORPUS=${FADE_CORPUS:-$root/../shared/corpus}
store=$DEMO_DIR/store
mnt=$DEMO_DIR/mnt
log=$DEMO_DIR/fadefs.log
pid=""

step() { printf '\n== %s\n' "$*"; }
die() { echo "mount-demo: $*" >&2; exit 1; }
is_mounted() { awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/self/mounts; }
cleanup() {
    if [ -n "$pid" ]; then
        fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

step "1/7 dependencies (scripts/deps.sh)"
scripts/deps.sh || die "could not install the packages (run as root or with sudo)"
echo "ok"

step "2/7 build (make -j2)"
make -j2 >"${TMPDIR:-/tmp}/fadefs-demo-build.log" 2>&1 || {
    tail -n 30 "${TMPDIR:-/tmp}/fadefs-demo-build.log" >&2
    die "build failed (full log: ${TMPDIR:-/tmp}/fadefs-demo-build.log)"
}
[ -x "$BUILD/fadefs" ] || die "$BUILD/fadefs was not built"
echo "ok: $BUILD/fadefs, $BUILD/fade"

step "3/7 demo store and mount point in $DEMO_DIR"
if is_mounted "$mnt"; then
    echo "unmounting a mount left by an earlier run"
    fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
fi
rm -rf "$DEMO_DIR"
mkdir -p "$store" "$mnt"
echo "store: $store   mount point: $mnt"

step "4/7 mount ($BUILD/fadefs -f $store $mnt, in the background)"
"$BUILD/fadefs" -f "$store" "$mnt" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    is_mounted "$mnt" && break
    if ! kill -0 "$pid" 2>/dev/null; then
        pid=""
        cat "$log" >&2
        die "fadefs exited before the mount was live"
    fi
    sleep 0.1
done
is_mounted "$mnt" || die "mount not live after 20 s (log: $log)"
echo "mounted: $(awk -v m="$mnt" '$2 == m' /proc/self/mounts)"

step "5/7 copy sample files in"
samples=()
for f in alice29.txt enwik6 Apache_2k.log camera.pgm LJ001-0001.wav coads_SST_12x90x180.f32 lambda_virus.fa; do
    [ -f "$CORPUS/$f" ] && samples+=("$CORPUS/$f")
done
if [ ${#samples[@]} -eq 0 ]; then
    echo "(no corpus at $CORPUS; using files from this system instead)"
    for f in /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/Apache-2.0 /bin/bash /etc/services; do
        [ -f "$f" ] && samples+=("$f")
    done
fi
[ ${#samples[@]} -gt 0 ] || die "no sample files found"
data=0
for f in "${samples[@]}"; do
    cp "$f" "$mnt/"
    n=$(stat -c %s "$f")
    data=$((data + n))
    printf "  %-34s %10d bytes\n" "$(basename "$f")" "$n"
done
sync
for f in "${samples[@]}"; do
    cmp -s "$f" "$mnt/$(basename "$f")" || die "$(basename "$f") reads back differently"
done
echo "all ${#samples[@]} files read back identical"

step "6/7 store size vs data size"
sz() { du -sb "$store" | awk '{print $1}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }
s0=$(sz)
echo "right after copying: data $data bytes, store $s0 bytes, ratio $(ratio "$data" "$s0") : 1"
if [ "$DEMO_WAIT" -gt 0 ]; then
    echo "giving background compression ${DEMO_WAIT} s..."
    sleep "$DEMO_WAIT"
    s1=$(sz)
    echo "after ${DEMO_WAIT} s:      data $data bytes, store $s1 bytes, ratio $(ratio "$data" "$s1") : 1"
    echo "(the store is append-only: compressed blocks are added and the raw ones"
    echo " they replace are reclaimed by compaction, so the size can first grow)"
fi

step "7/7 random read and unmount"
big=""
bigsize=0
for f in "${samples[@]}"; do
    n=$(stat -c %s "$f")
    [ "$n" -gt "$bigsize" ] && { big=$f; bigsize=$n; }
done
name=$(basename "$big")
if [ "$bigsize" -gt 4096 ]; then
    off=$(( (RANDOM * 32768 + RANDOM) % (bigsize - 4096) ))
else
    off=0
fi
a=$(mktemp); b=$(mktemp)
dd if="$mnt/$name" of="$a" bs=4096 count=1 skip="$off" iflag=skip_bytes status=none
dd if="$big" of="$b" bs=4096 count=1 skip="$off" iflag=skip_bytes status=none
if cmp "$a" "$b"; then
    echo "4 KiB of $name at offset $off: identical to the original"
else
    rm -f "$a" "$b"
    die "4 KiB of $name at offset $off differs from the original"
fi
rm -f "$a" "$b"
fusermount3 -u "$mnt" || die "unmount failed"
wait "$pid" || die "fadefs exited with an error after the unmount (log: $log)"
pid=""
echo "unmounted. The store stays in $store; mount it again with:"
echo "    $BUILD/fadefs $store $mnt"
echo
echo "mount-demo: done"
