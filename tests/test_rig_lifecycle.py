"""The rig's life cycle: start/status/stop through the CLI, stale state, a server that dies,
a JACK server roomtruth did not start, refused SCHED_FIFO, and bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rig_fixture import rig_env  # noqa: F401  (fixture)

from calib.errors import DeviceError

pytestmark = pytest.mark.jack


def _alive(pid: int) -> bool:
    from hardware.jackrig import _is_ours  # noqa: PLC2701 - the same check stop uses

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_dead(pid: int, timeout_s: float = 5.0) -> bool:
    from hardware.jackrig import _reap

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_cli_start_status_stop(rig_env, run_cli):  # noqa: F811
    code, out, err = run_cli("rig", "start", "--json")
    assert code == 0, err
    st = json.loads(out)
    assert st["server"] == rig_env and st["fs"] == 48000 and st["period"] == 256
    assert st["ir_source"] == "built-in default room" and st["n_speakers"] == 2
    assert st["layout_1_based"] == {"speaker_outputs": [1, 2], "loopback_output": 3,
                                    "mic_input": 1, "loopback_input": 2}
    jackd_pid, jconv_pid = st["jackd_pid"], st["jconvolver_pid"]
    assert _alive(jackd_pid) and _alive(jconv_pid)

    code, out, err = run_cli("rig", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["running"] and status["problems"] == []
    assert isinstance(status["xruns_logged"], int) and status["xruns_logged"] >= 0
    code, out, err = run_cli("rig", "status")
    assert code == 0 and f"pid {jackd_pid} (alive)" in out and "48000 Hz" in out and "256 frames" in out

    code, out, err = run_cli("rig", "start")
    assert code == 2
    assert err == (f"error: the virtual room is already running (server '{rig_env}', jackd pid {jackd_pid}, "
                   "48000 Hz, period 256); run 'roomtruth rig stop' first\n")

    code, out, err = run_cli("rig", "stop")
    assert code == 0
    assert out.strip() == f"stopped jackd (pid {jackd_pid}), jconvolver (pid {jconv_pid})"
    assert _wait_dead(jackd_pid) and _wait_dead(jconv_pid)
    code, out, err = run_cli("rig", "status")
    assert code == 1 and "not running" in out
    code, out, err = run_cli("rig", "stop")
    assert code == 0 and out.strip() == "no virtual room was running"


def test_bad_input_gives_one_line_and_starts_nothing(rig_env, run_cli, tmp_path):  # noqa: F811
    from hardware.jackrig import _server_reachable, _state_path

    sf.write(tmp_path / "ir44.wav", np.r_[1.0, np.zeros(99)], 44100, subtype="FLOAT")
    sf.write(tmp_path / "zero.wav", np.zeros(100), 48000, subtype="FLOAT")
    sf.write(tmp_path / "seven.wav", np.eye(21, 100).T, 48000, subtype="FLOAT")   # 16 mains + 4 subs fit
    (tmp_path / "text.wav").write_text("not audio")
    cases = [
        (("--period", "300"), "rig period 300 frames is invalid; use a power of two from 64 to 4096"),
        (("--fs", "12345"), "rig sample rate 12345 Hz is not supported"),
        (("--ir", str(tmp_path / "missing.wav")), "missing.wav: no such file"),
        (("--ir", str(tmp_path / "text.wav")), "is not a readable audio file"),
        (("--ir", str(tmp_path / "ir44.wav"), "--fs", "48000"), "is at 44100 Hz but the rig runs at 48000 Hz; start the rig with --fs 44100"),
        (("--ir", str(tmp_path / "zero.wav")), "is all zeros"),
        (("--ir", str(tmp_path / "seven.wav")), "the room IR has 21 channels (one per speaker) but the rig takes at most 20"),
    ]
    for args, msg in cases:
        code, out, err = run_cli("rig", "start", *args)
        assert code == 2, (args, out, err)
        assert err.startswith("error: ") and msg in err and err.count("\n") == 1, (args, err)
    assert not _state_path(rig_env).exists()
    assert not _server_reachable(rig_env)


def test_mono_ir_dead_server_and_stale_state(rig_env, run_cli, tmp_path):  # noqa: F811
    from hardware.jackrig import _state_path, rig_status, start_rig, stop_rig
    from hardware.rig_backend import RigBackend

    ir = np.zeros(4800)
    ir[100] = 0.5
    ir[300] = -0.25
    sf.write(tmp_path / "mono.wav", ir, 48000, subtype="FLOAT")
    state = start_rig(tmp_path / "mono.wav", fs=48000, period=128)
    assert state.n_speakers == 1 and state.period == 128 and state.ir_source == str((tmp_path / "mono.wav").resolve())
    assert state.loopback_output == 1   # dedicated reference output right after the speaker
    # The server dies (killed from outside).
    os.kill(state.jackd_pid, signal.SIGKILL)
    assert _wait_dead(state.jackd_pid)
    st = rig_status()
    assert not st.running and not st.jackd_alive
    assert any(f"jackd (pid {state.jackd_pid}) is no longer running: the server died" in p for p in st.problems)
    code, out, err = run_cli("rig", "status")
    assert code == 2 and err.startswith(f"error: jackd (pid {state.jackd_pid}) is no longer running")
    with pytest.raises(DeviceError, match="the JACK virtual room is broken: jackd"):
        RigBackend()
    # A stale state file (its processes are gone) does not block a new start.
    _wait_dead(state.jconvolver_pid)
    state2 = start_rig(None, fs=48000, period=256)
    assert state2.jackd_pid != state.jackd_pid and rig_status().running
    assert stop_rig() == [f"jackd (pid {state2.jackd_pid})", f"jconvolver (pid {state2.jconvolver_pid})"]
    assert not _state_path(rig_env).exists()
    assert rig_env not in _registry_names()


def test_pid_reuse_is_never_killed(rig_env):  # noqa: F811
    """A state file whose PIDs now belong to other programs: stop kills nothing."""
    from hardware.jackrig import _state_path, stop_rig

    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        p = _state_path(rig_env)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({
            "server": rig_env, "jackd_pid": sleeper.pid, "jconvolver_pid": os.getpid(), "fs": 48000,
            "period": 256, "n_speakers": 1, "ir_path": "x", "ir_source": "x", "ir_length_samples": 1,
            "realtime": True, "started_utc": "", "folder": str(p.parent)}))
        assert stop_rig() == []
        assert sleeper.poll() is None   # still running
        assert not p.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_foreign_jack_server_is_left_alone(rig_env, run_cli, tmp_path):  # noqa: F811
    from hardware.jackrig import _server_reachable, start_rig, stop_rig

    foreign = subprocess.Popen(["jackd", "-n", rig_env, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not _server_reachable(rig_env) and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(DeviceError, match=f"a JACK server named '{rig_env}' is already running and was not started by roomtruth"):
            start_rig(None, fs=48000, period=256)
        code, out, err = run_cli("rig", "status")
        assert code == 2 and "was not started by roomtruth" in err
        assert stop_rig() == []
        assert foreign.poll() is None
    finally:
        foreign.terminate()
        foreign.wait(timeout=10)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to take SCHED_FIFO away from jackd")
def test_refused_realtime_falls_back_to_no_realtime(rig_env, monkeypatch):  # noqa: F811
    from hardware import jackrig

    monkeypatch.setattr(jackrig, "_JACKD_PREFIX",
                        ("setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"))
    state = jackrig.start_rig(None, fs=48000, period=256)
    assert state.realtime is False
    assert "--no-realtime" in state.jackd_cmd
    assert jackrig.rig_status().running
    log = Path(state.folder, "jackd.log").read_text()
    assert "Cannot use real-time scheduling" in log


_DYING_SERVER_SCRIPT = r"""
import os, signal, sys, threading, time
import numpy as np
from calib.errors import DeviceError
from hardware import jackrig
from hardware.rig_backend import RigBackend

which, ir_path = sys.argv[1], sys.argv[2]
st = jackrig.start_rig(ir_path, fs=48000, period=256)
b = RigBackend(timeout_margin_s=2.0)
kill = threading.Timer(1.0, lambda: os.kill(st.jackd_pid, signal.SIGKILL))
t0 = time.monotonic()
if which == "capture":
    kill.start()   # the 4 s capture is running by then
    try:
        b.play_record(np.zeros((1, 48000 * 4), np.float32), fs=48000, output_channels=(0,),
                      input_channels=(0, 1))
        print("NO ERROR")
    except DeviceError as exc:
        print(f"error: {exc}")
else:
    ds = b.open_duplex(lambda i, o, f, s: o.fill(0.0), fs=48000, block_size=256, n_inputs=2, n_outputs=2)
    ds.start()
    t0 = time.monotonic()
    kill.start()
    time.sleep(1.5)
    ds.stop()
    ds.close()
    print(f"server_lost={ds.server_lost}")
print(f"elapsed={time.monotonic() - t0:.1f}")
print(jackrig.stop_rig())
"""


@pytest.mark.parametrize("which", ["capture", "duplex"])
def test_server_dying_mid_stream_fails_fast_and_exits_cleanly(rig_env, which, tmp_path):  # noqa: F811
    """jackd killed while PortAudio streams through it: a capture fails at once with a
    sentence, a duplex stream's stop/close return, and the process exits normally (PortAudio
    would otherwise hang ten minutes in Pa_StopStream and abort in Pa_Terminate).  Run in a
    child process because PortAudio cannot be used again in a process that lost its server."""
    import sys

    sf.write(tmp_path / "ir.wav", np.r_[0.5, np.zeros(63)], 48000, subtype="FLOAT")
    out = subprocess.run([sys.executable, "-c", _DYING_SERVER_SCRIPT, which, str(tmp_path / "ir.wav")],
                         capture_output=True,
                         text=True, timeout=60, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-2000:]
    if which == "capture":
        assert "error: the rig's JACK server (jackd pid" in out.stdout
        assert "died during the capture" in out.stdout
    else:
        assert "server_lost=True" in out.stdout
    elapsed = float(out.stdout.split("elapsed=")[1].split()[0])
    # capture: detected within a 0.2 s poll after the kill at 1.0 s, not after the 4 s + 2 s
    # timeout; duplex: stop/close return at once after the 1.5 s of streaming
    assert elapsed < 3.5, out.stdout
    # stop_rig reclaimed the crashed server's entry in JACK's 8-slot server registry
    assert rig_env not in _registry_names()


def _registry_names() -> set[str]:
    from hardware.jackrig import registry_entries

    return {name for _pid, name, _alive in registry_entries()}


def test_interrupted_start_leaves_nothing_running(rig_env, monkeypatch):  # noqa: F811
    """Ctrl-C (or a failure) after jackd is up and before jconvolver is: jackd is stopped,
    no state is written, the server name is free again."""
    from hardware import jackrig

    seen = {}

    def interrupted(server, conf, folder, n_spk):
        seen["jackd_up"] = jackrig._server_reachable(server)
        raise KeyboardInterrupt

    monkeypatch.setattr(jackrig, "_start_jconvolver", interrupted)
    with pytest.raises(KeyboardInterrupt):
        jackrig.start_rig(None, fs=48000, period=256)
    assert seen["jackd_up"]
    assert not jackrig._state_path(rig_env).exists()
    assert not jackrig._server_reachable(rig_env)
    assert rig_env not in _registry_names()


def test_registry_parser_reads_jack2_layout(tmp_path):
    """registry_entries reads JACK 1.9's shm registry header (used to free slots of crashed
    servers); a file of another layout gives []."""
    import struct

    from hardware.jackrig import registry_entries

    blob = bytearray(b"KCAJ" + struct.pack("<iIIII", 0, 1, 0x11458, 24 + 8 * 264, 0x10C))
    blob += bytes(8 * 264)
    for slot, (pid, name) in enumerate(((os.getpid(), "alive-one"), (0, "free"), (2**22 + 12345, "gone"))):
        off = 24 + slot * 264
        struct.pack_into("<i", blob, off, pid)
        blob[off + 4: off + 4 + len(f"jack-0:{name}:")] = f"jack-0:{name}:".encode()
    (tmp_path / "reg").write_bytes(bytes(blob))
    assert registry_entries(str(tmp_path / "reg")) == [(os.getpid(), "alive-one", True),
                                                       (2**22 + 12345, "gone", False)]
    (tmp_path / "bad").write_bytes(b"JUNK" + bytes(3000))
    assert registry_entries(str(tmp_path / "bad")) == []
    assert registry_entries(str(tmp_path / "absent")) == []
