"""`roomtruth watch`: the JSON contract, exit codes, error paths and the history entry."""

from __future__ import annotations

import json

import numpy as np
import pytest

import watch_synth as W

FS = 16_000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from calib.audio_io import write_wav_atomic
    from mixes.songs import make_song

    d = tmp_path_factory.mktemp("watchcli")
    room = W.stereo_room(fs=FS, rt60_s=0.25, seed=5, mode_hz=None)
    prof = W.profile_for(room, fs=FS)
    prof.save(d / "prof")
    song = make_song(21, duration_s=45.0, fs=FS).mix()
    write_wav_atomic(d / "prog.wav", song, fs=FS)
    write_wav_atomic(d / "prog44.wav", song, fs=44_100)      # the wrong rate for the profile
    write_wav_atomic(d / "short.wav", song[:, : 10 * FS], fs=FS)
    write_wav_atomic(d / "room.wav", room, fs=FS)
    return d


def test_unchanged_room_passes_with_the_json_contract(files, run_cli):
    code, out, err = run_cli("watch", "--profile", files / "prof", "--programme", files / "prog.wav", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "pass" and doc["events"] == []
    assert set(doc) == {"verdict", "events", "coverage", "meta"}
    for spk in ("L", "R"):
        assert set(doc["coverage"][spk]) >= {"bands_hz", "seconds_usable"}
        assert doc["coverage"][spk]["seconds_usable"] > 30
    assert doc["meta"]["source"] == "programme"
    assert doc["meta"]["room"] == "the profile's baseline room"


def test_drift_fails_on_the_drifted_speaker_exit_3(files, run_cli):
    code, out, _ = run_cli("watch", "--profile", files / "prof", "--programme", files / "prog.wav",
                           "--simulate-ir", files / "room.wav", "--drift-at", "3", "--drift", "level:R:-3",
                           "--noise-db", "-60", "--json")
    assert code == 3
    doc = json.loads(out)
    assert doc["verdict"] == "fail"
    ev = [e for e in doc["events"] if e["verdict"] == "fail"]
    assert ev and {e["speaker"] for e in ev} == {"R"}
    first = ev[0]
    assert set(first) >= {"time_s", "speaker", "check", "band_hz", "value", "uncertainty", "verdict", "message"}
    lvl = [e for e in ev if e["check"] == "level"][0]
    assert lvl["value"] == pytest.approx(-3.0, abs=0.3) and "R level changed by" in lvl["message"]
    assert doc["meta"]["message"].startswith("room changed: ")


def test_a_later_arrival_is_reported_on_that_speaker(files, run_cli):
    """delay:L:0.2 (200 us later, 4x the 50 us limit): an arrival fail on L of +0.2 ms."""
    code, out, _ = run_cli("watch", "--profile", files / "prof", "--programme", files / "prog.wav",
                           "--simulate-ir", files / "room.wav", "--drift-at", "3", "--drift", "delay:L:0.2", "--json")
    assert code == 3
    doc = json.loads(out)
    arr = [e for e in doc["events"] if e["check"] == "arrival" and e["verdict"] == "fail"]
    assert [e["speaker"] for e in arr] == ["L"]
    assert arr[0]["value"] == pytest.approx(0.2, abs=0.01)      # ms
    assert not [e for e in doc["events"] if e["speaker"] == "R" and e["verdict"] != "pass"]


def test_history_entry_is_marked_as_from_programme(files, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")      # the table is not wrapped
    db = tmp_path / "h.sqlite"
    code, _, _ = run_cli("watch", "--profile", files / "prof", "--programme", files / "prog.wav", "--drift-at", "3",
                         "--drift", "polarity:L", "--history", db, "--json")
    assert code == 3
    code, out, _ = run_cli("history", "--db", db, "--json")
    rows = json.loads(out)["verifications"]
    assert len(rows) == 1 and rows[0]["meta"]["source"] == "programme"
    assert rows[0]["measurement_id"].startswith("watch-") and rows[0]["message"].startswith("from programme: ")
    code, out, _ = run_cli("history", "--db", db)
    assert "from programme" in out
    # beside a sweep verification, the trends keep the two apart
    from calib.verification_types import CheckResult
    from monitor.history import History

    with History(db) as h:
        h.add_verification(profile_name="watch-test", profile_hash="x" * 64, verdict="pass",
                           checks=[CheckResult("level", "L", 0.1, 0.4, "dB", "pass", 0.05)], time_utc="2026-12-07T08:00:00Z")
        assert [p.value for p in h.series("level", channel="L", source="sweep")] == [0.1]
        prog = h.series("level", channel="L", source="programme")
        assert len(prog) == 1 and prog[0].verdict in ("pass", "warn", "fail")
        assert len(h.series("level", channel="L")) == 2


@pytest.mark.parametrize("args, match", [
    (("--drift", "level:L:+1"), "--drift needs --drift-at"),
    (("--drift-at", "5"), "--drift-at needs at least one --drift"),
    (("--drift-at", "500", "--drift", "level:L:1"), "beyond the programme's end"),
    (("--drift-at", "5", "--drift", "level:X:1"), "names speaker 'X'"),
    (("--drift-at", "5", "--drift", "wobble:L"), "is not understood"),
])
def test_bad_drift_options(files, run_cli, args, match):
    code, out, err = run_cli("watch", "--profile", files / "prof", "--programme", files / "prog.wav", *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and match in err and "Traceback" not in err


def test_bad_inputs(files, run_cli, tmp_path):
    code, _, err = run_cli("watch", "--profile", files / "prof", "--programme", files / "prog44.wav")
    assert code == 2 and "44100 Hz" in err and "16000 Hz" in err
    code, _, err = run_cli("watch", "--profile", files / "prof", "--programme", files / "short.wav")
    assert code == 2 and "at least 30 s" in err
    code, _, err = run_cli("watch", "--profile", tmp_path / "nothing", "--programme", files / "prog.wav")
    assert code == 2 and "not found" in err
    code, _, err = run_cli("watch", "--profile", files / "prof", "--programme", tmp_path / "missing.wav")
    assert code == 2 and err.startswith("error: ")
