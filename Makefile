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

# ---- benchmarks (issue 6): ferroftpd against vsftpd and pure-ftpd on 127.0.0.1 --------------
# Driver and load generator live in tests/bench/ (see tests/bench/README.md); scratch files,
# unpacked reference servers and results-<date>.json go to target/bench/. The references need
# root (chroot, a system user); without it they are skipped with the reason.
.PHONY: bench bench-quick

bench: release
	python3 tests/bench/run

# Reduced: 256 MiB transfers, 2 rounds, ferroftpd and vsftpd only; under a minute.
bench-quick: release
	python3 tests/bench/run --quick
