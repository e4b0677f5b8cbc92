"""Web app speed (issue 16): `roomtruth serve` start-up (process start to the first answered
request) and the dashboard's render time on the demo workspace.

Goals: start-up < 1.5 s, dashboard < 300 ms.  Prints medians of several runs.
Run: .venv/bin/python benchmarks/bench_web.py [DEMO_WORKSPACE]
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_once(room: Path) -> tuple[float, subprocess.Popen, str]:
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "roomtruth", "serve", "--room", str(room), "--port", "0"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=fh, stdin=subprocess.DEVNULL)
    url = None
    while url is None:
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", log.read_text())
        url = m.group(1) if m else None
        time.sleep(0.005)
    while True:
        try:
            with urllib.request.urlopen(url + "/api/status", timeout=5) as r:
                r.read()
            break
        except OSError:
            time.sleep(0.005)
    return time.perf_counter() - t0, proc, url


def main() -> None:
    if len(sys.argv) > 1:
        room = Path(sys.argv[1])
    else:
        room = Path(tempfile.mkdtemp()) / "demo"
        subprocess.run([sys.executable, "-m", "roomtruth", "demo", "-o", str(room)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ})
    starts = []
    for _ in range(5):
        dt, proc, url = start_once(room)
        starts.append(dt)
        proc.terminate()
        proc.wait(10)
    dt, proc, url = start_once(room)
    try:
        with urllib.request.urlopen(url + "/", timeout=30) as r:      # starts the analysis cache
            r.read()
        time.sleep(15)                                                # let the findings be computed
        pages = {}
        for path in ("/", "/history", "/profiles", "/mixes"):
            ts = []
            for _ in range(20):
                t0 = time.perf_counter()
                with urllib.request.urlopen(url + path, timeout=30) as r:
                    r.read()
                ts.append(time.perf_counter() - t0)
            pages[path] = statistics.median(ts)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"roomtruth serve start-up (process start to first answer), median of 5: {statistics.median(starts):.3f} s"
          f"  (goal < 1.5 s; runs {', '.join(f'{s:.2f}' for s in starts)})")
    for path, t in pages.items():
        print(f"GET {path:10s} median of 20: {1000 * t:.1f} ms" + ("  (goal < 300 ms)" if path == "/" else ""))


if __name__ == "__main__":
    main()
