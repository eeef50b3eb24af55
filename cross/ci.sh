#!/usr/bin/env bash
# cross/ci.sh — the cross stage of CI, called by .ci/run after `make test`.
#
# Sets up the cross toolchain (cross/setup.sh: apt, zig venv, rustup link, binfmt; idempotent),
# then runs `make qemu-test` for one little-endian ARM and one big-endian MIPS target: the unit
# tests under qemu-user, then the integration suite against the cross-built server under
# qemu-user. Then the suite with FERROFTPD_OLD_KERNEL=1 (syscalls newer than Linux 3.10 denied)
# against the native server and against a 32-bit musl (i686) build, which runs natively.
# These make targets build the server with the cargo feature test-hooks themselves (SITE PANIC,
# the old-kernel filter): the binaries they leave in target/<triple>/release are not for shipping.
#
# Nothing is cached between runs: std is built from source for each target on every run
# (`-Z build-std`); measured cost on a 2-core machine is in cross/README.md ("CI").
# CI_CROSS_TARGETS overrides the target list.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=${CI_CROSS_TARGETS:-"armv7-unknown-linux-musleabihf mips-unknown-linux-musl"}
failed=()
t0=$SECONDS

timed() { # name command...: runs the command, records a failure, prints the time either way
    local name=$1 start=$SECONDS rc=0
    shift
    "$@" || rc=$?
    if [ "$rc" = 0 ]; then
        echo "cross/ci: $name: ok in $((SECONDS - start)) s"
    else
        echo "cross/ci: $name: FAILED (exit $rc) after $((SECONDS - start)) s"
        failed+=("$name")
    fi
}

timed setup env WITH_BINFMT=1 bash cross/setup.sh
[ ${#failed[@]} = 0 ] || exit 1
for t in $targets; do
    timed "qemu-test $t" make -k qemu-test TARGET="$t"
done
# TARGET= explicitly: a TARGET in CI's environment must not turn this into a cross run.
timed "oldkernel-test (native)" make oldkernel-test TARGET=
# What ships is 32-bit musl: its fallbacks (time64 calls, statx) under the filter, natively.
timed "oldkernel-test i686-unknown-linux-musl" make oldkernel-test TARGET=i686-unknown-linux-musl

echo "cross/ci: total $((SECONDS - t0)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "cross/ci: failed: ${failed[*]}"
    exit 1
fi
