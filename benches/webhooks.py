"""What webhooks cost the sends (issue 22): SMTP throughput of a mock that
sends Resend's events to one dead endpoint (connections refused, so every
event waits for its retries) and one live endpoint (a Node http server
answering 200; Node's, not Python's, so that the endpoint itself takes
little of the 2 cores), against a mock with no endpoint, A/B interleaved, 1,000
messages a round.

    cargo build && MAILTAPE=target/debug/mailtape python3 benches/webhooks.py
    cargo build --profile profiling && python3 benches/webhooks.py      # ROUNDS=5 for more

Loopback only. Prints a Markdown table for BENCHMARKS.md.
"""

import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

MT = os.environ.get("MAILTAPE", "target/profiling/mailtape")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
N = int(os.environ.get("MESSAGES", "1000"))
TMP = tempfile.mkdtemp(prefix="mailtape-webhooks-bench-")
procs = []
received = [0]


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


NODE_RECEIVER = """
import http from "node:http";
let n = 0;
const s = http.createServer((req, res) => { req.resume(); req.on("end", () => { n++; res.writeHead(200, {"content-length": "0"}); res.end(); }); });
s.listen(Number(process.argv[2]), "127.0.0.1");
process.on("SIGTERM", () => { process.stdout.write(String(n)); process.exit(0); });
"""


def main():
    live_port = free_port()
    script = os.path.join(TMP, "receiver.mjs")
    with open(script, "w") as f:
        f.write(NODE_RECEIVER)
    live = subprocess.Popen(["node", script, str(live_port)], stdout=subprocess.PIPE, text=True)
    wait_port(live_port)
    live_url = f"http://127.0.0.1:{live_port}/hooks"
    dead_url = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens: refused
    with_port, without_port = free_port(), free_port()
    mock(with_port, [dead_url, live_url])
    mock(without_port, [])
    rates = {"with": [], "without": []}
    try:
        for r in range(ROUNDS):
            order = [("with", with_port), ("without", without_port)]
            if r % 2:
                order.reverse()
            for name, port in order:
                res = bench(port)
                assert res["errors"] == 0 and res["accepted"] == N, res
                rates[name].append(res["messages_per_s"])
        time.sleep(2)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        live.terminate()
        received[0] = int(live.communicate()[0] or 0)
    w, wo = statistics.median(rates["with"]), statistics.median(rates["without"])
    print(f"| case | 1 dead + 1 live endpoint msg/s (median, min–max) | no endpoint msg/s (median, min–max) | ratio |")
    print("|---|---|---|---|")
    print(f"| plain + AUTH, 1 KiB, {N} messages, 10 conn × 10, {ROUNDS} rounds | {w:,.0f} ({min(rates['with']):,.0f}–{max(rates['with']):,.0f})"
          f" | {wo:,.0f} ({min(rates['without']):,.0f}–{max(rates['without']):,.0f}) | {w / wo:.2f} |")
    print(f"\nlive endpoint received {received[0]} events ({ROUNDS * N} messages × 2 events each expected: {ROUNDS * N * 2})")


if __name__ == "__main__":
    main()
