"""``roomtruth monitor run`` driven like a user: keys on a real pseudo-terminal, Ctrl-C, and
the live status file that ``verify`` reads.

The jack tests start ``roomtruth monitor run --input rig --output rig`` as a separate process
whose stdin/stdout/stderr are the slave side of a pty (and which owns that pty as its
controlling terminal, so a ``\\x03`` written to the master is a real Ctrl-C: SIGINT to the
foreground process group, audio process included).  A reader thread drains the master all the
time (a pty's buffer is a few KiB; a full one would block the live view).  The truth for
"what is playing" is the status file (``running_hash`` = the ``content_hash`` of the profile
on the air, ``"bypass"`` when bypassed) and the final ``--json`` statistics.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from calib.profile import CalibrationProfile, SpeakerCorrection
from roomtruth.monitor_live import read_live_status

FS = 48000
ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")


def fir_profile(name: str, gain: float, n_taps: int = 4096) -> CalibrationProfile:
    """Two speakers, each a pure gain as an FIR (a delta of height ``gain`` at tap 0)."""
    h = np.zeros(n_taps)
    h[0] = gain
    return CalibrationProfile(name=name, speakers=(SpeakerCorrection("L", 0, fir={FS: h}),
                                                   SpeakerCorrection("R", 1, fir={FS: h})), design_fs=FS)


@pytest.fixture
def profiles(tmp_path):
    a, b = fir_profile("A", 0.5), fir_profile("B", 0.25)     # -6.02 dB and -12.04 dB
    a.save(tmp_path / "A")
    b.save(tmp_path / "B")
    assert a.content_hash() != b.content_hash()
    return tmp_path / "A", tmp_path / "B", a.content_hash(), b.content_hash()


class TtyRun:
    """``roomtruth ARGS`` on a pseudo-terminal it owns as controlling terminal."""

    def __init__(self, args: list[str], *, env: dict, stdin_pipe: bool = False, stdout=None) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.tty_attrs_before = termios.tcgetattr(self.slave)
        self.buf = bytearray()
        self._lock = threading.Lock()
        self._stop = False
        stdin = subprocess.PIPE if stdin_pipe else self.slave
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "roomtruth", *map(str, args)], cwd=ROOT, env=env,
            stdin=stdin, stdout=self.slave if stdout is None else stdout, stderr=self.slave, start_new_session=True,
            preexec_fn=None if stdin_pipe else _take_ctty)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._stop:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                with self._lock:
                    self.buf += data

    def text(self) -> str:
        with self._lock:
            return ANSI.sub(b"", bytes(self.buf)).decode("utf-8", "replace")

    def key(self, k: str) -> None:
        os.write(self.master, k.encode())

    def wait_text(self, needle: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            assert self.proc.poll() is None, f"exited {self.proc.returncode} before {needle!r}:\n{self.text()[-3000:]}"
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not on the terminal within {timeout_s} s:\n{self.text()[-3000:]}")

    def wait_exit(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout_s)
        finally:
            time.sleep(0.2)          # the last bytes reach the reader
            self._stop = True
            self._reader.join(2.0)

    def final_json(self) -> dict:
        """The ``--json`` document: the last top-level ``{...}`` on the terminal."""
        t = self.text()
        start = t.rfind("\n{")
        assert start >= 0, f"no JSON on the terminal:\n{t[-3000:]}"
        return json.JSONDecoder().raw_decode(t[start + 1:])[0]

    def hang_up(self) -> None:
        """Close the terminal (both ends here): the kernel sends SIGHUP to the session leader."""
        self._stop = True
        self._reader.join(2.0)           # a read in progress would keep the master open
        for fd in (self.master, self.slave):
            os.close(fd)
        self.master = self.slave = -1

    def close(self) -> None:
        self._stop = True
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)


def _take_ctty() -> None:
    # runs in the child after setsid() and the stdio dup2: the pty becomes its controlling
    # terminal, so the line discipline turns ^C into SIGINT for its foreground process group
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["ROOMTRUTH_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["TERM"] = "xterm-256color"
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def wait_status(path: Path, timeout_s: float, run: TtyRun | None = None, **want) -> dict:
    """The status file once every ``key == value`` of ``want`` holds (and no transition runs)."""
    deadline = time.monotonic() + timeout_s
    doc: dict = {}
    while time.monotonic() < deadline:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            doc = {}
        if doc and all(doc.get(k) == v for k, v in want.items()) and not doc.get("in_transition"):
            return doc
        if run is not None:
            assert run.proc.poll() is None, f"exited {run.proc.returncode}:\n{run.text()[-3000:]}"
        time.sleep(0.05)
    tail = run.text()[-2000:] if run is not None else ""
    raise AssertionError(f"status file never showed {want} within {timeout_s} s; last: {doc}\n{tail}")


# ------------------------------------------------------------------------------ no audio
class FakeEngine:
    """The engine's control API as the audio process uses it; the "audio thread" takes a
    posted command only when ``take()`` is called (a block boundary)."""

    def __init__(self, with_b: bool = True) -> None:
        self.active_slot = "A"
        self.mailbox = None
        self.in_transition = False
        self.hashes = {"A": "ha", "B": "hb" if with_b else None}
        self.loads = 0

    def slot_hash(self, slot):
        return self.hashes[slot]

    def post(self, kind, slot, chain=None):
        if self.mailbox is not None:
            return False
        self.mailbox = (kind, slot)
        return True

    def take(self):
        if self.mailbox is not None and not self.in_transition:
            self.active_slot = self.mailbox[1]
            self.mailbox = None

    def load(self, profile, slot, activate):
        self.loads += 1


def control(with_b=True, profile_dir=""):
    from roomtruth.monitor_live import LiveSpec, _Control

    spec = LiveSpec(profile_dir=str(profile_dir), profile_b=None, input_dev=None, output_dev=None, block=256, fs=FS,
                    n_channels=2, ceiling_dbfs=-1.0, bypass=False)
    logs: list = []
    return _Control(FakeEngine(with_b), spec, logs.append), logs


def test_toggles_follow_the_slot_asked_for_not_the_slot_playing():
    ctl, _ = control()
    ctl.command(("toggle",))
    ctl.command(("toggle",))             # before the audio thread took the first one
    assert ctl.wanted == "A" and list(ctl.queue) == [("select", "A")]   # B posted, A waits its turn
    ctl.engine.take()
    ctl.pump()
    ctl.engine.take()
    assert ctl.engine.active_slot == "A" and not ctl.queue
    ctl.command(("select", "B"))
    ctl.command(("bypass",))
    ctl.command(("bypass",))             # back to the slot bypass left: B
    for _ in range(3):
        ctl.engine.take()
        ctl.pump()
    assert ctl.wanted == "B" and ctl.engine.active_slot == "B" and not ctl.queue


def test_commands_wait_behind_a_transition_without_blocking(profiles):
    from roomtruth.cmd_monitor import _key_command

    ctl, logs = control(profile_dir=profiles[0])
    ctl.engine.in_transition = True      # a reloaded profile warming up, say
    ctl.command(_key_command("x"))
    ctl.command(_key_command("r"))       # reload waits until the transition is over
    ctl.command(_key_command("a"))
    assert ctl.engine.loads == 0 and len(ctl.queue) == 3 - 1      # select B posted, two queued
    ctl.engine.in_transition = False
    for _ in range(3):
        ctl.engine.take()
        ctl.pump()
    assert ctl.engine.loads == 1 and ctl.engine.active_slot == "A" and not ctl.queue
    assert logs == [("log", "profile reloaded; it fades in when warm")]
    # a profile that no longer loads: said in the live view, the queue moves on
    ctl.spec = replace(ctl.spec, profile_dir=str(profiles[0].parent / "gone"))
    ctl.command(_key_command("r"))
    ctl.command(_key_command("x"))
    assert "reload failed" in logs[-1][1] and ctl.engine.loads == 1 and ctl.wanted == "B"


def test_slot_b_missing_is_said_and_changes_nothing():
    from roomtruth.cmd_monitor import _key_command

    ctl, logs = control(with_b=False)
    ctl.command(_key_command("x"))
    assert ctl.wanted == "A" and not ctl.queue
    assert logs == [("log", "no profile in slot B (start with --b PROFILE)")]
    assert _key_command("q") is None and _key_command("") is None


# ------------------------------------------------------------------------------ jack tests
# Each `monitor run` below takes seconds to start (imports, the engine's compiled kernels, the
# JACK client), then a test drives it for a moment.  The runs of the tests that drive a running
# monitor start together when the first of them begins (``live_runs``): their start-ups overlap
# instead of adding up.  Each is its own process on its own terminal with its own status file;
# the monitors all feed the one room, which none of these tests listens to.
START_S = 60.0     # for a run to come up: four start together, each with its engine


class _LiveRuns:
    """The started runs by test name; a test :meth:`take` s its own (and closes it), the rest
    are closed at the end of the module."""

    def __init__(self) -> None:
        self.runs: dict[str, tuple] = {}

    def take(self, name: str) -> tuple:
        return self.runs.pop(name)

    def close(self) -> None:
        for run, _sp, out in self.runs.values():
            run.close()
            if out is not None:
                out.close()


@pytest.fixture(scope="module")
def live_runs(rig, tmp_path_factory, request):  # noqa: F811
    """{test name: (TtyRun, status file, stdout file or None)} for the selected jack tests that
    drive a running monitor (started together), and the profiles (pa, pb, ha, hb)."""
    base = tmp_path_factory.mktemp("live")
    a, b = fir_profile("A", 0.5), fir_profile("B", 0.25)     # -6.02 dB and -12.04 dB
    a.save(base / "A")
    b.save(base / "B")
    pa, pb = base / "A", base / "B"
    wanted = {item.name for item in request.session.items if item.module is request.module}
    plan = {
        "test_keys_on_a_tty_switch_what_plays":
            ["monitor", "run", pa, "--b", pb, "--input", "rig", "--output", "rig", "--block", "256", "--json"],
        "test_ctrl_c_stops_cleanly": ["monitor", "run", pa, "--input", "rig", "--output", "rig", "--json"],
        "test_sigterm_stops_cleanly": ["monitor", "run", pa, "--input", "rig", "--output", "rig", "--json"],
        "test_terminal_hang_up_stops_cleanly": ["monitor", "run", pa, "--input", "rig", "--output", "rig", "--json"],
    }
    runs = _LiveRuns()
    try:
        for name, args in plan.items():
            if name not in wanted:
                continue
            d = base / name
            d.mkdir()
            env = _env(d)
            # `--json > stats.json` keeps its file when the terminal goes
            out = open(d / "stats.json", "w+") if name == "test_terminal_hang_up_stops_cleanly" else None
            runs.runs[name] = (TtyRun(args, env=env, stdout=out), Path(env["ROOMTRUTH_RUNTIME_DIR"]) / "monitor-live.json",
                               out)
        yield runs, (pa, pb, a.content_hash(), b.content_hash())
    finally:
        runs.close()


@pytest.mark.jack
def test_keys_on_a_tty_switch_what_plays(live_runs):
    """x -> B, b -> bypass, a -> A, r -> reload (logged), fast double keys, q -> exit 0."""
    runs, (pa, pb, ha, hb) = live_runs
    run, sp, _ = runs.take("test_keys_on_a_tty_switch_what_plays")
    try:
        assert ha != hb
        doc = wait_status(sp, START_S, run, running_hash=ha, active="A")
        assert read_live_status(sp)["running_hash"] == ha    # what verify reads: fresh, pid alive
        assert doc["slots"]["A"] == ha and doc["slots"]["B"] == hb
        assert doc["pid"] == run.proc.pid                    # the parent publishes, not the audio child
        assert termios.tcgetattr(run.slave)[3] & termios.ICANON == 0   # cbreak while it runs
        run.key("x")
        wait_status(sp, 5.0, run, running_hash=hb, active="B")
        run.key("b")
        wait_status(sp, 5.0, run, running_hash="bypass", active="bypass")
        run.key("a")
        wait_status(sp, 5.0, run, running_hash=ha, active="A")
        run.key("r")
        run.wait_text("profile reloaded", 5.0)
        wait_status(sp, 5.0, run, running_hash=ha, active="A")
        time.sleep(1.2)                                       # one more publish after the reload's crossfade
        wait_status(sp, 5.0, run, running_hash=ha, active="A")
        # Keys typed faster than a status comes back (one write, microseconds apart): each
        # toggles from the slot the previous one asked for.  Was: both toggled from the same
        # stale status, so "xx" ended on B.
        run.key("xx")                                         # A -> B -> A
        time.sleep(1.2)
        wait_status(sp, 5.0, run, running_hash=ha, active="A")
        run.key("x")                                          # -> B
        wait_status(sp, 5.0, run, running_hash=hb, active="B")
        run.key("bB")                                         # bypass and back to the slot it left (B); any case
        time.sleep(1.2)
        wait_status(sp, 5.0, run, running_hash=hb, active="B")
        run.wait_text("[x] toggle A/B", 1.0)                  # the help line's keys are not eaten as markup
        run.key("q")
        assert run.wait_exit(10.0) == 0, run.text()[-3000:]
        res = run.final_json()
        # A->B, B->bypass, bypass->A, the reloaded A crossfaded over the old A (4), then
        # A->B->A (2), A->B (1), B->bypass->B (2)
        assert res["stopped_by"] == "key"
        assert res["engine"]["swaps"] == 9
        assert res["engine"]["active"] == "B" and res["engine"]["running_hash"] == hb
        assert res["errors"] == 0
        assert not sp.exists()                               # removed on exit
        assert termios.tcgetattr(run.slave)[3] == run.tty_attrs_before[3]  # terminal mode restored
    finally:
        run.close()


@pytest.mark.jack
def test_without_a_tty_keys_are_ignored_and_duration_stops_it(profiles, tmp_path, rig):  # noqa: F811
    pa, pb, ha, _ = profiles
    env = _env(tmp_path)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "roomtruth", "monitor", "run", str(pa), "--b", str(pb),
                           "--input", "rig", "--output", "rig", "--duration", "1.5", "--json"],
                          cwd=ROOT, env=env, input=b"xbq", capture_output=True, timeout=40)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    res = json.loads(proc.stdout)
    assert res["stopped_by"] == "duration"
    assert 1.5 <= res["seconds"] < 1.5 + 4.0                  # stopped by the clock (plus the stop itself), not by "q"
    assert res["engine"]["swaps"] == 0 and res["engine"]["running_hash"] == ha   # "x", "b" ignored
    assert time.monotonic() - t0 < 40
    assert not (Path(env["ROOMTRUTH_RUNTIME_DIR"]) / "monitor-live.json").exists()


@pytest.mark.jack
def test_ctrl_c_stops_cleanly(live_runs):
    """^C on the terminal (SIGINT to the whole foreground group): stopped_by "interrupt",
    exit 0 with the statistics, terminal mode restored, status file removed, no traceback."""
    runs, (_, _, ha, _) = live_runs
    run, sp, _ = runs.take("test_ctrl_c_stops_cleanly")
    try:
        wait_status(sp, START_S, run, running_hash=ha)
        run.key("\x03")
        code = run.wait_exit(10.0)
        text = run.text()
        assert code == 0, text[-3000:]
        assert "Traceback" not in text and "KeyboardInterrupt" not in text
        res = run.final_json()
        assert res["stopped_by"] == "interrupt" and res["callbacks"] > 0
        assert not sp.exists()
        assert termios.tcgetattr(run.slave)[3] == run.tty_attrs_before[3]
    finally:
        run.close()



@pytest.mark.jack
def test_sigterm_stops_cleanly(live_runs):
    """``kill PID`` (SIGTERM to the parent only) stops like q: the audio process is stopped in
    order, the terminal leaves cbreak mode and the status file goes.  Was: the parent died on
    the spot, leaving the terminal without echo and a status file behind."""
    runs, (_, _, ha, _) = live_runs
    run, sp, _ = runs.take("test_sigterm_stops_cleanly")
    try:
        wait_status(sp, START_S, run, running_hash=ha)
        os.kill(run.proc.pid, signal.SIGTERM)
        assert run.wait_exit(10.0) == 0, run.text()[-3000:]
        assert run.final_json()["stopped_by"] == "terminate"
        assert not sp.exists()
        assert termios.tcgetattr(run.slave)[3] == run.tty_attrs_before[3]
    finally:
        run.close()


@pytest.mark.jack
def test_terminal_hang_up_stops_cleanly(live_runs):
    """The terminal window closed under it: SIGHUP, and writes to the terminal fail with EIO.
    It stops in order and exits 0 (was: exit 1, 'internal error (OSError: [Errno 5] ...)' from
    the live view's last write)."""
    runs, (_, _, ha, _) = live_runs
    run, sp, out = runs.take("test_terminal_hang_up_stops_cleanly")
    try:
        wait_status(sp, START_S, run, running_hash=ha)
        run.hang_up()
        assert run.proc.wait(10.0) == 0
        assert not sp.exists()
        res = json.loads(Path(out.name).read_text())
        assert res["stopped_by"] == "hangup" and res["callbacks"] > 0 and res["errors"] == 0
    finally:
        run.close()
        out.close()


from rig_fixture import rig  # noqa: E402,F401  (pytest finds the fixture by name)
