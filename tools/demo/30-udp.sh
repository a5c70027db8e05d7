#!/usr/bin/env bash
# Part 3 of the tour: udp_receiver and udp_sender (udp_receiver.py / udp_sender.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

title "3. UDP: datagrams without a connection (udp_receiver.py / udp_sender.py)"
say "The receiver binds a port and prints each datagram with the address it came from."
start_server udp_receiver --port 0 --bind 127.0.0.1
say ""
say "The sender sends its greeting, then each line as one datagram (an empty line is an empty datagram)."
say "--bind-port 0 lets the system pick the sender's port (the Python always uses 14000):"
feed 'hello over UDP\n\nexit\n' "$BIN/udp_sender" --bind-port 0 --port "$PORT"
wait_log udp_receiver ": exit"
say ""
say "The receiver printed, and 'exit' ended it as in the Python:"
server_log udp_receiver

say ""
say "Nothing tells a UDP sender whether anyone received. A receiver that stops after one datagram:"
start_server udp_receiver --port 0 --bind 127.0.0.1 --count 1
feed 'only one\n' "$BIN/udp_sender" --no-greeting --bind-port 0 --port "$PORT"
wait "${DEMO_PIDS[-1]}"
say "...has gone. Sending to its port again still succeeds (exit status 0); the warnings are the"
say "system passing on ICMP 'port unreachable' answers, which it does because the socket is connect()ed:"
feed 'is anybody there?\nhello?\n' "$BIN/udp_sender" --bind-port 0 --port "$PORT"

say ""
say "A line longer than one datagram can carry (65,507 bytes over IPv4) is refused, never cut."
say "Input: a line of 70,000 'x', then 'after'; the receiver stops after two datagrams:"
start_server udp_receiver --port 0 --bind 127.0.0.1 --count 2
{ head -c 70000 /dev/zero | tr '\0' x; printf '\nafter\n'; } >"$DEMO_TMP/long.txt"
status=0
run "$BIN/udp_sender" --bind-port 0 --port "$PORT" <"$DEMO_TMP/long.txt" || status=$?
say "(exit status $status: a line was not sent)"
wait_log udp_receiver ": after"
server_log udp_receiver

say ""
say "Like the Python, both sides can speak gbk (--encoding gbk); a character gbk lacks is refused by name:"
start_server udp_receiver --port 0 --bind 127.0.0.1 --encoding gbk --count 2
status=0
feed '我是客戶发送端\n😀\n' "$BIN/udp_sender" --encoding gbk --bind-port 0 --port "$PORT" || status=$?
say "(exit status $status)"
wait_log udp_receiver ": 我是客戶发送端"
server_log udp_receiver
