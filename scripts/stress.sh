#!/usr/bin/env bash
# `make stress`: the long randomised runs of the filesystem.
#   fsmodel   STRESS_OPS operations (default 1,000,000) against a model
#             directory, remounting every STRESS_REMOUNT ops (default 5000)
#   crashtest STRESS_CYCLES kill -9 cycles (default 100)
# fsmodel stops with a failure if the store outgrows STRESS_MAX_STORE_MB
# (default 8192; the live data is at most a few hundred MiB).
# The seeds are printed (STRESS_SEED fixes them); a failure prints what to
# rerun.  Runs at low priority: it takes a long time and is meant to.
set -uo pipefail
BUILD=${BUILD:-build}
FADEFS=${FADEFS_BIN:-$BUILD/fadefs}
OPS=${STRESS_OPS:-1000000}
REMOUNT=${STRESS_REMOUNT:-5000}
CYCLES=${STRESS_CYCLES:-100}
# The run fails (instead of filling the disk) if the store outgrows this.
MAXSTORE=${STRESS_MAX_STORE_MB:-8192}
SEED=${STRESS_SEED:-$(date +%s)}
for t in fsmodel crashtest; do
    [ -x "$BUILD/tools/$t" ] || { echo "stress: no $BUILD/tools/$t (run make)" >&2; exit 1; }
done
[ -x "$FADEFS" ] || { echo "stress: no $FADEFS (run make)" >&2; exit 1; }
rc=0
echo "stress: fsmodel, $OPS ops, remount every $REMOUNT, seed $SEED"
start=$(date +%s)
if nice -n 10 "$BUILD/tools/fsmodel" -b "$FADEFS" -n "$OPS" -r "$REMOUNT" -s "$SEED" -S "$MAXSTORE"; then
    echo "stress: fsmodel passed in $(( $(date +%s) - start )) s"
else
    echo "stress: fsmodel FAILED (rerun: $BUILD/tools/fsmodel -b $FADEFS -n $OPS -r $REMOUNT -s $SEED -S $MAXSTORE)"
    rc=1
fi
echo "stress: crashtest, $CYCLES cycles, seed $SEED"
start=$(date +%s)
if nice -n 10 "$BUILD/tools/crashtest" -b "$FADEFS" -c "$CYCLES" -s "$SEED"; then
    echo "stress: crashtest passed in $(( $(date +%s) - start )) s"
else
    echo "stress: crashtest FAILED (rerun: $BUILD/tools/crashtest -b $FADEFS -c $CYCLES -s $SEED)"
    rc=1
fi
[ $rc -eq 0 ] && echo "stress: all passed" || echo "stress: FAILED"
exit $rc
