#!/usr/bin/env bash
# Runs every criterion test binary given on the command line and prints one
# closing line "N passed, N failed, N skipped" summed over all of them.
# Exits non-zero if any test failed or crashed, or a binary did not run.
set -uo pipefail
pass=0; fail=0; skip=0; bad=0
jobs=${TEST_JOBS:-2}
for bin in "$@"; do
    name=${bin#*/tests/}
    out=$(mktemp)
    "$bin" --jobs "$jobs" --short-filename --verbose >"$out" 2>&1
    rc=$?
    syn=$(grep -a 'Synthesis:' "$out" | tail -n 1)
    t=$(sed -n 's/.*Tested: *\([0-9]*\).*/\1/p' <<<"$syn")
    p=$(sed -n 's/.*Passing: *\([0-9]*\).*/\1/p' <<<"$syn")
    f=$(sed -n 's/.*Failing: *\([0-9]*\).*/\1/p' <<<"$syn")
    c=$(sed -n 's/.*Crashing: *\([0-9]*\).*/\1/p' <<<"$syn")
    # criterion 2.4 leaves skipped tests out of its synthesis line; the
    # verbose log has one [SKIP] line per skipped test.
    s=$(grep -a -c '^\[SKIP\]' "$out")
    if [ -z "$t" ]; then
        echo "FAIL $name: no criterion summary (exit $rc)"; cat "$out"; bad=$((bad+1))
    else
        pass=$((pass+p)); fail=$((fail+f+c)); skip=$((skip+s))
        if [ "$rc" -ne 0 ] || [ $((f+c)) -ne 0 ]; then
            echo "FAIL $name ($syn)"; grep -a -E '\[(FAIL|----)\]|CRASH|Assertion' "$out" | head -n 40
            bad=$((bad+1))
        else
            echo "ok   $name: $p passed, $s skipped"
        fi
    fi
    rm -f "$out"
done
echo "$pass passed, $((fail+bad)) failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$bad" -eq 0 ]
