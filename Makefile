# ferroftpd — build, run, test, install. `make help` lists the targets.
CARGO   ?= cargo
PREFIX  ?= /usr
DESTDIR ?=
BIN      = target/release/ferroftpd
DEMO_ROOT ?= demo-root
# Cargo features of `build`, `release` and `cross`: none, for what ships. The test targets (test,
# qemu-test*, oldkernel-test) add TEST_FEATURES themselves: test instruments (SITE PANIC, the
# Linux 3.10 seccomp filter) that a shipped binary must not carry. FEATURES=test-hooks builds a
# test binary by hand, e.g. `make cross TARGET=<triple> FEATURES=test-hooks`.
FEATURES ?=
TEST_FEATURES = test-hooks
# --features for the list in $(1), nothing for an empty list.
cargo_features = $(if $(strip $(1)),--features "$(strip $(1))")

.PHONY: help build run test release install lint clean

help:
	@echo "make build | run | test | release | install [PREFIX= DESTDIR= SYSTEMDUNITDIR=] | lint | clean"
	@echo "make fuzz [FUZZ_SECONDS=60 FUZZ_TARGETS=...] | fuzz-merge"

build:
	$(CARGO) build $(call cargo_features,$(FEATURES))

# Serve a demo directory anonymously (read-only) on 127.0.0.1:2121; no root needed.
run: build
	@mkdir -p $(DEMO_ROOT)/pub
	@[ -f $(DEMO_ROOT)/README.txt ] || printf 'Welcome to ferroftpd.\r\nThis is the demo root.\r\n' > $(DEMO_ROOT)/README.txt
	@[ -f $(DEMO_ROOT)/pub/hello.txt ] || echo 'hello from ferroftpd' > $(DEMO_ROOT)/pub/hello.txt
	./target/debug/ferroftpd -f -l 127.0.0.1 -p 2121 -A -r $(DEMO_ROOT)

# The integration tests run target/debug/ferroftpd: it is built with the test features too.
test:
	$(CARGO) build $(call cargo_features,$(FEATURES) $(TEST_FEATURES))
	$(CARGO) test $(call cargo_features,$(FEATURES) $(TEST_FEATURES)) --no-fail-fast

release:
	$(CARGO) build --release $(call cargo_features,$(FEATURES))

# Into a staging rootfs too: make install DESTDIR=/path/to/rootfs [BIN=target/<triple>/release/ferroftpd]
SYSCONFDIR ?= /etc
# systemd units (etc/systemd): where the distribution keeps them; SYSTEMDUNITDIR= overrides it.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
install: $(if $(filter target/release/ferroftpd,$(BIN)),release)
	@! grep -q FERROFTPD_TEST_HOOKS $(BIN) || { echo "install: $(BIN) is a test build \
	(feature test-hooks, left by make qemu-test or oldkernel-test); rebuild it without"; exit 1; }
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/ferroftpd
	install -D -m 0644 etc/ferroftpd.conf $(DESTDIR)$(SYSCONFDIR)/ferroftpd.conf
	install -D -m 0600 etc/ferroftpd.users $(DESTDIR)$(SYSCONFDIR)/ferroftpd.users
	install -D -m 0755 etc/init.d/S50ferroftpd $(DESTDIR)$(SYSCONFDIR)/init.d/S50ferroftpd
	install -D -m 0644 etc/inittab $(DESTDIR)$(PREFIX)/share/ferroftpd/inittab
	install -D -m 0644 etc/inetd.conf $(DESTDIR)$(PREFIX)/share/ferroftpd/inetd.conf
	install -D -m 0755 etc/tcpsvd $(DESTDIR)$(PREFIX)/share/ferroftpd/tcpsvd
	install -D -m 0644 etc/systemd/ferroftpd.service $(DESTDIR)$(SYSTEMDUNITDIR)/ferroftpd.service
	install -D -m 0644 etc/systemd/ferroftpd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/ferroftpd.socket

lint:
	@# `unsafe` lives in src/ffi.rs alone: the crate denies it (src/lib.rs), nothing else allows it.
	@if grep -rnE '(allow|expect|warn)\((.*, *)?unsafe_code' src --include='*.rs' | grep -v '^src/ffi'; then \
		echo "lint: unsafe_code may be allowed only in src/ffi.rs"; exit 1; fi
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets $(call cargo_features,$(TEST_FEATURES)) -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(DEMO_ROOT)

# =============================================================================================
# Cross builds (issue 3): static musl binaries for ARM/MIPS routers and NAS boxes, tested under
# qemu-user. One-time host setup: cross/setup.sh. Per-target linker/runner/flags live in
# .cargo/config.toml and cross/zcc-<triple>; cross/README.md explains it all.
#   make cross TARGET=<triple>      -> target/<triple>/release/ferroftpd, with FTPS (TLS=0: the
#                                   plain server, without rustls and ring; FEATURES=test-hooks
#                                   for a test build; the qemu and old-kernel targets add it)
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
                   AR_$(cross_triple_var)="$(CURDIR)/cross/zar" \
                   $(if $(filter aarch64-%,$(TARGET)),RUSTC_BOOTSTRAP=1)
# (aarch64's rustflags in .cargo/config.toml take one -Z flag, location-detail=none, to fit its
# TLS size budget; RUSTC_BOOTSTRAP lets it through where std comes prebuilt too.)
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
	$(CROSS_ENV) $(cross_build_std) $(CARGO) build --release --target $(TARGET) $(cross_features) $(call cargo_features,$(FEATURES)) \
		$(call cross_build_std_flag,$(BUILD_STD_CRATES) -Z build-std-features=$(BUILD_STD_FEATURES))
	@ls -l $(CROSS_TARGET_DIR)/$(TARGET)/release/ferroftpd

cross-all:
	@set -e; for t in $(CROSS_TARGETS); do $(MAKE) --no-print-directory cross TARGET=$$t; done

# (1) unit tests, cross-compiled, run by cargo through the qemu runner; (2) the host's integration
# suite, built natively, driving the cross-built server under qemu. `make -k` runs both even when
# the first fails. Both with TEST_FEATURES: the cross-built server is a test build (a later plain
# `make cross` rebuilds it without them).
qemu-test: qemu-test-unit qemu-test-suite

test_features = $(call cargo_features,$(FEATURES) $(TEST_FEATURES))
cross_test_build = $(MAKE) --no-print-directory cross TARGET=$(TARGET) FEATURES="$(strip $(FEATURES) $(TEST_FEATURES))"

qemu-test-unit: cross-check-target
	$(CROSS_ENV) $(cross_build_std) $(CARGO) test --lib --target $(TARGET) $(cross_features) $(test_features) $(call cross_build_std_flag,std)

qemu-test-suite: cross-check-target
	$(cross_test_build)
	FERROFTPD_BIN="$(abspath $(CROSS_TARGET_DIR)/$(TARGET)/release/ferroftpd)" FERROFTPD_RUNNER="$(cross_runner)" \
		$(CARGO) test $(test_features) --no-fail-fast --test '*'

# The suite against a server that sees only Linux 3.10 syscalls (src/oldkernel.rs): the native
# build, or with TARGET=i686-unknown-linux-musl a 32-bit musl build that also runs natively. Not
# under qemu: qemu-user refuses seccomp filters.
oldkernel-test:
	$(if $(TARGET),$(cross_test_build))
	FERROFTPD_OLD_KERNEL=1 $(if $(TARGET),FERROFTPD_BIN="$(abspath $(CROSS_TARGET_DIR)/$(TARGET)/release/ferroftpd)") \
		$(CARGO) test $(test_features) --no-fail-fast --test '*'

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
.PHONY: bench bench-quick bench-modes bench-ftps

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

# Just the FTPS rows (issue 12): PROT P RETR/STOR, TLS logins/s, memory per idle TLS session,
# against vsftpd, pure-ftpd and ProFTPD with the same certificate (BusyBox ftpd has no TLS);
# a few minutes.
bench-ftps: release
	@$(bench_static_args); set -x; python3 tests/bench/run --tests ftps --rounds 3 \
		--servers ferroftpd,ferroftpd-static,vsftpd,pure-ftpd,proftpd "$$@" $(BENCH_ARGS)

# Just the RFC 959 mode rows (issue 13): RETR of one random file in MODE S, B and C, ferroftpd
# only, no root needed; about a minute.
bench-modes: release
	python3 tests/bench/run --servers ferroftpd --tests modes --rounds 3 $(BENCH_ARGS)

# ---- fuzzing (issue 10): coverage-guided targets for the parsers --------------------------
# tests/fuzz/ is a cargo-fuzz crate of its own (its empty [workspace] keeps it out of the main
# build); the properties each target checks live in src/fuzz_checks.rs, shared with
# tests/fuzz_corpus.rs, which `make test` runs to replay the committed corpus
# (tests/fuzz/corpus/<target>/). RUSTC_BOOTSTRAP=1 lets a stable toolchain take the nightly
# flags cargo-fuzz passes. No sanitizer: the fuzzed code is safe Rust, and overflow checks and
# debug assertions stay on. Scratch corpora and crash files go to target/fuzz/.
#   make fuzz                 each target for FUZZ_SECONDS (one process at a time)
#   make fuzz-merge           add what the last runs found that covers new code to the
#                             committed corpus (review the new files, then commit them)
.PHONY: fuzz fuzz-merge fuzz-tool

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard tests/fuzz/fuzz_targets/*.rs)))
# More libFuzzer options, e.g. FUZZ_ARGS="-max_len=512"
FUZZ_ARGS    ?=
FUZZ_WORK     = $(CROSS_TARGET_DIR)/fuzz
FUZZ_RUN      = RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir tests/fuzz \
                --target-dir $(FUZZ_WORK) --sanitizer none

fuzz-tool:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

fuzz: fuzz-tool
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_WORK)/corpus/$$t $(FUZZ_WORK)/artifacts/$$t; \
		echo "== fuzz $$t: $(FUZZ_SECONDS) s"; \
		$(FUZZ_RUN) $$t $(FUZZ_WORK)/corpus/$$t tests/fuzz/corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_WORK)/artifacts/$$t/ \
			$(FUZZ_ARGS); \
	done

# Edge coverage only (-use_counters=0) and a set cover, so the committed corpus stays small.
fuzz-merge: fuzz-tool
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_WORK)/corpus/$$t; \
		$(FUZZ_RUN) $$t tests/fuzz/corpus/$$t $(FUZZ_WORK)/corpus/$$t -- \
			-merge=1 -set_cover_merge=1 -use_counters=0; \
	done
