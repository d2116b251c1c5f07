"""mailtape from Python: find the binary this wheel installed, and run a mock
or a replay on free ports for a test.

    import mailtape
    with mailtape.start(scenario="sandbox") as m:
        ...  # send to m.host, m.smtps_port with m.key, trusting m.ca_file
        m.wait_for_message()

Everything talks to the running binary: its JSON ready line for the
addresses, the inbox's HTTP API (docs/api.md) for messages and sessions.
The pytest plugin (`mailtape.pytest_plugin`) wraps this in fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from typing import Any, Iterable, Optional

__all__ = ["Mailtape", "MailtapeError", "binary", "start", "replay", "DEFAULT_KEY"]

#: A key shaped like Resend's (`re_` then 8 or more of A-Z a-z 0-9 _): the
#: mock accepts any such key unless started with `--key`.
DEFAULT_KEY = "re_mailtape_test_0123456789"

_EXE = "mailtape.exe" if os.name == "nt" else "mailtape"


class MailtapeError(RuntimeError):
    """mailtape could not start, or did not do what was waited for."""


def binary() -> str:
    """The mailtape binary: `$MAILTAPE` if set, else the one this wheel put
    in the interpreter's scripts folder, else the first on PATH."""
    given = os.environ.get("MAILTAPE")
    if given:
        return given
    candidates = [sysconfig.get_path("scripts")]
    user_scheme = {"nt": "nt_user", "posix": "posix_user"}.get(os.name)
    if user_scheme and user_scheme in sysconfig.get_scheme_names():
        candidates.append(sysconfig.get_path("scripts", scheme=user_scheme))
    candidates.append(os.path.dirname(sys.executable))
    for folder in candidates:
        path = os.path.join(folder, _EXE)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("mailtape")
    if found:
        return found
    raise MailtapeError(
        "no mailtape binary: `pip install mailtape` puts one beside this Python, "
        "or set MAILTAPE=/path/to/mailtape"
    )


def _addr(value: Optional[str]) -> tuple[Optional[str], Optional[int]]:
    if not value:
        return None, None
    host, port = value.rsplit(":", 1)
    return host.strip("[]"), int(port)


class Mailtape:
    """A running mailtape (`mock` or `replay`) on free loopback ports.

    Addresses: `host`, `smtps_port` (implicit TLS, like smtp.resend.com:465),
    `starttls_port` (like :587), `plain_port` (no TLS), the same as
    "HOST:PORT" strings in `smtps`, `starttls`, `plain`; `ca_file` (the CA to
    trust); `ui_url` (the inbox); `resend_base_url` (Resend's REST API, for
    RESEND_BASE_URL); `key` (a key the mock accepts); `env` (those as
    environment variables for a child process).
    """

    def __init__(self, mode: str, args: Iterable[str], *, key: str = DEFAULT_KEY,
                 certs: Optional[str] = None, cwd: Optional[str] = None,
                 binary_path: Optional[str] = None, timeout: float = 20.0):
        self.mode = mode
        self.key = key
        self._own_dir = None
        if certs is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="mailtape-")
            certs = os.path.join(self._own_dir.name, "certs")
        argv = [binary_path or binary(), mode, *args, "--json",
                "--smtps", "127.0.0.1:0", "--starttls", "127.0.0.1:0",
                "--plain", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--certs", certs]
        self._stderr: deque[str] = deque(maxlen=200)
        self.returncode: Optional[int] = None
        self._proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
        )
        self._err_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._err_reader.start()
        ready = self._ready_line(timeout)
        # stdout carries one JSON object per event after the ready line; it
        # is read and dropped so that mailtape never waits on the pipe.
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        self.ready: dict[str, Any] = ready
        self.host = "127.0.0.1"
        self.smtps = ready.get("smtps")
        self.starttls = ready.get("starttls")
        self.plain = ready.get("plain")
        _, self.smtps_port = _addr(self.smtps)
        _, self.starttls_port = _addr(self.starttls)
        _, self.plain_port = _addr(self.plain)
        self.ca_file: Optional[str] = ready.get("ca")
        self.ui_url: str = ready.get("ui", "")
        # The REST API is served on the inbox's listener (mock only).
        self.resend_base_url: Optional[str] = ready.get("rest")

    def _ready_line(self, timeout: float) -> dict[str, Any]:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self._proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        line = box[0] if box else ""
        if not line.strip():
            self._kill()
            self._err_reader.join(2)  # its last words: why it stopped
            why = self.stderr.strip() or f"no ready line within {timeout} s"
            raise MailtapeError(f"mailtape {self.mode} did not start: {why}")
        try:
            return json.loads(line)
        except ValueError as e:
            self._kill()
            raise MailtapeError(f"mailtape {self.mode}: not a ready line: {line!r}") from e

    def _drain_stdout(self) -> None:
        for _ in self._proc.stdout:
            pass

    def _drain_stderr(self) -> None:
        for line in self._proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        """What mailtape said on stderr so far (its last 200 lines)."""
        return "".join(self._stderr)

    @property
    def env(self) -> dict[str, str]:
        """Environment variables pointing an app or SDK at this mailtape."""
        env = {"RESEND_API_KEY": self.key, "MAILTAPE_UI_URL": self.ui_url}
        if self.resend_base_url:
            # Node's SDK reads RESEND_BASE_URL, Python's RESEND_API_URL.
            env["RESEND_BASE_URL"] = self.resend_base_url
            env["RESEND_API_URL"] = self.resend_base_url
        if self.ca_file:
            env["NODE_EXTRA_CA_CERTS"] = self.ca_file
        return env

    # --- the inbox's API -------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        url = self.ui_url.rstrip("/") + path
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            raise MailtapeError(f"{method} {path}: {e.code} {detail}") from None
        return json.loads(raw) if raw else None

    def messages(self) -> list[dict[str, Any]]:
        """The messages accepted so far (both doors), oldest first: `id`,
        `from`, `to`, `subject`, `snippet`, `protocol` (smtp or http)…"""
        rows = self._request("GET", "/api/messages?limit=1000")["messages"]
        return list(reversed(rows))

    def message(self, id: str = "latest") -> dict[str, Any]:
        """One message whole: headers, `text`, `html`, `links`, attachments."""
        return self._request("GET", "/api/messages/" + urllib.parse.quote(id, safe=""))

    def sessions(self) -> list[dict[str, Any]]:
        """Every finished session (SMTP, and REST requests as `http`), oldest
        first: `outcome`, `code`, `reply`, envelope, `diverged`…"""
        rows = self._request("GET", "/api/sessions?limit=1000")["sessions"]
        return list(reversed(rows))

    def session(self, key: int) -> dict[str, Any]:
        """One session whole, with `events` and `text` (its redacted transcript)."""
        return self._request("GET", f"/api/sessions/{int(key)}")

    def wait_for_message(self, timeout: float = 5.0, *, to: Optional[str] = None,
                         subject: Optional[str] = None) -> dict[str, Any]:
        """Waits for an accepted message (to this address, with this subject,
        when given) and returns it whole; MailtapeError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            for row in reversed(self.messages()):
                if to is not None and to.lower() not in [t.lower() for t in row.get("to", [])]:
                    continue
                if subject is not None and row.get("subject") != subject:
                    continue
                return self.message(row["id"])
            if time.monotonic() >= deadline:
                wanted = ", ".join(f"{k}={v!r}" for k, v in (("to", to), ("subject", subject)) if v)
                raise MailtapeError(f"no message{' with ' + wanted if wanted else ''} within {timeout} s")
            time.sleep(0.05)

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Waits until at least `n` messages were accepted; returns them all."""
        return self._wait(lambda: self.messages(), n, timeout, "messages")

    def wait_for_sessions(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Waits until at least `n` sessions have finished; returns them all."""
        return self._wait(lambda: self.sessions(), n, timeout, "sessions")

    def _wait(self, read, n: int, timeout: float, what: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = read()
            if len(rows) >= n:
                return rows
            if time.monotonic() >= deadline:
                raise MailtapeError(f"{len(rows)} {what} after {timeout} s, waited for {n}")
            time.sleep(0.05)

    def set_scenario(self, name: str) -> dict[str, Any]:
        """Switches the mock to a built-in scenario (`sandbox`,
        `rate-limited`…) for the sessions and requests that start after it."""
        return self._request("PUT", "/api/scenario", {"scenario": name})

    def scenario(self) -> str:
        """The scenario in force."""
        return self._request("GET", "/api/scenario")["scenario"]

    def clear(self) -> None:
        """Forgets every kept session and message."""
        self._request("POST", "/api/clear")

    # --- stopping ------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> int:
        """Stops mailtape (SIGTERM, as Ctrl-C) and returns its exit status: a
        replay a client departed from exits 1."""
        if self.returncode is None:
            if self._proc.poll() is None:
                self._proc.terminate()
            try:
                self.returncode = self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self.returncode = self._proc.wait()
            time.sleep(0.05)  # the last stderr lines
            if self._own_dir is not None:
                self._own_dir.cleanup()
        return self.returncode

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def __enter__(self) -> "Mailtape":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Mailtape {self.mode} smtps={self.smtps} ui={self.ui_url}>"


def start(scenario: str = "default", *, args: Iterable[str] = (), **kw) -> Mailtape:
    """Starts `mailtape mock` with this scenario on free ports. `args` are
    more flags (`--owner`, `--verified-domain`, `--mailbox DIR`…)."""
    return Mailtape("mock", ["--scenario", scenario, *args], **kw)


def replay(tape: str, *, args: Iterable[str] = (), **kw) -> Mailtape:
    """Starts `mailtape replay TAPE` (a file or `builtin:NAME`) on free
    ports; `stop()` returns 1 if a client departed from the tape."""
    return Mailtape("replay", [tape, *args], **kw)
