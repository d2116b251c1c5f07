"""Waiting server-side (issue 26): the time from the `250` a client reads to
the answer a waiter gets, p50 and p99 over 1,000 messages with 100
concurrent waiters; and SMTP throughput of `mailtape bench` with 100 waiters
parked against none, on the same server, A/B interleaved.

    cargo build --profile profiling && python3 benches/wait.py       # ROUNDS=5 for more rounds

Loopback only. The waiters are threads holding long-polls on their own
HTTP/1.1 connection (`/api/wait/message?query=to:wN@acme.com&since=CURSOR`);
the sender is one SMTP connection sending to w0 … w99 in turn, timing each
message from the end of its `250` line; each waiter timestamps the end of
its answer. Both clocks are this process's `perf_counter`.
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse

MT = os.environ.get("MAILTAPE", "target/profiling/mailtape")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
MESSAGES = int(os.environ.get("MESSAGES", "1000"))
WAITERS = int(os.environ.get("WAITERS", "100"))
TMP = tempfile.mkdtemp(prefix="mailtape-wait-bench-")
SMTP_PORT, UI_PORT = 3537, 3881
KEY = "re_benchWait1234_abcd"


def wait_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def start_mock():
    p = subprocess.Popen([MT, "mock", "--quiet", "--scenario", "unlimited", "--certs", os.path.join(TMP, "certs"),
                          "--smtps", "off", "--starttls", "off", "--plain", f"127.0.0.1:{SMTP_PORT}",
                          "--ui", f"127.0.0.1:{UI_PORT}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(SMTP_PORT)
    wait_port(UI_PORT)
    return p


def get_json(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, json.loads(r.read())


def cursor():
    c = http.client.HTTPConnection("127.0.0.1", UI_PORT, timeout=10)
    try:
        return get_json(c, "/api/cursor")[1]
    finally:
        c.close()


class Smtp:
    """One plain SMTP connection that sends and times each `250`."""

    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", SMTP_PORT))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")
        self.reply()
        self.cmd(b"EHLO bench.local")
        import base64
        self.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0resend\0" + KEY.encode()))

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit("the server closed the connection")
            if line[3:4] != b"-":
                return line

    def cmd(self, line):
        self.s.sendall(line + b"\r\n")
        return self.reply()

    def send(self, to, subject):
        """Sends one message; returns the time its 250 was read."""
        body = (f"From: bench@acme.com\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n"
                f"Your verification code is 482913.\r\n.\r\n").encode()
        # MAIL, RCPT and DATA in one write; their three replies, then the body.
        self.s.sendall(b"MAIL FROM:<bench@acme.com>\r\nRCPT TO:<" + to.encode() + b">\r\nDATA\r\n")
        for _ in range(3):
            self.reply()
        self.s.sendall(body)
        line = self.reply()
        t = time.perf_counter()
        if not line.startswith(b"250"):
            raise SystemExit(f"not accepted: {line!r}")
        return t

    def close(self):
        try:
            self.cmd(b"QUIT")
        finally:
            self.s.close()


def latency_round():
    """1,000 messages, 100 waiters: latency from the 250 to the answer."""
    since = cursor()["cursor"]
    got = {}
    lock = threading.Lock()
    per = MESSAGES // WAITERS
    parked = threading.Barrier(WAITERS + 1)

    def waiter(k):
        c = http.client.HTTPConnection("127.0.0.1", UI_PORT, timeout=120)
        c.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        q = urllib.parse.quote(f"to:w{k}@acme.com")
        mine = since
        for i in range(per):
            c.request("GET", f"/api/wait/message?query={q}&since={mine}&timeout=60s")
            if i == 0:
                parked.wait()
            r = c.getresponse()
            body = r.read()
            t = time.perf_counter()
            m = json.loads(body)
            if r.status != 200:
                raise SystemExit(f"waiter {k}: {r.status} {m}")
            with lock:
                got[m["subject"]] = t
            mine = m["cursor"]
        c.close()

    threads = [threading.Thread(target=waiter, args=(k,)) for k in range(WAITERS)]
    for t in threads:
        t.start()
    parked.wait()
    # Every waiter has sent its first request; let the server park them.
    deadline = time.monotonic() + 10
    while cursor()["waiters"] < WAITERS and time.monotonic() < deadline:
        time.sleep(0.01)
    smtp = Smtp()
    sent = {}
    for i in range(MESSAGES):
        subject = f"m{i}"
        sent[subject] = smtp.send(f"w{i % WAITERS}@acme.com", subject)
    smtp.close()
    for t in threads:
        t.join()
    return [(got[s] - sent[s]) * 1000 for s in sent]


def bench(n=10000, conn=20, per=50):
    """`mailtape bench` (its default AUTH PLAIN with a made-up key): msg/s."""
    out = subprocess.run([MT, "bench", "--port", str(SMTP_PORT), "--json", "--connections", str(conn), "--messages",
                          str(n), "--per-connection", str(per), "--size", "1024"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["messages_per_s"]


def park(n):
    """n waiters that never match, parked on their own connections."""
    socks = []
    for k in range(n):
        s = socket.create_connection(("127.0.0.1", UI_PORT))
        s.sendall(f"GET /api/wait/message?query=to:nobody{k}@acme.com&since=now&timeout=5m HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{UI_PORT}\r\n\r\n".encode())
        socks.append(s)
    deadline = time.monotonic() + 10
    while cursor()["waiters"] < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cursor()["waiters"] == n, cursor()
    return socks


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    print(f"machine: {os.cpu_count()} cores · {os.uname().release} · "
          f"{subprocess.run([MT, '--version'], capture_output=True, text=True).stdout.strip()} ({MT})")
    mock = start_mock()
    try:
        lat = []
        for r in range(ROUNDS):
            one = latency_round()
            lat.extend(one)
            print(f"latency round {r + 1}: {len(one)} messages, p50 {pct(one, 50):.2f} ms, "
                  f"p99 {pct(one, 99):.2f} ms, max {max(one):.2f} ms")
        print(f"250 → waiter answer, {len(lat)} messages, {WAITERS} waiters: p50 {pct(lat, 50):.2f} ms, "
              f"p99 {pct(lat, 99):.2f} ms, max {max(lat):.2f} ms (goal p99 < 5 ms)")
        without, with_ = [], []
        for r in range(ROUNDS):
            without.append(bench())
            socks = park(100)
            with_.append(bench())
            for s in socks:
                s.close()
            print(f"throughput round {r + 1}: none {without[-1]:,.0f} msg/s, 100 waiters {with_[-1]:,.0f} msg/s")
        a, b = statistics.median(without), statistics.median(with_)
        print(f"SMTP throughput: no waiters {a:,.0f} msg/s ({min(without):,.0f}–{max(without):,.0f}), "
              f"100 waiters {b:,.0f} msg/s ({min(with_):,.0f}–{max(with_):,.0f}): {b / a:.2f}× (goal ≥ 0.9×)")
    finally:
        mock.terminate()
        mock.wait(10)


if __name__ == "__main__":
    main()
