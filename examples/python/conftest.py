"""A pytest fixture that runs `mailtape replay` for a test and hands it the
addresses from the JSON ready line.

    MAILTAPE=target/debug/mailtape python3 -m pytest examples/python

Use it in your own suite: copy this file, point MAILTAPE at the binary, and
parametrize `replay` with the tape you need (`builtin:NAME` or a path).
"""

import json
import os
import subprocess

import pytest

MAILTAPE = os.environ.get("MAILTAPE", "mailtape")


@pytest.fixture
def replay(request, tmp_path):
    tape = getattr(request, "param", "builtin:success-plain")
    proc = subprocess.Popen(
        [
            MAILTAPE, "replay", tape, "--json", "--ui", "off",
            "--smtps", "127.0.0.1:0", "--starttls", "127.0.0.1:0", "--plain", "127.0.0.1:0",
            "--certs", str(tmp_path / "certs"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The first stdout line says where mailtape listens and which CA to trust.
    ready = json.loads(proc.stdout.readline())
    ready["host"], ready["port"] = ready["plain"].rsplit(":", 1)
    ready["port"] = int(ready["port"])
    yield ready
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    # A client that departed from the tape makes the replay exit non-zero.
    assert proc.returncode == 0, err
