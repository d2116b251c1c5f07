"""The Python SDK's side of rest_record.py: a few calls, and what the SDK
returned or raised for each, as one JSON line, so a recording and its replay
can be compared byte for byte.

    RESEND_API_URL=http://127.0.0.1:PORT RESEND_API_KEY=re_… python3 rest_record_python.py ok|limited|changed
"""
import json
import os
import sys

import resend

resend.api_key = os.environ["RESEND_API_KEY"]
resend.api_url = os.environ["RESEND_API_URL"]


def email(subject, sender="Acme <billing@acme.com>"):
    return {"from": sender, "to": ["delivered@resend.dev"], "subject": subject,
            "html": f"<p>{subject}</p>", "text": subject}


def call(f, *args):
    try:
        data = dict(f(*args))
        # The SDK adds the answer's HTTP headers; `date` is the clock's, not the API's.
        data.get("http_headers", {}).pop("date", None)
        return {"data": data}
    except resend.exceptions.ResendError as e:
        headers = {k.lower(): v for k, v in (e.headers or {}).items()}
        return {"error": {"code": e.code, "name": e.error_type, "message": e.message},
                "retry_after": headers.get("retry-after")}


op = sys.argv[1]
out = []
if op == "ok":
    sent = call(resend.Emails.send, email("python sends"))
    out.append(sent)
    out.append(call(resend.Emails.send, email("python bad from", "not an address")))
    out.append(call(resend.Emails.get, sent.get("data", {}).get("id", "none")))
elif op == "limited":
    out.append(call(resend.Emails.send, email("python too fast")))
elif op == "changed":
    out.append(call(resend.Emails.send, email("python sends something else")))
print(json.dumps(out, sort_keys=True))
