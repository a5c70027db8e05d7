# The commands a newcomer types: `make demo` (a guided tour) and `make test`.
# Where there is no make (Windows): `cargo run --release --example demo` and `cargo test`.
CARGO ?= cargo

.PHONY: build test lint demo bench bench-chart install man clean check-windows check-macos test-windows diagrams

build:
	$(CARGO) build --release --bins

test:
	$(CARGO) test

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# The tour is a Rust program (examples/demo/), so it runs wherever cargo does.
demo:
	$(CARGO) build --release --quiet --bins --example demo
	target/release/examples/demo

# Windows and macOS from this Linux machine (tools/xtarget.sh says how): a type-check of
# every target for both, and the test suite built for Windows and run under Wine.
# Extra cargo arguments: make test-windows ARGS='--test help'
check-windows check-macos test-windows:
	bash tools/xtarget.sh $@ $(ARGS)

# Each benchmark is a std-only example that prints its own table. The 1 GiB download
# runs last: the disk writeback it leaves behind would slow whatever ran next.
BENCHES = bench_gbk bench_tcp bench_udp bench_download

# Everything they write goes under target/ or the system's temp directory: the checkout stays clean.
# Each runs even when one before failed; `make bench` then exits non-zero, naming them.
bench:
	$(CARGO) build --release --bins --examples --quiet
	@failed=""; for name in $(BENCHES); do \
		echo "== $$name"; \
		target/release/examples/$$name || failed="$$failed $$name"; \
		echo; \
	done; \
	if [ -n "$$failed" ]; then echo "make bench: a target failed in:$$failed"; exit 1; fi

# Only this updates the tracked chart of docs/WALKTHROUGH*.md (refresh the figures beside it too).
bench-chart:
	$(CARGO) build --release --bins --examples --quiet
	target/release/examples/bench_tcp --svg docs/bench.svg

# Where `make install` puts the programs (PREFIX/bin, as `cargo install --root PREFIX` does),
# their manual pages (PREFIX/share/man/man1) and the documents the pages name
# (PREFIX/share/doc/socket-tutorial; tests/man.rs checks that a page names no other). The default is cargo's own place, and
# man looks there by itself: with ~/.cargo/bin on PATH, it reads ~/.cargo/share/man.
# Elsewhere: make install PREFIX=/usr/local
PREFIX ?= $(or $(CARGO_INSTALL_ROOT),$(CARGO_HOME),$(HOME)/.cargo)
MANDIR ?= $(PREFIX)/share/man/man1
DOCDIR ?= $(PREFIX)/share/doc/socket-tutorial
DOCS = README.md README.zh-CN.md docs/PROTOCOL.md docs/FILE_SHELL.md docs/ROOT.md docs/TRACE.md

install:
	$(CARGO) install --path . --root "$(PREFIX)"
	mkdir -p "$(MANDIR)" "$(DOCDIR)"
	cp docs/man/*.1 "$(MANDIR)/"
	cp $(DOCS) "$(DOCDIR)/"

# The manual pages in docs/man, made from each program's --help (tests/man.rs fails when
# a help text changed and the pages did not; this fixes it).
man:
	$(CARGO) build --release --quiet --bins --example man
	target/release/examples/man docs/man

clean:
	$(CARGO) clean

# The walkthrough's diagrams (docs/diagrams/*.svg), each drawn by trace_chart from a real run
# of our programs with --trace-file; and, where Chromium is installed, a screenshot of each.
diagrams:
	$(CARGO) build --release --quiet --bins --example lesson --example trace_chart
	target/release/examples/lesson --diagrams docs/diagrams
	@if command -v chromium > /dev/null; then for d in tcp-stream udp slow-link; do \
		chromium --headless --no-sandbox --disable-gpu --window-size=2200,1000 \
			--user-data-dir="$${TMPDIR:-/tmp}/trace-chart-chromium" \
			--screenshot="$(CURDIR)/docs/diagrams/$$d.png" "file://$(CURDIR)/docs/diagrams/$$d.svg" 2> /dev/null; \
	done; fi
