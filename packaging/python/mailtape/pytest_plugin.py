"""The pytest plugin (loaded by the `pytest11` entry point once the wheel is
installed): a `mailtape` fixture, a mock on free ports for each test, and
`mailtape_replay`, a replay of a tape that fails the test when a client
departs from it.

    def test_welcome_mail(mailtape):
        send_welcome(smtp_host=mailtape.host, smtp_port=mailtape.smtps_port,
                     password=mailtape.key, cafile=mailtape.ca_file)
        msg = mailtape.wait_for_message(to="delivered@resend.dev")
        assert "Welcome" in msg["subject"]

    @pytest.mark.mailtape(scenario="sandbox")
    def test_sandbox(mailtape): ...

    @pytest.mark.parametrize("mailtape_replay", ["builtin:sandbox"], indirect=True)
    def test_replayed(mailtape_replay): ...
"""

from __future__ import annotations

import pytest

from . import Mailtape, replay, start


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "mailtape(scenario='default', args=()): the scenario (and more `mailtape mock` "
        "flags) of the test's `mailtape` fixture",
    )


@pytest.fixture(scope="session")
def mailtape_certs(tmp_path_factory) -> str:
    """One certificate folder for the session: the CA is made once."""
    return str(tmp_path_factory.mktemp("mailtape") / "certs")


@pytest.fixture
def mailtape(request, mailtape_certs) -> Mailtape:
    """`mailtape mock` on free ports for this test; stopped after it.

    `@pytest.mark.mailtape(scenario=..., args=[...])` picks the scenario and
    flags; `mailtape.set_scenario(name)` switches while it runs."""
    marker = request.node.get_closest_marker("mailtape")
    options = dict(marker.kwargs) if marker else {}
    scenario = options.pop("scenario", "default")
    args = list(options.pop("args", ()))
    if options:
        raise pytest.UsageError(f"mailtape marker: unknown options {sorted(options)}")
    server = start(scenario, args=args, certs=mailtape_certs)
    yield server
    server.stop()


@pytest.fixture
def mailtape_replay(request, mailtape_certs) -> Mailtape:
    """`mailtape replay TAPE` on free ports (`builtin:success-plain` unless
    parametrized indirectly with a tape); a client that departed from the
    tape makes the replay exit 1, and the test fails."""
    tape = getattr(request, "param", "builtin:success-plain")
    server = replay(tape, certs=mailtape_certs)
    yield server
    code = server.stop()
    if code != 0:
        pytest.fail(f"mailtape replay {tape} exited {code}: {server.stderr.strip()}", pytrace=False)
