"""``roomtruth verify`` proves the filters a live ``roomtruth monitor run`` plays *now*.

A running ``monitor run`` publishes its state to a status file
(:func:`roomtruth.monitor_live.publish_status`); verify reads it when it measures the room
(not in a rehearsal) and judges the live ``running_hash`` against the certified profile's
``content_hash``.  Here the status file is written by ``publish_status`` itself, from this
test process (so its pid is alive), into a private ``ROOMTRUTH_RUNTIME_DIR``; the room is the
workspace's simulated interface.  One jack test runs a real ``monitor run`` on the rig.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from calib.profile import CalibrationProfile, SpeakerCorrection
from roomtruth.monitor_live import publish_status, read_live_status, status_path

pytest.importorskip("hardware.simulated")
FAST = ("--repeats", "2", "--sweep-s", "1")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reference():
    """The simulated interface's room, measured once (the profiles' baseline)."""
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    return _measure_repeats(SimulatedRoom(None, noise_db=-80.0, seed=11), [("L", 0), ("R", 1)], fs=48_000,
                            sweep_s=1.0, repeats=1, ir_length_s=0.5, level_dbfs=-12.0)[0]


@pytest.fixture
def ws(tmp_path, reference, monkeypatch):
    """A workspace (room.toml: the simulated interface) with profile ``main`` active, a second
    profile ``other``, and a private runtime folder for the status file."""
    cfgmod = pytest.importorskip("roomtruth.config")
    monkeypatch.setenv("ROOMTRUTH_RUNTIME_DIR", str(tmp_path / "runtime"))
    w = tmp_path / "ws"
    w.mkdir()
    (w / "room.toml").write_text(cfgmod.room_template())
    main = CalibrationProfile(name="main", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1)),
                              reference=reference)
    other = CalibrationProfile(name="other", preamp_db=-3.0, speakers=main.speakers, reference=reference)
    main.save(w / "profiles" / "main")
    other.save(w / "profiles" / "other")
    (w / "profiles" / "active").write_text("main\n")
    assert main.content_hash() != other.content_hash()
    return w, main.content_hash(), other.content_hash()


def live_snapshot(active: str, slots: dict) -> dict:
    """The status snapshot a `monitor run` publishes (the fields publish_status reads)."""
    running = "bypass" if active == "bypass" else slots[active]
    return {"engine": {"running_hash": running, "active": active, "in_transition": False,
                       "slots": {k: (None if v is None else {"content_hash": v}) for k, v in slots.items()}},
            "callbacks": 1000, "xruns": 0, "xruns_processing": 0, "dsp_load": 0.05}


def verify_json(run_cli, w: Path, *extra) -> tuple[int, dict, str]:
    code, out, err = run_cli("verify", "--room", w, "--json", *FAST, *extra)
    assert code in (0, 3), err
    return code, json.loads(out), err


def monitor_hash_check(doc: dict) -> dict:
    return next(c for c in doc["checks"] if c["name"] == "monitor_hash")


def test_live_run_of_the_certified_profile_passes(run_cli, ws):
    w, h_main, h_other = ws
    publish_status(live_snapshot("A", {"A": h_main, "B": h_other, "bypass": None}), profile_dir=str(w / "profiles" / "main"))
    code, doc, _ = verify_json(run_cli, w)
    assert code == 0 and doc["verdict"] == "pass", [(c["name"], c["message"]) for c in doc["checks"] if c["verdict"] == "fail"]
    assert doc["meta"]["monitor_source"] == f"live monitor run, pid {os.getpid()}"
    assert monitor_hash_check(doc)["verdict"] == "pass"
    assert doc["meta"]["monitor_live"]["running_hash"] == h_main
    assert "plays the certified profile now" in doc["meta"]["monitor_live"]["note"]


def test_live_run_in_bypass_fails_in_plain_words(run_cli, ws):
    w, h_main, h_other = ws
    publish_status(live_snapshot("bypass", {"A": h_main, "B": None, "bypass": None}),
                   profile_dir=str(w / "profiles" / "main"))
    code, doc, _ = verify_json(run_cli, w)
    assert code == 3 and doc["verdict"] == "fail"
    chk = monitor_hash_check(doc)
    assert chk["verdict"] == "fail" and chk["value"] == 0.0
    assert "bypass" in chk["message"]
    # the room itself is unchanged: only the monitor path fails
    assert [c["name"] for c in doc["checks"] if c["verdict"] == "fail"] == ["monitor_hash"]
    # the human output says what is wrong and what to do
    # (its own history: two verifications of one workspace within a second share an id)
    code, out, err = run_cli("verify", "--room", w, *FAST, "--history", w / "h2.sqlite")
    assert code == 3, err
    flat = " ".join(out.split())
    assert f"the live 'roomtruth monitor run' (pid {os.getpid()}) is in bypass" in flat
    assert "the speakers get no correction at all" in flat


def test_live_run_playing_another_profile_fails(run_cli, ws):
    w, h_main, h_other = ws
    # slot A holds the certified profile, but the user switched to slot B
    publish_status(live_snapshot("B", {"A": h_main, "B": h_other, "bypass": None}),
                   profile_dir=str(w / "profiles" / "main"))
    code, doc, _ = verify_json(run_cli, w)
    assert code == 3 and monitor_hash_check(doc)["verdict"] == "fail"
    note = doc["meta"]["monitor_live"]["note"]
    assert f"plays slot B whose filters ({h_other[:12]}) are not the certified profile ({h_main[:12]})" in note
    assert "press 'a'" in note
    # a monitor run started from another folder altogether
    publish_status(live_snapshot("A", {"A": h_other, "B": None, "bypass": None}),
                   profile_dir=str(w / "profiles" / "other"))
    code, doc, _ = verify_json(run_cli, w, "--history", w / "h2.sqlite")
    assert code == 3 and monitor_hash_check(doc)["verdict"] == "fail"
    assert f"plays slot A from {w / 'profiles' / 'other'}" in doc["meta"]["monitor_live"]["note"]


def test_no_live_run_stale_file_and_rehearsal_use_the_offline_engine(run_cli, ws):
    w, h_main, _ = ws
    code, doc, _ = verify_json(run_cli, w)                       # no status file at all
    assert code == 0 and doc["meta"]["monitor_source"] == "monitor engine run offline from the profile"
    assert "monitor_live" not in doc["meta"]
    # a status file 6 s old (a run that hung: it refreshes every second) is not "live"
    publish_status(live_snapshot("bypass", {"A": h_main, "B": None, "bypass": None}), profile_dir="x")
    p = status_path()
    d = json.loads(p.read_text())
    d["updated_unix"] = time.time() - 6.0
    p.write_text(json.dumps(d))
    assert read_live_status() is None
    code, doc, _ = verify_json(run_cli, w, "--history", w / "h2.sqlite")
    assert code == 0 and doc["meta"]["monitor_source"].startswith("monitor engine run offline")
    # nor is a fresh file whose process is gone (a crashed run)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    d["updated_unix"] = time.time()
    d["pid"] = dead.pid
    p.write_text(json.dumps(d))
    assert read_live_status() is None
    # a rehearsal measures a simulated room: a live run (here in bypass) is not its path
    publish_status(live_snapshot("bypass", {"A": h_main, "B": None, "bypass": None}), profile_dir="x")
    assert read_live_status() is not None
    code, out, err = run_cli("verify", "--profile", w / "profiles" / "main", "--simulate", "default", "--json", *FAST)
    assert code == 0, err
    assert json.loads(out)["meta"]["monitor_source"].startswith("monitor engine run offline")


@pytest.mark.jack
def test_verify_sees_a_real_monitor_run_in_bypass(run_cli, ws, rig):  # noqa: F811
    """A real `monitor run --bypass` on the rig: verify fails on the live hash; the offline
    engine would have passed."""
    w, h_main, _ = ws
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "roomtruth", "monitor", "run", str(w / "profiles" / "main"),
                             "--input", "rig", "--output", "rig", "--bypass", "--duration", "30"],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30.0
        while read_live_status() is None:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "monitor run never published its status"
            time.sleep(0.1)
        code, doc, _ = verify_json(run_cli, w)
        assert code == 3
        assert doc["meta"]["monitor_source"] == f"live monitor run, pid {proc.pid}"
        assert doc["meta"]["monitor_live"]["running_hash"] == "bypass"
        assert monitor_hash_check(doc)["verdict"] == "fail"
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert read_live_status() is None                           # SIGTERM: stopped and cleaned up


from rig_fixture import rig  # noqa: E402,F401  (pytest finds the fixture by name)
