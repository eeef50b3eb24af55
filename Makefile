# ferroftpd — build, run, test, install. `make help` lists the targets.
CARGO   ?= cargo
PREFIX  ?= /usr
DESTDIR ?=
BIN      = target/release/ferroftpd
DEMO_ROOT ?= demo-root

.PHONY: help build run test release install lint clean

help:
	@echo "make build | run | test | release | install [PREFIX= DESTDIR=] | lint | clean"

build:
	$(CARGO) build

# Serve a demo directory anonymously (read-only) on 127.0.0.1:2121; no root needed.
run: build
	@mkdir -p $(DEMO_ROOT)/pub
	@[ -f $(DEMO_ROOT)/README.txt ] || printf 'Welcome to ferroftpd.\r\nThis is the demo root.\r\n' > $(DEMO_ROOT)/README.txt
	@[ -f $(DEMO_ROOT)/pub/hello.txt ] || echo 'hello from ferroftpd' > $(DEMO_ROOT)/pub/hello.txt
	./target/debug/ferroftpd -f -l 127.0.0.1 -p 2121 -A -r $(DEMO_ROOT)

test:
	$(CARGO) build
	$(CARGO) test --no-fail-fast

release:
	$(CARGO) build --release

# Into a staging rootfs too: make install DESTDIR=/path/to/rootfs [BIN=target/<triple>/release/ferroftpd]
SYSCONFDIR ?= /etc
install: $(if $(filter target/release/ferroftpd,$(BIN)),release)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/ferroftpd
	install -D -m 0644 etc/ferroftpd.conf $(DESTDIR)$(SYSCONFDIR)/ferroftpd.conf
	install -D -m 0600 etc/ferroftpd.users $(DESTDIR)$(SYSCONFDIR)/ferroftpd.users
	install -D -m 0755 etc/init.d/S50ferroftpd $(DESTDIR)$(SYSCONFDIR)/init.d/S50ferroftpd
	install -D -m 0644 etc/inittab $(DESTDIR)$(PREFIX)/share/ferroftpd/inittab
	install -D -m 0644 etc/inetd.conf $(DESTDIR)$(PREFIX)/share/ferroftpd/inetd.conf
	install -D -m 0755 etc/tcpsvd $(DESTDIR)$(PREFIX)/share/ferroftpd/tcpsvd

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(DEMO_ROOT)

# =============================================================================================
# Cross builds (issue 3): static musl binaries for ARM/MIPS routers and NAS boxes, tested under
# qemu-user. One-time host setup: cross/setup.sh. Per-target linker/runner/flags live in
# .cargo/config.toml and cross/zcc-<triple>; cross/README.md explains it all.
#   make cross TARGET=<triple>      -> target/<triple>/release/ferroftpd (with FTPS; TLS=0:
#                                   the plain server, without rustls and ring)
#   make cross-all [TLS=0]          every triple in CROSS_TARGETS
#   make qemu-test TARGET=<triple>  unit tests under qemu + the integration suite against the
#                                   cross-built server under qemu
#   make oldkernel-test [TARGET=i686-unknown-linux-musl]
#                                   the integration suite with FERROFTPD_OLD_KERNEL=1 (native, or
#                                   a 32-bit musl server; never under qemu)
#   make size [SIZE_SYMBOLS=N]      size table of the built cross binaries (N largest symbols)
#   make size-matrix                opt-level s/z x panic unwind/abort, std backtrace: sizes
#                                   (slow: 20 std builds, ~17 min on 2 cores)
# =============================================================================================
CROSS_TARGETS = armv7-unknown-linux-musleabihf aarch64-unknown-linux-musl \
                mipsel-unknown-linux-musl mips-unknown-linux-musl armv5te-unknown-linux-musleabi
# The toolchain for cross builds: cross/setup.sh links Debian's rustc-web as "debian-web". With
# a rustup toolchain that has the target's std (`rustup target add`), pass CROSS_TOOLCHAIN=stable:
# -Z build-std is then skipped for that target.
CROSS_TOOLCHAIN ?= debian-web
ZIG_VENV        ?= /opt/zig-venv
# Where cross builds go (cargo's default unless CARGO_TARGET_DIR says otherwise).
CROSS_TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
# RUST_LIBC_UNSTABLE_MUSL_V1_2_3=1: std's copy of the libc crate uses musl 1.2's 64-bit time_t
# on the 32-bit targets (ours gets it from --cfg in .cargo/config.toml); the default (musl 1.1)
# ABI truncates times past 2038.
# CC_/AR_<triple>: ring (TLS) has C and assembly, which cc-rs builds with the target's zig
# wrapper (it drops cc-rs's --target=) and archives with `zig ar` (cross/zar).
cross_triple_var = $(subst -,_,$(TARGET))
CROSS_ENV        = PATH="$(ZIG_VENV)/bin:$$PATH" RUSTUP_TOOLCHAIN=$(CROSS_TOOLCHAIN) \
                   CARGO_TARGET_DIR="$(CROSS_TARGET_DIR)" RUST_LIBC_UNSTABLE_MUSL_V1_2_3=1 \
                   CC_$(cross_triple_var)="$(CURDIR)/cross/zcc-$(TARGET)" \
                   AR_$(cross_triple_var)="$(CURDIR)/cross/zar"
# TLS=0: the plain server, without rustls and ring (cargo's --no-default-features).
TLS ?= 1
cross_features = $(if $(filter 0,$(TLS)),--no-default-features)
# std crates to build from source (the profile is panic=unwind; std pulls in panic_unwind).
BUILD_STD_CRATES ?= std
# std features of the release build: cargo's default adds "backtrace", whose symbolizer (gimli,
# addr2line, miniz_oxide: ~23% of the binary) has nothing to read in a stripped binary anyway.
BUILD_STD_FEATURES ?= panic-unwind

.PHONY: size-matrix cross cross-all qemu-test qemu-test-unit qemu-test-suite oldkernel-test size cross-check-target

# Does the toolchain ship a compiled std for TARGET? If not, build it from the std source.
cross_std_dir = $(shell $(CROSS_ENV) rustc --print target-libdir --target $(TARGET) 2>/dev/null)
cross_build_std = $(if $(wildcard $(cross_std_dir)/libstd-*.rlib),,RUSTC_BOOTSTRAP=1)
cross_build_std_flag = $(if $(cross_build_std),-Z build-std=$(1))
# The qemu command of TARGET, read from its runner in .cargo/config.toml (one source of truth).
cross_runner = $(shell awk -v t='[target.$(TARGET)]' '$$0 == t { f = 1; next } /^\[/ { f = 0 } \
	f && $$1 == "runner" { sub(/^[^=]*= *\[?/, ""); sub(/\].*/, ""); gsub(/[",]/, " "); \
	$$1 = $$1; print }' .cargo/config.toml)

cross-check-target:
	@[ -n "$(TARGET)" ] || { echo "usage: make $(MAKECMDGOALS) TARGET=<triple>; triples: $(CROSS_TARGETS)"; exit 2; }
	@[ -x cross/zcc-$(TARGET) ] || { echo "unknown TARGET '$(TARGET)'; known: $(CROSS_TARGETS)"; exit 2; }
	@[ -x "$(ZIG_VENV)/bin/zig" ] || command -v zig >/dev/null || { echo "no zig: run cross/setup.sh"; exit 2; }

cross: cross-check-target
	$(CROSS_ENV) $(cross_build_std) $(CARGO) build --release --target $(TARGET) $(cross_features) \
		$(call cross_build_std_flag,$(BUILD_STD_CRATES) -Z build-std-features=$(BUILD_STD_FEATURES))
	@ls -l $(CROSS_TARGET_DIR)/$(TARGET)/release/ferroftpd

cross-all:
	@set -e; for t in $(CROSS_TARGETS); do $(MAKE) --no-print-directory cross TARGET=$$t; done

# (1) unit tests, cross-compiled, run by cargo through the qemu runner; (2) the host's integration
# suite, built natively, driving the cross-built server under qemu. `make -k` runs both even when
# the first fails.
qemu-test: qemu-test-unit qemu-test-suite

qemu-test-unit: cross-check-target
	$(CROSS_ENV) $(cross_build_std) $(CARGO) test --lib --target $(TARGET) $(cross_features) $(call cross_build_std_flag,std)

qemu-test-suite: cross
	FERROFTPD_BIN="$(abspath $(CROSS_TARGET_DIR)/$(TARGET)/release/ferroftpd)" FERROFTPD_RUNNER="$(cross_runner)" \
		$(CARGO) test --no-fail-fast --test '*'

# The suite against a server that sees only Linux 3.10 syscalls (src/oldkernel.rs): the native
# build, or with TARGET=i686-unknown-linux-musl a 32-bit musl build that also runs natively. Not
# under qemu: qemu-user refuses seccomp filters.
oldkernel-test: $(if $(TARGET),cross)
	FERROFTPD_OLD_KERNEL=1 $(if $(TARGET),FERROFTPD_BIN="$(abspath $(CROSS_TARGET_DIR)/$(TARGET)/release/ferroftpd)") \
		$(CARGO) test --no-fail-fast --test '*'

size:
	@python3 cross/size-report.py $(if $(SIZE_SYMBOLS),--symbols $(SIZE_SYMBOLS)) $(CROSS_TARGET_DIR) $(CROSS_TARGETS)

size-matrix:
	bash cross/size-matrix.sh $(CROSS_TARGETS)

# ---- benchmarks (issue 6): ferroftpd against vsftpd and pure-ftpd on 127.0.0.1 --------------
# Driver and load generator live in tests/bench/ (see tests/bench/README.md); scratch files,
# unpacked reference servers and results-<date>.json go to target/bench/. The references need
# root (chroot, a system user); without it they are skipped with the reason.
#
# The memory rows also get a column for the static musl build (ferroftpd-static), which is what
# devices run; the memory targets are checked on it. BENCH_STATIC_TARGET is the static target
# that runs natively here. It is built first when the cross toolchain is there; if it is not,
# or the build fails, the run prints why and leaves that column out (the bench goes on).
.PHONY: bench bench-quick

BENCH_STATIC_TARGET ?= i686-unknown-linux-musl
# More driver options, e.g. BENCH_ARGS="--tests idle,hold"
BENCH_ARGS ?=
# Sets the driver's arguments for the static column: the binary, or --no-static with the reason.
bench_static_args = \
	if ! { [ -x "$(ZIG_VENV)/bin/zig" ] || command -v zig >/dev/null; }; then \
		set -- --no-static "no cross toolchain (zig); run cross/setup.sh"; \
	elif $(MAKE) --no-print-directory cross TARGET=$(BENCH_STATIC_TARGET); then \
		set -- --static-binary "$(CROSS_TARGET_DIR)/$(BENCH_STATIC_TARGET)/release/ferroftpd"; \
	else \
		set -- --no-static "make cross TARGET=$(BENCH_STATIC_TARGET) failed (output above)"; \
	fi

bench: release
	@$(bench_static_args); set -x; python3 tests/bench/run "$$@" $(BENCH_ARGS)

# Reduced: 256 MiB transfers, 2 rounds, ferroftpd (both builds) and vsftpd; under a minute.
bench-quick: release
	@$(bench_static_args); set -x; python3 tests/bench/run --quick "$$@" $(BENCH_ARGS)
