#!/usr/bin/env python3
"""mailtape's REST mock against Resend's own OpenAPI spec, property-based.

    python3 tests/openapi/conformance.py --mailtape target/debug/mailtape

Starts `mailtape mock --rest` (scenario `unlimited`, so the rate limit does
not answer for the checks), writes Resend's `resend.yaml` (vendored here,
unchanged) with the overlay below applied, and runs schemathesis (PyPI) on
it: only the operations mailtape serves, each request generated from the
spec (valid and invalid), every answer checked for no server error, a
response body that matches the documented schema, and a documented content
type. Bounded by --max-time (80 s by default; the
coverage phase is left out: hypothesis 6 fails in it on Python 3.11's AST). Exit status: schemathesis's.

The overlay is the spec's known gaps, each said where it is made:
- the spec documents only 2xx answers; Resend's errors are
  `{"statusCode","name","message"}` (its errors page), added as the
  `default` response of every operation so error answers are checked too;
- `html` and `text` of an email are typed as strings, but Resend returns
  `null` for a part the email does not have (an email sent with text only);
- `POST /emails/{id}/cancel` is documented as returning a whole `Email`;
  Resend and its SDKs return `{"object":"email","id"}`, as for update.
"""
from __future__ import annotations

import argparse
import copy
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients"))
from matrix import Server  # noqa: E402

KEY = "re_conformance_" + secrets.token_hex(8)

# The operations mailtape serves (README, "Resend's REST API").
SERVED = {
    "/emails": {"get", "post"},
    "/emails/batch": {"post"},
    "/emails/{email_id}": {"get", "patch"},
    "/emails/{email_id}/cancel": {"post"},
    "/emails/{email_id}/attachments": {"get"},
    "/emails/{email_id}/attachments/{attachment_id}": {"get"},
    "/domains": {"get", "post"},
    "/domains/{domain_id}": {"get", "patch", "delete"},
    "/domains/{domain_id}/verify": {"post"},
    "/api-keys": {"get", "post"},
    "/api-keys/{api_key_id}": {"delete"},
}

ERROR = {
    "type": "object",
    "required": ["statusCode", "name", "message"],
    "properties": {
        "statusCode": {"type": "integer", "minimum": 400, "maximum": 599},
        "name": {"type": "string", "minLength": 1},
        "message": {"type": "string"},
    },
}


def overlay(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    methods = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
    paths = {}
    for path, item in spec["paths"].items():
        keep = SERVED.get(path)
        if not keep:
            continue
        item = {k: v for k, v in item.items() if k not in methods or k in keep}
        paths[path] = item
    missing = {p for p in SERVED if p not in paths}
    if missing:
        sys.exit(f"the spec no longer has {sorted(missing)}: update SERVED or the vendored spec")
    spec["paths"] = paths
    schemas = spec["components"]["schemas"]
    schemas["ResendError"] = ERROR
    for item in paths.values():
        for method, op in item.items():
            if method not in methods:
                continue
            op.setdefault("responses", {})["default"] = {
                "description": "Resend's error shape (its errors page)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResendError"}}},
            }
    for field in ("html", "text"):
        prop = schemas["Email"]["properties"][field]
        prop["type"] = ["string", "null"]
    cancel = paths["/emails/{email_id}/cancel"]["post"]["responses"]["200"]
    cancel["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/UpdateEmailResponse"} \
        if "UpdateEmailResponse" in schemas else {
            "type": "object", "properties": {"object": {"type": "string"}, "id": {"type": "string"}}}
    return spec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mailtape", required=True, help="the mailtape binary")
    ap.add_argument("--max-time", type=int, default=80, help="schemathesis's time budget in seconds")
    ap.add_argument("--max-examples", type=int, default=30, help="examples per operation")
    args = ap.parse_args()
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        sys.exit("schemathesis is not installed: python3 -m pip install 'schemathesis>=4,<5'")
    with open(os.path.join(HERE, "resend.yaml"), encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    tmp = tempfile.mkdtemp(prefix="mailtape-conformance-")
    schema = os.path.join(tmp, "resend-served.yaml")
    with open(schema, "w", encoding="utf-8") as f:
        yaml.safe_dump(overlay(spec), f, sort_keys=False)
    argv = [os.path.abspath(args.mailtape), "mock", "--json", "--scenario", "unlimited", "--key", KEY,
            "--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:0", "--ui", "off",
            "--rest", "127.0.0.1:0", "--certs", os.path.join(tmp, "certs")]
    # Schemathesis learns ids from answers (`GET /api-keys` lists the run's
    # own key), so `DELETE /api-keys/{id}` would delete the key mid-run and
    # leave every later request a 401: it runs last, on a mock of its own.
    runs = [
        ("every operation but DELETE /api-keys/{id}", args.max_time - 15,
         ["--exclude-path", "/api-keys/{api_key_id}"]),
        ("DELETE /api-keys/{id}", 15, ["--include-path", "/api-keys/{api_key_id}"]),
    ]
    rc = 0
    for label, budget, only in runs:
        server = Server("mock", [*argv[:-1], os.path.join(tmp, f"certs-{budget}")], tmp)
        try:
            base = server.wait_ready()["rest"]
            run = [st, "run", schema, "--url", base, *only,
                   "-H", f"Authorization: Bearer {KEY}",
                   "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
                   "--phases", "examples,fuzzing",
                   "--max-time", str(budget), "--max-examples", str(args.max_examples),
                   "--seed", "24", "--request-timeout", "10", "--workers", "2",
                   "--suppress-health-check", "all", "--output-sanitize", "true", "--no-color"]
            print(f"== {label}", flush=True)
            print("$", " ".join(a.replace(KEY, "re_…") for a in run), flush=True)
            rc = max(rc, subprocess.run(run, cwd=tmp, timeout=budget + 60).returncode)
        finally:
            server.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
