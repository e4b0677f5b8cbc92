"""The import direction of ARCHITECTURE.md, enforced by parsing every module with ast."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("calib", "hardware", "monitor", "mixes", "reports", "roomtruth")

STDLIB = set(sys.stdlib_module_names)

# package -> allowed third-party top-level modules and allowed own packages
ALLOWED = {
    "calib": ({"numpy", "scipy", "soundfile"}, {"calib"}),
    "hardware": ({"numpy", "scipy", "soundfile", "sounddevice", "jack"}, {"calib", "hardware"}),
    # numba/llvmlite: the compiled real-time kernels, in monitor/kernels.py only (issue 15)
    "monitor": ({"numpy", "scipy", "soundfile", "numba", "llvmlite"}, {"calib", "monitor", "hardware"}),
    "mixes": ({"numpy", "scipy", "soundfile"}, {"calib", "mixes"}),
    "reports": ({"numpy", "scipy", "soundfile", "matplotlib", "rich"}, {"calib", "monitor", "mixes", "reports"}),
    "roomtruth": (None, set(PACKAGES)),  # the composition root may import everything
}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module.split(".")[0], node.lineno))
    return out


def test_import_direction():
    problems = []
    for pkg in PACKAGES:
        third, own = ALLOWED[pkg]
        for f in sorted((ROOT / pkg).rglob("*.py")):
            for mod, line in _imports(f):
                if mod in STDLIB or mod == "__future__":
                    continue
                if mod in PACKAGES:
                    if mod not in own:
                        problems.append(f"{f.relative_to(ROOT)}:{line} imports {mod}")
                    continue
                if third is not None and mod not in third:
                    problems.append(f"{f.relative_to(ROOT)}:{line} imports third-party {mod}")
    assert not problems, "import direction broken:\n" + "\n".join(problems)


def test_monitor_imports_only_backend_protocol_from_hardware():
    problems = []
    for f in sorted((ROOT / "monitor").rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hardware"):
                if node.module != "hardware.backend":
                    problems.append(f"{f.relative_to(ROOT)} imports {node.module}")
            if isinstance(node, ast.Import):
                problems += [f"{f.relative_to(ROOT)} imports {a.name}" for a in node.names if a.name.startswith("hardware")]
    assert not problems, problems


def test_sounddevice_in_one_module_only():
    users = []
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            if any(m == "sounddevice" for m, _ in _imports(f)):
                users.append(str(f.relative_to(ROOT)))
    assert len(users) <= 1, f"sounddevice imported in several modules: {users}"


def test_matplotlib_only_in_reports():
    for pkg in PACKAGES:
        if pkg == "reports":
            continue
        for f in (ROOT / pkg).rglob("*.py"):
            assert all(m != "matplotlib" for m, _ in _imports(f)), f"{f} imports matplotlib"


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys; from roomtruth.cli import app; "
        "heavy=[m for m in ('numpy','scipy','matplotlib','sounddevice','soundfile') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the CLI pulls in heavy modules: {out.stdout.strip()}"
