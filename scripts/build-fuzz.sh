#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) into
# build/fuzz/, makes a seed corpus of small encoded blocks and containers,
# and runs each target for FUZZ_SECONDS (default 60; 0 = build only).
#
#   FUZZ_SECONDS=1800 scripts/build-fuzz.sh      # longer run
#   FUZZ_JOBS=1 FUZZ_MAX_LEN=4096                # libFuzzer knobs
#
# New interesting inputs accumulate in build/fuzz/corpus/<target>/ (merge the
# good ones into tests/fuzz/corpus/<target>/ with -merge=1, which
# tests/codec/test_golden.c replays on every test run); crashes
# are written as build/fuzz/<target>-crash-*.  A crash found here is fixed,
# then kept as tests/golden/bad/<what-it-captures> so tests/codec/
# test_golden.c replays it on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-4096}
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
mkdir -p "$OUT/obj"

BASE="-std=gnu11 -g -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
 -ffp-contract=off -fno-fast-math -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
FLAGS="$BASE -O1 -fsanitize=fuzzer-no-link,address,undefined"
# The model and its kernels run thousands of steps per input and have no
# parser in them: they get ASan/UBSan but no coverage instrumentation and
# -O2, which makes each input about ten times cheaper.
MODEL_FLAGS="$BASE -O2 -fsanitize=address,undefined"
PARSERS=" block container rc crc32c ctx err match mix mix_avx2 "
objs=()
for src in codec/*.c; do
    [ "$src" = codec/fade_main.c ] && continue
    base=$(basename "${src%.c}")
    flags=$FLAGS
    case "$PARSERS" in *" $base "*) ;; *) flags=$MODEL_FLAGS ;; esac
    isa=""
    case "$src" in
        *_avx2.c) isa="-mavx2 -mfma" ;;
        *_avx512.c) isa="-mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma -mavx2" ;;
    esac
    obj="$OUT/obj/$(basename "${src%.c}").o"
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find codec -name '*.h' -newer "$obj" -print -quit)" ]; then
        # shellcheck disable=SC2086
        $CC $flags $isa -c "$src" -o "$obj"
    fi
    objs+=("$obj")
done

targets=()
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "${t%.c}")
    # shellcheck disable=SC2086
    $CC $FLAGS -fsanitize=fuzzer "$t" "${objs[@]}" -o "$OUT/$name" -lm
    targets+=("$name")
done
echo "build-fuzz: built ${targets[*]} in $OUT/"

# Seed corpus: containers of small inputs made by the regular `fade`
# binary, the first block cut out of each, and the golden files.
make -s build/fade >/dev/null
seeds="$OUT/seeds"
rm -rf "$seeds"; mkdir -p "$seeds"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '' > "$tmp/empty"
printf 'a' > "$tmp/one"
head -c 400 /dev/zero > "$tmp/zeros"
head -c 300 /dev/urandom > "$tmp/random"
for k in $(seq 12); do echo "the quick brown fox $k jumps over the lazy dog"; done > "$tmp/text"
corpus=${FADE_CORPUS:-../shared/corpus}
for f in alice29.txt kppkn.gtb camera.pgm; do
    [ -f "$corpus/$f" ] && head -c 600 "$corpus/$f" > "$tmp/$f"
done
i=0
for f in "$tmp"/*; do
    for bs in 100 1K; do
        i=$((i+1))
        for m in tiny tiny-match mix1 mix2 mix3 mix max; do
            build/fade c -q -f -m "$m" -b "$bs" "$f" "$seeds/c$i-$m.fade"
            # First block: its length is the u32 at offset 32, the block follows.
            len=$(od -An -tu4 -j32 -N4 "$seeds/c$i-$m.fade" | tr -d ' ')
            if [ "${len:-0}" -gt 0 ]; then
                tail -c +37 "$seeds/c$i-$m.fade" | head -c "$len" > "$seeds/b$i-$m.blk"
            fi
        done
    done
done
# One longer block of the default preset: its stream lives long enough
# (past 6 KiB) to choose a row length, which the small seeds never reach.
if [ -f "$corpus/kppkn.gtb" ]; then
    head -c 12288 "$corpus/kppkn.gtb" > "$tmp/rows.in"
    build/fade c -q -f -m mix -b 16K "$tmp/rows.in" "$seeds/rows-mix.fade"
    len=$(od -An -tu4 -j32 -N4 "$seeds/rows-mix.fade" | tr -d ' ')
    tail -c +37 "$seeds/rows-mix.fade" | head -c "$len" > "$seeds/rows-mix.blk"
fi
for d in tests/golden/ok tests/golden/bad; do
    [ -d "$d" ] && find "$d" -type f -exec cp {} "$seeds/" \;
done
echo "build-fuzz: $(ls "$seeds" | wc -l) seeds in $seeds"

[ "$FUZZ_SECONDS" -gt 0 ] || exit 0
rc=0
for name in "${targets[@]}"; do
    mkdir -p "$OUT/corpus/$name"
    kept=()
    [ -d "tests/fuzz/corpus/$name" ] && kept=("tests/fuzz/corpus/$name")
    # With -jobs, libFuzzer writes fuzz-N.log into the current directory:
    # run it from the build directory (absolute paths below), not the tree.
    mkdir -p "$OUT/logs/$name"
    top=$(pwd)
    abs=()
    for k in "${kept[@]}"; do abs+=("$top/$k"); done
    (cd "$OUT/logs/$name" &&
     "$top/$OUT/$name" -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" -timeout=20 \
        -rss_limit_mb=4096 -print_final_stats=1 -jobs="${FUZZ_JOBS:-1}" \
        -artifact_prefix="$top/$OUT/$name-" "$top/$OUT/corpus/$name" "$top/$seeds" \
        "${abs[@]}") || rc=$?
done
exit $rc
