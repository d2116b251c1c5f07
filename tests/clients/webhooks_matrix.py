#!/usr/bin/env python3
"""mailtape webhooks against the official verifiers (issue 22).

    python3 tests/clients/webhooks_matrix.py --mailtape target/debug/mailtape

One `mailtape mock` sends Resend's events to two receiving apps, each as a
Resend user writes one:

- Node (webhook_receiver.mjs): Resend's Node SDK `resend.webhooks.verify`,
  npm `svix` and npm `standardwebhooks`;
- Python (here): PyPI `svix` and PyPI `standardwebhooks`.

Each verifies every delivery unchanged, then must refuse it with its body
tampered with and with a timestamp an hour old. Mail goes through both doors
(SMTP with smtplib, REST with urllib) to each of Resend's test addresses and
one ordinary address; each email's events must arrive in the sequence the
README gives, and every payload must validate against the webhook schema of
Resend's OpenAPI document (tests/openapi/resend.yaml, `EmailSentEvent` …).
Then a domain is created, changed, verified and deleted over REST: its
domain.created, domain.updated ×2 and domain.deleted are checked the same
way (`DomainCreatedEvent` …).
The secrets come from the mock's --json ready line, the only place it says
them. Prints a table, then `N passed, N failed`; exit status 1 on a failure.
Install the clients with `bash tests/clients/install.sh`.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from email.message import EmailMessage

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from matrix import Server, split_addr  # noqa: E402

KEY = "re_webhooks_1234abcd"
SEQUENCES = {
    "delivered@resend.dev": ["email.sent", "email.delivered"],
    "bounced@resend.dev": ["email.sent", "email.bounced"],
    "complained@resend.dev": ["email.sent", "email.delivered", "email.complained"],
    "suppressed@resend.dev": ["email.suppressed"],
    "someone@acme.org": ["email.sent", "email.delivered"],
}
SCHEMAS = {
    "email.sent": "EmailSentEvent",
    "email.delivered": "EmailDeliveredEvent",
    "email.delivery_delayed": "EmailDeliveryDelayedEvent",
    "email.bounced": "EmailBouncedEvent",
    "email.complained": "EmailComplainedEvent",
    "email.opened": "EmailOpenedEvent",
    "email.clicked": "EmailClickedEvent",
    "email.failed": "EmailFailedEvent",
    "email.scheduled": "EmailScheduledEvent",
    "email.suppressed": "EmailSuppressedEvent",
    "domain.created": "DomainCreatedEvent",
    "domain.updated": "DomainUpdatedEvent",
    "domain.deleted": "DomainDeletedEvent",
}
# The REST door's domain calls and the events each makes (mailtape verifies
# at once by default: not_started → verified is one domain.updated).
DOMAIN_SEQUENCE = ["domain.created", "domain.updated", "domain.updated", "domain.deleted"]


class PyReceiver:
    """The Python receiving app: verifies with PyPI svix and standardwebhooks."""

    def __init__(self):
        self.secret: str | None = None
        self.got: list[dict] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                h = {k.lower(): v for k, v in self.headers.items()}
                with outer.cond:
                    outer.cond.wait_for(lambda: outer.secret is not None, 10)
                outer.record(body, h)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"

    def set_secret(self, secret: str):
        with self.cond:
            self.secret = secret
            self.cond.notify_all()

    def verifiers(self, body: bytes, h: dict):
        svix_h = {k: h[k] for k in ("svix-id", "svix-timestamp", "svix-signature")}
        std_h = {"webhook-id": h["svix-id"], "webhook-timestamp": h["svix-timestamp"],
                 "webhook-signature": h["svix-signature"]}
        return {
            "svix": lambda: SvixWebhook(self.secret).verify(body, svix_h),
            "standardwebhooks": lambda: StandardWebhook(self.secret).verify(body, std_h),
        }

    @staticmethod
    def outcome(fns, want_ok: bool) -> dict:
        out = {}
        for name, fn in fns.items():
            try:
                fn()
                out[name] = want_ok
            except Exception as e:  # the verifiers raise their own error types
                out[name] = not want_ok
                if want_ok:
                    out[name + "_error"] = repr(e)
        return out

    def record(self, body: bytes, h: dict):
        accepted = self.outcome(self.verifiers(body, h), True)
        # An email's id, or a domain's (domain.* events), changed by one letter.
        tamper = b'"email_id":"' if b'"email_id":"' in body else b'"id":"'
        tampered = self.outcome(self.verifiers(body.replace(tamper, tamper + b"x"), h), False)
        stale = dict(h, **{"svix-timestamp": str(int(h["svix-timestamp"]) - 3600)})
        stale_refused = self.outcome(self.verifiers(body, stale), False)
        parsed = json.loads(body)
        with self.cond:
            data = parsed.get("data", {})
            self.got.append({"type": parsed.get("type"), "email_id": data.get("email_id") or data.get("id"),
                             "body": body.decode(), "accepted": accepted, "tampered_refused": tampered,
                             "stale_refused": stale_refused})
            self.cond.notify_all()


class NodeReceiver:
    def __init__(self):
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "webhook_receiver.mjs")], cwd=HERE,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        first = json.loads(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{first['port']}/hooks"
        self.got: list[dict] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.got.append(json.loads(line))
                self.cond.notify_all()

    def set_secret(self, secret: str):
        self.proc.stdin.write(secret + "\n")
        self.proc.stdin.flush()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def events_of(receiver, email_id: str, n: int, timeout: float = 10) -> list[dict]:
    deadline = time.time() + timeout
    with receiver.cond:
        while True:
            got = [g for g in receiver.got if g["email_id"] == email_id]
            if len(got) >= n or time.time() > deadline:
                return got
            receiver.cond.wait(0.1)


def send_smtp(addr: str, to: str) -> str:
    host, port = split_addr(addr)
    msg = EmailMessage()
    msg["From"] = "Acme <billing@acme.com>"
    msg["To"] = to
    msg["Subject"] = "Webhook matrix"
    msg["X-Entity-Ref-ID"] = "matrix-1"
    msg.set_content("Hello")
    with smtplib.SMTP(host, port, timeout=10) as s:
        s.login("resend", KEY)
        s.mail("billing@acme.com")
        s.rcpt(to)
        code, text = s.data(msg.as_bytes())
        assert code == 250, (code, text)
        # The id is the last word of the reply to the final dot.
        return text.decode().split()[-1]


def send_rest(base: str, to: str) -> str:
    body = json.dumps({"from": "Acme <billing@acme.com>", "to": [to], "subject": "Webhook matrix",
                       "html": "<p>Hello</p>", "tags": [{"name": "category", "value": "matrix"}],
                       "headers": {"X-Entity-Ref-ID": "matrix-1"}}).encode()
    req = urllib.request.Request(f"{base}/emails", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["id"]


def rest_call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def domain_calls(base: str) -> str:
    """Creates, changes, verifies and deletes a domain; returns its id."""
    d = rest_call(base, "POST", "/domains", {"name": "matrix.example.com", "region": "eu-west-1"})
    rest_call(base, "PATCH", f"/domains/{d['id']}", {"open_tracking": True})
    rest_call(base, "POST", f"/domains/{d['id']}/verify")
    rest_call(base, "DELETE", f"/domains/{d['id']}")
    return d["id"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailtape", required=True)
    args = ap.parse_args()
    spec = yaml.safe_load(open(os.path.join(ROOT, "tests", "openapi", "resend.yaml")))
    components = spec["components"]

    def validate(payload: dict) -> list[str]:
        name = SCHEMAS.get(payload.get("type"))
        if name is None:
            return [f"no schema for {payload.get('type')!r}"]
        schema = {"$ref": f"#/components/schemas/{name}", "components": components}
        v = Draft202012Validator(schema, format_checker=FormatChecker())
        return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(payload)]

    node = NodeReceiver()
    py = PyReceiver()
    work = tempfile.mkdtemp(prefix="mailtape-webhooks-")
    server = Server("webhooks", [args.mailtape, "mock", "--json", "--scenario", "unlimited",
                                 "--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:0",
                                 "--rest", "127.0.0.1:0", "--webhook", node.url, "--webhook", py.url], work)
    passed = failed = 0
    try:
        ready = server.wait_ready()
        secrets = {w["endpoint"]: w["secret"] for w in ready["webhooks"]}
        node.set_secret(secrets[node.url])
        py.set_secret(secrets[py.url])
        print(f"{'door':<5} {'recipient':<24} {'receiver':<7} result")
        for door in ("smtp", "rest"):
            for to, want in SEQUENCES.items():
                email_id = send_smtp(ready["plain"], to) if door == "smtp" else send_rest(ready["rest"], to)
                for label, receiver in (("node", node), ("python", py)):
                    got = events_of(receiver, email_id, len(want))
                    problems = []
                    kinds = [g["type"] for g in got]
                    if kinds != want:
                        problems.append(f"events {kinds}, want {want}")
                    for g in got:
                        for k, ok in g["accepted"].items():
                            if ok is False:
                                problems.append(f"{g['type']}: {k} refused it: {g['accepted'].get(k + '_error')}")
                        for what in ("tampered_refused", "stale_refused"):
                            for k, ok in g[what].items():
                                if not ok:
                                    problems.append(f"{g['type']}: {k} accepted it {what.split('_')[0]}")
                        payload = json.loads(g["body"])
                        problems += [f"{g['type']}: schema: {e}" for e in validate(payload)]
                        if door == "rest" and payload["data"].get("tags") != {"category": "matrix"}:
                            problems.append(f"{g['type']}: tags {payload['data'].get('tags')}")
                        if payload["data"].get("headers") != [{"name": "X-Entity-Ref-ID", "value": "matrix-1"}]:
                            problems.append(f"{g['type']}: headers {payload['data'].get('headers')}")
                    verifiers = ",".join(k for k in (got[0]["accepted"] if got else {}) if not k.endswith("_error"))
                    if problems:
                        failed += 1
                        print(f"{door:<5} {to:<24} {label:<7} FAIL: " + "; ".join(problems))
                    else:
                        passed += 1
                        print(f"{door:<5} {to:<24} {label:<7} ok: {' '.join(kinds)} (verified by {verifiers}; "
                              f"tampered and stale refused; schemas valid)")
        # domain.* from the REST door's domain calls.
        domain_id = domain_calls(ready["rest"])
        for label, receiver in (("node", node), ("python", py)):
            got = events_of(receiver, domain_id, len(DOMAIN_SEQUENCE))
            kinds = [g["type"] for g in got]
            problems = [] if kinds == DOMAIN_SEQUENCE else [f"events {kinds}, want {DOMAIN_SEQUENCE}"]
            for g in got:
                for k, ok in g["accepted"].items():
                    if ok is False:
                        problems.append(f"{g['type']}: {k} refused it: {g['accepted'].get(k + '_error')}")
                for what in ("tampered_refused", "stale_refused"):
                    for k, ok in g[what].items():
                        if not ok:
                            problems.append(f"{g['type']}: {k} accepted it {what.split('_')[0]}")
                problems += [f"{g['type']}: schema: {e}" for e in validate(json.loads(g["body"]))]
            statuses = [json.loads(g["body"])["data"]["status"] for g in got]
            if statuses[:3] != ["not_started", "not_started", "verified"]:
                problems.append(f"statuses {statuses}")
            if problems:
                failed += 1
                print(f"{'rest':<5} {'domain':<24} {label:<7} FAIL: " + "; ".join(problems))
            else:
                passed += 1
                print(f"{'rest':<5} {'domain':<24} {label:<7} ok: {' '.join(kinds)} (verified; tampered and "
                      f"stale refused; schemas valid)")
    finally:
        server.stop()
        node.stop()
        py.httpd.shutdown()
    # The secrets were said in the ready line only: never in the live view or on stderr.
    leaked = [w for w in secrets.values() if w in json.dumps(server.sessions) + server.stderr()]
    if leaked:
        failed += 1
        print("FAIL: a whsec_ secret appeared outside the ready line")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
