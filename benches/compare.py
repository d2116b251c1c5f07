"""Runs the benchmark cases A/B interleaved and prints medians and ratios.

Called by benches/compare.sh, which installs the peers first.
"""

import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MT = os.environ.get("MAILTAPE", "target/profiling/mailtape")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
TMP = tempfile.mkdtemp(prefix="mailtape-bench-")
CERTS = os.path.join(TMP, "certs")
CA = os.path.join(CERTS, "ca.pem")
procs = []


def start(cmd, ready=None, **kw):
    out = subprocess.PIPE if ready else subprocess.DEVNULL
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, text=True, **kw)
    procs.append(p)
    if ready:
        while True:
            line = p.stdout.readline()
            if not line:
                raise SystemExit(f"{cmd[0]} did not start")
            if ready(line):
                break
    return p


def wait_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def bench(port, *args):
    out = subprocess.run([MT, "bench", "--port", str(port), "--json", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def settle():
    """Waits (at most 65 s) for the TIME_WAIT sockets of earlier cases to go:
    tens of thousands of them slow new loopback connections now and then,
    which once made one side of a case look twice as slow as the other."""
    deadline = time.time() + 65
    while time.time() < deadline:
        out = subprocess.run(["ss", "-tan", "state", "time-wait"], capture_output=True, text=True).stdout
        if out.count("\n") < 2000:
            return
        time.sleep(2)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    print(f"machine: {os.cpu_count()} cores · {os.uname().release} · mailtape {subprocess.run([MT, '--version'], capture_output=True, text=True).stdout.strip()}")
    mock = start([MT, "mock", "--ui", "off", "--scenario", "unlimited", "--quiet", "--certs", CERTS,
                  "--smtps", "127.0.0.1:3465", "--starttls", "127.0.0.1:3587", "--plain", "127.0.0.1:3525",
                  "--max-connections", "20000"])
    wait_port(3525)
    sink = start(["smtp-sink", "-u", "nobody", "-c", "127.0.0.1:3625", "1024"])
    wait_port(3625)
    cert, key = os.path.join(CERTS, "server.pem"), os.path.join(CERTS, "server-key.pem")
    for mode, port in [("plain", 3725), ("starttls", 3787), ("implicit", 3765)]:
        start([sys.executable, "benches/aiosmtpd_server.py", "--port", str(port), "--mode", mode, "--cert", cert, "--key", key],
              ready=lambda l: l.startswith("ready"))
    start([MT, "record", "--ui", "off", "--quiet", "--upstream", "127.0.0.1:3625", "--upstream-tls", "none",
                      "--tape", os.path.join(TMP, "sink.tape"), "--certs", CERTS,
                      "--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:3825"])
    start([MT, "record", "--ui", "off", "--quiet", "--upstream", "127.0.0.1:3465", "--upstream-tls", "implicit",
                      "--upstream-ca", CA, "--tape", os.path.join(TMP, "mock.tape"), "--certs", CERTS,
                      "--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:3826"])
    # The floor: a relay that only copies bytes (examples/relay_floor.rs).
    FLOOR = os.environ.get("RELAY_FLOOR", "target/profiling/examples/relay_floor")
    start([FLOOR, "127.0.0.1:3925", "127.0.0.1:3625"])
    start([FLOOR, "127.0.0.1:3926", "127.0.0.1:3465", "--tls-ca", CA])
    wait_port(3825)
    wait_port(3826)
    wait_port(3925)
    wait_port(3926)

    tls = ["--ca-file", CA]
    def c(conn, n, per=1, size=1024):
        return ["--connections", str(conn), "--messages", str(n), "--per-connection", str(per), "--size", str(size)]

    # (case, A: (port, args), B: (port, args), target ratio or None)
    cases = []
    for conn, n in [(1, 1000), (20, 4000), (200, 4000)]:
        cases.append((f"plain, new connection per message, {conn} conn", "smtp-sink",
                      (3525, c(conn, n)), (3625, c(conn, n) + ["--auth", "none"]), 0.7 if conn == 20 else None))
    for conn, n in [(1, 5000), (20, 20000), (200, 20000)]:
        cases.append((f"plain, 50 messages per connection, {conn} conn", "smtp-sink",
                      (3525, c(conn, n, 50)), (3625, c(conn, n, 50) + ["--auth", "none"]), 0.5 if conn == 20 else None))
    cases.append(("plain, 1 MiB messages, 20 conn", "smtp-sink",
                  (3525, c(20, 300, 1, 1 << 20)), (3625, c(20, 300, 1, 1 << 20) + ["--auth", "none"]), None))
    cases.append(("STARTTLS + AUTH, new connection per message, 20 conn", "aiosmtpd",
                  (3587, c(20, 2000) + ["--tls", "starttls"] + tls), (3787, c(20, 2000) + ["--tls", "starttls"] + tls), 5.0))
    cases.append(("implicit TLS + AUTH, new connection per message, 20 conn", "aiosmtpd",
                  (3465, c(20, 2000) + ["--tls", "implicit"] + tls), (3765, c(20, 2000) + ["--tls", "implicit"] + tls), 5.0))
    cases.append(("implicit TLS + AUTH, 1 MiB, 20 conn", "aiosmtpd",
                  (3465, c(20, 200, 1, 1 << 20) + ["--tls", "implicit"] + tls), (3765, c(20, 200, 1, 1 << 20) + ["--tls", "implicit"] + tls), None))
    cases.append(("generator ceiling: plain, 50 per connection, 20 conn", "smtp-sink",
                  (3625, c(20, 40000, 50) + ["--auth", "none"]), (3625, c(20, 40000, 50) + ["--auth", "none"]), None))
    cases.append(("proxy latency: record → smtp-sink vs smtp-sink, 1 conn, 50 per conn", "direct",
                  (3825, c(1, 5000, 50) + ["--auth", "none"]), (3625, c(1, 5000, 50) + ["--auth", "none"]), None))
    cases.append(("proxy cost: record → smtp-sink vs smtp-sink, 20 conn, 50 per conn", "direct",
                  (3825, c(20, 20000, 50) + ["--auth", "none"]), (3625, c(20, 20000, 50) + ["--auth", "none"]), 0.8))
    cases.append(("proxy cost: plain → record → mock (implicit TLS) vs implicit TLS → mock, 20 conn, 50 per conn", "direct",
                  (3826, c(20, 10000, 50)), (3465, c(20, 10000, 50) + ["--tls", "implicit"] + tls), 0.8))
    # What relaying alone costs here: a byte-copying relay in the same places.
    cases.append(("proxy floor: record → smtp-sink vs byte-copying relay → smtp-sink, 20 conn, 50 per conn", "relay floor",
                  (3825, c(20, 20000, 50) + ["--auth", "none"]), (3925, c(20, 20000, 50) + ["--auth", "none"]), None))
    cases.append(("proxy floor: byte-copying relay → smtp-sink vs smtp-sink, 20 conn, 50 per conn", "direct",
                  (3925, c(20, 20000, 50) + ["--auth", "none"]), (3625, c(20, 20000, 50) + ["--auth", "none"]), None))
    cases.append(("proxy floor: record → mock (implicit TLS) vs byte-copying relay → mock (implicit TLS), 20 conn, 50 per conn", "relay floor",
                  (3826, c(20, 10000, 50)), (3926, c(20, 10000, 50)), None))

    # A client that pipelines MAIL, RCPT and DATA (RFC 2920), as Postfix does.
    pl = ["--pipeline"]
    cases.append(("pipelining client: plain, 50 per connection, 20 conn", "smtp-sink",
                  (3525, c(20, 20000, 50) + pl), (3625, c(20, 20000, 50) + ["--auth", "none"] + pl), None))
    cases.append(("pipelining client, proxy cost: record → smtp-sink vs smtp-sink, 20 conn, 50 per conn", "direct",
                  (3825, c(20, 20000, 50) + ["--auth", "none"] + pl), (3625, c(20, 20000, 50) + ["--auth", "none"] + pl), None))
    cases.append(("pipelining client, proxy floor: record → smtp-sink vs byte-copying relay → smtp-sink, 20 conn, 50 per conn", "relay floor",
                  (3825, c(20, 20000, 50) + ["--auth", "none"] + pl), (3925, c(20, 20000, 50) + ["--auth", "none"] + pl), None))

    rows = []
    for name, peer, (pa, aa), (pb, ab), target in cases:
        settle()
        ra, rb, lat_a, lat_b = [], [], [], []
        errors = 0
        for r in range(ROUNDS):
            order = [("a", pa, aa), ("b", pb, ab)] if r % 2 == 0 else [("b", pb, ab), ("a", pa, aa)]
            for side, port, args in order:
                rep = bench(port, *args)
                errors += rep["errors"]
                (ra if side == "a" else rb).append(rep["messages_per_s"])
                (lat_a if side == "a" else lat_b).append(rep["per_command"]["p50_us"])
        ma, mb = statistics.median(ra), statistics.median(rb)
        ratio = ma / mb if mb else 0
        verdict = "" if target is None else ("✓" if ratio >= target else "✗") + f" ≥ {target}"
        rows.append((name, peer, ma, min(ra), max(ra), mb, min(rb), max(rb), ratio, verdict,
                     statistics.median(lat_a), statistics.median(lat_b), errors))
        print(f"{name}: {ma:.0f} vs {mb:.0f} msg/s, ratio {ratio:.2f} {verdict}", file=sys.stderr, flush=True)

    # Memory: idle, 10,000 idle connections, after they close.
    pid = mock.pid
    idle = rss_kb(pid)
    socks = []
    for _ in range(10000):
        s = socket.create_connection(("127.0.0.1", 3525))
        socks.append(s)
    time.sleep(1.0)
    peak = rss_kb(pid)
    for s in socks:
        s.close()
    # mailtape hands freed memory back within a few seconds of a wave closing
    time.sleep(5.0)
    after = rss_kb(pid)

    print()
    print("| case | peer | mailtape msg/s (median, min–max) | peer msg/s (median, min–max) | ratio | target | p50 per command µs (mailtape / peer) | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, peer, ma, a0, a1, mb, b0, b1, ratio, verdict, la, lb, errors) in rows:
        print(f"| {name} | {peer} | {ma:,.0f} ({a0:,.0f}–{a1:,.0f}) | {mb:,.0f} ({b0:,.0f}–{b1:,.0f}) | {ratio:.2f} | {verdict} | {la:.0f} / {lb:.0f} | {errors} |")
    print()
    print(f"| memory (RSS of mailtape mock) | idle | 10,000 idle connections | after they close |")
    print(f"|---|---|---|---|")
    print(f"| KiB | {idle:,} | {peak:,} | {after:,} |")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(TMP, ignore_errors=True)
