"""One ``roomtruth demo`` per test process, shared by the modules that read its workspace.

``roomtruth demo`` takes ~10 s of CPU; tests/test_demo.py and tests/test_web_browser.py both
need its workspace.  :func:`demo_workspace` runs the demo once per pytest process (through the
CLI, as a user does) into a private folder and gives each caller its own copy (15 MB, well under
a second), so a module that changes its workspace (the web's guided measurement, activation)
never changes another's.  The demo writes no absolute path into its workspace (checked: the
copies are self-contained), so a copy is the demo's output as it would be in that folder.

Use it from a module-scoped fixture::

    from demo_workspace import demo_workspace

    @pytest.fixture(scope="module")
    def demo_dir(tmp_path_factory):
        return demo_workspace(tmp_path_factory.mktemp("demo") / "room")
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_master: Path | None = None


def _build() -> Path:
    from roomtruth.cli import main

    folder = Path(tempfile.mkdtemp(prefix="roomtruth-demo-master-"))
    atexit.register(shutil.rmtree, folder, True)
    out = folder / "room"
    code = main(["demo", "-o", str(out), "--json"])
    assert code == 0, "roomtruth demo failed"
    return out


def demo_workspace(dest: Path) -> Path:
    """A fresh copy of the demo's workspace at ``dest`` (which must not exist yet)."""
    global _master
    if _master is None:
        _master = _build()
    shutil.copytree(_master, dest, symlinks=True)
    return dest
