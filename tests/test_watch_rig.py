"""The watch live on the JACK virtual room, with programme flowing.

``monitor run --input rig --watch-mic 3`` puts the room's mic on input 3 (as a real interface
with the mic plugged in there) and leaves the programme inputs 1-2 free; a JACK client in the
test (:class:`hardware.rig_player.RigPlayer`) plays a song into them, the monitor's outputs go
to the room (jconvolver) and the room's mic comes back to input 3.  The profile's baseline is
the rig's own room IR (analytic truth: the room is exactly the baseline, mic gain 0 dB), so the
status file's watch must judge the room unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import watch_synth as W
from rig_fixture import RIG_FS, RIG_PERIOD, roomtruth_process, stop_and_read_json

HERE = Path(__file__).resolve().parent


def _rig_profile(state, tmp_path: Path, *, drift_db: dict | None = None) -> Path:
    """A profile whose baseline is the rig's room IR (optionally with a speaker's level changed:
    the room then plays that speaker ``-drift`` dB against the baseline)."""
    from calib.audio_io import read_audio

    ir, fs = read_audio(state.ir_path)
    ir = np.array(ir, dtype=np.float64)
    for k, db in (drift_db or {}).items():
        ir[k] *= 10.0 ** (db / 20.0)
    out = tmp_path / "prof"
    W.profile_for(ir, fs=fs).save(out)
    return out


def _run_live(tmp_path: Path, prof: Path, programme: np.ndarray, *, stop_when, max_s: float = 60.0,
              extra: tuple[str, ...] = (), server: str | None = None):
    """``monitor run`` on the rig (``server``: another rig's JACK server name) with a player
    feeding its programme inputs; stops it with SIGTERM once ``stop_when(watch_status, player)``
    holds (or after ``max_s``); returns (final JSON, the statuses seen, the player's ports)."""
    from hardware.rig_player import RigPlayer, monitor_ports

    env = dict(os.environ)
    env["ROOMTRUTH_RUNTIME_DIR"] = str(tmp_path / "runtime")
    if server:
        env["ROOMTRUTH_RIG_SERVER"] = server
    status = tmp_path / "runtime" / "monitor-live.json"
    seen: list[dict] = []
    with RigPlayer(programme, server=server) as player, roomtruth_process(
            "monitor", "run", prof, "--input", "rig", "--output", "rig", "--watch-mic", "3", "--duration", max_s,
            "--json", *extra, env=env) as proc:
        ports = monitor_ports(player, timeout_s=60.0)
        player.connect([("out_1", ports["inputs"][0]), ("out_2", ports["inputs"][1])])
        while proc.poll() is None:
            try:
                doc = json.loads(status.read_text())
            except (OSError, ValueError):
                doc = {}
            w = doc.get("watch")
            if w and (not seen or w.get("programme_s") != seen[-1].get("programme_s")):
                seen.append(w)
                if stop_when(w, player):
                    break
            time.sleep(0.25)
        res = stop_and_read_json(proc)
    return res, seen, ports


def _judged_twice(w: dict, player=None) -> bool:
    # two judgements: a false drift would have been confirmed (confirm_evals = 2) by then
    return w.get("state") == "watching" and (w.get("evaluations") or 0) >= 2


class _Background:
    """A live run in a thread; :meth:`result` waits for it and returns its value (or raises its
    exception)."""

    def __init__(self, fn) -> None:
        self._out: dict = {}

        def run() -> None:
            t0 = time.monotonic()
            try:
                self._out["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the test that waits for it
                self._out["error"] = exc
            self._out["wall_s"] = time.monotonic() - t0

        self._thread = threading.Thread(target=run, name="watch-rig-live", daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        if "error" in self._out:
            raise self._out["error"]
        return self._out["value"]

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def wall_s(self) -> float:
        return self._out.get("wall_s", float("nan"))


def _unchanged_run(rig, tmp_path: Path):
    from mixes.songs import make_song

    prof = _rig_profile(rig, tmp_path)
    song = 0.5 * make_song(5, duration_s=45.0, fs=rig.fs).mix()
    return _run_live(tmp_path, prof, song, stop_when=_judged_twice, max_s=50.0)


def _drift_run(rig, tmp_path: Path, server: str):
    """The room plays L 2 dB louder than the profile's baseline (see the test's docstring)."""
    import roomtruth.config as cfgmod
    from mixes.songs import make_song

    ws = tmp_path / "room"
    for d in ("measurements", "profiles", "reports"):
        (ws / d).mkdir(parents=True)
    (ws / "room.toml").write_text(cfgmod.room_template(device="rig", fs=rig.fs))
    prof = _rig_profile(rig, tmp_path, drift_db={0: -2.0})
    song = 0.5 * make_song(9, duration_s=45.0, fs=rig.fs, key=2, minor=True).mix()

    def drift_then_pause(w: dict, player) -> bool:
        if w.get("sweep_requested") and player.playing:
            player.playing = False                  # the engineer stops the music
        return (w.get("sweep") or {}).get("state") not in (None, "running")

    res, seen, _ = _run_live(tmp_path, prof, song, stop_when=drift_then_pause, max_s=150.0, server=server,
                             extra=("--watch-gain-db", "0", "--room", str(ws), "--confirm-with-sweep"))
    return res, seen, ws


def _drift_child(out: str, ir_path: str) -> None:
    """The drift run in a process of its own, on a rig of its own (``$ROOMTRUTH_RIG_SERVER``):
    JACK's client library serves one server per process (two in one process crashed it), so
    the second rig's clients (start, player) never share a process with the first's.
    Writes ``{"res", "seen", "ws"}`` as JSON to ``out``."""
    from hardware.jackrig import rig_server_name, start_rig, stop_rig

    server = rig_server_name()
    st = start_rig(ir_path, fs=RIG_FS, period=RIG_PERIOD)   # the module rig's room (its IR file)
    try:
        res, seen, ws = _drift_run(st, Path(out).parent, server)
    finally:
        stop_rig(server)
    Path(out).write_text(json.dumps({"res": res, "seen": seen, "ws": str(ws)}))


def _drift_in_child(rig, tmp_path: Path):
    """Runs :func:`_drift_child` (a second rig next to ``rig``, in the same rig folder) and
    returns its (final JSON, statuses seen, workspace); stops that rig whatever happened."""
    env = dict(os.environ, ROOMTRUTH_RIG_SERVER=f"{rig.server}-b", PYTHONPATH=os.pathsep.join(
        [str(HERE), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "drift.json"
    code = f"import test_watch_rig as m; m._drift_child({str(out)!r}, {rig.ir_path!r})"
    try:
        p = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, env=env, capture_output=True,
                           timeout=420)
        assert p.returncode == 0 and out.exists(), p.stderr.decode(errors="replace")[-3000:]
    finally:
        subprocess.run([sys.executable, "-m", "roomtruth", "rig", "stop"], cwd=HERE.parent, env=env,
                       capture_output=True, timeout=60)          # nothing to do when the child stopped it
    doc = json.loads(out.read_text())
    return doc["res"], doc["seen"], Path(doc["ws"])


@pytest.fixture(scope="module")
def live_runs(rig, tmp_path_factory, request):  # noqa: F811
    """The module's two live runs, started together: each waits in real time (start-up, the
    watch's acquisition and judgements, the pause, the sweep), so they play at the same time,
    the unchanged room on the module's rig and the drift on a second rig of its own (another
    JACK server, driven from another process: each room hears only its own monitor).  The
    drift run starts only when its test was selected (it is marked slow).  Yields
    {"unchanged": _Background or None, "drift": _Background or None}."""
    wanted = {item.name for item in request.session.items if item.module is request.module}
    runs: dict[str, _Background | None] = {"unchanged": None, "drift": None}
    try:
        if "test_a_drift_is_reported_live_and_confirmed_by_a_sweep_at_the_pause" in wanted:
            drift_dir = tmp_path_factory.mktemp("drift")
            runs["drift"] = _Background(lambda: _drift_in_child(rig, drift_dir))
            # the drift run is the longer one: the other starts once its monitor is up (its
            # status file), so the two monitors' start-ups (CPU-bound) do not slow each other
            deadline = time.monotonic() + 60.0
            while (not (drift_dir / "runtime" / "monitor-live.json").exists() and not runs["drift"].done
                   and time.monotonic() < deadline):
                time.sleep(0.25)
        if "test_monitor_run_on_the_rig_judges_the_room_from_programme" in wanted:
            runs["unchanged"] = _Background(lambda: _unchanged_run(rig, tmp_path_factory.mktemp("unchanged")))
        yield runs
    finally:
        for run in runs.values():
            if run is not None:
                run._thread.join()          # each run ends by itself (its --duration, then a kill)


@pytest.mark.jack
def test_monitor_run_on_the_rig_judges_the_room_from_programme(live_runs):
    res, seen, ports = live_runs["unchanged"].result()
    wall_s = live_runs["unchanged"].wall_s
    # the rig routed the mic to input 3, nothing else into the programme inputs but the player
    assert ports["mic"].endswith(":in_2")
    assert res["stopped_by"] == "terminate", json.dumps({k: v for k, v in res["watch"].items() if k != "result"})
    w = res["watch"]
    r = w["result"]
    assert w["state"] == "watching", (w, wall_s)
    assert r["verdict"] == "pass" and not [e for e in r["events"] if e["verdict"] != "pass"], r["events"]
    assert w["speakers"] == {"L": "OK", "R": "OK"}
    assert r["meta"]["evaluations"] >= 2
    # the rig's mic chain is the baseline's: the gain locked near 0 dB (the lock is the median
    # of L and R; the song and the correction's PEQ make no level change)
    assert abs(r["meta"]["gain_offset_db"]) < 0.3
    for spk in ("L", "R"):
        assert r["coverage"][spk]["seconds_usable"] > 10.0
        assert r["coverage"][spk]["bands_hz"], r["coverage"]
    # the status file carried the judged watch while it ran
    assert any(s.get("state") == "watching" and s.get("speakers") == {"L": "OK", "R": "OK"} for s in seen)
    assert w["skipped_samples"] == 0 and not w["errors"]


@pytest.mark.jack
@pytest.mark.slow
def test_a_drift_is_reported_live_and_confirmed_by_a_sweep_at_the_pause(live_runs):
    """The room plays L 2 dB louder than the profile's baseline (its baseline L is the rig's L
    at -2 dB), R unchanged; the mic's gain is known (``--watch-gain-db 0``: the rig's mic chain
    is the baseline's), so the drift present from the start is judged absolutely.  With
    ``--room`` and ``--confirm-with-sweep`` the programme's pause (the player stops once the
    drift is in the status file) runs ``roomtruth verify`` on the rig: its sweep verification
    lands in the room's history beside the watch's entries.  About 80 s (marked slow); it plays
    on a second rig while the unchanged room's run plays on the first (:func:`live_runs`)."""
    from monitor.history import History

    (res, seen, ws) = live_runs["drift"].result()
    w = res["watch"]
    r = w["result"]
    assert res["stopped_by"] == "terminate", json.dumps({k: v for k, v in w.items() if k != "result"})
    fails = [e for e in r["events"] if e["verdict"] == "fail"]
    assert r["verdict"] == "fail" and {e["speaker"] for e in r["events"]} == {"L"}, r["events"]
    lvl = [e for e in fails if e["check"] == "level"]
    # +2 dB exactly in the room (a scaled IR): the programme estimate within 0.2 dB (random
    # error of 30 s of averages plus the model term, as in the offline tests)
    assert lvl and lvl[0]["value"] == pytest.approx(2.0, abs=0.2), fails
    assert w["speakers"]["L"].startswith("drift L +2.") and w["speakers"]["R"] == "OK"
    assert r["meta"]["gain_offset_db"] == 0.0
    assert any(s.get("speakers", {}).get("L", "").startswith("drift L") for s in seen)   # in the status file
    # the sweep at the pause: verify's own verdict on the rig (a sweep: +2.00 dB within its 0.1 dB)
    sw = w["sweeps"]
    assert len(sw) == 1 and sw[0]["state"] == "fail" and sw[0]["exit_code"] == 3, sw
    assert "L level changed by +2.0" in sw[0]["message"] and sw[0]["reason"].startswith("L level changed")
    with History(ws / "history.sqlite", readonly=True) as h:
        rows = h.verifications()
    by_source = {}
    for row in rows:
        by_source.setdefault((row.meta or {}).get("source", ""), []).append(row)
    sweeps = [row for src, rs in by_source.items() if src != "programme" for row in rs]
    assert len(sweeps) == 1 and sweeps[0].verdict == "fail" and sweeps[0].measurement_id == sw[0]["measurement_id"]
    assert by_source["programme"] and all(row.verdict == "fail" for row in by_source["programme"])


@pytest.mark.jack
def test_rig_routes_the_mic_to_the_watch_input_and_leaves_programme_inputs_free(rig):  # noqa: F811
    from calib.errors import ConfigError
    from hardware.portaudio import jack_client_name
    from hardware.rig_backend import RigBackend

    b = RigBackend(routing="room", loopback="none", mic_input=2)
    pa = jack_client_name()
    assert b.mic_input == 2 and b.loopback_input is None
    assert b.connections(n_inputs=3, n_outputs=2) == [
        (f"{pa}:out_0", "roomtruth-room:spk1"), (f"{pa}:out_1", "roomtruth-room:spk2"),
        ("roomtruth-room:mic", f"{pa}:in_2")]          # inputs 0 and 1: nothing from the rig
    with pytest.raises(ConfigError, match="the loopback reference does"):
        RigBackend(routing="room", mic_input=1)           # input 2 is the loopback by default


@pytest.mark.jack
def test_watch_mic_on_a_programme_input_is_refused(tmp_path, rig, run_cli):  # noqa: F811
    prof = _rig_profile(rig, tmp_path)
    code, _, err = run_cli("monitor", "run", prof, "--input", "rig", "--output", "rig", "--watch-mic", "1",
                           "--duration", "1")
    assert code == 2 and "--watch-mic 1 is one of the programme inputs (1..2)" in err


from rig_fixture import rig  # noqa: E402,F401  (pytest finds the fixture by name)
