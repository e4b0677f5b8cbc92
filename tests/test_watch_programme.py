"""The programme watch on six minutes of stereo music in a known room (analytic truth).

Programme: synthetic songs (mixes/songs.py: centred voice, bass and drums, wide pads, reverb;
different keys and tempi) with the real piano recording of ../shared/data among them, 180 s,
then the same again with L and R swapped (6 minutes).  It plays through a profile's PEQ
correction (the monitor engine, offline) into a stereo room of known IRs (tests/watch_synth.py);
at 120 s the room changes by a known amount (verify's --drift specs).  Rate 16 kHz: the method
is the same at every rate, the bands stop at 6.3 kHz.

Expected outcomes are the done-means of issue 13: the drift is reported as a fail on the
drifted speaker, not on the other, by 300 s; unchanged rooms (20 minutes, room noise,
talking, silence) report nothing; a mono programme reports nothing and says which bands it
could not separate.
"""

from __future__ import annotations

import numpy as np
import pytest

import watch_synth as W
from conftest import shared_data
from monitor.verify_parts import apply_drifts, parse_drift
from monitor.watch import Watch
from monitor.watch_rehearsal import render_feeds, room_noise, run_watch, simulate_mic

FS = 16_000
DRIFT_AT_S = 120.0
NOISE_DBFS = -55.0      # room noise at the mic, pink: about 30 dB below the programme at the mic


@pytest.fixture(scope="module")
def rig():
    piano = str(shared_data("pyloudnorm-piano", "piano.wav"))
    room = W.stereo_room(fs=FS)
    prof = W.profile_for(room, fs=FS)
    base = W.programme(FS, 180.0, piano)
    prog = np.concatenate([base, base[::-1]], axis=1)
    feeds = render_feeds(prof, prog, fs=FS)
    return {"room": room, "prof": prof, "prog": prog, "feeds": feeds}


def _watch(rig, feeds, mic, **kw):
    w = Watch(rig["prof"].reference, fs=FS, speakers=("L", "R"), **kw)
    return w, run_watch(w, feeds, mic)


def _drifted(rig, spec: str):
    room = rig["room"]
    return apply_drifts(room, ["L", "R"], [parse_drift(spec)], fs=FS)


def _bad(res, speaker=None, verdicts=("warn", "fail")):
    return [e for e in res["events"] if e["verdict"] in verdicts and (speaker is None or e["speaker"] == speaker)]


@pytest.mark.parametrize("spec, check, band_hz", [
    ("level:L:+1", "level", None),
    ("band:L:1000:+2", "band_deviation", 1000.0),
    ("polarity:L", "polarity", None),
])
def test_drift_of_L_fails_L_not_R_within_three_minutes(rig, spec, check, band_hz):
    feeds = rig["feeds"][:, : 300 * FS]          # the drift must be reported by 300 s: stop there
    mic = simulate_mic(feeds, rig["room"], fs=FS, drifted=_drifted(rig, spec), drift_at_s=DRIFT_AT_S,
                       noise_dbfs=NOISE_DBFS, seed=3)
    w, res = _watch(rig, feeds, mic)
    assert res["verdict"] == "fail"
    fails = [e for e in _bad(res, "L", ("fail",)) if e["check"] == check
             and (band_hz is None or abs(e["band_hz"] - band_hz) / band_hz < 0.03)]
    assert fails, res["events"]
    # reported after the change and by 300 s of programme
    assert DRIFT_AT_S < fails[0]["time_s"] <= 300.0
    # nothing reported before the change, and R never fails
    assert not [e for e in _bad(res) if e["time_s"] <= DRIFT_AT_S]
    assert not _bad(res, "R", ("fail",)), _bad(res, "R")
    assert res["meta"]["message"].startswith("room changed: ")
    if check == "level":
        # the estimate settles on the truth: +1 dB within the uncertainty (+-0.15 dB)
        last = w.last[("level", "L", None)]
        assert abs(last.value - 1.0) < 0.15
        assert abs(w.last[("level", "R", None)].value) < 0.15
    if check == "band_deviation":
        # a one-third-octave peaking +2 dB filter raises its band's power mean by 1.3..2 dB
        assert 1.0 < w.last[("band_deviation", "L", 1000.0)].value < 2.2
        assert w.reported.get(("level", "L", None), "pass") == "pass"
    if check == "polarity":
        assert w.last[("polarity", "L", None)].value < -0.9


def test_unchanged_room_twenty_minutes_with_noise_reports_nothing(rig):
    """At 8 kHz (test time; bands to 3.15 kHz, the level band 250 Hz-3.15 kHz): the same
    programme resampled, a room built at 8 kHz, judged every 10 s (the same averages, half as often)."""
    from scipy.signal import resample_poly

    fs = 8000
    room = W.stereo_room(fs=fs, seed=4)
    prof = W.profile_for(room, fs=fs)
    f = render_feeds(prof, resample_poly(rig["prog"], 1, FS // fs, axis=1), fs=fs)
    # 20 minutes of programme: the six minutes, swapped, quieter, swapped and quieter again
    feeds = np.concatenate([f, f[::-1], 0.5 * f, 0.7 * f[::-1]], axis=1)[:, : 20 * 60 * fs]
    mic = simulate_mic(feeds, room, fs=fs, noise_dbfs=NOISE_DBFS, seed=7)
    w = Watch(prof.reference, fs=fs, speakers=("L", "R"), eval_period_s=10.0)
    res = run_watch(w, feeds, mic)
    assert res["verdict"] == "pass", res["events"]
    assert res["events"] == []
    assert res["meta"]["message"] == "the room plays like its baseline"
    for spk in ("L", "R"):
        cov = res["coverage"][spk]
        assert cov["seconds_usable"] > 19 * 60
        assert len(cov["bands_hz"]) >= 12          # most of 31.5 Hz..3.15 kHz is judged
        assert abs(w.last[("level", spk, None)].value) < 0.1


def test_mono_programme_no_false_drift_and_says_which_bands(rig):
    mono = np.repeat(rig["prog"][:, : 240 * FS].mean(axis=0, keepdims=True), 2, axis=0)
    feeds = render_feeds(rig["prof"], mono, fs=FS)
    # the room does change (L +1 dB): with L = R that cannot be told from the programme
    mic = simulate_mic(feeds, rig["room"], fs=FS, drifted=_drifted(rig, "level:L:+1"), drift_at_s=DRIFT_AT_S,
                       noise_dbfs=NOISE_DBFS, seed=5)
    w, res = _watch(rig, feeds, mic)
    assert res["events"] == [] and res["verdict"] == "pass"
    for spk in ("L", "R"):
        assert res["coverage"][spk]["bands_hz"] == []
        # the profile's PEQs differ per speaker, so the feeds are not bit-identical, yet every
        # band is too coherent to separate
        assert len(res["coverage"][spk]["not_separable_hz"]) >= 20
    assert any("cannot tell the speakers apart" in n for n in res["meta"]["notes"])


def test_talking_silence_and_a_muted_speaker(rig):
    feeds = rig["feeds"][:, : 300 * FS].copy()
    feeds[:, 200 * FS:250 * FS] = 0.0                        # 50 s of silence
    mic = simulate_mic(feeds, rig["room"], fs=FS, noise_dbfs=NOISE_DBFS, seed=11)
    # someone talks near the mic for 40 s: a voice that is not in the feeds
    from mixes.songs import make_song

    voice = make_song(99, duration_s=40.0, fs=FS).stems["voice"][0]
    k0 = 80 * FS
    # someone talking next to the mic is closer than the speakers: 6 dB over the music's level
    # there (at the music's level, no event either, but the coherence drop is too small to be said)
    mic[k0:k0 + voice.size] += 2.0 * voice * (np.std(mic[k0:k0 + voice.size]) / max(np.std(voice), 1e-12))
    w, res = _watch(rig, feeds, mic)
    assert res["events"] == [], res["events"]
    assert any("not in the feeds" in n or "sound at the mic changed" in n for n in res["meta"]["notes"]), res["meta"]["notes"]
    assert any("quiet programme or silence" in n for n in res["meta"]["notes"])
    assert res["coverage"]["L"]["seconds_usable"] < 300 - 45

    # L's amplifier goes off at 120 s
    dead = rig["room"].copy()
    dead[0] = 0.0
    feeds = rig["feeds"][:, : 240 * FS]
    mic = simulate_mic(feeds, rig["room"], fs=FS, drifted=dead, drift_at_s=DRIFT_AT_S, noise_dbfs=NOISE_DBFS)
    w, res = _watch(rig, feeds, mic)
    fails = _bad(res, "L", ("fail",))
    assert fails and "plays nothing at the mic" in fails[0]["message"] and fails[0]["time_s"] <= 240
    assert not _bad(res, "R", ("fail",))
