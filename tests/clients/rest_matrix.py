#!/usr/bin/env python3
"""mailtape REST client matrix: Resend's official SDKs and curl against the
REST API of `mailtape mock`, served on the inbox's listener (`--ui`, as
RESEND_BASE_URL=http://127.0.0.1:8025 would reach it), on the same account
as its SMTP door.

    python3 tests/clients/rest_matrix.py --mailtape target/debug/mailtape

Clients: the Node SDK (npm `resend`, through RESEND_BASE_URL), the Python SDK
(PyPI `resend`, through `resend.api_url`), and curl. Checks, each on a mock of
its own: send (and the message in --mailbox), batch, get, an invalid key
(401 validation_error; 403 invalid_api_key with --variant legacy), sandbox
(403 validation_error), a burst of three on an older team's 2/s (429
rate_limit_exceeded with its headers), an idempotent retry (same id, then 409
for another body), the cross-door check: two REST sends and one SMTP send
(Python smtplib) within a second, the third refused at its own door in its
own form (550 Too many requests); and, for the two SDKs, every endpoint
mailtape serves with the shape each SDK returns: `account` (domains: create,
get, list, update, verify, remove; api-keys: create, list, remove, the new
key sending and then refused) and `emails` (send with an attachment and a
tag, get, list, attachments list and get, a scheduled email moved and
canceled, batch). Install the
clients with `bash tests/clients/install.sh`. Prints a table, then
`N passed, N failed`; exit status 1 if any cell failed.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import glob
import json
import os
import secrets
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from matrix import Server, ServerError, split_addr  # noqa: E402

KEY = "re_rest_" + secrets.token_hex(8)
OTHER_KEY = "re_other_" + secrets.token_hex(8)
FROM = "Acme <billing@acme.com>"
TO = "delivered@resend.dev"
SANDBOX_TEXT = ("You can only send testing emails to your own email address (you@yourcompany.com). To send "
                "emails to other recipients, please verify a domain at resend.com/domains")
RATE_TEXT = "Too many requests. You can only make 2 requests per second."
CHECKS = ["send", "batch", "get", "invalid-key", "legacy-key", "sandbox", "rate-limit", "idempotent", "cross-door",
          "account", "emails"]
CLIENTS = ["node-sdk", "python-sdk", "curl"]
# The tours of every endpoint are the SDKs' own calls; curl has no such calls.
SDK_ONLY = {"account", "emails"}


# --------------------------------------------------------------------------
# What each client returned, in one shape: a list of results, each
# {"id"} or {"ids"} on success, {"status","name","message","headers"} on error.


def norm_node(r: dict) -> dict:
    if r.get("error"):
        e = r["error"]
        return {"status": e.get("statusCode"), "name": e.get("name"), "message": e.get("message"),
                "headers": r.get("headers") or {}}
    d = r.get("data") or {}
    if isinstance(d.get("data"), list):
        return {"ids": [x.get("id") for x in d["data"]], "body": d}
    return {"id": d.get("id"), "body": d}


def norm_python(r: dict) -> dict:
    if "error" in r:
        e = r["error"]
        return {"status": int(e["code"]), "name": e["name"], "message": e["message"], "headers": e["headers"]}
    d = r["data"]
    if isinstance(d.get("data"), list):
        return {"ids": [x.get("id") for x in d["data"]], "body": d}
    return {"id": d.get("id"), "body": d}


def curl(base: str, key: str, method: str, path: str, body=None, headers=()) -> dict:
    argv = ["curl", "-sS", "-i", "-X", method, f"{base}{path}", "-H", f"Authorization: Bearer {key}"]
    for h in headers:
        argv += ["-H", h]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    # Bytes, not text: universal newlines would turn the CRLFs that end the
    # header section into LFs.
    out = subprocess.run(argv, capture_output=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"curl exit {out.returncode}: {out.stderr.decode(errors='replace')}")
    head, _, text = out.stdout.decode("utf-8", "replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    data = json.loads(text) if text.strip() else {}
    if status >= 400:
        return {"status": status, "name": data.get("name"), "message": data.get("message"), "headers": hdrs,
                "statusCode": data.get("statusCode")}
    if "data" in data and isinstance(data["data"], list):
        return {"ids": [x["id"] for x in data["data"]]}
    return {"id": data.get("id"), "body": data}


def email(subject: str, sender: str = FROM, to: str = TO) -> dict:
    return {"from": sender, "to": [to], "subject": subject, "html": f"<p>{subject}</p>", "text": subject}


def run_sdk(client: str, op: str, base: str, key: str, sender: str, to: str, then=None):
    """Runs the SDK script; `then` is called as soon as it prints its answer
    (before the process exits: the cross-door check is timed to the second)."""
    env = dict(os.environ)
    if client == "node-sdk":
        env.update(RESEND_BASE_URL=base, RESEND_API_KEY=key)
        argv = ["node", os.path.join(HERE, "rest_node.mjs"), op, sender, to]
    else:
        env.update(RESEND_API_URL=base, RESEND_API_KEY=key)
        argv = [sys.executable, os.path.join(HERE, "rest_python.py"), op, sender, to]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=HERE)
    line = proc.stdout.readline()
    if then is not None:
        then()
    try:
        rest, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, err = proc.communicate()
    if proc.returncode != 0 or not line.strip():
        raise RuntimeError(f"{client} {op}: exit {proc.returncode}\n{line}{rest}\n{err}")
    raw = json.loads(line)
    norm = norm_node if client == "node-sdk" else norm_python

    def walk(v):
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict) and ("data" in v or "error" in v):
            return norm(v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(raw)


def do(client: str, op: str, base: str, key: str = KEY, sender: str = FROM, to: str = TO, then=None):
    """One operation, as the client performs it; curl's are written out here.
    `then` runs right after the operation."""
    if client != "curl":
        return run_sdk(client, op, base, key, sender, to, then)
    if then is not None:
        out = do(client, op, base, key, sender, to)
        then()
        return out
    if op == "send":
        return curl(base, key, "POST", "/emails", email("curl send", sender, to))
    if op == "batch":
        return curl(base, key, "POST", "/emails/batch", [email("curl batch 1"), email("curl batch 2")])
    if op == "get":
        sent = curl(base, key, "POST", "/emails", email("curl get"))
        return {"sent": sent, "got": curl(base, key, "GET", f"/emails/{sent.get('id')}")}
    if op == "burst":
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            return list(pool.map(lambda n: curl(base, key, "POST", "/emails", email(f"curl burst {n}")), range(3)))
    if op == "idempotent":
        h = [f"Idempotency-Key: welcome-{secrets.token_hex(4)}"]
        return {"first": curl(base, key, "POST", "/emails", email("curl idempotent"), headers=h),
                "again": curl(base, key, "POST", "/emails", email("curl idempotent"), headers=h),
                "other": curl(base, key, "POST", "/emails", email("curl other body"), headers=h)}
    if op == "two":
        return [curl(base, key, "POST", "/emails", email("curl 1 of 3")),
                curl(base, key, "POST", "/emails", email("curl 2 of 3"))]
    raise ValueError(op)


# --------------------------------------------------------------------------
# Checks


def want_id(r: dict, what: str, problems: list[str]):
    if not (isinstance(r, dict) and isinstance(r.get("id"), str) and len(r["id"]) == 36):
        problems.append(f"{what}: wanted an email id, got {r}")


def want_error(r: dict, status: int, name: str, message: str, what: str, problems: list[str]):
    got = (r.get("status"), r.get("name"), r.get("message"))
    if got != (status, name, message):
        problems.append(f"{what}: wanted {(status, name, message)}, got {got}")


def want(cond: bool, what: str, got, problems: list[str]):
    if not cond:
        problems.append(f"{what}: got {json.dumps(got, default=str)[:600]}")


def is_uuid(v) -> bool:
    return isinstance(v, str) and len(v) == 36 and v.count("-") == 4


def tour_account(r: dict, problems: list[str]):
    """The shapes the SDK returned for every domains and api-keys call."""
    c = r["domainCreate"]
    did = c.get("id")
    body = c.get("body", {})
    want(is_uuid(did) and body.get("status") == "not_started" and len(body.get("records", [])) == 3
         and body["records"][0].get("record") == "SPF", "domains.create", c, problems)
    g = r["domainGet"].get("body", {})
    want(g.get("object") == "domain" and g.get("id") == did and len(g.get("records", [])) == 3,
         "domains.get", r["domainGet"], problems)
    want(did in r["domainList"].get("ids", []) and r["domainList"]["body"].get("object") == "list",
         "domains.list", r["domainList"], problems)
    for step in ("domainUpdate", "domainVerify"):
        b = r[step].get("body", {})
        want((b.get("object"), b.get("id")) == ("domain", did), step, r[step], problems)
    a = r["domainAfter"].get("body", {})
    want(a.get("status") == "verified" and a.get("open_tracking") is True, "domains.get after verify",
         r["domainAfter"], problems)
    k = r["keyCreate"]
    want(is_uuid(k.get("id")) and k.get("body", {}).get("token") == "<a key>", "api_keys.create", k, problems)
    want(k.get("id") in r["keyList"].get("ids", []), "api_keys.list", r["keyList"], problems)
    want_id(r["sendWithKey"], "send with the new sending key", problems)
    want(r["keyRemove"].get("status") is None, "api_keys.remove", r["keyRemove"], problems)
    want_error(r["sendAfterRemove"], 401, "validation_error", "API key is invalid", "send with the removed key",
               problems)
    want(r["domainRemove"].get("body", {}).get("deleted") is True, "domains.remove", r["domainRemove"], problems)


def tour_emails(r: dict, problems: list[str]):
    """The shapes the SDK returned for every emails call."""
    want_id(r["send"], "emails.send", problems)
    eid = r["send"].get("id")
    g = r["get"].get("body", {})
    want(g.get("object") == "email" and g.get("id") == eid and g.get("message_id") == f"<{eid}@resend.dev>",
         "emails.get", r["get"], problems)
    lst = r["list"]
    want(lst.get("body", {}).get("object") == "list" and 1 <= len(lst.get("ids", [])) <= 2
         and isinstance(lst["body"].get("has_more"), bool), "emails.list", lst, problems)
    atts = r["attachments"].get("body", {}).get("data") or [{}]
    want(atts[0].get("filename") == "a.txt" and atts[0].get("size") == 5, "attachments.list", r["attachments"],
         problems)
    one = r["attachment"].get("body", {})
    want(one.get("object") == "attachment" and str(one.get("download_url", "")).endswith("/content"),
         "attachments.get", r["attachment"], problems)
    want_id(r["scheduled"], "emails.send scheduled_at 'in 1 min'", problems)
    later = r["scheduled"].get("id")
    for step in ("update", "cancel"):
        want(r[step].get("body", {}).get("id") == later, f"emails.{step}", r[step], problems)
    want(r["canceled"].get("body", {}).get("last_event") == "canceled", "emails.get canceled", r["canceled"],
         problems)
    want(len(r["batch"].get("ids", [])) == 2, "batch.send", r["batch"], problems)


def wait_for_files(folder: str, n: int, timeout: float = 5) -> list[str]:
    """The .eml files in `folder` once there are `n` (the writer thread puts
    them there a moment after the reply), or what is there at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = glob.glob(os.path.join(folder, "*.eml"))
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def check(client: str, name: str, mailtape: str, workdir: str) -> list[str]:
    problems: list[str] = []
    mailbox = os.path.join(workdir, "mailbox")
    args = ["mock", "--json", "--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:0",
            "--ui", "127.0.0.1:0", "--mailbox", mailbox, "--certs", os.path.join(workdir, "certs")]
    if name in ("invalid-key", "legacy-key"):
        args += ["--key", KEY]
    if name in ("legacy-key", "rate-limit", "cross-door"):
        # An older team: 2 requests per second, 403 invalid_api_key.
        args += ["--variant", "legacy"]
    if name in ("account", "emails"):
        args += ["--scenario", "unlimited"]
    if name == "sandbox":
        args += ["--scenario", "sandbox", "--owner", "you@yourcompany.com"]
    if name == "idempotent":
        args += ["--scenario", "unlimited"]
    server = Server("mock", [mailtape, *args], workdir)
    try:
        ready = server.wait_ready()
        base = ready["rest"]
        if name == "send":
            r = do(client, "send", base)
            want_id(r, "send", problems)
            emls = wait_for_files(mailbox, 1)
            text = open(emls[0], encoding="utf-8", errors="replace").read() if emls else ""
            if len(emls) != 1 or "Subject:" not in text or "From: Acme <billing@acme.com>" not in text:
                problems.append(f"mailbox: wanted one MIME message, got {emls}: {text[:400]}")
        elif name == "batch":
            r = do(client, "batch", base)
            if len(r.get("ids", [])) != 2:
                problems.append(f"batch: wanted two ids, got {r}")
        elif name == "get":
            r = do(client, "get", base)
            want_id(r["sent"], "send", problems)
            got = r["got"].get("body", {})
            if (got.get("object"), got.get("id"), got.get("last_event")) != ("email", r["sent"].get("id"), "delivered"):
                problems.append(f"get: wanted the email with last_event delivered, got {r['got']}")
        elif name == "invalid-key":
            r = do(client, "send", base, key=OTHER_KEY)
            want_error(r, 401, "validation_error", "API key is invalid", "invalid key", problems)
        elif name == "legacy-key":
            r = do(client, "send", base, key=OTHER_KEY)
            want_error(r, 403, "invalid_api_key", "API key is invalid.", "invalid key (legacy)", problems)
        elif name == "account":
            tour_account(do(client, "account", base, to=f"{client}.example-{secrets.token_hex(3)}.io"), problems)
        elif name == "emails":
            tour_emails(do(client, "emails", base), problems)
        elif name == "sandbox":
            r = do(client, "send", base, sender="onboarding@resend.dev", to="someone@gmail.com")
            want_error(r, 403, "validation_error", SANDBOX_TEXT, "sandbox", problems)
        elif name == "rate-limit":
            rs = do(client, "burst", base)
            ok = [r for r in rs if r.get("id")]
            refused = [r for r in rs if r.get("status")]
            if len(ok) != 2 or len(refused) != 1:
                problems.append(f"burst of 3: wanted 2 sent and 1 refused, got {rs}")
            for r in refused:
                want_error(r, 429, "rate_limit_exceeded", RATE_TEXT, "third of the burst", problems)
                h = r.get("headers", {})
                for k, v in [("ratelimit-limit", "2"), ("ratelimit-remaining", "0"), ("ratelimit-reset", "1"),
                             ("retry-after", "1")]:
                    if h.get(k) != v:
                        problems.append(f"429 header {k}: wanted {v}, got {h.get(k)} (headers {h})")
        elif name == "idempotent":
            r = do(client, "idempotent", base)
            want_id(r["first"], "first", problems)
            if r["again"].get("id") != r["first"].get("id"):
                problems.append(f"retry with the same key and body: wanted {r['first']}, got {r['again']}")
            want_error(r["other"], 409, "invalid_idempotent_request",
                       "Same idempotency key used with a different request payload. Change your idempotency key "
                       "or payload.", "same key, other body", problems)
            if len(wait_for_files(mailbox, 1)) != 1:
                problems.append("idempotent retry: wanted one message in the mailbox")
        elif name == "cross-door":
            host, port = split_addr(ready["plain"])
            smtp = smtplib.SMTP(host, port, timeout=10)
            smtp.ehlo("app.local")
            smtp.login("resend", KEY)
            smtp.mail("billing@acme.com")
            smtp.rcpt(TO)
            code, _ = smtp.docmd("DATA")
            if code != 354:
                problems.append(f"SMTP DATA: {code}")
            # The SMTP message is judged at its final dot: the two REST sends
            # come first, the dot right after them, all within a second.
            replies = []

            def third():
                smtp.send(b"Subject: third\r\n\r\nhi\r\n.\r\n")
                replies.append(smtp.getreply())

            rs = do(client, "two", base, then=third)
            for i, r in enumerate(rs):
                want_id(r, f"REST send {i + 1} of 3", problems)
            reply = replies[0]
            want = (550, b"Too many requests. You can only make 2 requests per second.")
            if reply != want:
                problems.append(f"SMTP send 3 of 3: wanted {want}, got {reply}")
            smtp.quit()
    except (ServerError, RuntimeError, OSError, KeyError, ValueError, smtplib.SMTPException) as e:
        problems.append(f"{type(e).__name__}: {e}")
    except Exception:
        problems.append(traceback.format_exc())
    finally:
        rc = server.stop()
    if problems:
        problems.append(server.transcript())
    elif rc != 0:
        problems.append(f"mailtape exit status {rc}\n{server.stderr()}")
    return problems


def missing(client: str) -> str | None:
    if client == "node-sdk" and not os.path.isdir(os.path.join(HERE, "node_modules", "resend")):
        return "npm `resend` is not in tests/clients/node_modules"
    if client == "python-sdk":
        try:
            import resend  # noqa: F401
        except ImportError:
            return "PyPI `resend` is not installed"
    if client == "curl" and shutil.which("curl") is None:
        return "curl is not installed"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mailtape", required=True, help="the mailtape binary")
    ap.add_argument("--jobs", type=int, default=4, help="cells run at once (default 4)")
    args = ap.parse_args()
    mailtape = os.path.abspath(args.mailtape)
    tmp = tempfile.mkdtemp(prefix="mailtape-rest-")
    cells = [(c, n) for c in CLIENTS for n in CHECKS if not (c == "curl" and n in SDK_ONLY)]
    results: dict[tuple[str, str], list[str]] = {}
    start = time.monotonic()

    def run(i_cell):
        i, (client, name) = i_cell
        if (why := missing(client)) is not None:
            return (client, name), [f"client missing: {why} (run `bash tests/clients/install.sh`)"]
        workdir = os.path.join(tmp, f"cell-{i:02d}")
        os.makedirs(workdir)
        return (client, name), check(client, name, mailtape, workdir)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for (client, name), problems in pool.map(run, enumerate(cells)):
            results[(client, name)] = problems
            mark = "✓" if not problems else "✗"
            print(f"{mark} {client} · {name}")
            for p in problems:
                print("    " + p.replace("\n", "\n    "))
    print()
    width = max(len(c) for c in CHECKS)
    print(f"{'check':<{width}}  " + "  ".join(f"{c:<10}" for c in CLIENTS))
    for name in CHECKS:
        marks = ["—" if (c, name) not in results else "✓" if not results[(c, name)] else "✗" for c in CLIENTS]
        print(f"{name:<{width}}  " + "  ".join(f"{m:<10}" for m in marks))
    failed = sum(1 for p in results.values() if p)
    print(f"time: {time.monotonic() - start:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
