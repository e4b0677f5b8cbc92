"""monitor.verify against synthetic rooms with known drift (analytic truth)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

import verify_synth as S
from calib.analysis.bands import band_edges_hz, third_octave_centres_hz
from calib.errors import ConfigError, SignalError, VerificationError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse
from calib.verification_types import CheckResult
from monitor.verify import MonitorPathState, _judge, load_tolerances, verify_profile, verify_room

ROOM, NAMES = S.base_room()


@pytest.fixture(scope="module")
def reference() -> ImpulseResponse:
    return S.measure(ROOM, NAMES, seed=1000)


def _verify(reference, room, *, names=NAMES, seeds=(1, 2, 3), noise_db=-50.0, **kw):
    reps = [S.measure(room, names, seed=s, noise_db=noise_db) for s in seeds]
    return verify_room(reference, reps, **kw)


def _one(res, name, channel=None, band_hz=None) -> CheckResult:
    found = [c for c in res.checks if c.name == name and (channel is None or c.channel == channel)
             and (band_hz is None or abs(c.band_hz - band_hz) < 1.0)]
    assert len(found) == 1, found
    return found[0]


def _failing(res):
    return {(c.name, c.channel) for c in res.checks if c.verdict == "fail"}


def test_fifty_unchanged_rooms_never_fail(reference):
    """50 verifications of an unchanged room, each with its own noise 50 dB below the sweep.

    The noise is 50 dB below the played sweep's RMS; the room (3 m, -9 dB) leaves it only 41 dB
    below the sweep at the mic.  Two repeats per run, independent noise everywhere.
    """
    verdicts = []
    worst_band = 0.0
    for run in range(50):
        res = _verify(reference, ROOM, seeds=(10 * run + 1, 10 * run + 2))
        assert res.verdict != "fail", res.message
        assert res.verdict != "refused", res.message
        verdicts.append(res.verdict)
        worst_band = max(worst_band, max(abs(c.value) for c in res.by_name("band_deviation")))
    assert verdicts.count("pass") == 50  # not even a warning: noise alone is far below every limit
    # the deviation noise at -50 dB: well under the 1 dB mid-band limit (measured ~0.02 dB)
    assert worst_band < 0.2


def test_level_change_of_half_a_db_is_named(reference):
    room = ROOM.copy()
    room[0] *= 10 ** (0.5 / 20)
    res = _verify(reference, room)
    assert res.verdict == "fail"
    lv = _one(res, "level", "L")
    # 0.5 dB gain applied exactly; the deconvolution noise at -50 dB moves the median by < 0.01 dB
    assert lv.value == pytest.approx(0.5, abs=0.01) and lv.verdict == "fail"
    assert _one(res, "level", "R").verdict == "pass"
    assert _one(res, "channel_match", "L-R").value == pytest.approx(0.5, abs=0.015)
    assert not [c for c in res.by_name("band_deviation") if c.verdict != "pass"]  # level, not response
    assert "L level changed by +0.50 dB" in res.message


def test_arrival_change_of_a_tenth_ms_is_named(reference):
    room = ROOM.copy()
    room[1] = S.fractional_delay(room[1], 1e-4, fs=S.FS)
    res = _verify(reference, room)
    arr = _one(res, "arrival", "R")
    # a linear-phase 0.1 ms delay; interpolated cross-correlation resolves it to < 1 us (0.05 sample)
    assert arr.value == pytest.approx(0.100, abs=0.001) and arr.unit == "ms"
    assert arr.verdict == "fail"
    assert abs(_one(res, "arrival", "L").value) < 0.001
    assert _one(res, "mic_position").verdict == "pass"  # one speaker moved: the mic did not
    assert _failing(res) == {("arrival", "R")}
    assert res.verdict == "fail"


def test_polarity_flip_is_named(reference):
    room = ROOM.copy()
    room[0] = -room[0]
    res = _verify(reference, room)
    pol = _one(res, "polarity", "L")
    assert pol.value == pytest.approx(-1.0, abs=0.01) and pol.verdict == "fail"
    assert _one(res, "polarity", "R").value == pytest.approx(1.0, abs=0.01)
    assert "polarity is inverted" in res.message
    # magnitudes are unchanged by a flip, so no level or band check fires
    assert _failing(res) == {("polarity", "L")}


def test_two_db_change_in_one_third_octave_band_is_named(reference):
    room = ROOM.copy()
    room[0] = S.peaking(room[0], 1000.0, 2.0)
    res = _verify(reference, room)
    fails = [c for c in res.checks if c.verdict == "fail"]
    assert [(c.name, c.channel, round(c.band_hz)) for c in fails] == [("band_deviation", "L", 1000)]
    # analytic expectation: the power mean of |H_peq|² over the 1 kHz band's IEC edges
    lo, hi = band_edges_hz([1000.0], fraction=3)
    f = np.linspace(lo[0], hi[0], 4001)
    _, h = signal.sosfreqz(Biquad("peaking", 1000.0, 2.0, 4.318).sos(fs=S.FS)[None, :], worN=f, fs=S.FS)
    expected = 10 * np.log10(np.mean(np.abs(h) ** 2))
    # minus the (tiny) median level shift the bump causes; room and noise add < 0.05 dB
    assert fails[0].value == pytest.approx(expected, abs=0.05)
    assert expected == pytest.approx(1.57, abs=0.05)
    assert _one(res, "level", "L").verdict == "pass"


def test_mic_moved_is_refused_not_reported_as_drift(reference):
    room = ROOM.copy()
    room[0] = S.fractional_delay(room[0], 2e-4, fs=S.FS)   # mic 6.9 cm further from L
    room[1] = S.fractional_delay(room[1], -1.5e-4, fs=S.FS)  # and 5.1 cm nearer R
    res = _verify(reference, room)
    assert res.verdict == "refused"
    assert "the mic is not where the baseline was measured" in res.message
    assert "L +0.200 ms" in res.message and "R -0.150 ms" in res.message
    assert _one(res, "mic_position").verdict == "fail"


def test_single_speaker_cannot_check_mic_position():
    names = ("C",)
    room = ROOM[:1]
    ref = S.measure(room, names, seed=5)
    res = _verify(ref, room, names=names)
    assert _one(res, "mic_position").verdict == "skip"
    assert res.verdict == "pass"
    assert not res.by_name("channel_match")


def test_drift_within_uncertainty_is_not_reported():
    """Decision rule: |v| <= U pass; |v| - U > fail -> fail; |v| > warn -> warn."""
    assert _judge(0.3, 0.35, 0.25, 0.4) == "pass"   # inside the uncertainty
    assert _judge(0.45, 0.02, 0.25, 0.4) == "fail"
    assert _judge(-0.45, 0.1, 0.25, 0.4) == "warn"  # beyond the limit, but not proven
    assert _judge(0.3, 0.02, 0.25, 0.4) == "warn"
    assert _judge(0.2, 0.02, 0.25, 0.4) == "pass"
    assert _judge(float("nan"), 0.02, 0.25, 0.4) == "skip"


def test_uncertainty_grows_with_noise_and_single_sweep_uses_floor(reference):
    quiet = _verify(reference, ROOM, seeds=(1, 2, 3, 4), noise_db=-50.0)
    noisy = _verify(reference, ROOM, seeds=(1, 2, 3, 4), noise_db=-15.0)
    b = 100.0
    uq = _one(quiet, "band_deviation", "L", band_hz=b).uncertainty
    un = _one(noisy, "band_deviation", "L", band_hz=b).uncertainty
    assert un > 5 * uq  # 35 dB more noise: the sweep-to-sweep spread is far larger
    single = _verify(reference, ROOM, seeds=(7,))
    tol = load_tolerances()
    assert _one(single, "level", "L").uncertainty == pytest.approx(tol["uncertainty"]["floor_db"])
    assert _one(single, "arrival", "L").uncertainty == pytest.approx(tol["uncertainty"]["floor_s"] * 1e3)
    assert single.meta["repeats"] == 1
    assert all(math.isnan(v) for v in single.meta["band_repeatability_db"]["L"])
    rep_q = quiet.meta["band_repeatability_db"]["L"]
    rep_n = noisy.meta["band_repeatability_db"]["L"]
    assert len(rep_q) == len(quiet.meta["bands_hz"]) and np.median(rep_n) > 5 * np.median(rep_q)


def test_sub_phase_at_crossover():
    fs = S.FS
    sub = signal.sosfilt(signal.butter(4, 100.0, "lowpass", fs=fs, output="sos"), S.speaker_ir(3.1, seed=3))
    room = np.vstack([ROOM, sub[None]])
    names = ("L", "R", "SUB")
    ref = S.measure(room, names, seed=9)
    same = _verify(ref, room, names=names)
    ph = _one(same, "sub_phase", "SUB-L")
    assert abs(ph.value) < 1.0 and ph.verdict == "pass" and ph.band_hz == 80.0
    moved = room.copy()
    moved[2] = S.fractional_delay(moved[2], 0.002, fs=fs)  # sub delayed by 2 ms
    res = _verify(ref, moved, names=names)
    # phase of a pure delay tau at f: -360 * f * tau = -57.6 deg at 80 Hz
    for pair in ("SUB-L", "SUB-R"):
        c = _one(res, "sub_phase", pair)
        assert c.value == pytest.approx(-57.6, abs=0.5) and c.verdict == "fail"
    # a sub's low-passed direct sound has no sharp peak: its arrival is good to ~1 % (20 us)
    assert _one(res, "arrival", "SUB").value == pytest.approx(2.0, abs=0.05)
    assert res.verdict == "fail"
    assert not [c for c in res.by_name("channel_match") if "SUB" in c.channel]  # the sub is not a main
    assert max(c.band_hz for c in res.by_name("band_deviation", "SUB")) < 161.0  # its own band only
    louder = room.copy()
    louder[2] *= 10 ** (1.0 / 20)
    lv = _one(_verify(ref, louder, names=names), "level", "SUB")
    # +1 dB on the sub, read in its own bands (31.5..80 Hz) where it has its energy
    assert lv.value == pytest.approx(1.0, abs=0.02) and lv.verdict == "fail"
    xo = _verify(ref, moved, names=names, crossover_hz=40.0)
    assert _one(xo, "sub_phase", "SUB-L").value == pytest.approx(-28.8, abs=0.5)


def test_noise_floor_from_snr_and_from_the_tail(reference):
    def with_snr(ir, snr):
        return ImpulseResponse(samples=ir.samples, fs=ir.fs, channel_names=ir.channel_names, snr_db=snr)

    ref = with_snr(reference, (70.0, 70.0))
    reps = [with_snr(S.measure(ROOM, NAMES, seed=s), (60.0, 69.0)) for s in (1, 2)]
    res = verify_room(ref, reps)
    nl = _one(res, "noise_floor", "L")
    assert nl.value == pytest.approx(10.0) and nl.verdict == "warn"
    assert _one(res, "noise_floor", "R").verdict == "pass"
    reps = [with_snr(S.measure(ROOM, NAMES, seed=s), (35.0, 69.0)) for s in (1, 2)]
    assert _one(verify_room(ref, reps), "noise_floor", "L").verdict == "fail"  # below 40 dB minimum
    loud = _verify(reference, ROOM, noise_db=-10.0)  # no SNR in the IRs: peak-to-tail fallback
    nf = _one(loud, "noise_floor", "L")
    assert nf.verdict == "fail" and nf.value > 12.0 and "peak-to-tail" in nf.message


def test_distortion_from_harmonic_irs(reference):
    def with_h(ir, ratio):
        hs = {2: ir.samples * ratio, 3: ir.samples * ratio / 2}
        return ImpulseResponse(samples=ir.samples, fs=ir.fs, channel_names=ir.channel_names, harmonics=hs)

    m = S.measure(ROOM, NAMES, seed=3)
    res = verify_room(reference, [with_h(m, 0.1)])
    d = _one(res, "distortion", "L")
    # energies: 0.1² + 0.05² = 0.0125 -> -19.03 dB re the fundamental; the noise correction
    # (the copied IRs' tails count as noise here) moves it by < 0.01 dB
    assert d.value == pytest.approx(10 * math.log10(0.0125), abs=0.01) and d.verdict == "fail"
    res = verify_room(reference, [with_h(m, 0.003)])
    assert _one(res, "distortion", "L").verdict == "pass"
    assert _one(verify_room(reference, [m]), "distortion", "L").verdict == "skip"


def test_monitor_path_checks(reference):
    m = [S.measure(ROOM, NAMES, seed=4)]
    ok = verify_room(reference, m, profile_hash="abc", monitor=MonitorPathState("abc", True, "engine"))
    assert _one(ok, "monitor_hash").verdict == "pass" and _one(ok, "monitor_bypass").verdict == "pass"
    bad = verify_room(reference, m, profile_hash="abc", monitor=MonitorPathState("abd", False))
    assert _one(bad, "monitor_hash").verdict == "fail" and _one(bad, "monitor_bypass").verdict == "fail"
    assert bad.verdict == "fail" and "not the certified profile" in bad.message
    none = verify_room(reference, m, profile_hash="abc")
    assert _one(none, "monitor_hash").verdict == "skip"


def _profile(reference, tolerances=None):
    spk = tuple(SpeakerCorrection(n, i) for i, n in enumerate(NAMES))
    return CalibrationProfile(name="main", speakers=spk, reference=reference, tolerances=tolerances or {})


def test_profile_tolerances_override_defaults(reference):
    room = ROOM.copy()
    room[0] *= 10 ** (0.5 / 20)
    reps = [S.measure(room, NAMES, seed=s) for s in (1, 2)]
    strict = verify_profile(_profile(reference), reps)
    assert _one(strict, "level", "L").verdict == "fail"
    assert strict.profile_hash == _profile(reference).content_hash() and strict.profile_name == "main"
    loose = verify_profile(_profile(reference, {"level": {"fail_db": 1.0, "warn_db": 0.3}}), reps)
    assert _one(loose, "level", "L").verdict == "warn" and loose.verdict == "warn"


def test_errors(reference):
    m = S.measure(ROOM, NAMES, seed=1)
    with pytest.raises(VerificationError, match="no new measurement"):
        verify_room(reference, [])
    other_fs = ImpulseResponse(samples=m.samples, fs=44_100, channel_names=NAMES)
    with pytest.raises(SignalError, match="sample rates differ"):
        verify_room(reference, [other_fs])
    only_l = ImpulseResponse(samples=m.samples[:1], fs=m.fs, channel_names=("L",))
    with pytest.raises(VerificationError, match="lacks speaker.*R"):
        verify_room(reference, [only_l])
    swapped = ImpulseResponse(samples=m.samples, fs=m.fs, channel_names=("R", "L"))
    with pytest.raises(VerificationError, match="different speakers"):
        verify_room(reference, [m, swapped])
    prof = CalibrationProfile(name="noref", speakers=(SpeakerCorrection("L", 0),))
    with pytest.raises(VerificationError, match="holds no reference"):
        verify_profile(prof, [m])
    with pytest.raises(ConfigError, match=r"unknown table \[bogus\].*unknown key level.fail"):
        load_tolerances({"bogus": {}, "level": {"fail": 1}}, strict=True)
    with pytest.raises(ConfigError, match=r"unknown key level.fail"):
        load_tolerances({"verify": {"level": {"fail": 1}}})
    # keys of other consumers in a profile's tolerances are left alone
    assert load_tolerances({"regression_limit_db": 1.0})["level"]["fail_db"] == 0.4
    with pytest.raises(ConfigError, match="arrival.fail_s must be a number"):
        load_tolerances({"arrival": {"fail_s": "soon"}})
    with pytest.raises(ConfigError, match="response.mask must be"):
        load_tolerances({"response": {"mask": [[100, 1.0], [50, 2.0]]}})
    with pytest.raises(ConfigError, match="warn_db 2.0 is above level.fail_db"):
        load_tolerances({"level": {"warn_db": 2.0}})


def test_verification_round_trips_through_history(tmp_path, reference):
    from monitor.history import History

    room = ROOM.copy()
    room[0] = -room[0]
    res = _verify(reference, room, profile_name="main", profile_hash="f" * 64)
    with History(tmp_path / "history.sqlite") as h:
        vid = h.add_result(res, report_path="reports/v.json")
        row = h.verifications()[0]
    assert row.id == vid and row.failed and row.verdict == "fail"
    assert len(row.checks) == len(res.checks)
    pol = [c for c in row.checks if c.name == "polarity" and c.channel == "L"][0]
    assert pol.value == pytest.approx(_one(res, "polarity", "L").value) and pol.verdict == "fail"


def test_noise_floor_compares_sweeps_of_different_length_and_level(reference):
    """SNR of a sweep IR grows with 10·lg(T) + level: a 1 s sweep 6 dB quieter than a 2 s
    baseline sweep is expected 9.03 dB lower, which is no drop of the noise floor."""
    def made(ir, snr, dur, level):
        return ImpulseResponse(samples=ir.samples, fs=ir.fs, channel_names=ir.channel_names, snr_db=snr,
                               meta={"sweep": {"duration_s": dur, "level_dbfs": level}, "level_dbfs": level})

    ref = made(reference, (70.0, 70.0), 2.0, -12.0)
    expected = 70.0 - 10 * math.log10(2.0) - 6.0  # 60.97 dB
    reps = [made(S.measure(ROOM, NAMES, seed=s), (expected, expected - 7.0), 1.0, -18.0) for s in (1, 2)]
    res = verify_room(ref, reps)
    assert _one(res, "noise_floor", "L").value == pytest.approx(0.0, abs=1e-9)
    assert _one(res, "noise_floor", "R").value == pytest.approx(7.0, abs=1e-9)
    assert _one(res, "noise_floor", "R").verdict == "warn"


def test_noise_floor_drop_ignored_when_snr_is_far_beyond_need(reference):
    """A noise-free digital path reads 150-170 dB SNR from round-off; a drop there is not noise."""
    def with_snr(ir, snr):
        return ImpulseResponse(samples=ir.samples, fs=ir.fs, channel_names=ir.channel_names, snr_db=snr)

    res = verify_room(with_snr(reference, (166.0, 166.0)), [with_snr(S.measure(ROOM, NAMES, seed=1), (149.0, 150.0))])
    nl = _one(res, "noise_floor", "L")
    assert nl.value == pytest.approx(17.0) and nl.verdict == "pass" and "does not matter" in nl.message


def test_distortion_of_a_known_polynomial_and_noise_floor():
    """Speaker nonlinearity y = x + 0.1 x² before the room, sweep peak A = -12 dBFS: the 2nd
    harmonic is 0.1·A/2 of the fundamental (cos² identity) = -38.02 dB; noise alone is reported
    as below the noise floor, never as distortion."""
    pytest.importorskip("hardware.simulated")
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    def ir(noise_db, nl):
        room = SimulatedRoom(ImpulseResponse(samples=ROOM, fs=S.FS, channel_names=NAMES), noise_db=noise_db,
                             seed=4, nonlinearity=nl)
        return _measure_repeats(room, [("L", 0), ("R", 1)], fs=S.FS, sweep_s=2.0, repeats=1, ir_length_s=0.5,
                                level_dbfs=-12.0, probe=False)[0]

    clean = ir(-90.0, None)
    a = 10 ** (-12.0 / 20)
    expected = 20 * math.log10(0.1 * a / 2)
    res = verify_room(clean, [ir(-90.0, (1.0, 0.1))])
    d = _one(res, "distortion", "L")
    # the harmonic passes through the room at 2f, the fundamental at f: the broadband energy
    # ratio differs from the analytic one by the room's spectral tilt, < 0.5 dB here
    assert d.value == pytest.approx(expected, abs=0.5) and d.verdict == "warn"  # 1.3 %: above the 1 % warn line
    noisy = verify_room(clean, [ir(-60.0, None)])
    dn = _one(noisy, "distortion", "L")
    assert dn.verdict == "pass" and "below the measurement noise" in dn.message


def test_baseline_repeatability_widens_the_uncertainty(reference):
    """A baseline that stores its own repeatability s (per speaker and band) and its repeat
    count N contributes u_ref = s/√N: U = k·√(u_new² + u_ref²)."""
    bands = load_tolerances()["response"]
    reps = [S.measure(ROOM, NAMES, seed=s) for s in (1, 2, 3)]
    plain = verify_room(reference, reps)
    n_b = len(plain.meta["bands_hz"])
    ref2 = ImpulseResponse(samples=reference.samples, fs=reference.fs, channel_names=NAMES,
                           meta={"repeats": 4, "band_repeatability_db": {"L": [0.5] * n_b}})
    wide = verify_room(ref2, reps)
    b = 1000.0
    # u_ref = 0.5/√4 = 0.25 dB dominates (u_new at -50 dB noise is ~0.002 dB): U = 2·0.25 = 0.5 dB,
    # plus 2·u_new²/0.5 < 0.0001 dB from the new measurement
    assert _one(wide, "band_deviation", "L", band_hz=b).uncertainty == pytest.approx(0.5, abs=1e-3)
    # R has no stored figure: assumed equal to the new measurement's, as before
    assert _one(wide, "band_deviation", "R", band_hz=b).uncertainty == pytest.approx(
        _one(plain, "band_deviation", "R", band_hz=b).uncertainty)
    assert bands["lo_hz"] < b


def test_air_temperature_change_is_compensated_not_reported_as_drift(reference):
    """Air 2 K warmer: every arrival scales by -ΔT/(2T) = -0.341 % (c ∝ √T): L -29.8 us, R -30.0 us.
    With the baseline's propagation times known this is recognised and compensated."""
    fs = S.FS
    t_path = np.array([3.0, 3.02]) / S.SPEED_OF_SOUND
    alpha = -2.0 / (2 * 293.15)
    room = ROOM.copy()
    for i in range(2):
        room[i] = S.fractional_delay(room[i], alpha * t_path[i], fs=fs)
    timed = ImpulseResponse(samples=reference.samples, fs=fs, channel_names=NAMES, onset_samples=0,
                            arrival_samples=tuple(t_path * fs))
    res = _verify(timed, room)
    t = _one(res, "temperature")
    # the fit recovers the 2 K to within the arrival estimates' ~0.1 us (0.01 K)
    assert t.verdict == "pass" and t.value == pytest.approx(2.0, abs=0.05) and "warmer" in t.message
    assert res.verdict == "pass"
    assert all(abs(c.value) < 0.002 for c in res.by_name("arrival"))  # what is left: < 2 us
    # without propagation times nothing is explained away: both arrivals warn (30 us > 20 us)
    plain = _verify(reference, room)
    assert _one(plain, "temperature").verdict == "skip"
    assert [c.verdict for c in plain.by_name("arrival")] == ["warn", "warn"]
    # one speaker moving is not a temperature change, even with propagation times known
    one = ROOM.copy()
    one[1] = S.fractional_delay(one[1], 1e-4, fs=fs)
    res1 = _verify(timed, one)
    assert _one(res1, "temperature").verdict == "skip"
    assert _failing(res1) == {("arrival", "R")}
