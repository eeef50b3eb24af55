#!/usr/bin/env bash
# cross/setup.sh — install what `make cross` / `make qemu-test` need on a Debian 12 or Ubuntu
# x86_64 host. Idempotent: a second run changes nothing and takes well under a second.
#
#   * rustc-web + cargo-web + rust-web-src (Debian 12 security archive: a current rustc whose
#     std *source* sits where `-Z build-std` looks), linked into rustup as the toolchain
#     "debian-web" so rustup's own default toolchain keeps serving native builds. Where apt has
#     no rustc-web (Ubuntu), a rustup nightly with rust-src instead: then build with
#     `make cross CROSS_TOOLCHAIN=nightly ...`;
#   * qemu-user-static (qemu-arm-static, qemu-aarch64-static, qemu-mips{,el}-static);
#   * zig from PyPI (package "ziglang") in a venv: the linker for every *-musl target, and the
#     provider of musl's libc.a, crt files and libunwind for each architecture.
#
# Nothing here adds dpkg foreign architectures. binfmt handlers are registered only on request
# (WITH_BINFMT=1, as cross/ci.sh does): then a foreign static binary runs when exec'd, which
# tests need that re-execute their own test binary (a qemu runner covers only the first exec).
#
# Environment knobs (defaults in brackets):
#   ZIG_VENV [/opt/zig-venv]   where the zig venv lives; the Makefile looks there too
#   ZIG_VERSION [0.17.0]       pinned: zig's bundled musl/libunwind is part of the build
#   RUST_TOOLCHAIN_NAME [debian-web]
#   WITH_BINFMT [0]            1: register qemu-{arm,aarch64,mips,mipsel} with binfmt_misc
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ZIG_VENV=${ZIG_VENV:-/opt/zig-venv}
ZIG_VERSION=${ZIG_VERSION:-0.17.0}
RUST_TOOLCHAIN_NAME=${RUST_TOOLCHAIN_NAME:-debian-web}
WITH_BINFMT=${WITH_BINFMT:-0}

say() { printf 'cross/setup: %s\n' "$*"; }
die() { printf 'cross/setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported (found $(uname -m))"
command -v dpkg-query >/dev/null || die "needs a Debian/Ubuntu host (no dpkg-query)"
SUDO=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "run as root or install sudo"
    SUDO=sudo
fi

# --- apt ------------------------------------------------------------------------------------
# libstd-rust-web-dev is the x86_64 std of rustc-web: build scripts and proc macros run on the
# host and use it. python3-venv is needed for the zig venv.
apt=($SUDO apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
# Command output is captured before grep sees it: under pipefail, `cmd | grep -q` fails at
# random when grep's early exit kills the writer with SIGPIPE.
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = 'install ok installed' ]; }
base=(qemu-user-static python3-venv)
rust=(rustc-web cargo-web rust-web-src libstd-rust-web-dev)
nightly_src() {
    command -v rustup >/dev/null &&
        grep -q '^rust-src' <<<"$(rustup component list --toolchain nightly --installed 2>/dev/null)"
}
missing=()
for p in "${base[@]}" "${rust[@]}"; do installed "$p" || missing+=("$p"); done
debian_rust=1
if ! installed rustc-web && nightly_src; then
    debian_rust=0 # set up by an earlier run on a host without rustc-web
    rust=()
    missing=()
    for p in "${base[@]}"; do installed "$p" || missing+=("$p"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
    "${apt[@]}" update
    # rustc-web is Debian 12's (security archive). Elsewhere (Ubuntu) a rustup nightly with the
    # rust-src component plays its part, below.
    if [ ${#rust[@]} -gt 0 ] && ! apt-cache show rustc-web >/dev/null 2>&1; then
        debian_rust=0
        rust=()
    fi
    say "installing: ${base[*]} ${rust[*]}"
    "${apt[@]}" install -y --no-install-recommends "${base[@]}" "${rust[@]}"
fi

if [ "$debian_rust" = 1 ]; then
    # build-std compiles the std source against this exact rustc: both must come from the same
    # Debian upload, or std fails to build with confusing errors.
    rustc_ver=$(dpkg-query -W -f='${Version}' rustc-web)
    src_ver=$(dpkg-query -W -f='${Version}' rust-web-src)
    [ "$rustc_ver" = "$src_ver" ] ||
        die "rustc-web $rustc_ver and rust-web-src $src_ver differ; apt-get install both again"
    [ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] ||
        die "rust-web-src did not provide /usr/lib/rustlib/src/rust/library (for -Z build-std)"
    # With rustup on PATH, `cargo` is rustup's proxy; the link lets RUSTUP_TOOLCHAIN=debian-web
    # pick /usr/bin/{cargo,rustc}. Without rustup, /usr/bin/cargo runs directly.
    if command -v rustup >/dev/null && ! grep -q "^$RUST_TOOLCHAIN_NAME\b" <<<"$(rustup toolchain list)"; then
        say "linking /usr as rustup toolchain $RUST_TOOLCHAIN_NAME"
        rustup toolchain link "$RUST_TOOLCHAIN_NAME" /usr
    fi
    toolchain=$RUST_TOOLCHAIN_NAME
else
    command -v rustup >/dev/null || die "no rustc-web in apt and no rustup: install rustup first"
    if ! nightly_src; then
        say "no rustc-web here: installing a rustup nightly with rust-src (untested on our hosts)"
        rustup toolchain install nightly --profile minimal --component rust-src
    fi
    toolchain=nightly
fi

# --- zig ------------------------------------------------------------------------------------
zig="$ZIG_VENV/bin/zig"
if ! { [ -x "$zig" ] && [ "$("$zig" version 2>/dev/null)" = "$ZIG_VERSION" ]; }; then
    say "installing zig $ZIG_VERSION into $ZIG_VENV"
    # Debian's python, not a pyenv/conda one that may lack venv support or vanish later.
    py=/usr/bin/python3
    [ -x "$ZIG_VENV/bin/python" ] || $SUDO "$py" -m venv "$ZIG_VENV"
    $SUDO "$ZIG_VENV/bin/pip" install --quiet --disable-pip-version-check "ziglang==$ZIG_VERSION"
    # The wheel ships the zig binary inside the package, without a console script; link it.
    zdir=$("$ZIG_VENV/bin/python" -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__))')
    $SUDO ln -sf "$zdir/zig" "$zig"
fi
[ "$("$zig" version)" = "$ZIG_VERSION" ] || die "$zig is not zig $ZIG_VERSION"

# --- binfmt_misc (opt-in) ------------------------------------------------------------------
# Debian's qemu-user-static ships the registrations in /usr/lib/binfmt.d; without systemd or
# binfmt-support running (containers, CI) they are written to the kernel here. Flag F opens the
# interpreter now, so it also works inside a chroot.
if [ "$WITH_BINFMT" = 1 ]; then
    binfmt=/proc/sys/fs/binfmt_misc
    [ -e $binfmt/register ] || $SUDO mount -t binfmt_misc binfmt_misc $binfmt
    for q in arm aarch64 mips mipsel; do
        if [ ! -e "$binfmt/qemu-$q" ]; then
            say "registering qemu-$q with binfmt_misc"
            $SUDO sh -c "cat /usr/lib/binfmt.d/qemu-$q.conf > $binfmt/register"
        fi
    done
fi

say "OK: toolchain $toolchain ($(RUSTUP_TOOLCHAIN=$toolchain rustc -V)), zig $("$zig" version), $(qemu-arm-static --version | sed -n 1p)"
