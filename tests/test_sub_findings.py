"""A band-limited subwoofer is judged in its band only: no "inverted polarity L/SUB" from a
broadband correlation, no "20 % THD at 2 kHz", no level/timing/response-mask findings from
the 250 Hz-2 kHz band where it has no output; full-range speakers are judged as before."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from calib.analysis.bands import third_octave_centres_hz
from calib.analysis.passband import is_band_limited, passband_from_bands_hz

FS = 48000


def test_passband_of_analytic_responses():
    fc = third_octave_centres_hz(20.0, 20000.0)
    # 2nd-order low-pass at 200 Hz: |H|^2 = 1 / (1 + (f/200)^4), -20 dB at 200 * 99^(1/4) = 631 Hz;
    # the octave smoothing moves the edge by at most a third-octave band either side
    lp = -10 * np.log10(1 + (fc / 200.0) ** 4)
    lo, hi = passband_from_bands_hz(fc, lp)
    assert lo == pytest.approx(fc[0]) and 631 / 2 ** (1 / 3) * 0.99 <= hi <= 631 * 2 ** (1 / 3) * 1.01
    assert is_band_limited((lo, hi))
    # LR4 sub at 80 Hz: -20 dB where (f/80)^8 = 99, 142 Hz
    lo, hi = passband_from_bands_hz(fc, -10 * np.log10(1 + (fc / 80.0) ** 8))
    assert hi < 250 and is_band_limited((lo, hi))
    # a main: sealed box (2nd-order high-pass at 40 Hz) with a +-12 dB room ripple below 300 Hz
    main = -10 * np.log10(1 + (40.0 / fc) ** 4) + np.where(fc < 300, 12 * np.sin(fc / 17.0), 0.0)
    lo, hi = passband_from_bands_hz(fc, main)
    assert lo <= 25.0 and hi == pytest.approx(fc[-1]) and not is_band_limited((lo, hi))
    # a tweeter-less main rolled off 24 dB/oct from 1.5 kHz is band-limited (no 2 kHz output)...
    # ...but one rolled off only from 8 kHz is not
    assert is_band_limited(passband_from_bands_hz(fc, -10 * np.log10(1 + (fc / 700.0) ** 8)))
    assert not is_band_limited(passband_from_bands_hz(fc, -10 * np.log10(1 + (fc / 8000.0) ** 8)))
    assert all(math.isnan(v) for v in passband_from_bands_hz(fc, np.full(fc.size, -np.inf)))


@pytest.fixture(scope="module")
def analysed21(tmp_path_factory):
    """A 2.1 room (sub low-passed at 200 Hz, 1.5 m farther than the mains) with R wired inverted
    and the SUB inverted too, measured by sweep through the simulated backend and analysed."""
    from calib.analysis.room import analyze_room
    from hardware.simulated import layout_room
    from roomtruth.cli import main
    from roomtruth.workspace import load_measurement_dir

    d = tmp_path_factory.mktemp("sub21")
    mic = (2.5, 3.0, 1.2)
    spk = {"L": (1.0, 2.1, 1.2), "R": (1.0, 3.9, 1.2), "SUB": (0.5, 0.6, 0.3)}
    ir = layout_room(spk, mic, dims_m=(6.0, 5.0, 2.8), fs=FS, subs=("SUB",), reflection=0.5, max_order=2,
                     length_s=0.4)
    rows = ir.samples * np.array([[1.0], [-1.0], [-1.0]])
    sf.write(d / "room.wav", rows.T, FS, subtype="FLOAT")
    code = main(["measure", "--simulate-ir", str(d / "room.wav"), "--channels", "L,R,SUB", "--out", str(d / "m"),
                 "--sweep-s", "0.5", "--no-probe", "--json"])
    assert code == 0
    m = load_measurement_dir(d / "m")
    assert m.harmonics
    return m, analyze_room(m)


def test_sub_not_judged_outside_its_band(analysed21, capsys):
    from reports.findings import room_findings

    capsys.readouterr()
    m, a = analysed21
    pairs = {(p.a, p.b): p for p in a.matching}
    # the full-range pair is judged as before: R's inverted wiring is caught
    assert not pairs[("L", "R")].band_limited and not pairs[("L", "R")].same_polarity
    assert abs(pairs[("L", "R")].level_diff_db) < 0.5
    for k in (("L", "SUB"), ("R", "SUB")):
        p = pairs[k]
        assert p.band_limited and p.same_polarity and math.isnan(p.level_diff_db) and math.isnan(p.arrival_diff_ms)
        f, d = np.array(p.bands_hz), np.array(p.response_diff_db)
        assert np.isfinite(d[(f >= 40) & (f <= 160)]).all() and not np.isfinite(d[f >= 1000]).any()
    checks = {c.check: c for c in a.compliance}
    assert checks["polarity"].passed is False and checks["polarity"].detail == "inverted pairs: L/R"
    assert "SUB band-limited" in checks["room_response"].detail and "SUB" not in checks["room_response"].value
    # distortion: the mains keep their whole range (up to 0.45 fs / 5 for five harmonics); the
    # sub's THD stops inside its pass band (no ratio over a fundamental that is not there)
    f_l = a.distortion["L"].freqs_hz[np.isfinite(a.distortion["L"].thd_pct)]
    f_s = a.distortion["SUB"].freqs_hz[np.isfinite(a.distortion["SUB"].thd_pct)]
    assert f_l.max() > 4000 and f_l.min() <= 21
    # (a sub: within 10 dB of its level; its 2nd-order 200 Hz low-pass is 10 dB down at 346 Hz)
    assert f_s.size and f_s.min() <= 21 and f_s.max() < 346 * 2 ** (1 / 4)
    assert np.nanmax(a.distortion["SUB"].thd_pct) < 3.0      # a linear simulated sub: noise only
    found = room_findings(a, ir=m)
    text = " ".join(f.sentence for f in found)
    assert "inverted polarity" in text                          # L/R
    assert "subwoofer" not in text.lower(), text                # no level, timing, THD or polarity on SUB
    assert not any(f.category == "distortion" for f in found)


def test_impulse_response_check_takes_band_limited_sub_irs():
    """check_impulse_response: a subwoofer's IR (low-passed, reverberant, short) passes; low-
    passed noise and low-frequency sweeps are still refused; broadband rows keep the plain
    crest rule (tests/test_measure_audit.py)."""
    from scipy import signal as sg

    from calib.errors import SignalError
    from calib.quality import check_impulse_response
    from hardware.simulated import layout_room

    mic = (2.5, 3.0, 1.2)
    spk = {"L": (1.0, 2.1, 1.2), "SUB": (0.5, 0.6, 0.3)}
    for fs, length_s, refl, order in ((16000, 0.12, 0.5, 3), (48000, 0.12, 0.5, 3), (16000, 0.3, 0.85, 10),
                                      (16000, 1.0, 0.85, 10)):
        ir = layout_room(spk, mic, dims_m=(8.0, 6.0, 2.8), fs=fs, subs=("SUB",), reflection=refl, max_order=order,
                         length_s=length_s)
        # crest of the SUB row 10-20 dB (the plain rule asked 20): passes now, the main as before
        check_impulse_response(ir.samples, what=f"{length_s} s room at {fs} Hz")
    # a 0.12 s cut of a sub ringing in a live room (crest 6 dB, hardly decayed): not an IR one
    # can tell from noise -- still refused (measure a longer IR)
    ir = layout_room(spk, mic, dims_m=(8.0, 6.0, 2.8), fs=16000, subs=("SUB",), reflection=0.85, max_order=10,
                     length_s=0.12)
    with pytest.raises(SignalError, match="channel 2 does not look like an impulse response"):
        check_impulse_response(ir.samples, what="x")
    rng = np.random.default_rng(3)
    sos = sg.butter(2, 200, fs=48000, output="sos")
    for n in (5760, 48000, 480000):
        noise = sg.sosfilt(sos, rng.standard_normal(n))           # crest 9-13 dB, no decay
        with pytest.raises(SignalError, match="does not look like an impulse response"):
            check_impulse_response(noise, what="rumble")
        t = np.arange(n) / 48000
        T = n / 48000
        sweep = np.sin(2 * np.pi * 20 * T / np.log(10) * (np.exp(t / T * np.log(10)) - 1))   # 20-200 Hz
        with pytest.raises(SignalError, match="does not look like an impulse response"):
            check_impulse_response(sweep, what="a sub's sweep")
        with pytest.raises(SignalError, match="does not look like an impulse response"):   # + silence after
            check_impulse_response(np.r_[sweep, np.zeros(n)], what="a sweep recording")
