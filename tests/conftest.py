"""Shared test fixtures and helpers."""

from __future__ import annotations

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
