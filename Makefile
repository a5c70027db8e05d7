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

# Each benchmark is a std-only example named bench_*; they print their own tables.
bench: export BENCH_SVG := docs/bench.svg
bench:
	$(CARGO) build --release --bins --examples --quiet
	@set -e; for b in $$(ls examples | grep "^bench_" | sort); do \
		name=$${b%.rs}; \
		echo "== $$name"; \
		target/release/examples/$$name; \
		echo; \
	done

install:
	$(CARGO) install --path .

clean:
	$(CARGO) clean
