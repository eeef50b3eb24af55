#!/usr/bin/env bash
# cross/size-matrix.sh — stripped size of ferroftpd per target for opt-level "s"/"z" and
# panic "unwind"/"abort", and with std's backtrace symbolizer, to price the release build's
# choices (cross/README.md, "Sizes").
#
# The shipped build (s, unwind) goes to the normal target dir; the other variants go to
# target/size-matrix/<variant>/ with the profile overridden through CARGO_PROFILE_RELEASE_*.
# Each variant rebuilds std for each target (1-3 min per cell on 2 cores).
# Usage: cross/size-matrix.sh [TRIPLE...]   (default: every cross target)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -ra targets <<<"$(make -s --no-print-directory -f Makefile \
    --eval 'print-targets: ; @echo $(CROSS_TARGETS)' print-targets)"

variants=(s-unwind s-abort z-unwind z-abort s-unwind-bt)
declare -A size
for t in "${targets[@]}"; do
    for v in "${variants[@]}"; do
        opt=${v%%-*} panic=${v#*-} panic=${panic%-bt}
        dir=target/size-matrix/$v crates=std features=panic-unwind
        [ "$v" = s-unwind ] && dir=${CARGO_TARGET_DIR:-target}
        [ "$panic" = abort ] && crates=std,panic_abort
        [ "${v%-bt}" != "$v" ] && features=panic-unwind,backtrace
        start=$SECONDS
        CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt CARGO_PROFILE_RELEASE_PANIC=$panic \
            make -s --no-print-directory cross TARGET="$t" CROSS_TARGET_DIR="$dir" \
            BUILD_STD_CRATES="$crates" BUILD_STD_FEATURES="$features" >/dev/null
        size[$t/$v]=$(stat -c %s "$dir/$t/release/ferroftpd")
        echo "size-matrix: $t $v: ${size[$t/$v]} bytes (built in $((SECONDS - start)) s)" >&2
    done
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", 100 * (a - b) / b }'; }
echo "| target | s, unwind (shipped) | s, abort | z, unwind | z, abort | unwind costs (s) | unwind costs (z) | std backtrace would cost |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in "${targets[@]}"; do
    su=${size[$t/s-unwind]} sa=${size[$t/s-abort]} zu=${size[$t/z-unwind]} za=${size[$t/z-abort]}
    bt=${size[$t/s-unwind-bt]}
    echo "| $t | $su | $sa | $zu | $za | $((su - sa)) ($(pct "$su" "$sa")) |" \
        "$((zu - za)) ($(pct "$zu" "$za")) | $((bt - su)) ($(pct "$bt" "$su")) |"
done
