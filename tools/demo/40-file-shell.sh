#!/usr/bin/env bash
# Part 4 of the tour: file_shell and a writable download_server (the tutorial's sftp section).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

title "4. Folders: the tutorial's sftp steps, put ./* . and get ./* ., with file_shell"
served="$DEMO_TMP/fs-served"
mkdir -p "$served/home/up_temp/socket" "$DEMO_TMP/E/new_temp/photos/2018" "$DEMO_TMP/E/back"
printf 'socket notes\n' > "$DEMO_TMP/E/new_temp/notes.txt"
head -c 300000 /dev/urandom > "$DEMO_TMP/E/new_temp/photos/2018/beach.jpg"
: > "$DEMO_TMP/E/new_temp/empty.txt"
say "download_server only sends files unless started with --writable:"
start_server download_server --port 0 --root "$served" --writable
cd "$DEMO_TMP/E"

say ""
say "The tutorial's upload: see where we are on both sides (pwd, lpwd), go to the server's folder (cd)"
say "and the local one (lcd), then put ./* . -- with -r, because plain put skips folders (and says so)."
say "Commands on stdin (or -b FILE) run in batch mode: each is echoed after the prompt, as sftp -b does."
cat > upload.txt <<'EOF'
pwd
lpwd
cd /home/up_temp/socket
lcd new_temp
put ./* .
put -r ./* .
ls -l
EOF
run cat upload.txt
run "$BIN/file_shell" --port "$PORT" -b upload.txt

say ""
say "And back: get ./* . into an empty local folder (lmkdir makes one on this side):"
cat > download.txt <<'EOF'
cd /home/up_temp/socket
lmkdir back/socket
lcd back/socket
get -r ./* .
EOF
run cat download.txt
run "$BIN/file_shell" --port "$PORT" -b download.txt
run diff -r new_temp back/socket
say "(diff printed nothing: the same files, folders and bytes came back)"

say ""
say "cd .. stops at the server's root, and a link in the served folder that points outside it"
say "is refused; in batch mode the first failure ends the session with exit status 1:"
ln -s .. "$served/escape"
printf 'cd ../../..\npwd\nput new_temp/notes.txt escape/stolen.txt\npwd\n' > bad.txt
run cat bad.txt
status=0
run "$BIN/file_shell" --port "$PORT" -b bad.txt || status=$?
say "(exit status $status)"
if [ -e "$DEMO_TMP/stolen.txt" ]; then echo "demo: a file was written outside the served folder" >&2; exit 1; fi

say ""
say "The server logged every request; these are the writes (each upload went to a hidden .NAME.part"
say "next to its target, renamed into place only when every byte had arrived):"
server_log download_server | grep -E ' (upload|mkdir) ' | head -n 7
