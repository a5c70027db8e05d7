# Shared by the demo parts: start servers on free ports, show commands, stop everything on exit.
# Sourced, not run. Expects $BIN (the directory holding the binaries).

DEMO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/socket-tutorial-demo.XXXXXX")
DEMO_PIDS=()

demo_cleanup() {
    for pid in "${DEMO_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${DEMO_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$DEMO_TMP"
}
trap demo_cleanup EXIT

# A heading for one part of the tour.
title() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# A line of explanation.
say() { printf '%s\n' "$*"; }
# Shows a command as the reader would type it (shell-quoted), then runs it with output indented.
run() {
    printf '$'; printf ' %q' "$@" | sed "s#$BIN/##g"; printf '\n'
    "$@" 2>&1 | sed 's/^/    /'
    return "${PIPESTATUS[0]}"
}

# start_server NAME ARGS...: starts $BIN/NAME in the background with its output in
# $DEMO_TMP/NAME.log and waits (up to 10 s) for its `listening on` line; sets PORT.
start_server() {
    local name=$1; shift
    local log="$DEMO_TMP/$name.log"
    "$BIN/$name" "$@" >"$log" 2>&1 &
    DEMO_PIDS+=("$!")
    local tries=0
    until head -n 1 "$log" 2>/dev/null | grep -q '^listening on '; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then
            echo "demo: $name did not start:" >&2; cat "$log" >&2; exit 1
        fi
        sleep 0.05
    done
    PORT=$(head -n 1 "$log" | sed 's/.*://')
    printf '(started: %s %s  ->  %s)\n' "$name" "$*" "$(head -n 1 "$log")"
}

# feed INPUT CMD...: shows `printf INPUT | CMD` and runs it with INPUT on its stdin.
feed() {
    local input=$1; shift
    printf "$ printf '%s' |" "$input"; printf ' %s' "$@" | sed "s#$BIN/##g"; printf '\n'
    printf "$input" | "$@" 2>&1 | sed 's/^/    /'
    return "${PIPESTATUS[1]}"
}

# wait_log NAME TEXT: waits (up to 10 s) until the server's log contains TEXT.
wait_log() {
    local tries=0
    until grep -qF -- "$2" "$DEMO_TMP/$1.log"; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then echo "demo: $1 never printed '$2'" >&2; exit 1; fi
        sleep 0.05
    done
}

# server_log NAME: what the server printed so far, indented.
server_log() { sed 's/^/    | /' "$DEMO_TMP/$1.log"; }
