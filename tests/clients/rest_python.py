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
elif op == "account":
    # Every domains and api-keys call; TO is the domain. The new key's token
    # is used, never printed.
    out = {"domainCreate": call(resend.Domains.create, {"name": to})}
    did = out["domainCreate"].get("data", {}).get("id", "none")
    out["domainGet"] = call(resend.Domains.get, did)
    out["domainList"] = call(resend.Domains.list, {"limit": 10})
    out["domainUpdate"] = call(resend.Domains.update, {"id": did, "open_tracking": True, "click_tracking": True})
    out["domainVerify"] = call(resend.Domains.verify, did)
    out["domainAfter"] = call(resend.Domains.get, did)
    out["keyCreate"] = call(resend.ApiKeys.create, {"name": "ci", "permission": "sending_access", "domain_id": did})
    token = out["keyCreate"].get("data", {}).get("token", "")
    if "data" in out["keyCreate"]:
        ok = token.startswith("re_") and len(token) >= 11
        out["keyCreate"]["data"]["token"] = "<a key>" if ok else "<not a key>"
    out["keyList"] = call(resend.ApiKeys.list)
    mail = {"from": f"billing@{to}", "to": ["delivered@resend.dev"], "subject": "python key", "text": "hi"}
    main_key = resend.api_key
    resend.api_key = token
    out["sendWithKey"] = call(resend.Emails.send, mail)
    resend.api_key = main_key
    out["keyRemove"] = call(resend.ApiKeys.remove, out["keyCreate"].get("data", {}).get("id", "none"))
    resend.api_key = token
    out["sendAfterRemove"] = call(resend.Emails.send, mail)
    resend.api_key = main_key
    out["domainRemove"] = call(resend.Domains.remove, did)
elif op == "emails":
    # Every emails call: send (with an attachment and a tag), get, list,
    # attachments, a scheduled one moved and canceled, a batch.
    first = dict(email("python tour"), attachments=[{"filename": "a.txt", "content": "aGVsbG8="}],
                 tags=[{"name": "category", "value": "welcome"}])
    out = {"send": call(resend.Emails.send, first)}
    eid = out["send"].get("data", {}).get("id", "none")
    out["get"] = call(resend.Emails.get, eid)
    out["list"] = call(resend.Emails.list, {"limit": 2})
    out["attachments"] = call(resend.Emails.Attachments.list, eid)
    aid = (out["attachments"].get("data", {}).get("data") or [{}])[0].get("id", "none")
    out["attachment"] = call(resend.Emails.Attachments.get, eid, aid)
    out["scheduled"] = call(resend.Emails.send, dict(email("python later"), scheduled_at="in 1 min"))
    later = out["scheduled"].get("data", {}).get("id", "none")
    out["update"] = call(resend.Emails.update, {"id": later, "scheduled_at": "in 2 min"})
    out["cancel"] = call(resend.Emails.cancel, later)
    out["canceled"] = call(resend.Emails.get, later)
    out["batch"] = call(resend.Batch.send, [email("python batch 1"), email("python batch 2")])
else:
    sys.exit(f"unknown op {op}")
print(json.dumps(out, default=str))
