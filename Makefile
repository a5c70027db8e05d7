# The commands a newcomer types: `make demo` (a guided tour) and `make test`.
CARGO ?= cargo

.PHONY: build test lint demo bench install clean

build:
	$(CARGO) build --release --bins

test:
	$(CARGO) test --all-targets

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

demo:
	$(CARGO) build --release --bins --quiet
	bash tools/demo.sh target/release

# Each benchmark is a std-only example that prints its own table. The 1 GiB download
# runs last: the disk writeback it leaves behind would slow whatever ran next.
BENCHES = bench_gbk bench_tcp bench_udp bench_download

bench: export BENCH_SVG := docs/bench.svg
bench:
	$(CARGO) build --release --bins --examples --quiet
	@set -e; for name in $(BENCHES); do \
		echo "== $$name"; \
		target/release/examples/$$name; \
		echo; \
	done

install:
	$(CARGO) install --path .

clean:
	$(CARGO) clean
