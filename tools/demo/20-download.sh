#!/usr/bin/env bash
# Part 3 of the tour: download_server and download_client (download_server.py / download_client.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

title "2. Files: a download server that stays in its directory (download_server.py / download_client.py)"
served="$DEMO_TMP/served"
here="$DEMO_TMP/here"
mkdir -p "$served/docs" "$here"
printf 'meeting at 10\n' > "$served/notes.txt"
head -c 20000 /dev/urandom > "$served/docs/photo.jpg"
head -c 8000000 /dev/urandom > "$served/big.bin"
printf 'not for you\n' > "$DEMO_TMP/secret.txt"
say "The server serves one directory (--root), on 127.0.0.1 unless told otherwise:"
start_server download_server --port 0 --root "$served"
cd "$here"

say ""
say "The Python client does one recv(6000), so anything longer was cut. Here a 20,000-byte file arrives whole,"
say "saved as copy-<name> like the Python does, and --verify prints a SHA-256 the way sha256sum does:"
run "$BIN/download_client" --port "$PORT" --verify docs/photo.jpg
run sha256sum "$served/docs/photo.jpg"
run ls -l copy-photo.jpg

say ""
say "The Python server said nothing about a missing file; the client now gets the server's message and exit status 1:"
run "$BIN/download_client" --port "$PORT" nope.txt || say "(exit status $?)"

say ""
say "The Python server opened any path it was sent, ../ and /etc/passwd included. Here they are refused:"
run "$BIN/download_client" --port "$PORT" ../secret.txt /etc/passwd || say "(exit status $?)"
run ls

say ""
say "An interrupted download resumes. 'ulimit -f 2048' stands in for a crash: the client is killed"
say "when its file reaches 2 MiB. The bytes so far are in copy-big.bin.part, never under the final name:"
printf '$ (ulimit -f 2048; download_client --port %s big.bin)\n' "$PORT"
status=0
# The braces keep bash's own "File size limit exceeded" notice out of the tour.
{ (ulimit -f 2048; exec "$BIN/download_client" --port "$PORT" big.bin >"$DEMO_TMP/cut.log" 2>&1); } 2>/dev/null || status=$?
sed 's/^/    /' "$DEMO_TMP/cut.log"
say "(killed by SIGXFSZ, exit status $status)"
run ls -l
say "Run it again: it asks the server for the rest, if the file is still the same version:"
run "$BIN/download_client" --port "$PORT" big.bin
run cmp copy-big.bin "$served/big.bin"
say "(cmp printed nothing: the copy is identical)"
wait_log download_server "resumed at byte"

say ""
say "The server logged every request: client, path, result, bytes, time:"
server_log download_server
