"""Load test (issue 7): 1,000 concurrent sessions held open, plus 20,000
messages sent, through `mailtape mock` and through `mailtape record` in
front of a mock. Checks no error and no lost transcript, and reports the
RSS of the mailtape under load before, at peak and after.

    bash -c 'ulimit -n "$(ulimit -Hn)"; python3 benches/load.py'
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MT = os.environ.get("MAILTAPE", "target/profiling/mailtape")
TMP = tempfile.mkdtemp(prefix="mailtape-load-")
CERTS = os.path.join(TMP, "certs")


def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing on {port}")


def sampler(pid, stop, peak):
    while not stop.is_set():
        peak[0] = max(peak[0], rss(pid))
        time.sleep(0.05)


def run(name, port, pid, tapes_dir):
    before = rss(pid)
    peak = [before]
    stop = threading.Event()
    t = threading.Thread(target=sampler, args=(pid, stop, peak))
    t.start()
    # 1,000 sessions held open (greeted, EHLO'd, idle) while the load runs
    held = []
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", port))
        s.recv(512)
        s.sendall(b"EHLO held.local\r\n")
        held.append(s)
    for s in held:
        s.recv(4096)
    start = time.time()
    out = subprocess.run([MT, "bench", "--port", str(port), "--connections", "50", "--messages", "20000",
                          "--per-connection", "20", "--json"], capture_output=True, text=True, check=True)
    rep = json.loads(out.stdout)
    elapsed = time.time() - start
    for s in held:
        s.sendall(b"QUIT\r\n")
        s.close()
    # every session reaches the tapes folder: the held ones and the bench's
    sessions = 1000 + rep["connect"]["count"]
    deadline = time.time() + 30
    while time.time() < deadline and len(os.listdir(tapes_dir)) < sessions:
        time.sleep(0.2)
    time.sleep(5)  # mailtape hands freed memory back within a few seconds
    stop.set()
    t.join()
    after = rss(pid)
    tapes = len(os.listdir(tapes_dir))
    # (the port probes at start-up are sessions too)
    ok = rep["errors"] == 0 and rep["accepted"] == 20000 and tapes >= sessions
    print(f"| {name} | {rep['accepted']:,} | {rep['errors']} | {tapes:,} of {sessions:,} | {rep['messages_per_s']:,.0f} | "
          f"{before/1024:.1f} | {peak[0]/1024:.1f} | {after/1024:.1f} | {'✓' if ok else '✗'} |", flush=True)
    return ok


def main():
    procs = []
    try:
        t1, t2 = os.path.join(TMP, "mock-tapes"), os.path.join(TMP, "record-tapes")
        os.makedirs(t1)
        os.makedirs(t2)
        mock = subprocess.Popen([MT, "mock", "--ui", "off", "--scenario", "unlimited", "--quiet", "--certs", CERTS,
                                 "--smtps", "127.0.0.1:5465", "--starttls", "off", "--plain", "127.0.0.1:5525",
                                 "--max-connections", "5000", "--tapes", t1])
        procs.append(mock)
        wait_port(5525)
        rec = subprocess.Popen([MT, "record", "--ui", "off", "--quiet", "--certs", CERTS, "--upstream", "127.0.0.1:5465",
                                "--upstream-tls", "implicit", "--upstream-ca", os.path.join(CERTS, "ca.pem"),
                                "--tape", os.path.join(TMP, "load.tape"), "--tapes", t2,
                                "--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:5526",
                                "--max-connections", "5000"])
        procs.append(rec)
        wait_port(5526)
        print("| through | accepted | errors | transcripts | msg/s | RSS before MiB | peak MiB | after MiB | ok |")
        print("|---|---|---|---|---|---|---|---|---|")
        ok1 = run("mock", 5525, mock.pid, t1)
        ok2 = run("record → mock", 5526, rec.pid, t2)
        # the record tape holds every session too, and parses
        shown = subprocess.run([MT, "show", os.path.join(TMP, "load.tape"), "--json"], capture_output=True, text=True)
        n = len(json.loads(shown.stdout)["sessions"]) if shown.returncode == 0 else -1
        print(f"\nrecord tape: {n:,} sessions, parses: {shown.returncode == 0}")
        sys.exit(0 if ok1 and ok2 and n == len(os.listdir(t2)) else 1)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)


if __name__ == "__main__":
    main()
