"""What watching costs: the mock three ways in one run (--quiet, --json drained,
the human view drained), interleaved, with ratios to --quiet; then the write and
futex calls per message of each view (strace -c -f), if strace is installed.

    python3 benches/live_view.py          # ROUNDS=3 by default
Called by benches/compare.sh (the live-view case).
"""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# The inbox is off: this measures SMTP, and port 8025 may be taken.
os.environ.setdefault("MAILTAPE_UI", "off")

MT = os.environ.get("MAILTAPE", "target/profiling/mailtape")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
TMP = tempfile.mkdtemp(prefix="mailtape-live-")
procs = []

VIEWS = [("--quiet", ["--quiet"], {}), ("--json, drained", ["--json"], {}),
         ("human view (NO_COLOR=1), drained", [], {"NO_COLOR": "1"})]


def start(port, flags, env, prefix=()):
    cmd = [*prefix, MT, "mock", "--scenario", "unlimited", "--certs", os.path.join(TMP, "certs"),
           "--smtps", "off", "--starttls", "off", "--plain", f"127.0.0.1:{port}", "--max-connections", "20000", *flags]
    # Drained: a reader that keeps up, as `mailtape mock | cat > /dev/null` would.
    drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    p = subprocess.Popen(cmd, stdout=drain.stdin, stderr=subprocess.DEVNULL, env={**os.environ, **env})
    drain.stdin.close()
    procs.extend([p, drain])
    for _ in range(200):
        if subprocess.run([MT, "bench", "--port", str(port), "--messages", "1", "--connections", "1"],
                          capture_output=True).returncode == 0:
            return p
        time.sleep(0.05)
    raise SystemExit(f"mock on {port} did not start")


def bench(port, conn, n, per):
    out = subprocess.run([MT, "bench", "--port", str(port), "--json", "--connections", str(conn),
                          "--messages", str(n), "--per-connection", str(per)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def cpu_s(pid):
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(p):
    """SIGINT to mailtape itself (under strace, the child of the tracer)."""
    pid = p.pid
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        children = f.read().split()
    os.kill(int(children[0]) if children else pid, signal.SIGINT)
    p.wait(30)


def throughput():
    ports = [3531, 3532, 3533]
    pids = {}
    for port, (_, flags, env) in zip(ports, VIEWS):
        pids[port] = start(port, flags, env).pid
    print("| mock started with | 50 per connection, msg/s (median, min–max) | ratio to --quiet | 1 per connection, msg/s | ratio to --quiet |")
    print("|---|---|---|---|---|")
    results = {}
    cpu = {}
    for per, n in [(50, 10000), (1, 3000)]:
        rates = {port: [] for port in ports}
        for r in range(ROUNDS):
            order = ports if r % 2 == 0 else list(reversed(ports))
            for port in order:
                before = cpu_s(pids[port])
                rep = bench(port, 20, n, per)
                cpu[(per, port)] = cpu.get((per, port), 0.0) + cpu_s(pids[port]) - before
                if rep["errors"]:
                    raise SystemExit(f"{rep['errors']} errors on port {port}")
                rates[port].append(rep["messages_per_s"])
        results[per] = rates
    quiet = {per: statistics.median(results[per][ports[0]]) for per in results}
    for port, (name, _, _) in zip(ports, VIEWS):
        cells = []
        for per in (50, 1):
            rs = results[per][port]
            m = statistics.median(rs)
            cells += [f"{m:,.0f} ({min(rs):,.0f}–{max(rs):,.0f})", f"{m / quiet[per]:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    # CPU time of mailtape itself per message: far less noisy than msg/s on a
    # shared machine (the drain's `cat` is not counted).
    print()
    print("| mock started with | CPU µs per message, 50 per conn | ratio to --quiet | CPU µs per message, 1 per conn | ratio to --quiet |")
    print("|---|---|---|---|---|")
    for port, (name, _, _) in zip(ports, VIEWS):
        cells = []
        for per, n in [(50, 10000), (1, 3000)]:
            us = cpu[(per, port)] / (n * ROUNDS) * 1e6
            q = cpu[(per, ports[0])] / (n * ROUNDS) * 1e6
            cells += [f"{us:.1f}", f"{us / q:.2f}" if q else "-"]
        print(f"| {name} | " + " | ".join(cells) + " |")


def syscalls():
    if not shutil.which("strace"):
        print("(strace not installed: no syscall counts)")
        return
    print()
    print("| view, 2,000 messages, 20 conn, 50 per conn | write per message | futex per message | futex errors (contended) per message |")
    print("|---|---|---|---|")
    for i, (name, flags, env) in enumerate(VIEWS):
        out = os.path.join(TMP, f"strace{i}")
        p = start(3540 + i, flags, env, prefix=("strace", "-c", "-f", "-o", out))
        # The start-up probe sent one message; it is counted as well.
        bench(3540 + i, 20, 2000, 50)
        stop(p)
        calls = {}
        for line in open(out):
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d*)\s*(\w+)$", line)
            if m:
                calls[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
        w, f = calls.get("write", (0, 0)), calls.get("futex", (0, 0))
        print(f"| {name} | {w[0] / 2001:.2f} | {f[0] / 2001:.2f} | {f[1] / 2001:.2f} |")


if __name__ == "__main__":
    try:
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} · {ROUNDS} rounds, interleaved")
        if "--syscalls-only" not in sys.argv:
            throughput()
        syscalls()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(TMP, ignore_errors=True)
