"""What issue 16's guarantees cost: a mock with a mailbox and tapes (a 250
sent once the .eml is fsync'd, a 221 once the session's tape is) against
the same mock without files, and a build before the change (BASE, whose
250 did not wait for the disk) against this one; plus large bodies, which
pass through the body memory budget.

    BASE=/path/to/old/mailtape python3 benches/durability.py

A/B interleaved, ROUNDS rounds (default 3), medians with min-max. Both
binaries and the load generator (this build's `mailtape bench`) share the
machine's cores.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

# The inbox is off: this measures SMTP, and port 8025 may be taken.
os.environ.setdefault("MAILTAPE_UI", "off")

NEW = os.environ.get("MAILTAPE", "target/profiling/mailtape")
BASE = os.environ.get("BASE")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
# ONLY=text runs the cases whose name holds it.


def serve(binary, files, tmp):
    """Starts `binary mock` on a free plain port; returns the process and port."""
    cmd = [binary, "mock", "--json", "--scenario", "unlimited", "--smtps", "off",
           "--starttls", "off", "--plain", "127.0.0.1:0",
           "--certs", os.path.join(tmp, "certs")]
    if files:
        cmd += ["--mailbox", os.path.join(tmp, "mailbox"), "--tapes", os.path.join(tmp, "tapes")]
    # The live view goes to a file: a pipe nobody drains would slow the run.
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = json.loads(p.stdout.readline())
    sink = open(os.devnull, "w")
    subprocess.Popen(["cat"], stdin=p.stdout, stdout=sink)
    return p, int(ready["plain"].rsplit(":", 1)[1])


def run(binary, files, args):
    tmp = tempfile.mkdtemp(prefix="mailtape-durability-")
    p, port = serve(binary, files, tmp)
    try:
        out = subprocess.run([NEW, "bench", "--port", str(port), "--json", *args],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
    finally:
        p.terminate()
        p.wait()
    if files:
        emls = len(os.listdir(os.path.join(tmp, "mailbox")))
        assert emls >= r["accepted"], f"{emls} .eml files for {r['accepted']} accepted"
    shutil.rmtree(tmp, ignore_errors=True)
    return r


def summary(rs):
    mps = [r["messages_per_s"] for r in rs]
    p50 = statistics.median(r["per_message"]["p50_us"] for r in rs)
    p99 = statistics.median(r["per_message"]["p99_us"] for r in rs)
    errors = sum(r["errors"] for r in rs)
    return statistics.median(mps), min(mps), max(mps), p50, p99, errors


CASES = [
    ("20 conn, 50 messages per connection",
     ["--connections", "20", "--messages", "4000", "--per-connection", "50"]),
    ("20 conn, new connection per message",
     ["--connections", "20", "--messages", "2000", "--per-connection", "1"]),
    ("1 conn, 50 messages per connection",
     ["--connections", "1", "--messages", "500", "--per-connection", "50"]),
    ("20 conn, 1 MiB messages",
     ["--connections", "20", "--messages", "200", "--per-connection", "10", "--size", "1048576"]),
]


def main():
    sides = [("this build, no files", NEW, False), ("this build, --mailbox --tapes", NEW, True)]
    if BASE:
        sides += [("before, no files", BASE, False), ("before, --mailbox --tapes", BASE, True)]
    print("| case | server | msg/s (median, min–max) | per message p50 / p99 µs | errors |")
    print("|---|---|---|---|---|")
    only = os.environ.get("ONLY")
    for name, args in CASES:
        if only and only not in name:
            continue
        results = {s[0]: [] for s in sides}
        for _ in range(ROUNDS):
            for label, binary, files in sides:
                results[label].append(run(binary, files, args))
        for label, _, _ in sides:
            med, lo, hi, p50, p99, errors = summary(results[label])
            print(f"| {name} | {label} | {med:,.0f} ({lo:,.0f}–{hi:,.0f}) | {p50:,.0f} / {p99:,.0f} | {errors} |")
        sys.stdout.flush()


main()
