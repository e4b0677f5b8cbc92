"""Shared test fixtures and helpers."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ROOMTRUTH_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_data(*parts: str) -> Path:
    """Path to a file in ../shared/data; skips the test with a clear reason when absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"third-party test data {p} is absent (expected ../shared/data beside the checkout)")
    return p


@pytest.fixture
def run_cli(capsys):
    """Run the roomtruth CLI in-process; returns (exit_code, stdout, stderr)."""
    from roomtruth.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture(autouse=True)
def _private_runtime_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own runtime folder for the live-monitor status file, so a
    `roomtruth monitor run` on this machine (or another test's) is never seen by a test."""
    monkeypatch.setenv("ROOMTRUTH_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))


@functools.lru_cache(maxsize=None)
def _drives_the_rig(module: Path) -> bool:
    """True when a test module holds a test marked ``jack`` (it starts the JACK virtual room)."""
    try:
        return "mark.jack" in module.read_text(encoding="utf-8")
    except OSError:
        return False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist with ``--dist loadfile`` (``scripts/run.sh test`` runs ``-n 2 --dist
    loadfile``) a worker takes whole modules, so a module's fixtures (synthesized songs and
    albums, a rig, a demo workspace) are built once, not once in each worker that runs some of
    its tests; and every module with a test that drives the JACK virtual room goes to one
    worker, one module after the other as without xdist: two rigs at once would compete for the
    realtime CPU on a 2-core machine and for JACK's server registry (8 servers at most).  The
    other worker runs the rest meanwhile.  (xdist's own ``loadgroup`` marks do not group under
    pytest 9: it renames node ids through an attribute pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class RigModulesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "jack-rig" if _drives_the_rig(config.rootpath / module) else module

    return RigModulesTogether(config, log)
