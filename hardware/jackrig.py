"""The JACK virtual room: a real audio path without sound hardware.

``start_rig`` starts a JACK server with the dummy driver (a virtual 22-in/22-out interface
clocked in real time) and ``jconvolver`` loaded with a room impulse response.
:class:`RigBackend` then plays and records through genuine PortAudio streams and routes
the ports for the user:

========================  =====================================================
virtual interface         what is connected (1-based, as the user counts)
========================  =====================================================
outputs 1..n              speakers 1..n of the room IR (one IR channel each)
input 1                   the room's microphone: sum of every speaker through its IR
input 2                   the loopback reference: the sum of outputs 1..n, by wire
                          (or, with ``loopback="dedicated"``, output n+1 alone)
========================  =====================================================

(``n`` is the number of channels of the IR file; the built-in room has two, L and R.)  With
``routing="loopback"`` every output ``k`` is wired straight to input ``k`` instead -- for
testing a real-time engine bit-exactly.

The recipe (``shared/RIG-NOTES.md``): ``jackd -R -P 70 -S -a a -d dummy``; sync mode ``-S``
keeps data intact under load, ``-a a`` ignores every client's self-connections so only
our explicit routing counts; ``--no-realtime`` when SCHED_FIFO is refused.  The
jconvolver partition equals the JACK period, so the convolution adds no delay; a direct
loopback is bit-exact and delayed by one period.

The rig runs under its own JACK server name (``roomtruth`` by default, or
``$ROOMTRUTH_RIG_SERVER``) so it never disturbs a JACK server the user runs; its state
file (``$ROOMTRUTH_RIG_DIR``, default ``/tmp/roomtruth-rig-<uid>``) records the PIDs it
started, and ``stop_rig`` stops only those, after checking they are still the same
programs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from calib.audio_io import atomic_write_json, write_wav_atomic
from calib.errors import DeviceError
from hardware.jackproc import (  # noqa: F401  (_reap, _silence_jack re-exported)
    _STARTUP_TIMEOUT_S,
    _connect_client,
    _is_ours,
    _log_tail,
    _reap,
    _reclaim_registry_slot,
    _reclaim_stale_registry,
    _server_reachable,
    _silence_jack,
    _spawn,
    _terminate,
    registry_entries,
)
from hardware.portaudio import detach_jack
# the room IR and the rig's parameters (checked before anything starts) live in hardware.rig_ir
from hardware.rig_ir import (  # noqa: F401  (re-exported: the public names of this module)
    MAX_IR_SAMPLES,
    N_DEVICE_CHANNELS,
    SUPPORTED_FS,
    _check_params,
    _check_speaker_names,
    _default_room,
    _load_ir,
    synthetic_room_ir,
)

__all__ = [
    "RigState",
    "RigStatus",
    "rig_dir",
    "rig_server_name",
    "rig_status",
    "start_rig",
    "stop_rig",
    "synthetic_room_ir",
]

ROOM_CLIENT = "roomtruth-room"
# Test hook: a command prefix for jackd (e.g. setpriv dropping CAP_SYS_NICE to exercise
# the --no-realtime fallback).  Empty in normal use.
_JACKD_PREFIX: tuple[str, ...] = ()
_REGISTRY_FULL = ("JACK's server registry is full (8 servers at most); stop other JACK servers "
                  "and start the rig again")
# A start whose jackd or jconvolver crashed (killed by a signal; jconvolver gone or silent) is
# retried: jconvolver was seen to segfault at start while other JACK servers started beside it,
# and start again cleanly a moment later.
_START_ATTEMPTS = 3          # the first start and at most two retries
_RETRY_PAUSE_S = 0.5         # between a crashed start's clean-up and the next attempt
_SETTLE_S = 0.2              # both must still run this long after jconvolver's ports appeared


class _StartCrashed(DeviceError):
    """A rig process died (or stayed silent) during the start: worth one more attempt."""


def _exit_text(program: str, returncode: int) -> str:
    """``jconvolver exited with code 1`` / ``jconvolver crashed (signal SIGSEGV, exit -11)``."""
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"{program} crashed ({name}, exit {returncode})"
    return f"{program} exited with code {returncode}"


def rig_server_name() -> str:
    """JACK server name of the rig (``$ROOMTRUTH_RIG_SERVER`` or ``roomtruth``)."""
    return os.environ.get("ROOMTRUTH_RIG_SERVER", "").strip() or "roomtruth"


def rig_dir() -> Path:
    """Folder holding the rig's state, logs and IR copy."""
    env = os.environ.get("ROOMTRUTH_RIG_DIR", "").strip()
    return Path(env) if env else Path(f"/tmp/roomtruth-rig-{os.getuid()}")


@dataclass(frozen=True)
class RigState:
    """What ``start_rig`` started (persisted as JSON in the rig folder)."""

    server: str
    jackd_pid: int
    jconvolver_pid: int
    fs: int
    period: int
    n_speakers: int
    ir_path: str                    # the copy jconvolver reads
    ir_source: str                  # user's file, or "built-in default room"
    ir_length_samples: int
    realtime: bool
    started_utc: str
    folder: str
    jackd_cmd: tuple[str, ...] = ()
    jconvolver_cmd: tuple[str, ...] = ()
    room_client: str = ROOM_CLIENT
    n_device_channels: int = N_DEVICE_CHANNELS
    speaker_names: tuple[str, ...] = ()   # names given at start (``rig start --channels``); () = S1..Sn

    @property
    def names(self) -> tuple[str, ...]:
        """The speakers' names: as given at start, else L, R for a pair, else S1..Sn."""
        if len(self.speaker_names) == self.n_speakers:
            return tuple(self.speaker_names)
        return ("L", "R") if self.n_speakers == 2 else tuple(f"S{i + 1}" for i in range(self.n_speakers))

    # The virtual interface's layout, 0-based as the backend protocol counts.
    @property
    def speaker_outputs(self) -> tuple[int, ...]:
        return tuple(range(self.n_speakers))

    @property
    def loopback_output(self) -> int:
        return self.n_speakers

    mic_input = 0
    loopback_input = 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["names"] = list(self.names)   # the effective names (speaker_names: as given, or [])
        d["layout_1_based"] = {
            "speaker_outputs": [c + 1 for c in self.speaker_outputs],
            "loopback_output": self.loopback_output + 1,
            "mic_input": self.mic_input + 1,
            "loopback_input": self.loopback_input + 1,
        }
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RigState":
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for k in ("jackd_cmd", "jconvolver_cmd", "speaker_names"):
            kw[k] = tuple(kw.get(k, ()) or ())
        return cls(**kw)


@dataclass
class RigStatus:
    """What ``rig_status`` found."""

    server: str
    state: RigState | None
    jackd_alive: bool = False
    jconvolver_alive: bool = False
    server_reachable: bool = False
    foreign_server: bool = False     # a server of that name runs, not started by roomtruth
    cpu_load_percent: float | None = None
    xruns_logged: int | None = None   # late cycles jackd logged since the start (each capture is verified)
    problems: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state is not None and self.jackd_alive and self.jconvolver_alive and self.server_reachable

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "running": self.running,
            "jackd_alive": self.jackd_alive,
            "jconvolver_alive": self.jconvolver_alive,
            "server_reachable": self.server_reachable,
            "foreign_server": self.foreign_server,
            "cpu_load_percent": self.cpu_load_percent,
            "xruns_logged": self.xruns_logged,
            "problems": list(self.problems),
            "state": self.state.to_dict() if self.state else None,
        }


# --------------------------------------------------------------------------- helpers

def _server_folder(server: str) -> Path:
    return rig_dir() / server


def _state_path(server: str) -> Path:
    return _server_folder(server) / "state.json"


@contextlib.contextmanager
def _locked(server: str) -> Iterator[None]:
    rig_dir().mkdir(parents=True, exist_ok=True)
    with open(rig_dir() / f".{server}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_state(server: str) -> RigState | None:
    p = _state_path(server)
    if not p.exists():
        return None
    try:
        return RigState.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError):
        return None   # unreadable: treated as stale


# --------------------------------------------------------------------------- lifecycle

def _start_jackd(server: str, fs: int, period: int, folder: Path, realtime: bool) -> tuple[subprocess.Popen, list[str]]:
    jackd = shutil.which("jackd")
    if jackd is None:
        raise DeviceError("jackd is not installed; install it with 'apt-get install --no-install-recommends jackd2'")
    rt = ["-R", "-P", "70"] if realtime else ["--no-realtime"]
    cmd = [*_JACKD_PREFIX, jackd, "-n", server, *rt, "-S", "-a", "a",
           "-d", "dummy", "-r", str(fs), "-p", str(period),
           "-C", str(N_DEVICE_CHANNELS), "-P", str(N_DEVICE_CHANNELS)]
    log = folder / "jackd.log"
    with open(log, "ab") as fh:
        fh.write(f"--- {' '.join(cmd)}\n".encode())
    return _spawn(cmd, log, folder), cmd


def _wait_server(p: subprocess.Popen, server: str, log: Path) -> str | None:
    """Wait until the server answers; return None when up, else the reason it is not."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if p.poll() is not None:
            tail = _log_tail(log)
            if "Too many servers already active" in tail:
                return _REGISTRY_FULL
            if p.returncode < 0:   # killed by a signal: not a refused option, a crash
                raise _StartCrashed(f"{_exit_text('jackd', p.returncode)}: {tail}")
            return f"jackd exited with code {p.returncode}: {tail}"
        if _server_reachable(server):
            return None
        time.sleep(0.1)
    return f"jackd did not answer within {_STARTUP_TIMEOUT_S:.0f} s: {_log_tail(log)}"


def _rt_refused(log: Path) -> bool:
    try:
        text = log.read_text(errors="replace").split("--- ")[-1].lower()
    except OSError:
        return False
    return any(s in text for s in ("cannot use real-time scheduling", "operation not permitted",
                                   "cannot set scheduling", "acquireselfrealtime error",
                                   "cannot lock down"))


def _write_conf(folder: Path, server: str, ir_file: Path, n_spk: int, n: int, period: int) -> Path:
    size = 1 << max(int(np.ceil(np.log2(max(n, period)))), 6)
    lines = [
        "# written by roomtruth rig start",
        f"/jack/client {ROOM_CLIENT}",
        f"/jack/server {server}",
        f"/convolver/new {n_spk} 1 {period} {size} 1.0",
        *[f"/input/name {i + 1} spk{i + 1}" for i in range(n_spk)],
        "/output/name 1 mic",
        *[f"/impulse/read {i + 1} 1 1.0 0 0 0 {i + 1} {ir_file}" for i in range(n_spk)],
    ]
    conf = folder / "room.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf


def _start_jconvolver(server: str, conf: Path, folder: Path, n_spk: int) -> tuple[subprocess.Popen, list[str]]:
    jconv = shutil.which("jconvolver")
    if jconv is None:
        raise DeviceError("jconvolver is not installed; install it with 'apt-get install jconvolver'")
    cmd = [jconv, "-s", server, "-N", ROOM_CLIENT, str(conf)]
    log = folder / "jconvolver.log"
    p = _spawn(cmd, log, folder)
    client = None
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise _StartCrashed(f"{_exit_text('jconvolver', p.returncode)}: {_log_tail(log)}")
            client = client or _connect_client(server, f"roomtruth-probe-{os.getpid()}")
            if client is not None:
                names = {q.name for q in client.get_ports(f"{ROOM_CLIENT}:")}
                want = {f"{ROOM_CLIENT}:spk{i + 1}" for i in range(n_spk)} | {f"{ROOM_CLIENT}:mic"}
                if want <= names:
                    time.sleep(_SETTLE_S)   # a crash just after the ports appeared is caught here
                    if p.poll() is not None:
                        raise _StartCrashed(f"{_exit_text('jconvolver', p.returncode)} just after its ports "
                                            f"appeared: {_log_tail(log)}")
                    return p, cmd
            time.sleep(0.1)
        raise _StartCrashed(f"jconvolver's ports did not appear within {_STARTUP_TIMEOUT_S:.0f} s: {_log_tail(log)}")
    except BaseException:
        _terminate(p.pid, "jconvolver", server)
        raise
    finally:
        if client is not None:
            client.close()


def _stop_started(started: list[tuple[int, str]], server: str) -> None:
    """Stop what a failed start attempt started; wait until its server name is free again
    (a server of the same name still shutting down would refuse the next attempt)."""
    for pid, prog in started:   # jackd first, as stop_rig does (then jconvolver follows at once)
        _terminate(pid, prog, server)
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S / 4
    while _server_reachable(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _stale_registry_entry(server):
        _reclaim_registry_slot(server)


def _start_processes(server: str, fs: int, period: int, folder: Path, realtime: bool, ir_file: Path,
                     ir_shape: tuple[int, ...], started: list[tuple[int, str]]) -> tuple:
    """One attempt: jackd (realtime, else without), then jconvolver; appends each started
    process to ``started``.  Returns (jackd Popen, its cmd, jconvolver Popen, its cmd, realtime used).

    Raises :class:`_StartCrashed` when a process crashed (worth another attempt), DeviceError
    when the start cannot work (missing program, full registry, server refused)."""
    jackd_p, jackd_cmd = _start_jackd(server, fs, period, folder, realtime)
    started.append((jackd_p.pid, "jackd"))
    why = _wait_server(jackd_p, server, folder / "jackd.log")
    if realtime and why is None:
        time.sleep(0.3)   # the driver thread reports a refused SCHED_FIFO just after start
    used_rt = realtime
    if realtime and (why is not None or _rt_refused(folder / "jackd.log")):
        _terminate(jackd_p.pid, "jackd", server)
        jackd_p, jackd_cmd = _start_jackd(server, fs, period, folder, False)
        started.append((jackd_p.pid, "jackd"))
        why = _wait_server(jackd_p, server, folder / "jackd.log")
        used_rt = False
    if why == _REGISTRY_FULL and _reclaim_stale_registry():
        # crashed servers held the slots: freed now, try once more
        jackd_p, jackd_cmd = _start_jackd(server, fs, period, folder, used_rt)
        started.append((jackd_p.pid, "jackd"))
        why = _wait_server(jackd_p, server, folder / "jackd.log")
    if why is not None:
        raise DeviceError(f"the JACK server did not start: {why}")
    conf = _write_conf(folder, server, ir_file, ir_shape[0], ir_shape[1], period)
    jconv_p, jconv_cmd = _start_jconvolver(server, conf, folder, ir_shape[0])
    started.append((jconv_p.pid, "jconvolver"))
    if jackd_p.poll() is not None:        # the server went while jconvolver started
        raise _StartCrashed(f"{_exit_text('jackd', jackd_p.returncode)} while jconvolver started: "
                            f"{_log_tail(folder / 'jackd.log')}")
    return jackd_p, jackd_cmd, jconv_p, jconv_cmd, used_rt


def start_rig(ir_path: str | os.PathLike[str] | None = None, *, fs: int = 48_000, period: int = 256,
              server: str | None = None, realtime: bool = True,
              speaker_names: tuple[str, ...] | list[str] | None = None) -> RigState:
    """Start the JACK virtual room: jackd (dummy driver) plus jconvolver with a room IR.

    Parameters
    ----------
    ir_path : path-like, optional
        Room IR WAV, one channel per speaker, at ``fs``.  None = the built-in default room.
    fs : int
        Sample rate (Hz), keyword-only.
    period : int
        JACK period (frames), a power of two in 64..4096; also jconvolver's partition.
    server : str, optional
        JACK server name; default :func:`rig_server_name`.
    realtime : bool
        Try SCHED_FIFO first (falls back to ``--no-realtime`` when refused).
    speaker_names : sequence of str, optional
        One name per IR channel (kept in the rig's state, so ``measure --device rig --channels``
        takes the same names); default L, R for a pair, else S1..Sn.

    Returns
    -------
    RigState

    Raises
    ------
    ConfigError
        Unsupported rate or period.
    SignalError
        Unreadable IR, wrong sample rate, too many channels, too long.
    DeviceError
        Already running, a foreign server of that name, missing programs, start-up failure.
        A start in which jackd or jconvolver crashed (killed by a signal, or jconvolver gone or
        silent) is stopped and tried again, at most ``_START_ATTEMPTS`` times in all.
    """
    server = server or rig_server_name()
    fs = int(fs)
    period = int(period)
    _check_params(fs, period)
    ir, source = _load_ir(ir_path, fs)
    names = _check_speaker_names(speaker_names, int(ir.shape[0]), source)
    with _locked(server):
        old = _read_state(server)
        if old is not None:
            alive = _is_ours(old.jackd_pid, "jackd", server) or _is_ours(old.jconvolver_pid, "jconvolver", server)
            if alive:
                raise DeviceError(
                    f"the virtual room is already running (server '{server}', jackd pid {old.jackd_pid}, "
                    f"{old.fs} Hz, period {old.period}); run 'roomtruth rig stop' first")
            _state_path(server).unlink(missing_ok=True)   # stale: its processes are gone
        if _server_reachable(server):
            raise DeviceError(
                f"a JACK server named '{server}' is already running and was not started by roomtruth; "
                "stop it, or set ROOMTRUTH_RIG_SERVER to another name")
        folder = _server_folder(server)
        folder.mkdir(parents=True, exist_ok=True)
        ir_file = folder / "room-ir.wav"
        write_wav_atomic(ir_file, ir.astype(np.float32), fs=fs, subtype="FLOAT")
        for attempt in range(1, _START_ATTEMPTS + 1):
            started: list[tuple[int, str]] = []   # cleaned up if anything below fails or is interrupted
            try:
                jackd_p, jackd_cmd, jconv_p, jconv_cmd, used_rt = _start_processes(
                    server, fs, period, folder, realtime, ir_file, ir.shape, started)
                break
            except _StartCrashed as exc:
                _stop_started(started, server)
                if attempt == _START_ATTEMPTS:
                    raise DeviceError(f"the virtual room did not start ({attempt} attempts, the last: {exc}); "
                                      f"see {folder}/jackd.log and jconvolver.log") from None
                time.sleep(_RETRY_PAUSE_S)
            except BaseException:
                _stop_started(started, server)
                raise
        state = RigState(
            server=server, jackd_pid=jackd_p.pid, jconvolver_pid=jconv_p.pid, fs=fs, period=period,
            n_speakers=int(ir.shape[0]), ir_path=str(ir_file), ir_source=source,
            ir_length_samples=int(ir.shape[1]), realtime=used_rt, speaker_names=names,
            started_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            folder=str(folder), jackd_cmd=tuple(jackd_cmd), jconvolver_cmd=tuple(jconv_cmd))
        atomic_write_json(_state_path(server), state.to_dict())
        return state


def rig_status(server: str | None = None) -> RigStatus:
    """Report what runs: processes alive, server reachable, CPU load, and any problems."""
    server = server or rig_server_name()
    state = _read_state(server)
    st = RigStatus(server=server, state=state)
    client = _connect_client(server, f"roomtruth-status-{os.getpid()}")
    st.server_reachable = client is not None
    if client is not None:
        with contextlib.suppress(Exception):
            st.cpu_load_percent = float(client.cpu_load())
        client.close()
    if state is None:
        if st.server_reachable:
            st.foreign_server = True
            st.problems.append(f"a JACK server named '{server}' runs but was not started by roomtruth")
        return st
    try:
        log = Path(state.folder, "jackd.log").read_text(errors="replace").split("--- ")[-1]
        st.xruns_logged = log.count("XRun")
    except OSError:
        pass
    st.jackd_alive = _is_ours(state.jackd_pid, "jackd", server)
    st.jconvolver_alive = _is_ours(state.jconvolver_pid, "jconvolver", server)
    if not st.jackd_alive:
        st.problems.append(f"jackd (pid {state.jackd_pid}) is no longer running: the server died; "
                           f"see {state.folder}/jackd.log, then run 'roomtruth rig stop' and start again")
    elif not st.server_reachable:
        st.problems.append(f"jackd (pid {state.jackd_pid}) runs but does not answer")
    if not st.jconvolver_alive:
        st.problems.append(f"jconvolver (pid {state.jconvolver_pid}) is no longer running; "
                           "run 'roomtruth rig stop' and start again")
    return st


def _stale_registry_entry(server: str) -> bool:
    """True when JACK's registry still lists ``server`` under a process that is gone."""
    return any(name == server and not is_alive for _pid, name, is_alive in registry_entries())


def stop_rig(server: str | None = None) -> list[str]:
    """Stop the processes the rig started (and only those); remove its state.

    Returns
    -------
    list of str
        What was stopped, e.g. ``["jackd (pid 122)", "jconvolver (pid 123)"]``; empty when
        nothing of ours was running (a stale state file is removed all the same).
    """
    server = server or rig_server_name()
    stopped: list[str] = []
    with _locked(server):
        state = _read_state(server)
        if state is None:
            _state_path(server).unlink(missing_ok=True)
            if _stale_registry_entry(server):
                _reclaim_registry_slot(server)
            return stopped
        detach_jack(server)   # PortAudio must close its JACK client before the server goes
        # jackd first: it then exits at once and jconvolver follows the server's shutdown;
        # the other order leaves a sync-mode server without realtime waiting ~6 s for its
        # vanished client.
        procs = ((state.jackd_pid, "jackd"), (state.jconvolver_pid, "jconvolver"))
        alive = {pid for pid, prog in procs if _is_ours(pid, prog, server)}
        crashed = state.jackd_pid not in alive
        for pid, prog in procs:
            _terminate(pid, prog, server)
        if crashed or _stale_registry_entry(server):
            # it died (or was killed) without unregistering from JACK's server registry
            _reclaim_registry_slot(server)
        stopped += [f"{prog} (pid {pid})" for pid, prog in procs
                    if pid in alive and not _is_ours(pid, prog, server)]
        for pid, prog in procs:
            if _is_ours(pid, prog, server):
                raise DeviceError(f"{prog} (pid {pid}) did not stop, even after SIGKILL; stop it by hand")
        _state_path(server).unlink(missing_ok=True)
    return stopped


def _require_running(server: str | None) -> RigState:
    st = rig_status(server)
    if st.state is None:
        raise DeviceError(f"the JACK virtual room is not running (server '{st.server}'); "
                          "start it with 'roomtruth rig start'")
    if not st.running:
        raise DeviceError("the JACK virtual room is broken: " + "; ".join(st.problems))
    return st.state


def __getattr__(name: str) -> Any:
    # RigBackend lives in hardware.rig_backend (it imports this module); importable from here.
    if name in ("RigBackend", "device_backend"):
        from hardware import rig_backend

        return getattr(rig_backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
