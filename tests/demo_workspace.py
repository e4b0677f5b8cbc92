"""One ``roomtruth demo`` per test process, shared by the modules that read its workspace.

``roomtruth demo`` takes ~10 s of CPU; tests/test_demo.py and tests/test_web_browser.py both
need its workspace.  :func:`demo_workspace` runs the demo once per pytest process (through the
CLI, as a user does) into a private folder and gives each caller its own copy (15 MB, well under
a second), so a module that changes its workspace (the web's guided measurement, activation)
never changes another's.  The demo writes no absolute path into its workspace (checked: the
copies are self-contained), so a copy is the demo's output as it would be in that folder.

Under pytest-xdist the workers of one run share the master (a folder named after the run's
``PYTEST_XDIST_TESTRUNUID``, built by the first worker that needs it under a file lock; the
last worker to leave removes it), so the demo runs once per test run, not once per worker.

Use it from a module-scoped fixture::

    from demo_workspace import demo_workspace

    @pytest.fixture(scope="module")
    def demo_dir(tmp_path_factory):
        return demo_workspace(tmp_path_factory.mktemp("demo") / "room")
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

_master: Path | None = None


def _run_demo(out: Path) -> None:
    from roomtruth.cli import main

    code = main(["demo", "-o", str(out), "--json"])
    assert code == 0, "roomtruth demo failed"


def _build() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="roomtruth-demo-master-"))
    atexit.register(shutil.rmtree, folder, True)
    out = folder / "room"
    _run_demo(out)
    return out


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on ``lock_path`` (a file the last user deletes: retried until the
    file locked is the one at that path)."""
    while True:
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                same = os.stat(lock_path).st_ino == os.fstat(lock.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield
                return


def _shared_master(run_id: str) -> Path:
    """The master shared by the xdist workers of run ``run_id``: built once under a lock."""
    folder = Path(tempfile.gettempdir()) / f"roomtruth-demo-master-{run_id}"
    out = folder / "room"
    with _locked(folder.parent / f"{folder.name}.lock"):
        (folder / "users").mkdir(parents=True, exist_ok=True)
        (folder / "users" / str(os.getpid())).touch()
        if not (folder / "done").exists():          # absent, or a worker died while building it
            shutil.rmtree(out, ignore_errors=True)
            _run_demo(out)
            (folder / "done").touch()
    atexit.register(_leave_shared_master, folder)
    return out


def _leave_shared_master(folder: Path) -> None:
    """Drop this worker from the master's users; the last one removes the master."""
    lock_path = folder.parent / f"{folder.name}.lock"
    with _locked(lock_path):
        (folder / "users" / str(os.getpid())).unlink(missing_ok=True)
        if not any((folder / "users").iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)


def demo_workspace(dest: Path) -> Path:
    """A fresh copy of the demo's workspace at ``dest`` (which must not exist yet)."""
    global _master
    if _master is None:
        run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
        _master = _shared_master(run_id) if run_id else _build()
    shutil.copytree(_master, dest, symlinks=True)
    return dest
