"""Findings in plain language: the right sentences for rooms with known problems (a mode, a
reflection, a late speaker), and nothing alarming for a room without them.

The rooms are built directly as analysis results with known content (the JSON contract of
``RoomAnalysis.to_dict()``) plus impulse responses with exactly known arrival times, so
every number in a sentence can be checked against the truth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse
from reports.findings import (ATTENTION, GOOD, NOTE, FindingThresholds, describe_mode, rayleigh_modes,
                              room_findings, speed_of_sound_m_s, surface_action)

FS = 48_000
DIMS = (5.2, 3.65, 2.6)


def _ir(delays_ms=(2.0, 2.0), gains=(1.0, 1.0), names=("L", "R"), n=4800):
    """Unit impulses at exactly known (integer-sample) arrivals."""
    x = np.zeros((len(names), n))
    arrivals = []
    for i, (d, g) in enumerate(zip(delays_ms, gains)):
        k = int(round(d * FS / 1000))
        x[i, k] = g
        arrivals.append(float(k))
    return ImpulseResponse(x, FS, names, arrival_samples=tuple(arrivals))


def _profile(peq=(), delay_l_s=0.0, trims=(0.0, 0.0)):
    return CalibrationProfile("p", (SpeakerCorrection("L", 0, trim_db=trims[0], delay_s=delay_l_s, peq=tuple(peq)),
                                    SpeakerCorrection("R", 1, trim_db=trims[1], peq=tuple(peq))))


def _clean_analysis():
    return {"modes": [{"freq_hz": 66.0, "level_db": 2.0, "q": 5.0, "t60_s": 0.3, "channel": "L"}],
            "reflections": [{"delay_ms": 4.0, "level_db": -16.0, "path_m": 1.37, "surface": "floor", "channel": "L"}],
            "noise": {"bands_hz": [63.0, 125.0], "level_db": [30.0, 20.0], "nr": 8.0},
            "compliance": [{"check": "reverberation_time", "value": 0.25, "limit": [0.2, 0.3], "passed": True}]}


# ------------------------------------------------------------------- physics helpers
def test_rayleigh_first_modes_are_c_over_2l():
    c = speed_of_sound_m_s(20.0)
    assert c == pytest.approx(343.21, abs=0.01)  # 331.3*sqrt(1+20/273.15), STANDARDS.md quick table
    modes = rayleigh_modes(DIMS, max_hz=80.0)
    axial = {m["indices"]: m["freq_hz"] for m in modes if m["kind"] == "axial"}
    # exact formula f = c/(2L); 1e-9 Hz: pure arithmetic
    assert axial[(1, 0, 0)] == pytest.approx(c / (2 * 5.2), abs=1e-9)
    assert axial[(0, 1, 0)] == pytest.approx(c / (2 * 3.65), abs=1e-9)
    assert axial[(0, 0, 1)] == pytest.approx(c / (2 * 2.6), abs=1e-9)
    tangential = [m for m in modes if m["indices"] == (1, 1, 0)][0]
    assert tangential["freq_hz"] == pytest.approx(0.5 * c * math.hypot(1 / 5.2, 1 / 3.65), abs=1e-9)
    assert [m["freq_hz"] for m in modes] == sorted(m["freq_hz"] for m in modes)


def test_describe_mode_names_the_walls():
    what, treat = describe_mode((0, 1, 0), DIMS)
    assert what == "the first width mode of the room (side walls 3.65 m apart)"
    assert "bass trapping at the side walls, in the corners" in treat
    what, _ = describe_mode((2, 0, 0), DIMS)
    assert what.startswith("the second length mode") and "5.20 m" in what
    what, _ = describe_mode((1, 1, 0), DIMS)
    assert what == "a tangential mode (1,1,0) between the front and back walls and the side walls"
    what, _ = describe_mode((1, 1, 1), DIMS)
    assert what == "an oblique mode (1,1,1) involving all six room surfaces"


@pytest.mark.parametrize("surface, words", [("desk", "desk"), ("floor", "rug"), ("ceiling", "cloud"),
                                            ("left wall", "mirror"), ("front wall", "front wall"),
                                            ("rear wall", "back wall"), (None, "mirror")])
def test_surface_actions(surface, words):
    assert words in surface_action(surface)


# ------------------------------------------------------------------- known problems
def test_known_mode_sentence_and_eq_applied():
    c = speed_of_sound_m_s()
    f_width = c / (2 * 3.65)  # 47.0 Hz
    a = {"modes": [{"freq_hz": f_width, "level_db": 7.0, "q": 8.0, "t60_s": 0.6, "channel": "L"}], "reflections": []}
    prof = _profile(peq=[Biquad("peaking", 47.0, -7.0, 8.0)])
    out = room_findings(a, dims_m=DIMS, profile=prof)
    top = out[0]
    assert top.category == "mode" and top.level == ATTENTION
    assert top.sentence == "A 7 dB peak at 47 Hz — the first width mode of the room (side walls 3.65 m apart)."
    assert "an EQ cut of 7.0 dB at 47 Hz is applied" in top.action
    assert "Bass trapping at the side walls, in the corners" in top.action
    assert "rings for 0.60 s" in top.evidence
    # without a cut in the profile it says so; without a profile it proposes one
    assert "no EQ cut is applied to it yet" in room_findings(a, dims_m=DIMS, profile=_profile())[0].action
    assert "an EQ cut would tame it" in room_findings(a, dims_m=DIMS)[0].action


def test_mode_uses_the_analysis_match_when_given():
    a = {"modes": [{"freq_hz": 66.2, "level_db": 5.0, "predicted": {"freq_hz": 66.0, "indices": [0, 0, 1],
                                                                    "kind": "axial"}}]}
    f = room_findings(a, dims_m=DIMS)[0]
    assert f.level == NOTE  # 5 dB: above the 3 dB note line, below the 6 dB attention line
    assert "the first height mode of the room (floor and ceiling 2.60 m apart)" in f.sentence


def test_peak_above_the_schroeder_frequency_is_not_named_a_mode():
    a = {"schroeder_hz": 150.0, "modes": [{"freq_hz": 180.0, "level_db": 8.0}, {"freq_hz": 47.0, "level_db": 8.0}]}
    out = {f.sentence: f for f in room_findings(a, dims_m=DIMS) if f.category == "mode"}
    hi = out["A 8 dB peak at 180 Hz, above the room's Schroeder frequency (150 Hz)."]
    assert hi.level == NOTE and "statistical peak" in hi.evidence
    assert any(s.startswith("A 8 dB peak at 47 Hz — the first width mode") for s in out)


def test_unexplained_mode_says_so():
    a = {"modes": [{"freq_hz": 52.0, "level_db": 8.0}]}  # nearest predicted is 47/57 Hz: > 4 % away
    f = room_findings(a, dims_m=DIMS)[0]
    assert f.sentence == "A 8 dB peak at 52 Hz that the room's dimensions do not explain (speaker placement or a coupled space)."


def test_same_mode_in_both_channels_is_one_finding():
    a = {"modes": [{"freq_hz": 47.0, "level_db": 6.5, "channel": "L"}, {"freq_hz": 47.3, "level_db": 7.2, "channel": "R"}]}
    modes = [f for f in room_findings(a, dims_m=DIMS) if f.category == "mode"]
    assert len(modes) == 1
    assert modes[0].sentence.startswith("A 7 dB peak at 47 Hz")
    assert "(R and L)" in modes[0].evidence


def test_known_reflection_sentence():
    a = {"modes": [], "reflections": [{"delay_ms": 2.1, "level_db": -6.0, "path_m": 0.72, "surface": "desk",
                                       "channel": "L"}]}
    f = room_findings(a)[0]
    assert f.category == "reflection" and f.level == ATTENTION
    assert f.sentence == "An early reflection at 2.1 ms, \u22126 dB: likely the desk."
    assert "louder than the Tech 3276 limit (\u221210 dB within 15 ms)" in f.evidence
    assert "EQ cannot remove a reflection" in f.action


def test_unattributed_short_path_reflection_is_probably_the_desk():
    # 2.0 ms -> 0.69 m extra path: something next to the speaker
    f = room_findings({"reflections": [{"delay_ms": 2.0, "level_db": -7.0}]})[0]
    assert f.sentence == "An early reflection at 2.0 ms, \u22127 dB: likely the desk or something close to the speaker."


def test_reflections_below_criterion_and_late_ones_are_not_alarming():
    a = {"reflections": [{"delay_ms": 5.0, "level_db": -12.0, "surface": "left wall"},   # within 5 dB: note
                         {"delay_ms": 20.0, "level_db": -3.0, "surface": "rear wall"},   # after 15 ms: not judged
                         {"delay_ms": 6.0, "level_db": -18.0, "surface": "ceiling"}]}    # far below: silent
    out = room_findings(a)
    refl = [f for f in out if f.category == "reflection"]
    assert [f.level for f in refl] == [NOTE]
    assert "left wall" in refl[0].sentence
    assert out[-1].level == GOOD


def test_late_speaker_sentence_and_distance():
    ir = _ir(delays_ms=(2.3, 2.0))  # L 0.3 ms late (exact: 14.4 -> 14 samples? use whole samples below)
    late_ms = (ir.arrival_samples[0] - ir.arrival_samples[1]) / FS * 1000
    f = [f for f in room_findings(None, ir=ir) if f.category == "timing"][0]
    assert late_ms == pytest.approx(0.2917, abs=1e-4)  # 14 samples at 48 kHz
    assert f.sentence == "The left speaker arrives 0.29 ms late."
    assert f.level == ATTENTION
    cm = late_ms * speed_of_sound_m_s() / 10  # cm
    assert f"{cm:.1f} cm further" in f.evidence
    assert "delay the right speaker by 0.29 ms" in f.action


def test_late_speaker_compensated_by_profile_is_a_note():
    ir = _ir(delays_ms=(2.0, 2.3))  # R late by 14 samples
    prof = _profile(delay_l_s=14 / FS)
    f = [f for f in room_findings(None, ir=ir, profile=prof) if f.category == "timing"][0]
    assert f.sentence == "The right speaker arrives 0.29 ms late."
    assert f.level == NOTE
    assert f.action.startswith("A 0.29 ms delay on the left speaker is applied")


def test_level_mismatch():
    ir = _ir(gains=(1.0, 10 ** (1.5 / 20)))  # R +1.5 dB, flat impulses: exact at every frequency
    f = [f for f in room_findings(None, ir=ir) if f.category == "level"][0]
    assert f.sentence == "The right speaker plays 1.5 dB louder than the left one (250 Hz–2 kHz)."
    assert f.level == ATTENTION
    assert "by -1.5 dB" in f.action
    prof = _profile(trims=(0.0, -1.5))
    g = [f for f in room_findings(None, ir=ir, profile=prof) if f.category == "level"][0]
    assert g.level == NOTE and "trim of -1.5 dB on the right speaker is applied" in g.action


@pytest.mark.parametrize("nr, level", [(18.0, ATTENTION), (12.0, NOTE)])
def test_noise(nr, level):
    f = room_findings({"noise": {"bands_hz": [63.0], "level_db": [50.0], "nr": nr, "limiting_band_hz": 63.0}})[0]
    assert f.category == "noise" and f.level == level
    assert f.sentence.startswith(f"Background noise reaches NR {nr:.0f}")
    assert "the 63 Hz band sets the rating" in f.evidence


def test_failed_compliance_checks_become_findings_and_covered_ones_do_not():
    a = {"compliance": [{"check": "room_proportions", "value": 2.1, "limit": 1.9, "passed": False, "detail": "l/h"},
                        {"check": "reverberation_time", "value": 0.279, "limit": [0.144, 0.244], "passed": False,
                         "unit": "s"},
                        {"check": "floor_area", "value": 18.98, "limit": [20.0, 60.0], "passed": False},
                        {"check": "polarity", "value": "R inverted", "limit": "same", "passed": False},
                        {"check": "early_reflections", "value": -6, "limit": -10, "passed": False},
                        {"check": "level_matching", "value": 2.0, "limit": 1.0, "passed": False},
                        {"check": "background_noise", "value": None, "limit": 15, "passed": None},
                        {"check": "proportions", "value": [1, 1.5, 2.1], "limit": "x", "passed": True}]}
    out = {f.sentence: f for f in room_findings(a) if f.category == "compliance"}
    assert set(out) == {
        "The room misses the standard's room proportions check.",
        "The room is small for a reference room: 19.0 m² of floor, the standard asks 20–60 m².",
        "A speaker is wired in inverted polarity."}
    assert "(l/h)" in out["The room misses the standard's room proportions check."].evidence
    assert out["A speaker is wired in inverted polarity."].severity == 9.0
    assert out["The room is small for a reference room: 19.0 m² of floor, the standard asks 20–60 m²."].level == NOTE
    decay = [f for f in room_findings(a) if f.category == "decay"]
    # 0.279 s is 14 % above the 0.244 s limit: said calmly ("a little"), with the numbers
    assert [f.sentence for f in decay] == [
        "The room is a little live: the reverberation time averages 0.28 s, the standard asks 0.14–0.24 s for its "
        "volume."]


# the mask of the analysis' reverberation_mask check: 4 third-octave bands, T in s
_MASK = {"bands_hz": [100.0, 125.9, 158.5, 199.5], "lower_s": [0.1] * 4, "upper_s": [0.4, 0.3, 0.3, 0.3]}


def test_reverberation_checks_make_one_finding():
    """Mean T, the per-band mask and the adjacent-band steps are one cause (the room's
    absorption): one finding, with the worst band named in the evidence."""
    a = {"compliance": [
        {"check": "reverberation_time", "value": 0.5, "limit": [0.144, 0.244], "passed": False, "unit": "s"},
        # 100 Hz is 0.10 s over its 0.40 s limit; 125 Hz sits exactly on its limit (inside)
        {"check": "reverberation_mask", "value": [0.5, 0.3, 0.25, None], "limit": _MASK, "passed": False,
         "unit": "s", "detail": "outside the mask at 100 Hz"},
        {"check": "reverberation_adjacent", "value": 1, "limit": {"max_diff_s": 0.05, "max_ratio": 0.25,
                                                                  "split_hz": 300.0},
         "passed": False, "unit": "violations", "detail": "100/125 Hz differ by 40 %"}]}
    found = [f for f in room_findings(a) if f.category in ("decay", "compliance")]
    assert len(found) == 1
    f = found[0]
    # 0.5 s is twice the 0.244 s limit: "too live", not "a little"
    assert f.sentence == ("The room is live: the reverberation time averages 0.50 s, the standard asks 0.14–0.24 s "
                          "for its volume.")
    assert "1 of 3 third-octave bands outside the Tech 3276 mask, the furthest at 100 Hz (0.50 s, limit 0.40 s)" \
        in f.evidence
    assert "100/125 Hz differ by 40 %" in f.evidence
    assert "bass traps for the bands below 300 Hz" in f.action
    assert f.level == ATTENTION and f.figure == "decay"


def test_mask_alone_and_a_dead_room():
    mask_only = {"compliance": [{"check": "reverberation_mask", "value": [0.5, 0.3, 0.25, 0.2], "limit": _MASK,
                                 "passed": False}]}
    (f,) = [f for f in room_findings(mask_only) if f.category == "decay"]
    assert f.sentence == ("The reverberation time leaves the standard's tolerance in 1 of 4 third-octave bands, "
                          "most at 100 Hz (0.50 s).")
    dead = {"compliance": [{"check": "reverberation_time", "value": 0.1, "limit": [0.144, 0.244], "passed": False}]}
    (f,) = [f for f in room_findings(dead) if f.category == "decay"]
    assert "dead" in f.sentence and "Take some absorption out" in f.action


def test_room_response_names_the_furthest_band():
    lim = {"bands_hz": [63.1, 79.4, 100.0], "lower_db": [-5.6, -5.1, -4.7], "upper_db": [3.9, 3.7, 3.6]}
    a = {"compliance": [{"check": "room_response", "value": {"L": [0.0, -2.0, -5.8], "R": [0.5, -8.8, -1.0]},
                         "limit": lim, "passed": False, "unit": "dB"}]}
    (f,) = [f for f in room_findings(a) if f.category == "compliance"]
    # R 80 Hz is 3.7 dB below its −5.1 dB limit, L 100 Hz 1.1 dB below −4.7 dB: R 80 Hz leads
    assert f.sentence == ("The response at the listening position dips 9 dB at 80 Hz (R), outside the operational "
                          "tolerance.")
    assert "2 of 6 third-octave band levels" in f.evidence and "R 80 Hz \u22128.8 dB, L 100 Hz \u22125.8 dB" in f.evidence
    assert "EQ boost cannot fill it" in f.action


def test_distortion_against_the_bs1116_limits():
    f = np.array([50.0, 100.0, 300.0, 1000.0, 5000.0])
    ok = {"channels": {"L": {"freqs_hz": f, "thd_pct": np.array([2.5, 1.0, 0.5, 0.3, 0.9])}}}
    assert not [x for x in room_findings({"distortion": ok}) if x.category == "distortion"]
    bad = {"channels": {"R": {"freqs_hz": f, "thd_pct": np.array([2.5, 1.0, 0.5, 2.4, 0.9])}}}
    found = [x for x in room_findings({"distortion": bad}) if x.category == "distortion"]
    assert len(found) == 1
    assert found[0].sentence == "The right speaker distorts: 2.4 % THD at 1000 Hz."
    assert "BS.1116 allows 1 % above 250 Hz" in found[0].evidence


def test_failed_verification_comes_first():
    a = {"modes": [{"freq_hz": 47.0, "level_db": 9.0}]}
    v = {"verdict": "fail", "checks": [{"name": "level", "channel": "R", "verdict": "fail"}]}
    out = room_findings(a, dims_m=DIMS, verification=v)
    assert out[0].category == "verification" and "R level" in out[0].evidence


def test_verification_names_what_changed():
    v = {"verdict": "fail", "time_utc": "2026-11-25T10:00:00Z", "checks": [
        {"name": "level", "channel": "L", "value": 0.01, "limit": 0.4, "unit": "dB", "verdict": "pass"},
        {"name": "level", "channel": "R", "value": -0.8, "limit": 0.4, "unit": "dB", "verdict": "fail",
         "message": "R level changed by -0.80 dB (±0.02 dB)"},
        {"name": "channel_match", "channel": "L-R", "value": 0.8, "limit": 0.5, "unit": "dB", "verdict": "fail"}]}
    (f,) = [f for f in room_findings(None, verification=v)]
    assert f.sentence == ("The room no longer matches its calibration: the right speaker plays 0.8 dB quieter than "
                          "when it was calibrated.")
    assert f.evidence == ("Latest verification (2026-11-25T10:00:00Z): R level changed by -0.80 dB (±0.02 dB; limit "
                          "±0.4 dB); L-R channel match +0.80 dB (limit ±0.5 dB).")
    moved = {"verdict": "fail", "checks": [{"name": "arrival", "channel": "L", "value": 0.12, "limit": 0.05,
                                            "unit": "ms", "verdict": "fail"}]}
    assert room_findings(None, verification=moved)[0].sentence.endswith(
        "the left speaker arrives 0.12 ms later than when it was calibrated (moved?).")


def test_attention_findings_rank_above_notes():
    # a 5.5 dB mode ringing 1.2 s scores high, but it is a note; an out-of-limit reflection
    # is attention and must come first
    a = {"modes": [{"freq_hz": 66.0, "level_db": 5.5, "t60_s": 1.2}],
         "reflections": [{"delay_ms": 3.0, "level_db": -9.0, "surface": "floor"}]}
    out = room_findings(a, dims_m=DIMS)
    assert [f.level for f in out] == [ATTENTION, NOTE]
    assert out[0].category == "reflection" and out[1].severity > out[0].severity


# ------------------------------------------------------------------- ranking and the clean room
def test_ranking_by_severity():
    a = {"modes": [{"freq_hz": 47.0, "level_db": 4.0}, {"freq_hz": 66.0, "level_db": 9.0}],
         "reflections": [{"delay_ms": 3.0, "level_db": -6.0, "surface": "floor"}]}
    out = room_findings(a, dims_m=DIMS, ir=_ir(delays_ms=(2.06, 2.0)))
    sev = [f.severity for f in out]
    assert sev == sorted(sev, reverse=True)
    assert [f.category for f in out[:2]] == ["reflection", "mode"]  # 4 dB over the limit beats a 9 dB mode
    assert out[1].sentence.startswith("A 9 dB peak at 66 Hz — the first height mode")
    assert [f.category for f in out[2:]] == ["mode", "timing"]  # 4 dB mode (4.0) before 0.06 ms (3.6)


def test_clean_room_is_not_alarming():
    out = room_findings(_clean_analysis(), ir=_ir(), dims_m=DIMS, profile=_profile())
    assert not [f for f in out if f.level == ATTENTION]
    assert [f.level for f in out] == [GOOD]
    assert out[0].sentence.startswith("Nothing alarming")
    assert "speakers arrive together" in out[0].sentence


def test_thresholds_are_configurable():
    a = {"modes": [{"freq_hz": 47.0, "level_db": 4.0}]}
    assert room_findings(a, dims_m=DIMS)[0].level == NOTE
    strict = FindingThresholds(mode_attention_db=3.5)
    assert room_findings(a, dims_m=DIMS, thresholds=strict)[0].level == ATTENTION


# ------------------------------------------------------------------- the default room's known truth
def test_default_room_truth():
    """The built-in simulated room: R is 10 cm further away (arrives ~0.25 ms late), the floor
    reflection is louder than −10 dB; findings from its known facts must say exactly that."""
    sim = pytest.importorskip("hardware.simulated")
    facts = sim.DEFAULT_ROOM_FACTS
    ir = sim.default_room(FS)
    a = {"modes": [{"freq_hz": f, "level_db": g, "t60_s": t, "channel": ch}
                   for ch in ("L", "R") for f, g, t in facts.modes[ch] if g >= 3.0],
         "reflections": [{"delay_ms": d, "level_db": lv, "surface": s, "channel": ch}
                         for ch in ("L", "R") for d, lv, s in facts.reflections[ch]]}
    out = room_findings(a, ir=ir, dims_m=facts.dims_m)
    timing = [f for f in out if f.category == "timing"]
    assert len(timing) == 1
    assert timing[0].sentence == f"The right speaker arrives {facts.channel_delay_ms:.2f} ms late."
    refl = {f.sentence for f in out if f.category == "reflection" and f.level == ATTENTION}
    loud = {s for ch in ("L", "R") for d, lv, s in facts.reflections[ch] if d <= 15 and lv > -10}
    for s in loud:
        assert any(f"likely the {s}." in r for r in refl), (s, refl)
    mode_sentences = [f.sentence for f in out if f.category == "mode"]
    strongest = max((m for ch in ("L", "R") for m in facts.modes[ch]), key=lambda m: m[1])
    assert mode_sentences[0].startswith(f"A {strongest[1]:.0f} dB peak at {strongest[0]:.0f} Hz")


def test_reflection_finding_quotes_the_standards_band_level_too():
    """The compliance table judges early reflections in 1-8 kHz (a different number from the
    broadband ETC level): the finding for the same reflection gives both, so they agree."""
    a = {"reflections": [{"delay_ms": 3.63, "level_db": -7.9, "surface": "floor", "channel": "R"},
                         {"delay_ms": 4.39, "level_db": -7.5, "surface": "front wall", "channel": "R"}],
         "compliance": [{"check": "early_reflections", "value": -6.42, "limit": -10.0, "passed": False,
                         "unit": "dB re direct", "detail": "strongest within 15 ms in 1000–8000 Hz: R at 3.69 ms"}]}
    by_surface = {f.sentence.split("likely the ")[1]: f for f in room_findings(a) if f.category == "reflection"}
    # 3.69 ms is within 0.1 ms of the floor reflection (3.63 ms), not of the front wall (4.39 ms)
    assert "in the 1–8 kHz band the standard judges, \u22126.4 dB (R at 3.69 ms)" in by_surface["floor."].evidence
    assert "1–8 kHz" not in by_surface["front wall."].evidence
