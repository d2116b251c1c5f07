#!/usr/bin/env python3
"""A raw SMTP session typed into `openssl s_client`, line by line.

openssl does the TLS (implicit TLS, or `-starttls smtp` which also sends the
first EHLO and STARTTLS) and verifies the certificate against MX_CA, IP
address included (`-verify_ip`, `-verify_return_error`); this script only
types the commands a person would and reads each reply before the next one.
Settings from the environment (set by matrix.py): MX_HOST, MX_PORT, MX_TLS
(starttls | smtps; s_client cannot speak plain SMTP), MX_MECH (PLAIN | LOGIN),
MX_USER, MX_PASS, MX_FROM (empty: MAIL FROM:<>), MX_TO, MX_CA, MX_TIMEOUT.
Exit 0 when the message got 250, 1 otherwise; the session is printed as
`C:`/`S:` lines (the AUTH payloads as sent).
"""
import base64
import os
import queue
import subprocess
import sys
import threading

env = os.environ
host, port, tls, mech = env["MX_HOST"], env["MX_PORT"], env["MX_TLS"], env["MX_MECH"]
timeout = float(env.get("MX_TIMEOUT", "10"))
addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
if tls not in ("starttls", "smtps"):
    sys.exit(f"openssl s_client cannot speak plain SMTP (MX_TLS={tls})")

cmd = ["openssl", "s_client", "-connect", addr, "-CAfile", env["MX_CA"],
       "-verify_return_error", "-verify_ip", host,
       # -quiet: no session dump, and EOF on stdin does not close the connection;
       # -nocommands: a line starting with R (RCPT) or Q must not renegotiate or quit.
       "-quiet", "-nocommands"]
if tls == "starttls":
    cmd += ["-starttls", "smtp", "-name", "app.local"]
proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
lines: "queue.Queue[str | None]" = queue.Queue()


def pump():
    for raw in proc.stdout:
        lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    lines.put(None)


threading.Thread(target=pump, daemon=True).start()


class Gone(Exception):
    pass


def reply():
    """Reads one whole reply; returns its code."""
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise Gone(f"timed out after {timeout:g}s waiting for a reply") from None
        if line is None:
            raise Gone("the connection was closed by the server")
        print(f"S: {line}", flush=True)
        if len(line) >= 4 and line[:3].isdigit() and line[3] == " ":
            return int(line[:3])
        if len(line) == 3 and line.isdigit():
            return int(line)


def send(text, shown=None):
    print(f"C: {shown or text}", flush=True)
    try:
        proc.stdin.write(text.encode() + b"\r\n")
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        raise Gone("the connection was closed by the server") from None


def expect(code, wanted):
    if code != wanted:
        raise Refused(code)


class Refused(Exception):
    pass


b64 = lambda s: base64.b64encode(s.encode()).decode()
user, password = env["MX_USER"], env["MX_PASS"]
status = 1
try:
    try:
        if tls == "smtps":
            expect(reply(), 220)  # with -starttls, s_client has read the greeting
        send("EHLO app.local")
        expect(reply(), 250)
        if mech == "PLAIN":
            send("AUTH PLAIN " + b64(f"\0{user}\0{password}"))
            expect(reply(), 235)
        else:
            send("AUTH LOGIN")
            expect(reply(), 334)
            send(b64(user))
            expect(reply(), 334)
            send(b64(password))
            expect(reply(), 235)
        send(f"MAIL FROM:<{env['MX_FROM']}>")
        expect(reply(), 250)
        send(f"RCPT TO:<{env['MX_TO']}>")
        expect(reply(), 250)
        send("DATA")
        expect(reply(), 354)
        sender = env["MX_FROM"] or "nobody"
        for line in (f"From: {sender}", f"To: {env['MX_TO']}", "Subject: Hello from openssl s_client",
                     "", "Hi, this is a test."):
            send(line)
        send(".")
        expect(reply(), 250)
        status = 0
        print("sent")
    except Refused as e:
        print(f"refused: {e.args[0]}")
    send("QUIT")
    reply()
except Gone as e:
    print(f"error: {e}")
finally:
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    err = proc.stderr.read().decode("utf-8", "replace")
    # openssl's own lines (certificate chain, verify results, errors)
    for line in err.splitlines():
        print(f"openssl: {line}")
sys.exit(status)
