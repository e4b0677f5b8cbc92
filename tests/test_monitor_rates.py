"""A profile played at a rate it has no FIR for: PEQ if it has one, else its FIR resampled."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from monitor.chain import build_chain, resample_fir
from monitor.engine import Engine

FS = 48_000


def correction_fir(n: int = 16384, peak: int = 2000) -> np.ndarray:
    """A correction-like FIR: a delayed impulse minus a resonance at 60 Hz (a mode cut) and a
    noisy tail, windowed in and out as designed FIRs are."""
    rng = np.random.default_rng(3)
    imp = np.zeros(n)
    imp[peak] = 1.0
    b, a = ss.iirpeak(60.0, 4.0, FS)
    h = imp - 0.5 * ss.lfilter(b, a, imp)
    h = h + 0.01 * rng.standard_normal(n) * np.exp(-np.abs(np.arange(n) - peak) / 3000)
    fade = 1000
    w = np.ones(n)
    w[:fade] = np.sin(0.5 * np.pi * np.arange(fade) / fade) ** 2
    w[-fade:] = w[:fade][::-1]
    return h * w


@pytest.mark.parametrize("fs2", [44_100, 88_200, 96_000, 32_000])
def test_resampled_fir_keeps_the_response_within_0_05_db(fs2):
    h = correction_fir()
    h2 = resample_fir(h, FS, fs2)
    f = np.geomspace(20.0, min(18_000.0, 0.42 * fs2), 300)
    _, a = ss.freqz(h, worN=f, fs=FS)
    _, b = ss.freqz(h2, worN=f, fs=fs2)
    assert np.max(np.abs(20 * np.log10(np.abs(b) / np.abs(a)))) <= 0.05
    # the main peak stays at the same time (within one sample of the new rate)
    assert abs(np.argmax(np.abs(h2)) / fs2 - 2000 / FS) <= 1.0 / fs2


def test_fir_only_speaker_at_another_rate_runs_its_resampled_fir_not_nothing():
    h = correction_fir()
    prof = CalibrationProfile(name="fir48", speakers=(SpeakerCorrection("L", 0, fir={FS: h}),), design_fs=FS)
    ch = build_chain(prof, fs=44_100, n_channels=1, block=256)
    assert ch.uses_fir == (True,)
    eng = Engine(fs=44_100, n_channels=1, block=256, max_align_s=0.0, bypass=False)
    eng.load(prof, "A")
    x = np.zeros((1, 256 * 100), np.float32)
    x[0, 0] = 0.25
    y = np.zeros_like(x)
    for i in range(0, x.shape[1], 256):
        eng.process(x[:, i:i + 256], y[:, i:i + 256])
    ref = resample_fir(h, FS, 44_100) * 0.25
    lat = eng.latency_samples
    got = y[0, lat:lat + 12000]
    assert np.max(np.abs(got - ref[:12000])) <= 1e-5


def test_speaker_with_peq_keeps_running_its_peq_at_another_rate():
    prof = CalibrationProfile(name="both", speakers=(SpeakerCorrection(
        "L", 0, fir={FS: correction_fir()}, peq=(Biquad("peaking", 60.0, -6.0, 4.0),)),), design_fs=FS)
    assert build_chain(prof, fs=44_100, n_channels=1, block=256).uses_fir == (False,)
    assert build_chain(prof, fs=FS, n_channels=1, block=256).uses_fir == (True,)


def test_render_at_44k1_through_a_48k_fir_only_profile_is_corrected_and_says_how(run_cli, tmp_path):
    import json

    import soundfile as sf

    h = correction_fir()
    prof = CalibrationProfile(name="fir48", speakers=(SpeakerCorrection("L", 0, fir={FS: h}),), design_fs=FS)
    prof.save(tmp_path / "p")
    x = np.zeros(44_100, np.float32)
    x[100] = 0.25
    sf.write(tmp_path / "in.wav", x, 44_100, subtype="FLOAT")
    code, out, err = run_cli("monitor", "render", tmp_path / "p", tmp_path / "in.wav", tmp_path / "out.wav", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert any("resampled to 44100 Hz" in n for n in res["notes"])
    y, fs = sf.read(tmp_path / "out.wav", dtype="float64")
    assert fs == 44_100 and y.shape == (44_100,)
    ref = resample_fir(h, FS, 44_100) * 0.25
    assert np.max(np.abs(y[100:100 + 12000] - ref[:12000])) <= 1e-4     # the correction, not a copy


def test_peq_speaker_beside_a_delayed_fir_speaker_stays_in_time():
    """L runs a FIR whose main peak is at tap 300, R runs biquads: R waits the same 300 samples
    (the chain's FIR bulk delay), so an impulse on both inputs leaves both outputs together."""
    h = np.zeros(2048)
    h[300] = 1.0
    h[301:900] = 0.001
    prof = CalibrationProfile(name="mixed", speakers=(
        SpeakerCorrection("L", 0, fir={FS: h}),
        SpeakerCorrection("R", 1, peq=(Biquad("peaking", 5000.0, -3.0, 1.0),))), design_fs=FS)
    eng = Engine(fs=FS, n_channels=2, block=64, max_align_s=0.0, bypass=False)
    eng.load(prof, "A")
    x = np.zeros((2, 64 * 40), np.float32)
    x[:, 10] = 0.5
    y = np.zeros_like(x)
    for i in range(0, x.shape[1], 64):
        eng.process(x[:, i:i + 64], y[:, i:i + 64])
    lat = eng.latency_samples
    assert int(np.argmax(np.abs(y[0]))) == 10 + 300 + lat
    assert int(np.argmax(np.abs(y[1]))) == 10 + 300 + lat
    assert not np.any(np.abs(y[1, : 10 + 300 + lat - 8]) > 1e-6)   # nothing of R leaves early
