"""``monitor run --confirm-with-sweep --room``: the sweep verification the watch asked for runs at
the next pause of the programme (roomtruth.watch_run.SweepOnPause), offline: the worker's pause
is counted from real feed blocks through the shared ring; the verify command is a stand-in
process that prints what ``roomtruth verify --json`` prints (or fails like it)."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from monitor.watch_live import WatchRing, WatchTap, WatchWorker
from roomtruth.watch_run import SweepOnPause

FS = 1000


class _Quiet:
    """Stands in for monitor.watch.Watch (the worker reads fs, quiet_power, n_in, events...)."""

    fs = FS
    quiet_power = 1e-6          # -60 dBFS, the watch's default quiet level
    n_in = 0
    delay = None
    n_evals = 0
    notes: list = []
    events: list = []
    current: dict = {}

    def push(self, x, y):
        self.n_in += y.size
        return []

    def speaker_lines(self):
        return {"L": "OK", "R": "OK"}

    def verdict(self):
        return "fail"

    def summary(self):
        return "room changed"


def _feed(tap, seconds: float, level: float, rng) -> None:
    """``seconds`` of programme at RMS ``level`` (0: silence) through the tapped callback."""
    def cb(indata, outdata, frames, status):
        outdata[:frames] = indata[:frames, :2]

    tap.inner = cb
    for _ in range(int(seconds * FS) // 100):
        ind = (level * rng.standard_normal((100, 3))).astype(np.float32)
        tap.callback(ind, np.zeros((100, 2), np.float32), 100, 0)


def _wait(sweeper, worker, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while sweeper.proc is not None and time.monotonic() < deadline:
        sweeper.tick(worker)
        time.sleep(0.05)


@pytest.fixture
def rig_parts(tmp_path):
    ring = WatchRing.create(3, 20 * FS)
    worker = WatchWorker(ring, _Quiet())
    tap = WatchTap(None, ring, mic_input=2, outputs=(0, 1))
    sweeper = SweepOnPause(tmp_path, tmp_path / "prof", pause_s=10.0)
    yield ring, worker, tap, sweeper
    sweeper.close()
    ring.close()


def test_the_verify_command_is_the_schedulers(tmp_path):
    s = SweepOnPause(tmp_path / "room", tmp_path / "prof")
    assert s.argv[1:] == ["-m", "roomtruth", "verify", "--room", str((tmp_path / "room").resolve()),
                          "--profile", str((tmp_path / "prof").resolve()), "--json"]
    assert s.argv[0] == sys.executable


def test_sweep_runs_at_the_next_pause_and_answers_the_request(rig_parts):
    ring, worker, tap, sweeper = rig_parts
    rng = np.random.default_rng(1)
    sweeper.argv = [sys.executable, "-c", "import json; print(json.dumps({'verdict': 'fail', 'message': "
                    "'room changed: L level changed by +2.01 dB', 'measurement_id': 'verify-x'}))"]
    _feed(tap, 30.0, 0.05, rng)                     # programme at -26 dBFS
    worker.step()
    worker.sweep_requested = "room changed: L level changed by +2.0 dB (from programme)"   # as a fail sets it
    sweeper.tick(worker)
    assert sweeper.proc is None and worker.pause_s == 0.0      # no sweep while programme plays
    _feed(tap, 6.0, 0.0002, rng)                   # -74 dBFS: below the watch's -60 dBFS quiet level
    worker.step()
    sweeper.tick(worker)
    assert sweeper.proc is None and worker.pause_s == pytest.approx(6.0, abs=0.11)   # not long enough yet
    _feed(tap, 4.5, 0.0, rng)                      # digital silence: 10.5 s of pause
    worker.step()
    sweeper.tick(worker)
    assert sweeper.proc is not None and sweeper.status()["state"] == "running"
    _wait(sweeper, worker)
    st = sweeper.status()
    assert st["state"] == "fail" and st["message"].startswith("room changed: L level") and st["exit_code"] == 0
    assert st["reason"].endswith("(from programme)") and st["measurement_id"] == "verify-x"
    assert worker.sweep_requested is None                      # answered; a new drift may ask again
    _feed(tap, 20.0, 0.0, rng)                     # the pause goes on: nothing more runs
    worker.step()
    sweeper.tick(worker)
    assert sweeper.proc is None and len(sweeper.runs) == 1


def test_programme_coming_back_stops_the_sweep_and_a_failed_verify_is_said(rig_parts):
    ring, worker, tap, sweeper = rig_parts
    rng = np.random.default_rng(2)
    sweeper.argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    worker.sweep_requested = "room changed: R polarity inverted (from programme)"
    _feed(tap, 11.0, 0.0, rng)
    worker.step()
    sweeper.tick(worker)
    assert sweeper.proc is not None
    _feed(tap, 0.5, 0.05, rng)                     # play pressed during the sweep
    worker.step()
    sweeper.tick(worker)
    st = sweeper.status()
    assert sweeper.proc is None and st["state"] == "stopped" and "programme came back" in st["message"]
    assert worker.sweep_requested is not None                  # still wanted: at the next pause
    # the next pause: verify fails the way the CLI does (one line on stderr, exit 2); not retried
    # within the same pause
    sweeper.argv = [sys.executable, "-c", "import sys; sys.stderr.write('error: the audio device is busy\\n'); "
                    "sys.exit(2)"]
    _feed(tap, 11.0, 0.0, rng)
    worker.step()
    sweeper.tick(worker)
    _wait(sweeper, worker)
    st = sweeper.status()
    assert st["state"] == "error" and st["exit_code"] == 2 and st["message"] == "error: the audio device is busy"
    _feed(tap, 5.0, 0.0, rng)
    worker.step()
    sweeper.tick(worker)
    assert sweeper.proc is None and len(sweeper.runs) == 2


def test_watch_gain_and_sweep_options_are_checked(tmp_path, run_cli):
    import watch_synth as W

    W.profile_for(W.stereo_room(fs=8000, rt60_s=0.1, mode_hz=None), fs=8000).save(tmp_path / "p")
    code, _, err = run_cli("monitor", "run", tmp_path / "p", "--watch-gain-db", "0", "--duration", "1")
    assert code == 2 and "--watch-gain-db needs a watch mic" in err
    for bad in ("nan", "99"):
        code, _, err = run_cli("monitor", "run", tmp_path / "p", "--watch-mic", "3", "--watch-gain-db", bad,
                               "--duration", "1")
        assert code == 2 and f"--watch-gain-db {float(bad)} must be a gain in dB between -60 and +60" in err, err


def test_room_toml_names_the_watch_mic_and_its_gain(tmp_path):
    import roomtruth.config as cfgmod
    import watch_synth as W
    from calib.errors import ConfigError
    from roomtruth.watch_run import live_watch_for

    prof = W.profile_for(W.stereo_room(fs=8000, rt60_s=0.1, mode_hz=None), fs=8000)
    room = tmp_path / "room"
    room.mkdir()
    text = cfgmod.room_template(device="rig", fs=8000).replace("[interface]\n", "[interface]\nwatch_mic = 3\nwatch_gain_db = -1.5\n", 1)
    (room / "room.toml").write_text(text)
    lw = live_watch_for(prof, fs=8000, watch_mic=None, room=room, confirm_with_sweep=True, profile_dir=tmp_path / "p")
    try:
        assert lw.mic_index == 2 and lw.watch.gain_offset_db == -1.5       # judged absolutely
        assert lw.sweeper is not None and lw.sweeper.argv[-5:] == ["--room", str(room.resolve()), "--profile",
                                                                    str((tmp_path / "p").resolve()), "--json"]
    finally:
        lw.ring.close()
    lw = live_watch_for(prof, fs=8000, watch_mic=4, room=room, confirm_with_sweep=False, watch_gain_db=0.0)
    try:   # the command line wins over room.toml; no sweeper without --confirm-with-sweep
        assert lw.mic_index == 3 and lw.watch.gain_offset_db == 0.0 and lw.sweeper is None
    finally:
        lw.ring.close()
    (room / "room.toml").write_text(text.replace("watch_gain_db = -1.5", "watch_gain_db = 99"))
    with pytest.raises(ConfigError, match="watch_gain_db"):
        live_watch_for(prof, fs=8000, watch_mic=None, room=room, confirm_with_sweep=False)


def test_a_drift_older_than_the_live_lock_is_said_and_a_known_gain_places_it():
    """Live mode (mic gain unknown) on a room whose L already plays +2 dB against the baseline:
    the lock takes the median, so L reads about +1 dB and R about -1 dB, and a note says the
    levels already differed at the lock; with the gain known (0 dB) L reads +2 dB and R 0.
    White noise feeds (independent L/R) at 8 kHz: the estimate converges in seconds."""
    import watch_synth as W
    from monitor.watch import Watch
    from monitor.watch_rehearsal import simulate_mic

    fs = 8000
    room = W.stereo_room(fs=fs, rt60_s=0.15, mode_hz=None, seed=4)
    prof = W.profile_for(room, fs=fs)
    rng = np.random.default_rng(5)
    x = 0.05 * rng.standard_normal((2, 45 * fs))
    played = room.copy()
    played[0] *= 10 ** (2.0 / 20)
    lat = 300
    mic = simulate_mic(x, played, fs=fs, drifted=None, drift_at_s=None, noise_dbfs=-70.0)
    mic = np.concatenate([np.zeros(lat), mic[:-lat]])
    levels = {}
    for gain in (None, 0.0):
        w = Watch(prof.reference, fs=fs, speakers=("L", "R"), latency_samples=None if gain is None else lat,
                  gain_offset_db=gain)
        for s in range(0, x.shape[1], fs):
            w.push(x[:, s:s + fs], mic[s:s + fs])
        lv = {e.speaker: e.value for e in w.events if e.check == "level" and e.verdict == "fail"}
        levels[gain] = (lv, list(w.notes))
    lv, notes = levels[None]
    # half the 2 dB each way (the median of two), within the estimate's 0.2 dB
    assert lv["L"] == pytest.approx(1.0, abs=0.2) and lv["R"] == pytest.approx(-1.0, abs=0.2), lv
    assert any("already differed by 2.0 dB" in n for n in notes), notes
    lv, notes = levels[0.0]
    assert set(lv) == {"L"} and lv["L"] == pytest.approx(2.0, abs=0.2), lv
    assert not any("already differed" in n for n in notes)


def test_the_live_line_says_the_sweep():
    from monitor.watch_live import view_line

    st = {"state": "watching", "speakers": {"L": "drift L +2.0 dB", "R": "OK"}, "since_unix": {}}
    assert view_line({**st, "sweep_requested": "L level"}).endswith("; a sweep verification is wanted at the next pause")
    assert view_line({**st, "sweep_requested": "L level", "sweep": {"state": "running"}}).endswith(
        "; sweep verification running (the pause)")
    assert view_line({**st, "sweep": {"state": "fail"}}).endswith("; sweep verification at the pause: fail")
    assert view_line(st) == "watching: drift L +2.0 dB, R OK"
