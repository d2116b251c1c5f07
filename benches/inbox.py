"""The inbox's cost (issue 14): SMTP throughput of `mock --ui` with one live
SSE subscriber attached against `mock --ui off`, A/B interleaved; the
message list APIs' latency with 10,000 kept messages; and the memory of
10,000 kept 1 KiB messages.

    cargo build --profile profiling && python3 benches/inbox.py       # ROUNDS=5 for more rounds

Also run by benches/compare.sh after the main table. Loopback only.
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MT = os.environ.get("MAILTAPE", "target/profiling/mailtape")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
TMP = tempfile.mkdtemp(prefix="mailtape-inbox-bench-")
UI_PORT, ON_PORT, OFF_PORT = 3880, 3527, 3528
procs = []


def wait_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def mock(port, ui):
    p = subprocess.Popen([MT, "mock", "--quiet", "--scenario", "unlimited", "--certs", os.path.join(TMP, "certs"),
                          "--smtps", "off", "--starttls", "off", "--plain", f"127.0.0.1:{port}",
                          "--ui", ui, "--keep", "10000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_port(port)
    return p


def bench(port, n, conn=20, per=50):
    out = subprocess.run([MT, "bench", "--port", str(port), "--json", "--connections", str(conn), "--messages",
                          str(n), "--per-connection", str(per), "--size", "1024"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Listener(threading.Thread):
    """One browser's worth of live events: reads /api/events and counts them."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sessions = 0
        self.stop = False

    def run(self):
        s = socket.create_connection(("127.0.0.1", UI_PORT))
        s.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{UI_PORT}\r\n\r\n".encode())
        buf = b""
        while not self.stop:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            self.sessions += buf.count(b"event: session\n")
            buf = buf[buf.rfind(b"\n") + 1:]


def get_ms(path):
    c = http.client.HTTPConnection("127.0.0.1", UI_PORT)
    t = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    c.close()
    assert r.status == 200, (path, r.status, body[:200])
    return ms, body


def main():
    on = mock(ON_PORT, f"127.0.0.1:{UI_PORT}")
    off = mock(OFF_PORT, "off")
    listener = Listener()
    listener.start()
    n = 20000
    on_rates, off_rates = [], []
    for r in range(ROUNDS):
        order = [(ON_PORT, on_rates), (OFF_PORT, off_rates)]
        if r % 2:
            order.reverse()
        for port, rates in order:
            rates.append(bench(port, n)["messages_per_s"])
    a, b = statistics.median(on_rates), statistics.median(off_rates)
    print(f"| case | --ui on, 1 SSE subscriber msg/s (median, min–max) | --ui off msg/s (median, min–max) | ratio |")
    print("|---|---|---|---|")
    print(f"| plain + AUTH, 1 KiB, 50 per connection, 20 conn, {ROUNDS} rounds of {n:,} each | {a:,.0f} "
          f"({min(on_rates):,.0f}–{max(on_rates):,.0f}) | {b:,.0f} ({min(off_rates):,.0f}–{max(off_rates):,.0f}) | "
          f"{a / b:.2f} |")
    time.sleep(1.0)
    c = json.loads(get_ms("/api/info")[1])["counts"]
    sessions_sent = ROUNDS * n // 50
    print()
    print(f"the inbox took in {c['sessions'] + c['dropped_sessions']:,} of {sessions_sent:,} sessions and "
          f"{c['messages'] + c['dropped_messages']:,} of {ROUNDS * n:,} messages (kept {c['sessions']:,} and "
          f"{c['messages']:,}, --keep 10000); its queue dropped {c['dropped_queue']:,}; the SSE subscriber read "
          f"{listener.sessions:,} session events and missed {c['dropped_events']:,}")
    listener.stop = True
    for p in (on, off):
        p.terminate()
        p.wait(10)

    # 10,000 sessions of one 1 KiB message each, kept: memory and the API.
    on = mock(ON_PORT, f"127.0.0.1:{UI_PORT}")
    off = mock(OFF_PORT, "off")
    before_on, before_off = rss_kb(on.pid), rss_kb(off.pid)
    for port in (ON_PORT, OFF_PORT):
        bench(port, 10000, conn=20, per=1)
    time.sleep(1.0)
    c = json.loads(get_ms("/api/info")[1])["counts"]
    print()
    print(f"| memory (RSS, KiB) | at start | after 10,000 sessions of one 1 KiB message | kept by the inbox |")
    print("|---|---|---|---|")
    print(f"| mock --ui | {before_on:,} | {rss_kb(on.pid):,} | {c['sessions']:,} sessions, {c['messages']:,} messages |")
    print(f"| mock --ui off | {before_off:,} | {rss_kb(off.pid):,} | – |")
    print()
    print("| API call, 10,000 kept sessions and messages | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for path in ["/api/v1/messages?limit=50", "/api/messages?limit=100", "/api/sessions?limit=100",
                 "/api/sessions?limit=100&start=9900", "/api/sessions?limit=100&outcome=refused",
                 "/api/v1/search?query=subject:nomatch", "/api/v1/message/latest"]:
        samples = sorted(get_ms(path)[0] for _ in range(200))
        print(f"| `GET {path}` | {statistics.median(samples):.2f} | {samples[int(len(samples) * 0.99) - 1]:.2f} | "
              f"{samples[-1]:.2f} |")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
