"""Headless Chromium: print a report to PDF, and check that a report displays.

Chromium runs with no sandbox, no GPU, no background networking, no component updates, no
sync, no first-run UI and a fresh throw-away profile (``--user-data-dir``) so a run never
touches the user's browser profile and never talks to the network.

:func:`check_in_browser` loads a *copy* of the report with a small probe script appended
(the report itself carries no script) that, after the ``load`` event, counts the images
that decoded and have a size on the page, and measures every section; console messages
are read from Chromium's log on stderr (``INFO:CONSOLE``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from calib.errors import RoomtruthError

__all__ = ["find_chromium", "headless_args", "print_to_pdf", "check_in_browser", "BrowserCheck", "BrowserError"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_PROBE = """<script id="roomtruth-probe">
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var shown = imgs.filter(function (i) {
    var r = i.getBoundingClientRect();
    return i.complete && i.naturalWidth > 0 && r.width > 0 && r.height > 0;
  }).length;
  var secs = {};
  Array.prototype.forEach.call(document.querySelectorAll("section"), function (s) {
    secs[s.id] = Math.round(s.getBoundingClientRect().height);
  });
  var out = document.createElement("pre");
  out.id = "roomtruth-probe-result";
  out.textContent = JSON.stringify({images: imgs.length, displayed: shown, sections: secs,
                                    title: document.title});
  document.body.appendChild(out);
});
</script>"""

_CONSOLE_RE = re.compile(r":(?:INFO|WARNING|ERROR|VERBOSE\d*):CONSOLE[^\]]*\]\s*(.*)")
_RESULT_RE = re.compile(r'<pre id="roomtruth-probe-result">(.*?)</pre>', re.S)


class BrowserError(RoomtruthError):
    """Chromium is missing or failed."""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    env = os.environ.get("ROOMTRUTH_CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in _CANDIDATES:
        p = shutil.which(name)
        if p:
            return p
    return None


def headless_args(user_data_dir: str | os.PathLike[str]) -> list[str]:
    """The flags every headless run uses (fresh profile, nothing networked)."""
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            "--disable-default-apps", "--mute-audio", f"--user-data-dir={os.fspath(user_data_dir)}"]


def _run(extra: list[str], url: str, *, timeout_s: float) -> subprocess.CompletedProcess[str]:
    exe = find_chromium()
    if exe is None:
        raise BrowserError("no Chromium found (tried chromium, chromium-browser, google-chrome); "
                           "install the Debian package `chromium` or set ROOMTRUTH_CHROMIUM")
    with tempfile.TemporaryDirectory(prefix="roomtruth-chromium-") as profile:
        try:
            return subprocess.run([exe, *headless_args(profile), *extra, url], capture_output=True, text=True,
                                  timeout=timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"Chromium did not finish within {timeout_s:.0f} s") from None


def print_to_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str], *,
                 timeout_s: float = 120.0) -> Path:
    """Print an HTML file to PDF with headless Chromium, atomically (temp file + rename)."""
    src = Path(html_path).resolve()
    dest = Path(pdf_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        proc = _run([f"--print-to-pdf={tmp_path}", "--no-pdf-header-footer"], src.as_uri(), timeout_s=timeout_s)
        if proc.returncode != 0 or tmp_path.stat().st_size < 100 or not tmp_path.read_bytes()[:5] == b"%PDF-":
            raise BrowserError(f"Chromium could not print {src} to PDF (exit {proc.returncode})")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp_path, 0o666 & ~mask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return dest


@dataclass
class BrowserCheck:
    """What Chromium saw when it loaded a report."""

    images: int = 0
    displayed: int = 0
    sections: dict[str, int] = field(default_factory=dict)
    title: str = ""
    console: list[str] = field(default_factory=list)
    exit_code: int = 0


def check_in_browser(html_path: str | os.PathLike[str], *, timeout_s: float = 60.0) -> BrowserCheck:
    """Load the report in headless Chromium and report images, sections and console output."""
    src = Path(html_path)
    text = src.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="roomtruth-probe-") as tmp:
        probe = Path(tmp) / src.name
        idx = text.rfind("</body>")
        probe.write_text(text[:idx] + _PROBE + text[idx:] if idx >= 0 else text + _PROBE, encoding="utf-8")
        proc = _run(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom"],
                    probe.as_uri(), timeout_s=timeout_s)
    m = _RESULT_RE.search(proc.stdout)
    if m is None:
        raise BrowserError(f"the report did not finish loading in Chromium (exit {proc.returncode})")
    import html as _html

    data = json.loads(_html.unescape(m.group(1)))
    console = [c.group(1).strip() for c in (_CONSOLE_RE.search(line) for line in proc.stderr.splitlines()) if c]
    return BrowserCheck(images=int(data["images"]), displayed=int(data["displayed"]),
                        sections={str(k): int(v) for k, v in data["sections"].items()}, title=str(data["title"]),
                        console=console, exit_code=proc.returncode)
