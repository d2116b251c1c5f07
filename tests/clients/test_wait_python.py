"""Waiting instead of sleeping, from Python (issue 26): pytest with plain
`requests`, an app that sends with smtplib and with Resend's Python SDK,
and mailtape's server-side wait. A second message goes out 200 ms after
the first, so a wait that answered with the wrong one would fail.

    MAILTAPE=target/debug/mailtape python3 -m pytest -q tests/clients/test_wait_python.py
"""

import json
import os
import smtplib
import subprocess
import threading
import time
from email.message import EmailMessage

import pytest
import requests
import resend

MAILTAPE = os.environ.get("MAILTAPE", "mailtape")
KEY = "re_PyWait1234_abcdEFGH"


@pytest.fixture
def mock(tmp_path):
    """`mailtape mock` on free ports, its inbox and REST API on one of them."""
    out = open(tmp_path / "stdout.jsonl", "w")
    proc = subprocess.Popen(
        [MAILTAPE, "mock", "--scenario", "unlimited", "--json", "--plain", "127.0.0.1:0",
         "--smtps", "off", "--starttls", "off", "--ui", "127.0.0.1:0"],
        stdout=out, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 10
    ready = None
    while ready is None:
        assert time.monotonic() < deadline, "no ready line within 10 s"
        with open(tmp_path / "stdout.jsonl") as f:
            line = f.readline()
        if line.endswith("\n"):
            ready = json.loads(line)
        else:
            time.sleep(0.02)
    host, port = ready["plain"].rsplit(":", 1)
    ready["host"], ready["port"], ready["ui"] = host, int(port), ready["ui"].rstrip("/")
    yield ready
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    out.close()
    assert proc.returncode == 0, err
    assert KEY not in err and KEY not in (tmp_path / "stdout.jsonl").read_text()


def sign_in_mail(to, code, token):
    m = EmailMessage()
    m["From"] = "Acme <login@acme.com>"
    m["To"] = to
    m["Subject"] = "Your Acme sign-in code"
    m.set_content(f"Hi,\n\nYour verification code is {code}. It expires in 10 minutes.\n\n"
                  f"Or open https://app.acme.com/login?token={token}\n")
    return m


def smtp_send(mock, to, code, token):
    with smtplib.SMTP(mock["host"], mock["port"], timeout=10) as s:
        s.login("resend", KEY)
        s.send_message(sign_in_mail(to, code, token))


def wait(mock, **params):
    return requests.get(f"{mock['ui']}/api/wait/message", params=params, timeout=20)


def test_smtplib_wait_then_extract_the_code_and_the_link(mock):
    since = requests.get(f"{mock['ui']}/api/cursor", timeout=5).json()["cursor"]
    answer = {}
    # The wait is asked before the app sends: it answers when the mail arrives.
    waiting = threading.Thread(target=lambda: answer.update(r=wait(
        mock, query="to:bob@acme.com", since=since, timeout="10s", link="/login")))
    waiting.start()
    smtp_send(mock, "bob@acme.com", "482913", "first")
    time.sleep(0.2)
    smtp_send(mock, "bob@acme.com", "775120", "second")
    waiting.join()
    r = answer["r"]
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["code"] == "482913"
    assert m["link"] == "https://app.acme.com/login?token=first"
    assert "Your verification code is 482913. It expires" in m["codes"][0]["context"]
    assert m["url"] == f"/#/message/{m['id']}"
    # Asked after both arrived, from the same cursor: still the first.
    again = wait(mock, query="to:bob@acme.com", since=since, timeout="5s").json()
    assert again["id"] == m["id"]
    # From the first one's cursor: the second.
    second = wait(mock, query="to:bob@acme.com", since=m["cursor"], timeout="5s").json()
    assert second["code"] == "775120"
    assert second["link"] == "https://app.acme.com/login?token=second"


def test_resend_sdk_wait_by_tag_and_key(mock):
    resend.api_key = KEY
    resend.api_url = mock["rest"]
    since = requests.get(f"{mock['ui']}/api/cursor", timeout=5).json()["cursor"]

    def send(code):
        return resend.Emails.send({
            "from": "Acme <login@acme.com>", "to": ["carol@acme.com"], "subject": "Confirm your email",
            "text": f"Your one-time code: {code}\nConfirm: https://app.acme.com/confirm?c={code}\n",
            "tags": [{"name": "flow", "value": "signup"}],
        })

    first = send("246810")
    time.sleep(0.2)
    send("135790")
    m = wait(mock, query="tag:flow=signup key:" + KEY, since=since, timeout="10s", link="/confirm").json()
    assert m["id"] == first["id"]
    assert m["code"] == "246810"
    assert m["link"] == "https://app.acme.com/confirm?c=246810"
    assert m["tags"] == ["flow=signup"]
    assert m["key"].startswith("re_…") and KEY not in json.dumps(m)


def test_bad_waits_are_400_and_a_timeout_is_408_with_what_came(mock):
    r = wait(mock, query="subject:\"unclosed")
    assert r.status_code == 400
    assert r.json()["error"] == 'bad query: the query has an unclosed quote (after "subject:unclosed")'
    r = wait(mock, timeout="10m")
    assert r.status_code == 400
    assert r.json()["error"] == "timeout 10m is over the cap of 300s; wait at most 5m"
    since = requests.get(f"{mock['ui']}/api/cursor", timeout=5).json()["cursor"]
    smtp_send(mock, "dave@acme.com", "111222", "d")
    r = wait(mock, query="to:erin@acme.com", since=since, timeout="300ms")
    assert r.status_code == 408
    body = r.json()
    assert body["error"] == 'no message matched "to:erin@acme.com" within 300ms; 1 message arrived meanwhile (see arrived)'
    assert body["arrived"][0]["to"] == ["dave@acme.com"]
