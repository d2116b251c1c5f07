"""What webhooks cost the sends (issue 22): SMTP throughput of a mock that
sends Resend's events to endpoints, against a mock with no endpoint, A/B
interleaved in the same run, 1,000 messages a round. Three cases:

- dead: one endpoint nothing listens on (connections refused, so every
  event fails and waits for its retries);
- live: one endpoint answering 200 (a Node http server: Node's, not
  Python's, so the endpoint itself takes little of the cores);
- dead + live: both (the issue's case).

After each round with endpoints, the bench waits until the live endpoint
has every event of the round, then for the dead endpoint's first retries
(5 s later), so that no round's webhook work falls into the next round's
window; the time from the round's last message to its last event at the
live endpoint is printed as the catch-up.

    cargo build --profile profiling && python3 benches/webhooks.py   # ROUNDS=5 CASES=both for less
    MAILTAPE=target/debug/mailtape python3 benches/webhooks.py

Loopback only. Prints a Markdown table for BENCHMARKS.md.
"""

import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

MT = os.environ.get("MAILTAPE", "target/profiling/mailtape")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
N = int(os.environ.get("MESSAGES", "1000"))
CASES = os.environ.get("CASES", "both,dead,live").split(",")
TMP = tempfile.mkdtemp(prefix="mailtape-webhooks-bench-")
procs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def mock(port, hooks):
    argv = [MT, "mock", "--quiet", "--scenario", "unlimited", "--certs", os.path.join(TMP, "certs"),
            "--smtps", "off", "--starttls", "off", "--plain", f"127.0.0.1:{port}", "--ui", "off"]
    for h in hooks:
        argv += ["--webhook", h]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_port(port)
    return p


def bench(port):
    out = subprocess.run([MT, "bench", "--port", str(port), "--json", "--connections", "10", "--messages",
                          str(N), "--per-connection", "10", "--size", "1024"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# Counts the events it gets; GET /count says how many so far.
NODE_RECEIVER = """
import http from "node:http";
let n = 0;
const s = http.createServer((req, res) => {
  if (req.method === "GET") { res.writeHead(200, {"content-type": "text/plain"}); res.end(String(n)); return; }
  req.resume(); req.on("end", () => { n++; res.writeHead(200, {"content-length": "0"}); res.end(); });
});
s.listen(Number(process.argv[2]), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
"""


def count(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=5) as r:
        return int(r.read())


def run_case(case, live_port):
    live_url = f"http://127.0.0.1:{live_port}/hooks"
    dead_url = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens: refused
    hooks = {"both": [dead_url, live_url], "dead": [dead_url], "live": [live_url]}[case]
    with_port, without_port = free_port(), free_port()
    mock(with_port, hooks)
    mock(without_port, [])
    rates = {"with": [], "without": []}
    catch_up = []
    for r in range(ROUNDS):
        order = [("with", with_port), ("without", without_port)]
        if r % 2:
            order.reverse()
        for name, port in order:
            before = count(live_port) if name == "with" and live_url in hooks else None
            res = bench(port)
            done = time.monotonic()
            assert res["errors"] == 0 and res["accepted"] == N, res
            rates[name].append(res["messages_per_s"])
            if name != "with":
                continue
            if before is not None:
                deadline = done + 60
                while count(live_port) < before + 2 * N:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"the live endpoint got {count(live_port) - before} of {2 * N} events in 60 s")
                    time.sleep(0.005)
                catch_up.append(time.monotonic() - done)
            if dead_url in hooks:
                time.sleep(6)  # the dead endpoint's second attempts come 5 s after the first
    for p in procs[-2:]:
        p.terminate()
        p.wait()
    return rates, catch_up


def main():
    live_port = free_port()
    script = os.path.join(TMP, "receiver.mjs")
    with open(script, "w") as f:
        f.write(NODE_RECEIVER)
    live = subprocess.Popen(["node", script, str(live_port)])
    wait_port(live_port)
    rows = []
    try:
        for case in CASES:
            rates, catch_up = run_case(case, live_port)
            rows.append((case, rates, catch_up))
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
        live.terminate()
        live.wait()
    print(f"plain + AUTH, 1 KiB, {N} messages a round, 10 connections × 10 messages, {ROUNDS} rounds each\n")
    print("| endpoints | with them, msg/s (median, min–max) | none, msg/s (median, min–max) | ratio | catch-up after the round (median, max) |")
    print("|---|---|---|---|---|")
    names = {"both": "1 dead + 1 live", "dead": "1 dead", "live": "1 live"}
    for case, rates, catch_up in rows:
        w, wo = statistics.median(rates["with"]), statistics.median(rates["without"])
        cu = f"{statistics.median(catch_up) * 1000:,.0f} ms ({max(catch_up) * 1000:,.0f} ms)" if catch_up else "–"
        print(f"| {names[case]} | {w:,.0f} ({min(rates['with']):,.0f}–{max(rates['with']):,.0f})"
              f" | {wo:,.0f} ({min(rates['without']):,.0f}–{max(rates['without']):,.0f}) | {w / wo:.2f} | {cu} |")
    print("\nEvery round's 2,000 events reached the live endpoint (the bench waits for them).")


if __name__ == "__main__":
    main()
