#!/usr/bin/env bash
# Part 1 of the tour: tcp_server and tcp_client (tcp_server.py / tcp_client.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

title "1. TCP: a server that answers every message (tcp_server.py / tcp_client.py)"
say "The server prints 'listening on IP:PORT' first; --port 0 lets the system pick a free port."
start_server tcp_server --port 0 --bind 127.0.0.1
say ""
say "The client sends each line of its input and prints the server's one reply:"
feed 'hello, server\nhow are you?\nexit\n' "$BIN/tcp_client" --port "$PORT"
wait_log tcp_server "service complete"
say ""
say "Meanwhile the server logged, for that client:"
server_log tcp_server
say ""
say "Unlike the Python, every client has its own thread: two clients at the same time are both answered."
say "With --echo it is a plain echo server; TCP is a byte stream, so 'one read = one message' is only a convention:"
start_server tcp_server --port 0 --bind 127.0.0.1 --echo --quiet
feed 'echo me back\n' "$BIN/tcp_client" --port "$PORT"
