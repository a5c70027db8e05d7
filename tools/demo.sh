#!/usr/bin/env bash
# The guided tour behind `make demo`: runs every part in tools/demo/ in order.
# Usage: tools/demo.sh DIR_WITH_BINARIES
set -euo pipefail
BIN=$(cd "${1:-target/release}" && pwd)
export BIN
here=$(cd "$(dirname "$0")" && pwd)
for part in "$here"/demo/[0-9]*.sh; do
    bash "$part"
done
printf '\nThat was the tour. `make test` runs the tests; each program explains itself with --help.\n'
