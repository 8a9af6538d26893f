#!/usr/bin/env bash
# The first thing to run on a fresh machine (as root, or with sudo for the
# packages): installs what is missing, builds, mounts a demo store, copies a
# few sample files in, watches the background compressor shrink the store
# (fadefs-stat --wait), compares the result with xz -9e on the same files,
# remounts and reads a random 4 KiB piece of a compressed block back (timed,
# compared with the original), checks the store with fadefsck, unmounts.
#
# Environment: DEMO_DIR (default /tmp/fadefs-demo; replaced on each run),
# DEMO_PRESET (codec preset for the mount; default the filesystem's),
# FADE_CORPUS (sample files; default ../shared/corpus beside the repo),
# BUILD (default build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
DEMO_DIR=${DEMO_DIR:-/tmp/fadefs-demo}
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
mount_demo() {
    "$BUILD/fadefs" -f ${DEMO_PRESET:+-o preset=$DEMO_PRESET} -o cold=1 "$store" "$mnt" >>"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
        is_mounted "$mnt" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            pid=""
            cat "$log" >&2
            die "fadefs exited before the mount was live"
        fi
        sleep 0.1
    done
    die "mount not live after 20 s (log: $log)"
}
unmount_demo() {
    fusermount3 -u "$mnt" || die "unmount failed"
    wait "$pid" || die "fadefs exited with an error after the unmount (log: $log)"
    pid=""
}

step "1/8 dependencies (scripts/deps.sh)"
scripts/deps.sh || die "could not install the packages (run as root or with sudo)"
echo "ok"

step "2/8 build (make -j2)"
make -j2 >"${TMPDIR:-/tmp}/fadefs-demo-build.log" 2>&1 || {
    tail -n 30 "${TMPDIR:-/tmp}/fadefs-demo-build.log" >&2
    die "build failed (full log: ${TMPDIR:-/tmp}/fadefs-demo-build.log)"
}
for b in fadefs fadefs-stat fadefsck fade; do
    [ -x "$BUILD/$b" ] || die "$BUILD/$b was not built"
done
echo "ok: $BUILD/fadefs, $BUILD/fadefs-stat, $BUILD/fadefsck, $BUILD/fade"

step "3/8 demo store and mount point in $DEMO_DIR"
if is_mounted "$mnt"; then
    echo "unmounting a mount left by an earlier run"
    fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
fi
rm -rf "$DEMO_DIR"
mkdir -p "$store" "$mnt"
echo "store: $store   mount point: $mnt"

step "4/8 mount ($BUILD/fadefs -f ${DEMO_PRESET:+-o preset=$DEMO_PRESET }-o cold=1 $store $mnt, in the background)"
mount_demo
echo "mounted: $(awk -v m="$mnt" '$2 == m' /proc/self/mounts)"
echo "(cold=1: a block is compressed once it has not been rewritten for 1 s; default 5 s)"

step "5/8 copy sample files in"
samples=()
for f in alice29.txt Apache_2k.log html kppkn.gtb camera.pgm LJ001-0001.wav fireworks.jpeg; do
    [ -f "$CORPUS/$f" ] && samples+=("$CORPUS/$f")
done
if [ ${#samples[@]} -eq 0 ]; then
    echo "(no corpus at $CORPUS; using files from this system instead)"
    for f in /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/Apache-2.0 /etc/services; do
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
for f in "${samples[@]}"; do
    cmp -s "$f" "$mnt/$(basename "$f")" || die "$(basename "$f") reads back differently"
done
echo "all ${#samples[@]} files read back identical; $data bytes written, every block stored raw and queued"

step "6/8 background compression (fadefs-stat --wait, then fadefs-stat)"
t0=$(date +%s.%N)
"$BUILD/fadefs-stat" --wait --interval 5 "$mnt" >/dev/null || die "fadefs-stat --wait failed"
t1=$(date +%s.%N)
"$BUILD/fadefs-stat" "$mnt"
stored=$("$BUILD/fadefs-stat" --json "$mnt" | grep -o '"stored_bytes":[0-9]*' | head -n1 | cut -d: -f2)
xzb=0
for f in "${samples[@]}"; do xzb=$((xzb + $(xz -9e -T1 -c "$f" | wc -c))); done
awk -v d="$data" -v s="$stored" -v x="$xzb" -v t="$(awk "BEGIN{print $t1 - $t0}")" 'BEGIN {
    printf "\ncompressed in %.1f s: data %d bytes, stored %d bytes: ratio %.3f : 1\n", t, d, s, d / s
    printf "xz -9e on the same files:  %d bytes: ratio %.3f : 1  (fadefs %s)\n", x, d / x,
           s < x ? sprintf("%.1f %% smaller", 100 * (1 - s / x)) : sprintf("%.1f %% larger", 100 * (s / x - 1)) }'
echo "(a file's own figures: getfattr -n user.fadefs.ratio FILE, or fadefs-stat FILE)"

step "7/8 remount (no cached block) and a random 4 KiB read of a compressed block"
unmount_demo
mount_demo
big=""
bigsize=0
for f in "${samples[@]}"; do
    case $f in *.jpeg) continue ;; esac
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
ta=$(date +%s%N)
dd if="$mnt/$name" of="$a" bs=4096 count=1 skip="$off" iflag=skip_bytes status=none
tb=$(date +%s%N)
dd if="$big" of="$b" bs=4096 count=1 skip="$off" iflag=skip_bytes status=none
if cmp "$a" "$b"; then
    echo "4 KiB of $name at offset $off: identical to the original," \
         "$(( (tb - ta) / 1000000 )) ms (the first read of a block decodes it)"
else
    rm -f "$a" "$b"
    die "4 KiB of $name at offset $off differs from the original"
fi
# Drop the kernel's copy (root only) so that the read reaches the daemon.
sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
ta=$(date +%s%N)
dd if="$mnt/$name" of="$a" bs=4096 count=1 skip="$off" iflag=skip_bytes status=none
tb=$(date +%s%N)
echo "the same read again: $(( (tb - ta) / 1000 )) us, dd's own start-up included" \
     "(the daemon keeps the decoded block in its cache)"
rm -f "$a" "$b"

step "8/8 unmount and check the store (fadefsck --full)"
unmount_demo
"$BUILD/fadefsck" --full "$store" || die "fadefsck found problems"
echo "unmounted. The store stays in $store; mount it again with:"
echo "    $BUILD/fadefs $store $mnt"
echo
echo "mount-demo: done"
