"""One operation of the REST client matrix (rest_matrix.py) with the official
Python SDK (PyPI `resend`), pointed at mailtape through `resend.api_url` as an
app would be. Prints one JSON line: what the SDK returned or raised.

    RESEND_API_URL=http://127.0.0.1:PORT RESEND_API_KEY=re_… python3 rest_python.py OP FROM TO
"""
import json
import os
import sys
import threading

import resend

op, sender, to = sys.argv[1:4]
resend.api_key = os.environ["RESEND_API_KEY"]
resend.api_url = os.environ["RESEND_API_URL"]


def email(subject):
    return {"from": sender, "to": [to], "subject": subject, "html": f"<p>{subject}</p>", "text": subject}


def call(f, *args, **kwargs):
    """The SDK's answer as data: a result, or the error it raised."""
    try:
        return {"data": dict(f(*args, **kwargs))}
    except resend.exceptions.ResendError as e:
        return {"error": {"code": e.code, "name": e.error_type, "message": e.message,
                          "headers": {k.lower(): v for k, v in (e.headers or {}).items()}}}


if op == "send":
    out = call(resend.Emails.send, email("python send"))
elif op == "batch":
    out = call(resend.Batch.send, [email("python batch 1"), email("python batch 2")])
elif op == "get":
    sent = call(resend.Emails.send, email("python get"))
    out = {"sent": sent, "got": call(resend.Emails.get, sent.get("data", {}).get("id", "none"))}
elif op == "burst":
    results = [None] * 3

    def one(i):
        results[i] = call(resend.Emails.send, email(f"python burst {i}"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = results
elif op == "idempotent":
    key = f"welcome-{os.getpid()}"
    opts = {"idempotency_key": key}
    out = {"first": call(resend.Emails.send, email("python idempotent"), opts),
           "again": call(resend.Emails.send, email("python idempotent"), opts),
           "other": call(resend.Emails.send, email("python other body"), opts)}
elif op == "two":
    out = [call(resend.Emails.send, email("python 1 of 3")), call(resend.Emails.send, email("python 2 of 3"))]
else:
    sys.exit(f"unknown op {op}")
print(json.dumps(out, default=str))
