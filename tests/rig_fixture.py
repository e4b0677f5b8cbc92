"""pytest fixtures for tests that need the JACK virtual room.

Use them from any test module::

    from rig_fixture import rig, rig_env  # noqa: F401  (pytest finds fixtures by name)

    @pytest.mark.jack
    def test_something(rig):
        backend = RigBackend()            # routing="loopback" for a straight wire per channel
        ...

``roomtruth_process`` runs ``python -m roomtruth ...`` (e.g. ``monitor run --input rig``) as a
child for the length of a ``with`` block and kills it if it is still running when the block
ends; ``stop_and_read_json`` stops it with SIGTERM, checks it exited 0 and returns its JSON.

``rig`` starts one rig per test module (built-in room, 48 kHz, period 256) on a JACK server
name unique to this test process, so parallel test runs and a user's own rig never
collide, and stops it afterwards.  ``rig_env`` only points ``ROOMTRUTH_RIG_DIR`` /
``ROOMTRUTH_RIG_SERVER`` at a private place (for tests that start rigs themselves).
Both skip with a clear reason when jackd or jconvolver is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent

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


@contextlib.contextmanager
def running_rig(ir_path: object = None, **start_kw: Any) -> Iterator[Any]:
    """A rig of its own (``start_rig(ir_path, **start_kw)``) under a private folder and server
    name for the block; yields its RigState and stops it afterwards."""
    require_jack_tools()
    from hardware.jackrig import start_rig, stop_rig

    mp = pytest.MonkeyPatch()
    server = _unique_server()
    folder = _private_dir()
    mp.setenv("ROOMTRUTH_RIG_DIR", folder)
    mp.setenv("ROOMTRUTH_RIG_SERVER", server)
    try:
        state = start_rig(ir_path, **start_kw)
        yield state
    finally:
        try:
            stop_rig(server)
        finally:
            mp.undo()
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def rig():
    """A running virtual room (built-in room IR, 48 kHz, period 256); yields its RigState."""
    with running_rig(None, fs=RIG_FS, period=RIG_PERIOD) as state:
        yield state


@contextlib.contextmanager
def roomtruth_process(*args: object, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """``python -m roomtruth ARGS`` as a child process (stdout and stderr piped) for the block;
    killed (and reaped) if it still runs when the block ends, whatever happened in it."""
    proc = subprocess.Popen([sys.executable, "-m", "roomtruth", *map(str, args)], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def stop_and_read_json(proc: subprocess.Popen, *, timeout_s: float = 60.0) -> Any:
    """SIGTERM ``proc`` (if it still runs), wait up to ``timeout_s``, check it exited 0 (else the
    test fails with the end of its stderr) and return its stdout's JSON."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return json.loads(out)
