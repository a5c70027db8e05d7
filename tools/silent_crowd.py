#!/usr/bin/env python3
"""A silent crowd against download_server, and how long a real client waits (issue 20, finding 3).

Usage: tools/silent_crowd.py SERVER_PORT CLIENT_BIN FILE [ADDRESSES] [PER_ADDRESS] [SECONDS]

ADDRESSES hosts from 127.0.0.2 up (Linux: all of 127/8 is loopback) each hold PER_ADDRESS
connections that never send a byte, and reconnect as soon as one is closed. Once the crowd
is in place, CLIENT_BIN (download_client) fetches FILE again and again for SECONDS, and the
tries that succeeded and the time each took are printed. Loopback only.
"""
import selectors, socket, subprocess, sys, tempfile, time

port, client, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
addresses = int(sys.argv[4]) if len(sys.argv) > 4 else 120
per = int(sys.argv[5]) if len(sys.argv) > 5 else 2
seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 18
sel = selectors.DefaultSelector()

def connect(host):
    s = socket.socket()
    s.bind((host, 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_READ, host)

for i in range(addresses):
    for _ in range(per):
        connect("127.0.%d.%d" % divmod(2 + i, 256))

def churn(until):
    reconnects = 0
    while time.monotonic() < until:
        for key, _ in sel.select(timeout=max(0, min(0.05, until - time.monotonic()))):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                connect(key.data)
                reconnects += 1
    return reconnects

churn(time.monotonic() + 2)  # let the crowd settle in
import threading
stop = time.monotonic() + seconds
results = []
def tries():
    with tempfile.TemporaryDirectory() as cwd:
        while time.monotonic() < stop:
            t = time.monotonic()
            out = subprocess.run([client, "--port", str(port), "--force", name], cwd=cwd,
                                 capture_output=True, text=True, timeout=60)
            results.append((out.returncode == 0, time.monotonic() - t, out.stderr.strip()[:120]))
            time.sleep(0.5)
worker = threading.Thread(target=tries)
worker.start()
reconnects = churn(stop + 30)
worker.join()
ok = [r for r in results if r[0]]
print("crowd: %d addresses x %d silent connections, %d reconnects" % (addresses, per, reconnects))
print("real client: %d of %d tries succeeded over %.0f s" % (len(ok), len(results), seconds))
if ok:
    times = sorted(r[1] for r in ok)
    print("succeeded tries took: min %.3f s, median %.3f s, max %.3f s" % (times[0], times[len(times) // 2], times[-1]))
fails = [r[2] for r in results if not r[0]]
if fails:
    print("a failure said:", fails[0])
