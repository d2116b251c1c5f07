#!/usr/bin/env python3
"""Python smtplib as an app would use it: one message, certificate verification on.

Settings come from the environment (set by matrix.py): MX_HOST, MX_PORT,
MX_TLS (plain | starttls | smtps), MX_MECH (PLAIN | LOGIN), MX_USER, MX_PASS,
MX_FROM (empty: a null reverse-path, MAIL FROM:<>), MX_TO, MX_CA, MX_TIMEOUT.
Exit 0 when the message was accepted, 1 with the exception otherwise.
"""
import os
import smtplib
import ssl
import sys
from email.message import EmailMessage

env = os.environ
host, port, tls = env["MX_HOST"], int(env["MX_PORT"]), env["MX_TLS"]
mech, timeout = env["MX_MECH"], float(env.get("MX_TIMEOUT", "10"))
sender, rcpt = env["MX_FROM"], env["MX_TO"]

ctx = ssl.create_default_context(cafile=env["MX_CA"])  # verification and host name check on
msg = EmailMessage()
msg["From"] = sender or "nobody"
msg["To"] = rcpt
msg["Subject"] = "Hello from smtplib"
msg.set_content("Hi, this is a test.\n")

try:
    if tls == "smtps":
        s = smtplib.SMTP_SSL(host, port, local_hostname="app.local", context=ctx, timeout=timeout)
    else:
        s = smtplib.SMTP(host, port, local_hostname="app.local", timeout=timeout)
    with s:
        s.ehlo()
        if tls == "starttls":
            s.starttls(context=ctx)
            s.ehlo()
        # login() would try every mechanism in turn; the matrix picks one.
        s.user, s.password = env["MX_USER"], env["MX_PASS"]
        auth = s.auth_plain if mech == "PLAIN" else s.auth_login
        code, resp = s.auth(mech, auth, initial_response_ok=(mech == "PLAIN"))
        print(f"AUTH {mech}: {code} {resp.decode(errors='replace')}")
        code, resp = s.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, resp, sender)
        code, resp = s.rcpt(rcpt)
        if code != 250:
            raise smtplib.SMTPRecipientsRefused({rcpt: (code, resp)})
        code, resp = s.data(msg.as_bytes())
        print(f"DATA: {code} {resp.decode(errors='replace')}")
        if code != 250:
            raise smtplib.SMTPDataError(code, resp)
except Exception as e:  # the app's view of the failure
    print(f"{type(e).__name__}: {e!r}")
    sys.exit(1)
print("sent")
