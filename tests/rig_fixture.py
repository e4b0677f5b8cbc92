"""pytest fixtures for tests that need the JACK virtual room.

Use them from any test module::

    from rig_fixture import rig, rig_env  # noqa: F401  (pytest finds fixtures by name)

    @pytest.mark.jack
    def test_something(rig):
        backend = RigBackend()            # routing="loopback" for a straight wire per channel
        ...

``rig`` starts one rig per test module (built-in room, 48 kHz, period 256) on a JACK server
name unique to this test process, so parallel test runs and a user's own rig never
collide, and stops it afterwards.  ``rig_env`` only points ``ROOMTRUTH_RIG_DIR`` /
``ROOMTRUTH_RIG_SERVER`` at a private place (for tests that start rigs themselves).
Both skip with a clear reason when jackd or jconvolver is not installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest

RIG_FS = 48_000
RIG_PERIOD = 256


def require_jack_tools() -> None:
    """Skip the calling test when the rig's programs are missing."""
    missing = [p for p in ("jackd", "jconvolver") if shutil.which(p) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install jackd2 jconvolver); "
                    "the JACK virtual room cannot run")
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        pytest.skip(f"the JACK client library is unavailable: {exc}")


def _unique_server() -> str:
    return f"rt-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _private_dir() -> str:
    # Not under pytest's tmp_path: with several pytest sessions on one machine, pytest deletes
    # older session folders, and a running rig must never lose its state file (its PIDs).
    return tempfile.mkdtemp(prefix="roomtruth-rig-test-")


@pytest.fixture
def rig_env(monkeypatch):
    """A private rig folder and server name for this test; yields the server name.

    Stops anything a test started under that name when it ends.
    """
    require_jack_tools()
    server = _unique_server()
    folder = _private_dir()
    monkeypatch.setenv("ROOMTRUTH_RIG_DIR", folder)
    monkeypatch.setenv("ROOMTRUTH_RIG_SERVER", server)
    yield server
    from hardware.jackrig import stop_rig

    try:
        stop_rig(server)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def rig():
    """A running virtual room (built-in room IR, 48 kHz, period 256); yields its RigState."""
    require_jack_tools()
    from hardware.jackrig import start_rig, stop_rig

    mp = pytest.MonkeyPatch()
    server = _unique_server()
    folder = _private_dir()
    mp.setenv("ROOMTRUTH_RIG_DIR", folder)
    mp.setenv("ROOMTRUTH_RIG_SERVER", server)
    try:
        state = start_rig(None, fs=RIG_FS, period=RIG_PERIOD)
        yield state
    finally:
        try:
            stop_rig(server)
        finally:
            mp.undo()
            shutil.rmtree(folder, ignore_errors=True)
