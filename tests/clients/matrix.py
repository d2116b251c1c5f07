#!/usr/bin/env python3
"""mailtape client conformance matrix.

Runs real SMTP clients (swaks, msmtp, curl, Python smtplib, nodemailer,
PHPMailer, WordPress wp_mail(), a raw session typed into `openssl s_client`)
against `mailtape mock`, `mailtape record` and `mailtape replay`, over plain
SMTP, STARTTLS and implicit TLS, with AUTH PLAIN and LOGIN, on 127.0.0.1 and
::1, certificate verification always on against the CA mailtape generates.

    python3 tests/clients/matrix.py --mailtape target/debug/mailtape

Install the clients first with `bash tests/clients/install.sh`. Each cell gets
servers of its own (port 0, `--json`), runs one client as a subprocess with a
timeout, and passes when the client's exit status and output show the reply
the scenario calls for and mailtape's transcript of the session agrees. A
failing cell prints the client's output and the transcript. The result table
comes last, then one line `N passed, N failed`; the exit status is 1 if any
cell failed. README.md beside this file says what each cell checks.

Python 3.11 standard library only.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "re_matrix_" + secrets.token_hex(8)  # a made-up key, new each run
OTHER_KEY = "re_other_" + secrets.token_hex(8)  # the invalid-key scenario's
HELO = "app.local"
TRANSPORTS = ("plain", "starttls", "smtps")
MECHS = ("PLAIN", "LOGIN")
FAMILIES = ("127.0.0.1", "::1")
CLIENT_TIMEOUT = 10  # seconds a client waits for a reply (MX_TIMEOUT)
SILENT_TIMEOUT = 2  # the same, for cells whose server never answers
PROCESS_TIMEOUT = 45  # the longest a client process may run


# --------------------------------------------------------------------------
# Expectations


@dataclasses.dataclass
class Expect:
    """What a cell must show.

    outcome: "accepted" (250 to the message), "refused" (code and text),
    "dropped" (the server hung up without a reply to the message),
    "timeout" (the server never said a word), "untrusted" (the client
    refuses the certificate).
    """

    outcome: str
    code: int | None = None
    text: str | None = None
    user: str = "resend"
    key: str = KEY
    mail_from: str = "billing@acme.com"
    rcpt_to: str = "delivered@resend.dev"


@dataclasses.dataclass
class Row:
    mode: str  # mock | record | replay
    scenario: str  # scenario, tape, or a label
    expect: Expect
    server_scenario: str | None = None  # mock --scenario (mock, and record's upstream)
    tape: str | None = None  # replay: builtin:NAME
    full: bool = False  # every transport x mechanism x address; else three cells
    untrusted_ca: bool = False  # the client trusts another CA
    tls_only: bool = False


MOCK_ROWS = [
    Row("mock", "default", Expect("accepted"), "default", full=True),
    Row("mock", "wrong-username", Expect("refused", 535, "Invalid username", user="billing@acme.com"), "default"),
    Row("mock", "invalid-key", Expect("refused", 535, "Authentication credentials invalid", key=OTHER_KEY),
        "invalid-key"),
    Row("mock", "sandbox", Expect("refused", 550, "You can only send testing emails to your own email address "
                                  "(you@yourcompany.com). To send emails to other recipients, please verify a "
                                  "domain at resend.com/domains",
                                  mail_from="onboarding@resend.dev", rcpt_to="someone@gmail.com"), "sandbox"),
    Row("mock", "unverified-domain", Expect("refused", 550, "The acme.com domain is not verified. Please, add and "
                                            "verify your domain on https://resend.com/domains"), "unverified-domain"),
    Row("mock", "restricted-key", Expect("refused", 550, "This API key is not authorized to send emails from "
                                         "acme.com"), "restricted-key"),
    Row("mock", "restricted-key-unverified", Expect("refused", 550, "The associated domain with your API key is not "
                                                    "verified. Please, create a new API key with full access or "
                                                    "with a verified domain."), "restricted-key-unverified"),
    Row("mock", "key-invalid-after-auth", Expect("refused", 550, "API key is invalid"), "key-invalid-after-auth"),
    # #13: real sessions are refused for good at the final dot (the brief's 421 is --variant brief).
    Row("mock", "rate-limited", Expect("refused", 550, "Too many requests. You can only make 5 requests per "
                                       "second."), "rate-limited"),
    Row("mock", "daily-quota", Expect("refused", 550, "You have reached your daily email sending quota."),
        "daily-quota"),
    Row("mock", "monthly-quota", Expect("refused", 550, "You have reached your monthly email sending quota."),
        "monthly-quota"),
    Row("mock", "temporary-failure", Expect("refused", 421, "Resend SMTP Relay Temporary failure, please try again "
                                            "later"), "temporary-failure"),
    Row("mock", "drop-after-data", Expect("dropped"), "drop-after-data"),
    Row("mock", "silent", Expect("timeout"), "silent"),
    Row("mock", "untrusted-ca", Expect("untrusted"), "default", untrusted_ca=True, tls_only=True),
]

RECORD_ROWS = [
    Row("record", "default", Expect("accepted"), "default", full=True),
    Row("record", "sandbox", MOCK_ROWS[3].expect, "sandbox"),
    Row("record", "wrong-username", MOCK_ROWS[1].expect, "default"),
]


def replay_rows(mailtape: str) -> list[Row]:
    """One row per shipped tape, with the addresses and the reply it holds."""
    names = []
    out = subprocess.run([mailtape, "replay", "--list"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("builtin:"):
            names.append(line.split()[0])
    rows = []
    for tape in names:
        doc = json.loads(subprocess.run([mailtape, "show", "--json", tape], capture_output=True, text=True,
                                        check=True).stdout)
        if any(s["meta"].get("listener") == "http" for s in doc["sessions"]):
            # A REST tape (builtin:rest-*): HTTP exchanges, which no SMTP client
            # can play; tests/clients/rest_record.py and tests/rest_record.rs run them.
            continue
        events = doc["sessions"][0]["events"]
        exp = Expect("accepted", mail_from="billing@acme.com")
        servers = [e["text"] for e in events if e["kind"] == "server"]
        for e in events:
            t = e["text"]
            if e["kind"] != "client":
                continue
            if m := re.match(r"(?i)MAIL FROM:<(.*?)>", t):
                exp.mail_from = m.group(1)
            elif m := re.match(r"(?i)RCPT TO:<(.*?)>", t):
                exp.rcpt_to = m.group(1)
            elif m := re.search(r"<redacted user=(\S+?)[ >]", t):
                exp.user = m.group(1)
        failures = [s for s in servers if re.match(r"[45]\d\d ", s)]
        if not servers:
            exp.outcome = "timeout"
        elif failures:
            exp.outcome, exp.code, exp.text = "refused", int(failures[0][:3]), failures[0][4:]
        rows.append(Row("replay", tape.removeprefix("builtin:"), exp, tape=tape))
    return rows


@dataclasses.dataclass
class KnownBug:
    """A mailtape bug the matrix shows and src/ has not fixed yet.

    A cell that `applies` to and fails with problems that all match `signature`
    counts as known (shown, with its transcript, but not as failed); one that
    passes fails the run, so that the entry is removed once the bug is fixed.
    """

    name: str
    what: str
    applies: Callable[["Cell"], bool]
    signature: str


KNOWN_BUGS: list[KnownBug] = []


# --------------------------------------------------------------------------
# mailtape servers


class ServerError(Exception):
    pass


class Server:
    """A mailtape process started with --json; keeps its events per session."""

    def __init__(self, label: str, argv: list[str], workdir: str):
        # Cells run in parallel: no two servers may want the inbox's 8025.
        if len(argv) > 1 and argv[1] in ("mock", "record", "replay") and "--ui" not in argv:
            argv = [*argv, "--ui", "off"]
        self.label = label
        self.argv = argv
        self.errpath = os.path.join(workdir, f"{label}.stderr")
        self.err = open(self.errpath, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.err)
        self.cond = threading.Condition()
        self.ready: dict | None = None
        self.sessions: dict[int, dict] = {}
        self.order: list[int] = []
        self.stray: list[str] = []
        self.eof = False
        self.rc: int | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                try:
                    obj = json.loads(line)
                except ValueError:
                    self.stray.append(line)
                    continue
                if self.ready is None:
                    self.ready = obj
                else:
                    self._event(obj)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _event(self, ev: dict):
        sid = ev.get("session")
        if sid is None:
            self.stray.append(json.dumps(ev))
            return
        s = self.sessions.get(sid)
        if s is None:
            s = self.sessions[sid] = {"meta": {}, "lines": [], "end": None, "messages": []}
            self.order.append(sid)
        t = ev.get("type")
        if t == "session":
            s["meta"] = ev.get("meta", {})
        elif t == "line":
            s["lines"].append((ev.get("kind"), ev.get("text", "")))
        elif t == "end":
            s["end"] = ev
        elif t == "message":
            s["messages"].append(ev)

    def wait_ready(self, timeout: float = 15) -> dict:
        with self.cond:
            self.cond.wait_for(lambda: self.ready is not None or self.eof, timeout)
            if self.ready is None:
                self.kill()
                raise ServerError(f"{self.label}: no ready line from `{' '.join(self.argv)}`:\n{self.stderr()}")
            return self.ready

    def wait_idle(self, timeout: float) -> bool:
        """Waits until every session seen so far has ended."""
        with self.cond:
            return self.cond.wait_for(
                lambda: self.eof or all(s["end"] is not None for s in self.sessions.values()), timeout)

    def stop(self) -> int:
        """SIGTERM, then the exit status (killed after 10 s: -9)."""
        if self.rc is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.rc = -9
            self.reader.join(timeout=5)
            self.err.close()
        return self.rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.err.close()

    def stderr(self) -> str:
        if not self.err.closed:
            self.err.flush()
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout_text(self) -> str:
        with self.cond:
            sess = json.dumps(self.sessions)
            return json.dumps(self.ready) + sess + "\n".join(self.stray)

    def transcript(self) -> str:
        out = []
        with self.cond:
            for sid in self.order:
                s = self.sessions[sid]
                m = s["meta"]
                out.append(f"  ── {self.label} session {sid} · {m.get('mode')} · {m.get('source')} · "
                           f"listener {m.get('listener')} · {m.get('local')} ← {m.get('client')}")
                tag = {"client": "C", "server": "S", "data": "D", "note": "*"}
                for kind, text in s["lines"]:
                    out.append(f"  {tag.get(kind, kind)}: {text}")
                if s["end"]:
                    out.append(f"  (closed by {s['end'].get('closed_by')}, codes {s['end'].get('codes')})")
                else:
                    out.append("  (no end event)")
            if not self.order:
                out.append(f"  ── {self.label}: no session")
            for line in self.stray:
                out.append(f"  {self.label} stdout: {line}")
        err = self.stderr().strip()
        if err:
            out.append(f"  {self.label} stderr:")
            out += [f"    {line}" for line in err.splitlines()]
        out.append(f"  {self.label} exit status: {self.rc}")
        return "\n".join(out)


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def listen_args(family: str) -> list[str]:
    a = f"[{family}]:0" if ":" in family else f"{family}:0"
    return ["--smtps", a, "--starttls", a, "--plain", a]


# --------------------------------------------------------------------------
# Clients


@dataclasses.dataclass
class Ctx:
    """What a client needs to run one cell."""

    host: str
    port: int
    transport: str
    mech: str
    ca: str
    expect: Expect
    workdir: str
    timeout: int
    wp_root: str | None = None

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def env(self) -> dict[str, str]:
        e = dict(os.environ)
        e.update(MX_HOST=self.host, MX_PORT=str(self.port), MX_TLS=self.transport, MX_MECH=self.mech,
                 MX_USER=self.expect.user, MX_PASS=self.expect.key, MX_FROM=self.expect.mail_from,
                 MX_TO=self.expect.rcpt_to, MX_CA=self.ca, MX_TIMEOUT=str(self.timeout))
        if self.wp_root:
            e["MX_WP_ROOT"] = self.wp_root
        return e

    def message_file(self, crlf: bool) -> str:
        nl = "\r\n" if crlf else "\n"
        sender = self.expect.mail_from or "nobody"
        text = nl.join([f"From: Acme <{sender}>", f"To: {self.expect.rcpt_to}", "Subject: Hello from the matrix",
                        "", "Hi, this is a test.", ""])
        path = os.path.join(self.workdir, "mail.txt")
        with open(path, "w", newline="") as f:
            f.write(text)
        return path


class Client:
    name = ""
    transports = TRANSPORTS
    # Regexes over the client's output that show a timeout, a dropped
    # connection and a refused certificate.
    timeout_re = r"(?i)time[ds]?[ -]?out|ETIMEDOUT"
    dropped_re = r"(?i)clos|disconnect|EOF|reset|lost|broken pipe"
    untrusted_re = r"(?i)certif|verif|issuer|self[- ]signed"

    def missing(self) -> str | None:
        return None

    def not_applicable(self, cell: "Cell") -> str | None:
        return None

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str], bytes | None]:
        raise NotImplementedError

    def surfaced(self, output: str) -> str:
        """The part of the output an app or a person reads for the outcome."""
        return output


def which_all(*names: str) -> str | None:
    gone = [n for n in names if shutil.which(n) is None]
    return f"{', '.join(gone)} not found on PATH" if gone else None


class Swaks(Client):
    name = "swaks"
    timeout_re = r"(?i)time[ds]?[ -]?out"

    def missing(self):
        if m := which_all("swaks", "perl"):
            return m
        r = subprocess.run(["perl", "-MIO::Socket::SSL", "-MNet::SSLeay", "-MAuthen::SASL", "-MIO::Socket::INET6",
                            "-e1"], capture_output=True, text=True)
        return f"swaks' Perl modules: {r.stderr.strip()}" if r.returncode else None

    def command(self, ctx):
        a = ["swaks", "--server", ctx.host, "--port", str(ctx.port), "--helo", HELO,
             "--auth", ctx.mech, "--auth-user", ctx.expect.user, "--auth-password", ctx.expect.key,
             "--from", ctx.expect.mail_from or "<>", "--to", ctx.expect.rcpt_to,
             "--timeout", str(ctx.timeout)]
        if ctx.transport == "starttls":
            a += ["--tls"]
        elif ctx.transport == "smtps":
            a += ["--tls-on-connect"]
        if ctx.transport != "plain":
            a += ["--tls-verify", "--tls-ca-path", ctx.ca]
        return a, dict(os.environ), None


class SwaksPipelining(Swaks):
    """swaks with --pipeline: MAIL, RCPT and DATA in one write (RFC 2920), as
    Postfix sends them; record passes the group on to the relay the same way."""
    name = "swaks --pipeline"

    def command(self, ctx):
        a, env, stdin = super().command(ctx)
        return a + ["--pipeline"], env, stdin


class Msmtp(Client):
    name = "msmtp"
    dropped_re = r"(?i)the server sent an empty reply|clos|disconnect"

    def not_applicable(self, cell):
        if cell.row.expect.outcome == "timeout" and cell.transport == "smtps":
            return ("msmtp (1.8.23) does not apply its `timeout` to the wait for the greeting after an implicit-TLS "
                    "handshake: against a silent server it hangs until the server closes (mailtape's --idle-timeout, "
                    "300 s)")
        return None

    def missing(self):
        return which_all("msmtp")

    def command(self, ctx):
        rc = os.path.join(ctx.workdir, "msmtprc")
        lines = ["account mailtape", f"host {ctx.host}", f"port {ctx.port}", f"domain {HELO}",
                 f"auth {ctx.mech.lower()}", f"user {ctx.expect.user}", f"password {ctx.expect.key}",
                 f'from "{ctx.expect.mail_from}"', f"tls {'off' if ctx.transport == 'plain' else 'on'}",
                 f"tls_starttls {'on' if ctx.transport == 'starttls' else 'off'}", f"tls_trust_file {ctx.ca}",
                 f"timeout {ctx.timeout}", "logfile -"]
        with open(rc, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(rc, 0o600)
        with open(ctx.message_file(crlf=False), "rb") as f:
            msg = f.read()
        return ["msmtp", "-C", rc, "-a", "mailtape", ctx.expect.rcpt_to], dict(os.environ), msg


class Curl(Client):
    name = "curl"
    timeout_re = r"(?i)time[ds]?[ -]?out|\(28\)"
    dropped_re = r"(?i)clos|disconnect|EOF|reset|lost|\(56\)|\(8\)|\(26\)"

    def missing(self):
        return which_all("curl")

    def command(self, ctx):
        scheme = "smtps" if ctx.transport == "smtps" else "smtp"
        a = ["curl", "-sS", "-v", "--url", f"{scheme}://{ctx.url_host}:{ctx.port}/{HELO}",
             "--user", f"{ctx.expect.user}:{ctx.expect.key}", "--login-options", f"AUTH={ctx.mech}",
             "--mail-rcpt", ctx.expect.rcpt_to, "--upload-file", ctx.message_file(crlf=True),
             "--cacert", ctx.ca, "--connect-timeout", str(ctx.timeout), "--max-time", str(ctx.timeout * 2)]
        if ctx.expect.mail_from:
            a += ["--mail-from", ctx.expect.mail_from]  # without it curl sends MAIL FROM:<>
        if ctx.transport == "starttls":
            a += ["--ssl-reqd"]
        return a, dict(os.environ), None


class Smtplib(Client):
    name = "smtplib"

    def command(self, ctx):
        return [sys.executable, os.path.join(HERE, "smtplib_client.py")], ctx.env(), None


class Nodemailer(Client):
    name = "nodemailer"
    timeout_re = r"(?i)time[ds]?[ -]?out|ETIMEDOUT|Greeting never received"

    def missing(self):
        if m := which_all("node"):
            return m
        if not os.path.isfile(os.path.join(HERE, "node_modules", "nodemailer", "package.json")):
            return "nodemailer is not in tests/clients/node_modules"
        return None

    def command(self, ctx):
        return ["node", os.path.join(HERE, "nodemailer_client.mjs")], ctx.env(), None


PHPMAILER = "/usr/share/php/libphp-phpmailer/autoload.php"


class PHPMailerClient(Client):
    name = "PHPMailer"
    # A silent server: PHPMailer says "Could not connect to SMTP host" after
    # $Timeout; the timeout itself shows only in its SMTPDebug 4 log, and over
    # TLS not always (the read can end empty instead of timing out).
    timeout_re = r"(?im)timed-out|time[ds]?[ -]?out|^error: SMTP Error: Could not connect to SMTP host"
    # A connection that closes instead of replying to the message: PHPMailer
    # reports an empty reply to the final dot.
    dropped_re = r"(?m)^phpmailer: SMTP ERROR: DATA END command failed: *$"

    def missing(self):
        if m := which_all("php"):
            return m
        if not os.path.isfile(PHPMAILER):
            return f"{PHPMAILER} not found (Debian package libphp-phpmailer)"
        return None

    def command(self, ctx):
        return ["php", os.path.join(HERE, "phpmailer_client.php")], ctx.env(), None

    def surfaced(self, output):
        # PHPMailer's debug log is printed for the reader; the outcome must show
        # in what the app gets (the exception, getError()), not only there.
        return "\n".join(line for line in output.splitlines() if not line.startswith("debug:"))


class WordPress(PHPMailerClient):
    name = "wp_mail"
    root: str | None = None
    problem: str | None = "WordPress was not unpacked"

    def missing(self):
        return super().missing() or self.problem

    def not_applicable(self, cell):
        if cell.row.expect.mail_from == "":
            return ("wp_mail() cannot send with an empty sender: an empty From falls back to wordpress@<site>, "
                    "so MAIL FROM:<> never happens")
        return None

    def command(self, ctx):
        return ["php", os.path.join(HERE, "wp_mail_client.php")], ctx.env(), None


class OpenSSL(Client):
    name = "openssl"
    transports = ("starttls", "smtps")  # s_client speaks TLS only

    def missing(self):
        return which_all("openssl")

    def command(self, ctx):
        return [sys.executable, os.path.join(HERE, "openssl_session.py")], ctx.env(), None


CLIENTS: list[Client] = [Swaks(), SwaksPipelining(), Msmtp(), Curl(), Smtplib(), Nodemailer(), PHPMailerClient(), WordPress(),
                         OpenSSL()]


def unpack_wordpress(workdir: str, deb_arg: str | None) -> None:
    """dpkg-deb -x the wordpress .deb that install.sh downloaded, into workdir."""
    wp = next(c for c in CLIENTS if isinstance(c, WordPress))
    debs = [deb_arg] if deb_arg else sorted(glob.glob(os.path.join(HERE, ".cache", "wordpress_*.deb")))
    if not debs or not os.path.isfile(debs[-1]):
        wp.problem = ("no wordpress .deb in tests/clients/.cache (install.sh runs `apt-get download wordpress` "
                      "there)")
        return
    if shutil.which("dpkg-deb") is None:
        wp.problem = "dpkg-deb not found"
        return
    dest = os.path.join(workdir, "wordpress")
    r = subprocess.run(["dpkg-deb", "-x", debs[-1], dest], capture_output=True, text=True)
    root = os.path.join(dest, "usr", "share", "wordpress")
    if r.returncode or not os.path.isfile(os.path.join(root, "wp-includes", "pluggable.php")):
        wp.problem = f"dpkg-deb -x {debs[-1]} failed: {r.stderr.strip()}"
        return
    # The database drop-in (see wordpress/db.php), where WordPress looks for it.
    shutil.copy(os.path.join(HERE, "wordpress", "db.php"), os.path.join(root, "wp-content", "db.php"))
    wp.root, wp.problem = root, None


# --------------------------------------------------------------------------
# Cells


@dataclasses.dataclass
class Cell:
    client: Client
    row: Row
    transport: str
    mech: str
    family: str

    @property
    def label(self) -> str:
        return (f"{self.client.name} · {self.row.mode} {self.row.scenario} · {self.transport} · "
                f"AUTH {self.mech} · {self.family}")


@dataclasses.dataclass
class Result:
    cell: Cell
    status: str  # pass | fail | known (a KNOWN_BUGS entry) | n/a
    problems: list[str] = dataclasses.field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0
    bug: KnownBug | None = None


def cells_for(client: Client, row: Row, index: int, families: tuple[str, ...]) -> list[Cell]:
    transports = [t for t in client.transports if not (row.tls_only and t == "plain")]
    if row.untrusted_ca:
        # Both TLS transports on both addresses; the mechanism does not matter
        # (the client must stop before AUTH).
        return [Cell(client, row, t, MECHS[i % 2], f) for f in families for i, t in enumerate(transports)]
    if row.full:
        return [Cell(client, row, t, m, f) for f in families for t in transports for m in MECHS]
    # Three cells: one per transport, mechanisms alternating and one of them
    # on ::1, rotating with the row so every combination comes up somewhere.
    out = []
    for i, t in enumerate(TRANSPORTS):
        if t not in transports:
            continue
        fam = "::1" if (i == index % 3 and "::1" in families) else "127.0.0.1"
        out.append(Cell(client, row, t, MECHS[(index + i) % 2], fam))
    return out


class Run:
    def __init__(self, args):
        self.args = args
        self.mailtape = args.mailtape
        self.tmp = tempfile.mkdtemp(prefix="mailtape-matrix-")
        self.certs = os.path.join(self.tmp, "certs")
        self.other_certs = os.path.join(self.tmp, "other-certs")
        self.ipv6_problem: str | None = None
        self.print_lock = threading.Lock()
        self.done = 0
        self.total = 0

    # Each certs folder is made once, before the cells run in parallel, so
    # no two servers race to create the CA.
    def make_certs(self, folder: str):
        s = Server("certs", [self.mailtape, "mock", "--json", "--certs", folder, "--smtps", "127.0.0.1:0",
                             "--starttls", "off", "--plain", "off"], self.tmp)
        s.wait_ready()
        if s.stop() != 0:
            raise ServerError(f"making {folder}: exit status {s.rc}\n{s.stderr()}")

    def server(self, workdir: str, label: str, args: list[str]) -> Server:
        s = Server(label, [self.mailtape, *args, "--json", "--certs", self.certs], workdir)
        s.wait_ready()
        return s

    def run_cell(self, cell: Cell, n: int) -> Result:
        start = time.monotonic()
        res = Result(cell, "pass")
        if (why := cell.client.not_applicable(cell)) is not None:
            res.status, res.detail = "n/a", why
            return res
        if cell.family == "::1" and self.ipv6_problem:
            res.status, res.problems = "fail", [f"::1 cannot be used on this machine: {self.ipv6_problem}"]
            return res
        if (gone := cell.client.missing()) is not None:
            res.status = "fail"
            res.problems = [f"client missing: {gone} (run `bash tests/clients/install.sh`)"]
            return res
        workdir = os.path.join(self.tmp, f"cell-{n:04d}")
        os.makedirs(workdir)
        servers: list[Server] = []
        try:
            self._run_cell(cell, workdir, servers, res)
        except ServerError as e:
            res.problems.append(str(e))
        except Exception:  # a bug here must not hide the other cells
            res.problems.append("matrix.py: " + traceback.format_exc())
        finally:
            for s in servers:
                s.stop()
        res.seconds = time.monotonic() - start
        bug = next((b for b in KNOWN_BUGS if b.applies(cell)), None)
        if bug and not res.problems:
            res.problems.append(f"known mailtape bug `{bug.name}` no longer shows here: remove it from KNOWN_BUGS "
                                f"in tests/clients/matrix.py")
        elif bug and all(re.search(bug.signature, p) for p in res.problems):
            res.status, res.bug = "known", bug
        if res.problems:
            if res.status != "known":
                res.status = "fail"
            res.detail = (res.detail + "\n" if res.detail else "") + "\n".join(s.transcript() for s in servers)
        return res

    def _run_cell(self, cell: Cell, workdir: str, servers: list[Server], res: Result):
        row, exp = cell.row, cell.row.expect
        listen = listen_args(cell.family)
        tape_path = None
        if row.mode == "mock":
            front = self.server(workdir, "mock", ["mock", "--scenario", row.server_scenario, *listen])
            servers.append(front)
        elif row.mode == "record":
            up = self.server(workdir, "upstream", ["mock", "--scenario", row.server_scenario, "--smtps",
                                                   "127.0.0.1:0", "--starttls", "off", "--plain", "off"])
            servers.append(up)
            tape_path = os.path.join(workdir, "session.tape")
            front = self.server(workdir, "record", [
                "record", "--upstream", up.ready["smtps"], "--upstream-tls", "implicit",
                "--upstream-ca", up.ready["ca"], "--upstream-timeout", "20", "--tape", tape_path, *listen])
            servers.insert(0, front)
        else:
            front = self.server(workdir, "replay", ["replay", row.tape, *listen])
            servers.append(front)

        host, port = split_addr(front.ready[cell.transport])
        ca = front.ready["ca"]
        if row.untrusted_ca:
            ca = os.path.join(self.other_certs, "ca.pem")
        timeout = SILENT_TIMEOUT if exp.outcome == "timeout" else CLIENT_TIMEOUT
        ctx = Ctx(host, port, cell.transport, cell.mech, ca, exp, workdir, timeout,
                  wp_root=getattr(cell.client, "root", None))
        argv, env, stdin = cell.client.command(ctx)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                               capture_output=True, env=env, cwd=workdir, timeout=PROCESS_TIMEOUT)
            rc = p.returncode
            output = (p.stdout + p.stderr).decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            rc = None
            output = ((e.stdout or b"") + (e.stderr or b"")).decode("utf-8", "replace")
            res.problems.append(f"the client did not finish within {PROCESS_TIMEOUT}s")
        elapsed = time.monotonic() - t0

        for s in servers:
            s.wait_idle(5)
        for s in servers:
            if s.stop() != 0:
                why = "the client departed from the tape" if row.mode == "replay" else "it should be 0"
                res.problems.append(f"{s.label} exited with status {s.rc} on SIGTERM ({why})")

        res.detail = (f"  $ {' '.join(argv)}\n  exit status {rc}\n" +
                      "\n".join(f"  | {line}" for line in output.rstrip().splitlines()))
        self.check_client(cell, rc, output, elapsed, res)
        self.check_server(cell, front, res)
        if tape_path:
            self.check_tape(cell, tape_path, res)
        for s in servers:
            blob = s.stdout_text() + s.stderr()
            if exp.key in blob:
                res.problems.append(f"{s.label} printed the key in clear")

    # What the client shows.
    def check_client(self, cell: Cell, rc: int | None, output: str, elapsed: float, res: Result):
        exp, client = cell.row.expect, cell.client
        if rc is None:
            return
        seen = client.surfaced(output)
        if exp.outcome == "accepted":
            if rc != 0:
                res.problems.append(f"the client failed (exit status {rc}) where the message should be accepted")
            if not re.search(r"\b250\b", seen):
                res.problems.append("the client's output does not show the 250 reply")
            return
        if rc == 0:
            res.problems.append(f"the client exited 0 where it should report a failure ({exp.outcome})")
        if exp.outcome == "refused":
            pat = re.escape(str(exp.code)) + r"\b.*" + re.escape(exp.text)
            if not any(re.search(pat, line) for line in seen.splitlines()):
                res.problems.append(f"the client's output does not show `{exp.code} {exp.text}`")
        elif exp.outcome == "timeout":
            if not re.search(client.timeout_re, seen):
                res.problems.append(f"the client's output does not show a timeout (/{client.timeout_re}/)")
            if elapsed < SILENT_TIMEOUT * 0.8:
                res.problems.append(f"the client gave up after {elapsed:.1f}s, before its {SILENT_TIMEOUT}s timeout")
        elif exp.outcome == "dropped":
            if not re.search(client.dropped_re, seen):
                res.problems.append(f"the client's output does not show a lost connection (/{client.dropped_re}/)")
        elif exp.outcome == "untrusted":
            if not re.search(client.untrusted_re, seen):
                res.problems.append(f"the client's output does not show a certificate error "
                                    f"(/{client.untrusted_re}/)")

    # What mailtape's transcript of the session shows.
    def check_server(self, cell: Cell, front: Server, res: Result):
        exp = cell.row.expect
        with front.cond:
            sessions = [front.sessions[i] for i in front.order]
        if exp.outcome == "untrusted":
            for s in sessions:
                if any(k == "client" and re.match(r"(?i)AUTH|MAIL|<redacted", t) for k, t in s["lines"]):
                    res.problems.append("the client sent AUTH or MAIL although it should not trust the certificate")
            return
        if len(sessions) != 1:
            res.problems.append(f"{front.label} saw {len(sessions)} sessions, expected 1")
            if not sessions:
                return
        s = sessions[0]
        lines = s["lines"]
        server = [t for k, t in lines if k == "server"]
        client = [t for k, t in lines if k == "client"]
        notes = [t for k, t in lines if k == "note"]
        if cell.row.mode == "replay":
            for n in notes:
                if n.startswith("diverged from the tape"):
                    res.problems.append(f"replay: {n}")
        if exp.outcome == "timeout":
            if server:
                res.problems.append(f"the silent server said something: {server[0]!r}")
            return
        auth = [t for t in client if re.match(r"(?i)AUTH ", t)]
        if not auth:
            res.problems.append("no AUTH in the transcript")
        elif not all(t.upper().startswith(f"AUTH {cell.mech}") for t in auth):
            res.problems.append(f"the client used {auth[0].split()[:2]} where AUTH {cell.mech} was asked for")
        if cell.transport == "starttls":
            if not any(t.upper() == "STARTTLS" for t in client):
                res.problems.append("no STARTTLS in the transcript of a STARTTLS cell")
        if cell.transport != "plain" and not any(n.startswith("TLS ") for n in notes):
            res.problems.append("no TLS note in the transcript of a TLS cell")
        after_dot = None
        for i, (k, t) in enumerate(lines):
            if k == "client" and t == ".":
                after_dot = next((t2 for k2, t2 in lines[i + 1:] if k2 == "server"), None)
        if exp.outcome == "accepted":
            if not (after_dot or "").startswith("250 OK"):
                res.problems.append(f"the reply to the message was {after_dot!r}, not 250 OK")
            if cell.row.mode == "mock" and not s["messages"]:
                res.problems.append("the mock has no accepted message for the session")
        elif exp.outcome == "refused":
            want = f"{exp.code} {exp.text}"
            if not any(t == want for t in server):
                res.problems.append(f"the server never replied `{want}`")
        elif exp.outcome == "dropped":
            if after_dot is not None:
                res.problems.append(f"the server replied {after_dot!r} to the message instead of hanging up")
            if (s["end"] or {}).get("closed_by") != "server":
                res.problems.append("the session was not closed by the server")

    def check_tape(self, cell: Cell, path: str, res: Result):
        if not os.path.isfile(path):
            res.problems.append(f"record wrote no tape at {path}")
            return
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if cell.row.expect.key in text:
            res.problems.append("the tape holds the key in clear")
        p = subprocess.run([self.mailtape, "show", "--json", path], capture_output=True, text=True)
        if p.returncode != 0:
            res.problems.append(f"`mailtape show` refused the tape: {p.stderr.strip()}")
            return
        doc = json.loads(p.stdout)
        if len(doc.get("sessions", [])) != 1:
            res.problems.append(f"the tape holds {len(doc.get('sessions', []))} sessions, expected 1")
            return
        servers = [e["text"] for e in doc["sessions"][0]["events"] if e["kind"] == "server"]
        exp = cell.row.expect
        want = "250 OK" if exp.outcome == "accepted" else f"{exp.code} {exp.text}"
        if not any(t.startswith(want) for t in servers):
            res.problems.append(f"the tape has no `{want}` reply")

    # ----------------------------------------------------------------------

    def report(self, res: Result):
        with self.print_lock:
            self.done += 1
            mark = {"pass": "✓", "fail": "✗", "known": "⚠", "n/a": "–"}[res.status]
            print(f"[{self.done:4d}/{self.total}] {mark} {res.cell.label} ({res.seconds:.1f}s)", flush=True)
            if res.status == "known":
                print(f"      known mailtape bug `{res.bug.name}`", flush=True)
            if res.status in ("fail", "known"):
                print("      " + "\n      ".join(res.problems), flush=True)
                if res.detail:
                    print(res.detail, flush=True)
            elif res.status == "pass" and self.args.show_output:
                print(res.detail, flush=True)


def check_ipv6() -> str | None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
            s.listen(1)
            with socket.create_connection(s.getsockname()[:2], timeout=2):
                pass
    except OSError as e:
        return str(e)
    return None


def print_table(results: list[Result], rows: list[Row], clients: list[Client]):
    by: dict[tuple[str, str, str], list[Result]] = {}
    for r in results:
        by.setdefault((r.cell.row.mode, r.cell.row.scenario, r.cell.client.name), []).append(r)
    head = ["mode", "scenario"] + [c.name for c in clients] + ["cells"]
    table = []
    for row in rows:
        line = [row.mode, row.scenario]
        n_row = 0
        for c in clients:
            rs = by.get((row.mode, row.scenario, c.name), [])
            counted = [r for r in rs if r.status != "n/a"]
            failed = sum(r.status == "fail" for r in counted)
            known = sum(r.status == "known" for r in counted)
            n_row += len(counted)
            if not rs:
                line.append("")
            elif not counted:
                line.append("–")
            elif failed:
                line.append(f"✗ {failed}/{len(counted)}")
            elif known:
                line.append(f"⚠ {known}/{len(counted)}")
            else:
                line.append(f"✓ {len(counted)}")
        line.append(str(n_row))
        table.append(line)
    widths = [max(len(x[i]) for x in [head, *table]) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    print(fmt(head))
    print(fmt(["-" * w for w in widths]))
    for line in table:
        print(fmt(line))


# --------------------------------------------------------------------------
# The inbox: the npm `mailpit-api` client, unchanged, against `--ui`


INBOX_MODES = ("mock", "record")


def run_inbox_cell(run: "Run", mode: str) -> tuple[bool, str]:
    """mailpit_api_client.mjs against the inbox of `mock` or `record`; returns (passed, detail)."""
    workdir = tempfile.mkdtemp(prefix=f"inbox-{mode}-", dir=run.tmp)
    servers: list[Server] = []
    listen = ["--smtps", "off", "--starttls", "off", "--plain", "127.0.0.1:0"]
    try:
        if mode == "mock":
            front = run.server(workdir, "mock", ["mock", "--scenario", "unlimited", "--ui", "127.0.0.1:0", *listen])
            servers.append(front)
        else:
            up = run.server(workdir, "upstream", ["mock", "--scenario", "unlimited", "--smtps", "127.0.0.1:0", "--starttls", "off",
                                                  "--plain", "off"])
            servers.append(up)
            front = run.server(workdir, "record", [
                "record", "--ui", "127.0.0.1:0", "--upstream", up.ready["smtps"], "--upstream-tls", "implicit",
                "--upstream-ca", up.ready["ca"], "--tape", os.path.join(workdir, "inbox.tape"), *listen])
            servers.insert(0, front)
        ui = front.ready.get("ui")
        if not ui:
            return False, f"no \"ui\" in the ready line: {front.ready}"
        env = dict(os.environ, MX_UI=ui, MX_PORT=str(split_addr(front.ready["plain"])[1]), MX_PASS=KEY)
        p = subprocess.run(["node", os.path.join(HERE, "mailpit_api_client.mjs")], env=env, capture_output=True,
                           text=True, timeout=PROCESS_TIMEOUT)
        out = (p.stdout + p.stderr).strip()
        if KEY in out:
            return False, "the key reached the client's output:\n" + out
        return p.returncode == 0, out
    except (ServerError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    finally:
        for srv in servers:
            srv.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mailtape", required=True, help="the mailtape binary")
    ap.add_argument("--jobs", type=int, default=6, help="cells run at once (default 6)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only cells whose label contains this text (repeatable; all must match)")
    ap.add_argument("--wordpress-deb", help="the wordpress .deb (default: tests/clients/.cache/wordpress_*.deb)")
    ap.add_argument("--no-ipv6", action="store_true", help="leave out ::1 (the table says so)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    ap.add_argument("--show-output", action="store_true", help="print the client's output for passing cells too")
    args = ap.parse_args()
    args.mailtape = os.path.abspath(args.mailtape)
    started = time.monotonic()
    if not os.access(args.mailtape, os.X_OK):
        print(f"matrix: {args.mailtape} is not an executable mailtape")
        print("0 passed, 1 failed")
        return 1

    run = Run(args)
    results: list[Result] = []
    inbox_results: list[tuple[str, tuple[bool, str]]] = []
    families: tuple[str, ...] = FAMILIES
    rows: list[Row] = []
    try:
        run.make_certs(run.certs)
        run.make_certs(run.other_certs)
        if args.no_ipv6:
            families = ("127.0.0.1",)
            print("matrix: ::1 left out (--no-ipv6)")
        elif (why := check_ipv6()) is not None:
            run.ipv6_problem = why
            print(f"matrix: ::1 does not work on this machine ({why}); its cells fail")
        unpack_wordpress(run.tmp, args.wordpress_deb)
        rows = MOCK_ROWS + RECORD_ROWS + replay_rows(args.mailtape)
        cells: list[Cell] = []
        for client in CLIENTS:
            for index, row in enumerate(rows):
                cells.extend(cells_for(client, row, index, families))
        cells = [c for c in cells if all(o in c.label for o in args.only)]
        # Slow cells first, so their waiting overlaps the rest.
        cells.sort(key=lambda c: c.row.expect.outcome != "timeout")
        run.total = len(cells)
        print(f"matrix: {len(cells)} cells, {args.jobs} at a time; mailtape {args.mailtape}; temp {run.tmp}",
              flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run.run_cell, c, n) for n, c in enumerate(cells)]
            for fut in concurrent.futures.as_completed(futures):
                res = fut.result()
                results.append(res)
                run.report(res)
        inbox = [m for m in INBOX_MODES if all(o in f"inbox mailpit-api {m}" for o in args.only)]
        if inbox:
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(inbox)) as pool:
                inbox_results = list(zip(inbox, pool.map(lambda m: run_inbox_cell(run, m), inbox)))
    except Exception:  # the setup failed: say so, in the format CI reads
        traceback.print_exc()
        print("matrix: the setup failed before the cells ran (see above)")
        print(f"{sum(r.status == 'pass' for r in results)} passed, 1 failed")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(run.tmp, ignore_errors=True)

    passed = sum(r.status == "pass" for r in results)
    failed = sum(r.status == "fail" for r in results)
    na = [r for r in results if r.status == "n/a"]
    print()
    print("== result table (✓ N: all N cells passed · ✗ F/N: F of N failed · ⚠ K/N: K of N show a known mailtape")
    print("   bug, listed below · –: not applicable, reason below)")
    print("   cells: one per transport (plain, STARTTLS, implicit TLS) x AUTH PLAIN/LOGIN x 127.0.0.1/::1 for the")
    print("   default rows; three (one per transport) for the others")
    clients_shown = [c for c in CLIENTS if any(r.cell.client is c for r in results)]
    rows_shown = [row for row in rows if any(r.cell.row is row for r in results)]
    print_table(results, rows_shown, clients_shown)
    if families == ("127.0.0.1",):
        print("::1: not tested (--no-ipv6)")
    elif run.ipv6_problem:
        print(f"::1: does not work on this machine ({run.ipv6_problem}); every ::1 cell failed")
    else:
        v6 = sum(r.cell.family == "::1" and r.status != "n/a" for r in results)
        print(f"::1: works on this machine; {v6} cells ran on it")
    if na:
        print("not applicable:")
        for reason in sorted({r.detail for r in na}):
            who = sorted({f"{r.cell.client.name} × {r.cell.row.mode} {r.cell.row.scenario}" for r in na
                          if r.detail == reason})
            print(f"  {', '.join(who)}: {reason}")
    known = [r for r in results if r.status == "known"]
    for bug in KNOWN_BUGS:
        cells = [r for r in known if r.bug is bug]
        if cells:
            print(f"known mailtape bug `{bug.name}` ({len(cells)} cells, not counted as failed; their transcripts "
                  f"are above): {bug.what}")
            for r in sorted(cells, key=lambda r: r.cell.label):
                print(f"  ⚠ {r.cell.label}")
    if failed:
        print("failed cells:")
        for r in sorted(results, key=lambda r: r.cell.label):
            if r.status == "fail":
                print(f"  ✗ {r.cell.label}: {r.problems[0] if r.problems else ''}")
    if inbox_results:
        print("== inbox: the npm mailpit-api client, unchanged, against --ui (tests/clients/mailpit_api_client.mjs)")
        for mode, (ok, detail) in inbox_results:
            print(f"  {'✓' if ok else '✗'} inbox mailpit-api {mode}: {detail.splitlines()[-1] if detail else ''}")
            if not ok:
                print("    " + detail.replace("\n", "\n    "))
        passed += sum(ok for _, (ok, _) in inbox_results)
        failed += sum(not ok for _, (ok, _) in inbox_results)
    print(f"time: {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not (results or inbox_results) else 0


if __name__ == "__main__":
    sys.exit(main())
