#!/usr/bin/env python3
"""Record and replay Resend's REST API with the official SDKs.

    python3 tests/clients/rest_record.py --mailtape target/debug/mailtape

For the Node SDK (npm `resend`) and the Python SDK (PyPI `resend`), each on a
tape of its own:

1. `mailtape mock --rest ADDR --rest-tls` plays api.resend.com over HTTPS
   (the generated CA), `mailtape record --rest-upstream https://… 
   --rest-upstream-ca certs/ca.pem --tape T` sits in front of it, and the SDK
   sends an email (200), one with a bad `from` (422) and reads the first back
   (`GET /emails/{id}`, 200). Then the same with a mock in the `rate-limited`
   scenario: a send gets 429 with `retry-after`, appended to the same tape.
2. With no mock running, `mailtape replay T --strict --rest ADDR`: the same
   SDK calls get byte-identical answers (what the SDK returned or raised,
   printed as JSON), and replay exits 0.
3. `mailtape replay T --strict`, and a send with another subject: the SDK gets
   the departure (500 `application_error`, "mailtape replay: …"), and replay
   exits 1.

Also: no tape holds the key. Install the SDKs with
`bash tests/clients/install.sh`. Prints `N passed, N failed`; exit status 1
if any check failed.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from matrix import Server  # noqa: E402

KEY = "re_rec_" + secrets.token_hex(8)


def sdk(which: str, base: str, op: str) -> list:
    env = dict(os.environ, RESEND_API_KEY=KEY, RESEND_BASE_URL=base, RESEND_API_URL=base)
    if which == "node":
        argv = ["node", os.path.join(HERE, "rest_record_node.mjs"), op]
    else:
        argv = [sys.executable, os.path.join(HERE, "rest_record_python.py"), op]
    p = subprocess.run(argv, env=env, cwd=HERE, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"{which} {op}: exit {p.returncode}\n{p.stderr}")
    return json.loads(p.stdout)


def listeners(certs: str) -> list[str]:
    return ["--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:0", "--ui", "off",
            "--certs", certs, "--json"]


def record(mt: str, work: str, which: str, tape: str, scenario: str, op: str) -> list:
    certs = os.path.join(work, "certs")
    mock = Server(f"{which}-mock-{scenario}", [mt, "mock", *listeners(certs), "--scenario", scenario,
                                                "--rest", "127.0.0.1:0", "--rest-tls"], work)
    try:
        upstream = mock.wait_ready()["rest"]
        assert upstream.startswith("https://127.0.0.1:"), upstream
        rec = Server(f"{which}-record-{scenario}",
                     [mt, "record", *listeners(certs), "--upstream", "127.0.0.1:9", "--rest", "127.0.0.1:0",
                      "--rest-upstream", upstream, "--rest-upstream-ca", os.path.join(certs, "ca.pem"),
                      "--tape", tape], work)
        try:
            base = rec.wait_ready()["rest"]
            return sdk(which, base, op)
        finally:
            assert rec.stop() == 0, rec.stderr()
    finally:
        mock.stop()


def replay(mt: str, work: str, which: str, tape: str, ops: list[str]) -> tuple[list, int, str]:
    certs = os.path.join(work, "certs")
    rep = Server(f"{which}-replay", [mt, "replay", tape, "--strict", *listeners(certs), "--rest", "127.0.0.1:0"],
                 work)
    try:
        base = rep.wait_ready()["rest"]
        out = [sdk(which, base, op) for op in ops]
    finally:
        rc = rep.stop()
    return out, rc, rep.stderr()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailtape", required=True)
    args = ap.parse_args()
    mt = os.path.abspath(args.mailtape)
    passed = failed = 0

    def check(name: str, ok: bool, detail: str = ""):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f"\n     {detail}" if detail and not ok else ""))
        if ok:
            passed += 1
        else:
            failed += 1

    with tempfile.TemporaryDirectory() as work:
        for which in ["node", "python"]:
            tape = os.path.join(work, f"{which}.tape")
            try:
                recorded = [record(mt, work, which, tape, "unlimited", "ok"),
                            record(mt, work, which, tape, "rate-limited", "limited")]
            except Exception as e:  # noqa: BLE001
                check(f"{which}: record", False, repr(e))
                continue
            text = open(tape, encoding="utf-8").read()
            flat = json.dumps(recorded)
            first = recorded[0]
            check(f"{which}: recorded 200, 422, 200 (GET), 429 with retry-after",
                  len(first) == 3 and (first[0].get("data") or {}).get("id")
                  and (first[1].get("error") or {}).get("name") in ("invalid_from_address", "validation_error")
                  and (first[2].get("data") or {}).get("last_event") is not None
                  and "rate_limit_exceeded" in flat and '"1"' in flat,
                  flat[:600])
            check(f"{which}: the tape holds no key", KEY not in text and "listener http" in text, text[:400])
            try:
                replayed, rc, err = replay(mt, work, which, tape, ["ok", "limited"])
            except Exception as e:  # noqa: BLE001
                check(f"{which}: replay", False, repr(e))
                continue
            check(f"{which}: replay with no upstream answers byte for byte",
                  json.dumps(replayed) == json.dumps(recorded),
                  f"recorded {json.dumps(recorded)}\n     replayed {json.dumps(replayed)}")
            check(f"{which}: replay --strict exits 0", rc == 0, err)
            changed, rc, err = replay(mt, work, which, tape, ["changed"])
            said = json.dumps(changed)
            check(f"{which}: a changed request gets the departure (500 application_error)",
                  "mailtape replay: the tape holds no `POST /emails` with this body" in said
                  and "application_error" in said, said)
            check(f"{which}: replay --strict exits 1 after a departure",
                  rc == 1 and "REST exchange" in err and KEY not in err, f"exit {rc}: {err}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
