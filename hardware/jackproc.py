"""Processes and JACK plumbing for the virtual room (:mod:`hardware.jackrig`).

Starting and stopping only our own processes (checked through ``/proc/<pid>/cmdline`` so a
recycled PID is never touched), talking to a JACK server quietly, and keeping JACK2's
server registry clean after a server died without unregistering.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from calib.errors import DeviceError

_STARTUP_TIMEOUT_S = 8.0
_STOP_TIMEOUT_S = 6.0   # jackd exits in ~0.1 s; a loaded 2-core machine needs margin
_children: dict[int, subprocess.Popen] = {}   # processes this Python process started


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def _reap(pid: int) -> None:
    p = _children.get(pid)
    if p is not None:
        if p.poll() is not None:
            _children.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _is_ours(pid: int, program: str, server: str) -> bool:
    """True when ``pid`` is alive and is the ``program`` we started for ``server``.

    Checks /proc/<pid>/cmdline so a recycled PID is never mistaken for our process.
    """
    if pid <= 0:
        return False
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        return False
    args = _cmdline(pid)
    return bool(args) and any(Path(a).name == program for a in args) and server in args


def _silence_jack() -> Any:
    try:
        import jack
    except (ImportError, OSError) as exc:
        raise DeviceError(f"the JACK client library is unavailable ({exc}); install jackd2 "
                          "and the JACK-Client Python package") from None
    jack.set_error_function(lambda msg: None)
    jack.set_info_function(lambda msg: None)
    return jack


def _connect_client(server: str, name: str) -> Any | None:
    jack = _silence_jack()
    try:
        return jack.Client(name, servername=server, no_start_server=True)
    except jack.JackError:
        return None


def _server_reachable(server: str) -> bool:
    c = _connect_client(server, f"roomtruth-probe-{os.getpid()}")
    if c is None:
        return False
    c.close()
    return True


def _spawn(cmd: list[str], log_path: Path, cwd: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             cwd=str(cwd), start_new_session=True)
    _children[p.pid] = p
    return p


def _log_tail(path: Path, n: int = 3) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " / ".join(lines[-n:])


def _terminate(pid: int, program: str, server: str) -> bool:
    """SIGTERM, then SIGKILL after a grace period; only if ``pid`` is still ours.

    A jackd that had to be killed leaves its slot in JACK's server registry behind, so the
    slot is reclaimed (:func:`_reclaim_registry_slot`).
    """
    if not _is_ours(pid, program, server):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            if not _is_ours(pid, program, server):
                _children.pop(pid, None)
                if sig == signal.SIGKILL and program == "jackd":
                    _reclaim_registry_slot(server)
                return True
            time.sleep(0.05)
    return not _is_ours(pid, program, server)


def _reclaim_registry_slot(server: str) -> None:
    """Free the JACK server-registry entry of a jackd that died without unregistering.

    JACK2 keeps at most 8 servers in its shared-memory registry and only reuses the entry
    of a dead server for a server *of the same name*; a crashed or SIGKILLed server with any
    other name holds its entry for good, and once 8 are held no jackd starts on the machine
    ("Too many servers already active").  Starting a server of the same name takes the
    entry over, and stopping it with SIGTERM unregisters it cleanly.
    """
    for _attempt in range(2):   # a loaded machine can make the first take-over miss
        _reclaim_once(server)
        if not any(name == server and not alive for _pid, name, alive in registry_entries()):
            return


def _reclaim_once(server: str) -> None:
    jackd = shutil.which("jackd")
    if jackd is None or _server_reachable(server):
        return
    p = subprocess.Popen([jackd, "-n", server, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while p.poll() is None and time.monotonic() < deadline and not _server_reachable(server):
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10.0)   # a bare server exits in ~0.1 s; SIGKILL would re-leak
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def registry_entries(path: str = "/dev/shm/jack-shm-registry") -> list[tuple[int, str, bool]]:
    """JACK2's server registry: ``(pid, server name, pid alive)`` per occupied slot.

    Layout of JACK 1.9's ``jack_shm_header_t``: magic ``"KCAJ"``, 5 int32 fields (the 4th is
    the header length), then 8 entries of ``{int32 pid; char name[260]}``.  Returns [] when
    the file is absent or does not have that layout.
    """
    import struct

    try:
        raw = Path(path).read_bytes()
    except OSError:
        return []
    if raw[:4] != b"KCAJ" or len(raw) < 24 + 8 * 264:
        return []
    hdr_len = struct.unpack_from("<I", raw, 16)[0]
    if hdr_len != 24 + 8 * 264:
        return []
    out = []
    for i in range(8):
        off = 24 + i * 264
        pid = struct.unpack_from("<i", raw, off)[0]
        if pid <= 0:
            continue
        full = raw[off + 4: off + 264].split(b"\0")[0].decode("utf-8", "replace")
        name = full.split(":", 1)[1].rstrip(":") if ":" in full else full   # "jack-<uid>:<name>:"
        out.append((pid, name, Path(f"/proc/{pid}").exists()))
    return out


def _reclaim_stale_registry() -> list[str]:
    """Free every registry slot whose server process is gone; returns the names freed."""
    freed = []
    for _pid, name, alive in registry_entries():
        if not alive:
            _reclaim_registry_slot(name)
            freed.append(name)
    return freed
