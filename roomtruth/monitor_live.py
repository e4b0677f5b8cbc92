"""The live monitor path in its own process: ``roomtruth monitor run``'s audio server.

Why a second process
--------------------
The real-time callback is Python, so it needs the GIL.  In one process it shares the GIL with
the live view (rich rendering, key handling, logging): every time the callback releases the GIL
inside a numpy or FFT call, a busy UI thread may take it and keep it for a whole switch interval,
and the callback misses its period although its own work is a few percent of it (measured on
the JACK rig, 60 s, 2 x 65,536 taps at 256 samples, one process: 23 callbacks over 80 % of the
period, worst 4.1 periods, 51 host xruns where the idle rig alone logged 16).  Here the audio
stream, the engine and the callback live in a child process whose only other thread waits in
``select`` (which releases the GIL) for commands; the parent draws the view and reads keys.

Protocol (``multiprocessing`` pipe, pickled tuples)
---------------------------------------------------
parent -> child: ``("select", slot)``, ``("toggle",)`` (A <-> B), ``("bypass",)`` (bypass <->
the slot it left), ``("reload",)``, ``("stop",)``
child -> parent: ``("ready", info)`` once the stream runs, ``("status", snap)`` about ten times
a second, ``("log", text)``, ``("error", class_name, message)`` (start-up failures, raised again
in the parent as the same :mod:`calib.errors` class), ``("final", snap)`` after the stream stopped.

Toggles are decided here, against the slot the user last asked for (``requested`` in the
status), not in the parent against the newest status: a status is up to a tenth of a second
old, and two keys typed within it would both have toggled from the same state ("x x" ended
on B).  Engine commands the audio thread has not taken yet (it takes one per block, and none
during a crossfade or while a reloaded profile warms up) wait in a queue here instead of
blocking this thread, so no key is lost behind a crossfade.  If the parent disappears, the child
stops the stream and exits: audio never keeps running unattended.  The child ignores SIGINT and
SIGHUP (a Ctrl-C or a closed terminal reaches the whole process group; the parent stops it).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

__all__ = ["LiveSpec", "LiveMonitor", "Keys", "StopSignals", "make_backend", "STATUS_PERIOD_S"]

STATUS_PERIOD_S = 0.1


@dataclass(frozen=True)
class LiveSpec:
    """Everything the audio process needs (picklable)."""

    profile_dir: str
    profile_b: Optional[str]
    input_dev: Optional[str]
    output_dev: Optional[str]
    block: int
    fs: int
    n_channels: int
    ceiling_dbfs: float
    bypass: bool
    # the programme watch (monitor.watch_live): shared ring name, 0-based mic input, speaker outputs
    watch_ring: Optional[str] = None
    watch_mic: Optional[int] = None
    watch_outputs: tuple = ()
    watch_capacity: int = 0
    # bass management: programme channels in (the profile's routing inputs); 0 = n_channels
    n_inputs: int = 0


def make_backend(input_dev: Optional[str], output_dev: Optional[str], watch_mic: Optional[int] = None):
    """The duplex backend for ``--input``/``--output`` (``"rig"``: the JACK virtual room).

    With a watch mic (0-based input) the rig's room mic feeds that input and no loopback is
    wired, so the programme inputs stay free for a player (:mod:`hardware.rig_player`)."""
    from hardware.portaudio import PortAudioBackend
    from hardware.rig_backend import RigBackend, device_backend

    def _spec(v: Optional[str]):
        if v is None:
            return None
        return int(v) if v.strip().isdigit() else v

    if (input_dev or "").lower() == "rig" or (output_dev or "").lower() == "rig":
        if watch_mic is not None:
            return RigBackend(routing="room", loopback="none", mic_input=int(watch_mic))
        return RigBackend(routing="speakers")   # programme inputs hear only the programme (no mic feedback)
    if input_dev is None and output_dev is None:
        return device_backend(None)
    return PortAudioBackend(input_device=_spec(input_dev), output_device=_spec(output_dev), latency="low")


# ---------------------------------------------------------------------------- child side
def _snapshot(proc, engine, stream, ctl: "_Control | None" = None) -> dict:
    st = proc.stats()
    chains = [ch for ch in engine._slots if ch is not None]
    workers = [g.conv for ch in chains for g in ch.groups if g.conv.async_min is not None]
    eng = engine.status()
    if ctl is not None:
        eng["requested"] = ctl.wanted        # where the queued commands lead
        eng["queued_commands"] = len(ctl.queue)
    return {**st, "host_xruns": stream.stats.xruns, "host_cpu_load": stream.stats.cpu_load,
            "fir_workers": len(workers), "fir_workers_realtime": sum(w.worker_realtime for w in workers),
            "fir_late_waits": sum(ch.late_waits for ch in chains),
            "engine": eng, "events": proc.drain_events()}


class _Control:
    """The audio process's command side (its control thread; never the audio callback).

    Keeps the slot the user asked for last (``wanted``: the slot on the air once every queued
    command has been taken), the slot bypass returns to (``last_slot``), and the engine
    commands the audio thread has not taken yet (``queue``, oldest first).
    """

    def __init__(self, engine, spec: LiveSpec, send) -> None:
        from collections import deque

        self.engine = engine
        self.spec = spec
        self.send = send
        self.wanted = engine.active_slot
        self.last_slot = "A"
        self.profile_a: str | None = None    # set by a remote 'load'; else spec.profile_dir
        self.queue: Any = deque()

    def command(self, msg: tuple) -> None:
        """Turn a parent command into queued engine commands (decided against ``wanted``)."""
        kind = msg[0]
        if kind == "select":
            self._select(msg[1])
        elif kind == "toggle":
            self._select("B" if self.wanted == "A" else "A")
        elif kind == "bypass":
            self._select(self.last_slot if self.wanted == "bypass" else "bypass")
        elif kind == "reload":
            self.queue.append(("reload", "A"))
        elif kind == "load":           # another profile into slot A (the web app's "activate")
            self.profile_a = str(msg[2])
            self.queue.append(("reload", "A"))
        self.pump()

    def _select(self, slot: str) -> None:
        if slot == "B" and self.engine.slot_hash("B") is None:
            self.send(("log", "no profile in slot B (start with --b PROFILE)"))
            return
        if slot != "bypass":
            self.last_slot = slot
        self.wanted = slot
        self.queue.append(("select", slot))

    def pump(self) -> None:
        """Hand queued commands to the engine as far as it takes them now (never blocks long)."""
        from calib.errors import RoomtruthError
        from calib.profile import CalibrationProfile
        from monitor.routing import check_same_routing

        eng = self.engine
        while self.queue:
            kind, slot = self.queue[0]
            try:
                if kind == "select":
                    if not eng.post("select", slot):
                        return              # the previous command is not taken yet
                else:
                    if eng.in_transition:
                        return              # after the running crossfade / warm-up
                    # building the chain takes a while; then load() waits at most a block or
                    # two for the mailbox (nothing is in transition)
                    prof = CalibrationProfile.load(Path(self.profile_a or self.spec.profile_dir))
                    check_same_routing(getattr(eng, "routing", None), prof)
                    eng.load(prof, "A", activate=False)
                    self.send(("log", "profile reloaded; it fades in when warm"))
            except RoomtruthError as exc:
                self.send(("log", f"[red]{kind} failed: {exc}[/]"))
            self.queue.popleft()


def _serve(conn, spec: LiveSpec) -> None:
    """Entry point of the audio process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):   # a closed terminal: the parent stops us in order
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from calib.errors import RoomtruthError

    try:
        _serve_inner(conn, spec)
    except RoomtruthError as exc:
        _send(conn, ("error", type(exc).__name__, str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which prints one line
        _send(conn, ("error", "DeviceError", f"the audio process failed: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _send(conn, msg) -> bool:
    try:
        conn.send(msg)
        return True
    except (BrokenPipeError, EOFError, OSError):
        return False


def _set_routing(engine, prof_a, prof_b, spec: LiveSpec) -> int:
    """Give the engine profile A's routing stage (bass management, :func:`monitor.routing.
    live_router`), its buffers reserved; returns the programme channels it takes."""
    from monitor.routing import live_router

    router = live_router(prof_a, prof_b, fs=spec.fs, n_channels=spec.n_channels)
    engine.routing = router
    if router is None:
        return spec.n_channels
    router.reserve(engine.max_block)      # its work buffers exist before the stream starts
    return router.n_inputs


def _serve_inner(conn, spec: LiveSpec) -> None:
    import gc

    import numpy as np

    from calib.profile import CalibrationProfile
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor, shield_control_thread

    prof_a = CalibrationProfile.load(Path(spec.profile_dir))
    prof_b = CalibrationProfile.load(Path(spec.profile_b)) if spec.profile_b else None
    n_ch, block = spec.n_channels, spec.block
    engine = Engine(fs=spec.fs, n_channels=n_ch, block=block, limiter={"ceiling_dbfs": spec.ceiling_dbfs},
                    fir_worker=True)
    n_prog = _set_routing(engine, prof_a, prof_b, spec)   # programme channels in (bass management)
    engine.load(prof_a, "A", activate=not spec.bypass)
    if prof_b is not None:
        engine.load(prof_b, "B", activate=False)
    if spec.watch_ring and spec.watch_mic is not None and spec.watch_mic < n_prog:
        from roomtruth.watch_run import mic_on_programme_error   # the parent checks first; kept as a guard

        raise mic_on_programme_error(spec.watch_mic + 1, n_prog)
    backend = make_backend(spec.input_dev, spec.output_dev, spec.watch_mic if spec.watch_ring else None)
    # warm-up: every partition level fires once, so FFT plans and caches exist before the stream
    warm = RealtimeProcessor(engine, n_inputs=n_prog, n_outputs=n_ch)
    zin, zout = np.zeros((block, n_prog), np.float32), np.zeros((block, n_ch), np.float32)
    largest = max((lv.size for ch in engine._slots if ch is not None for lv in ch.levels), default=block)
    for _ in range(2 * (largest // block) + 2):
        warm.callback(zin, zout, block, 0)
    proc = RealtimeProcessor(engine, n_inputs=n_prog, n_outputs=n_ch)
    callback, n_inputs, ring = proc.callback, n_prog, None
    if spec.watch_ring:   # the watch mic in the same stream: the callback only copies (monitor.watch_live)
        from monitor.watch_live import WatchRing, WatchTap

        ring = WatchRing.attach(spec.watch_ring, 1 + len(spec.watch_outputs), spec.watch_capacity)
        callback = WatchTap(proc.callback, ring, mic_input=spec.watch_mic, outputs=spec.watch_outputs).callback
        n_inputs = max(n_prog, spec.watch_mic + 1)
    stream = backend.open_duplex(callback, fs=spec.fs, block_size=block, n_inputs=n_inputs, n_outputs=n_ch)
    # The control thread (this one) hands the GIL back quickly, is not preempted while it holds it
    # (SCHED_FIFO 1, below the audio thread: shield_control_thread), and the cyclic collector is
    # off (young generation collected here between status messages).
    sys.setswitchinterval(0.0005)
    rt_control = os.environ.get("ROOMTRUTH_RT_CONTROL", "1") != "0" and shield_control_thread()
    gc.collect()
    gc.freeze()
    gc.disable()
    ctl = _Control(engine, spec, lambda m: _send(conn, m))
    stream.start()
    try:
        levels = engine._slots[0].levels if engine._slots[0] is not None else ()
        _send(conn, ("ready", {"pid": os.getpid(), "rt_control": rt_control, "latency_s": list(stream.stats.latency_s),
                               "levels": [[lv.size, lv.n_parts, lv.offset] for lv in levels]}))
        last_status, last_gc = 0.0, time.monotonic()
        while True:
            # queued engine commands: look again after about a block
            if conn.poll(STATUS_PERIOD_S if not ctl.queue else max(block / spec.fs, 0.002)):
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    break                   # the parent is gone: stop the audio
                if msg[0] == "stop":
                    break
                ctl.command(msg)
            else:
                ctl.pump()
            engine.collect()
            now = time.monotonic()
            if now - last_status >= STATUS_PERIOD_S:
                if not _send(conn, ("status", _snapshot(proc, engine, stream, ctl))):
                    break
                last_status = now
            if now - last_gc > 1.0:
                gc.collect(0)
                last_gc = now
    finally:
        stream.stop()
        stream.close()
        engine.close()
        if ring is not None:
            ring.close()
        gc.enable()
        gc.unfreeze()
    _send(conn, ("final", _snapshot(proc, engine, stream, ctl)))


# ---------------------------------------------------------------------------- parent side
class LiveMonitor:
    """Parent-side handle of the audio process (a context manager).

    ``start()`` returns once the stream runs (or raises the child's start-up error as the same
    :mod:`calib.errors` class); ``poll()`` returns the newest status snapshot and the log lines
    since the last call; ``stop()`` stops the stream and returns the final snapshot.
    """

    START_TIMEOUT_S = 60.0

    def __init__(self, spec: LiveSpec) -> None:
        self.spec = spec
        self.status: dict | None = None
        self.info: dict = {}
        self._proc = None
        self._conn = None
        self._final: dict | None = None

    def start(self) -> "LiveMonitor":
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_serve, args=(child, self.spec), name="roomtruth-audio", daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        deadline = time.monotonic() + self.START_TIMEOUT_S
        while time.monotonic() < deadline:
            if parent.poll(0.1):
                msg = self._recv()
                if msg is None:
                    break
                if msg[0] == "ready":
                    self.info = msg[1]
                    return self
                if msg[0] == "error":
                    self._join()
                    _raise(msg[1], msg[2])
            elif not self._proc.is_alive():
                break
        self._kill()
        from calib.errors import DeviceError

        raise DeviceError(f"the audio process did not start (exit code {self._proc.exitcode})")

    def _recv(self):
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            return None

    def poll(self) -> tuple[dict | None, list[str], list[tuple[str, int, float]]]:
        """Newest status, log lines and engine events since the last call (non-blocking)."""
        logs: list[str] = []
        events: list = []
        while self._conn is not None and self._conn.poll(0):
            msg = self._recv()
            if msg is None:
                from calib.errors import DeviceError

                raise DeviceError(f"the audio process stopped unexpectedly (exit code {self._proc.exitcode})")
            if msg[0] == "status":
                self.status = msg[1]
                events += msg[1].get("events", [])
            elif msg[0] == "log":
                logs.append(msg[1])
            elif msg[0] == "error":
                _raise(msg[1], msg[2])
        return self.status, logs, events

    def send(self, *msg: Any) -> None:
        if self._conn is not None:
            try:
                self._conn.send(tuple(msg))
            except (BrokenPipeError, OSError):
                pass

    def stop(self, timeout_s: float = 10.0) -> dict:
        """Stop the stream; the final snapshot (the last status when the child died)."""
        if self._final is not None:
            return self._final
        self.send("stop")
        deadline = time.monotonic() + timeout_s
        final = None
        while self._conn is not None and time.monotonic() < deadline:
            if self._conn.poll(0.1):
                msg = self._recv()
                if msg is None:
                    break
                if msg[0] == "final":
                    final = msg[1]
                    break
                if msg[0] == "status":
                    self.status = msg[1]
        self._join()
        self._final = final if final is not None else (self.status or {})
        return self._final

    def _join(self) -> None:
        if self._proc is not None:
            self._proc.join(5.0)
            if self._proc.is_alive():
                self._kill()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(3.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(3.0)

    def __enter__(self) -> "LiveMonitor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _raise(cls_name: str, message: str) -> None:
    import calib.errors as errors

    cls = getattr(errors, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.RoomtruthError)):
        cls = errors.DeviceError
    raise cls(message)


# ---------------------------------------------------------------------------- terminal
class Keys:
    """Single-key input from the terminal on stdin (cbreak mode: no echo, no line buffering,
    Ctrl-C still a signal), the terminal's mode restored on exit.  Disabled (``read()`` gives
    "") when stdin is not a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stdin.isatty()
        self._old = None

    def __enter__(self) -> "Keys":
        if self.enabled:
            import termios
            import tty

            self._old = termios.tcgetattr(sys.stdin.fileno())
            tty.setcbreak(sys.stdin.fileno())
        return self

    def read(self) -> str:
        """The next key typed (lower case; "" when none is waiting).  Never blocks."""
        if not self.enabled:
            return ""
        import select

        r, _, _ = select.select([sys.stdin], [], [], 0)
        if not r:
            return ""
        try:
            data = os.read(sys.stdin.fileno(), 1)
        except OSError:            # the terminal went away (hang-up)
            data = b""
        if not data:
            self.enabled = False   # end of input: no more keys (and no busy loop on EOF)
            return ""
        return data.decode("ascii", "replace").lower()

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            import termios

            try:
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._old)
            except (termios.error, OSError):
                pass               # the terminal is gone (hang-up): nothing left to restore


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP set ``self.stopped_by`` instead of raising in the middle of
    whatever the loop does (a pipe read, a file write); the loop sees it within one turn and
    stops the audio process, restores the terminal and removes the status file in order.

    After a hang-up, :meth:`detach_terminal` points stdout/stderr that were the terminal when
    the run began at /dev/null, so the clean stop and its last words do not fail with EIO (a
    hung-up terminal no longer even answers ``isatty``); a redirected stdout keeps its file.
    """

    NAMES = {"SIGINT": "interrupt", "SIGTERM": "terminate", "SIGHUP": "hangup"}

    def __init__(self) -> None:
        self.stopped_by: str | None = None
        self._old: dict = {}
        self._tty_fds: list[int] = []

    def _handler(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        self.stopped_by = self.NAMES.get(signal.Signals(signum).name, "signal")
        if signum == getattr(signal, "SIGHUP", None):
            self.detach_terminal()

    def detach_terminal(self) -> None:
        """Send what was the terminal (stdout, stderr) to /dev/null from now on."""
        try:
            null = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        for fd in self._tty_fds:
            try:
                os.dup2(null, fd)
            except OSError:
                pass
        os.close(null)

    def __enter__(self) -> "StopSignals":
        self._tty_fds = [fd for fd in (1, 2) if os.isatty(fd)]
        for name in self.NAMES:
            sig = getattr(signal, name, None)
            if sig is not None:
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


# ---------------------------------------------------------------------------- status file
STATUS_FILE = "monitor-live.json"
STATUS_FRESH_S = 5.0


def status_path() -> Path:
    """Where a running ``monitor run`` publishes what it plays (``ROOMTRUTH_RUNTIME_DIR``,
    else ``$XDG_RUNTIME_DIR/roomtruth``, else ``/tmp/roomtruth-<uid>``)."""
    base = os.environ.get("ROOMTRUTH_RUNTIME_DIR")
    if not base:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        base = os.path.join(xdg, "roomtruth") if xdg else f"/tmp/roomtruth-{os.getuid()}"
    return Path(base) / STATUS_FILE


def publish_status(snapshot: dict, *, profile_dir: str, path: Path | None = None) -> None:
    """Write the live state (running hash, active slot, load, xruns) atomically; never raises."""
    import json
    import tempfile

    path = status_path() if path is None else path
    eng = snapshot.get("engine", {})
    doc = {"pid": os.getpid(), "updated_unix": time.time(), "profile_dir": profile_dir,
           "running_hash": eng.get("running_hash"), "active": eng.get("active"),
           "in_transition": eng.get("in_transition"),
           "slots": {k: (None if v is None else v.get("content_hash")) for k, v in eng.get("slots", {}).items()},
           "callbacks": snapshot.get("callbacks"), "xruns": snapshot.get("xruns"),
           "xruns_processing": snapshot.get("xruns_processing"), "dsp_load": snapshot.get("dsp_load"),
           "limiter": eng.get("limiter"),
           "watch": snapshot.get("watch")}   # the programme watch (roomtruth.watch_run), None without one
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".live-", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
    except OSError:
        pass


def clear_status(path: Path | None = None) -> None:
    path = status_path() if path is None else path
    try:
        import json

        doc = json.loads(path.read_text())
        if doc.get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def read_live_status(path: Path | None = None) -> dict | None:
    """The status of a ``monitor run`` that is running now, or None (no file, stale, dead pid)."""
    import json

    path = status_path() if path is None else path
    try:
        doc = json.loads(path.read_text())
        pid = int(doc["pid"])
        age = time.time() - float(doc["updated_unix"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if age > STATUS_FRESH_S or age < -STATUS_FRESH_S:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return doc
