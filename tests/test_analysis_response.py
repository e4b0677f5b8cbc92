"""Responses from impulse responses: analytic impulses, delays, reflections, phase splits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from calib.analysis.response import (
    fdw_spectrum,
    group_delay_s,
    ir_to_response,
    min_excess_phase,
    onset_index,
    peak_position_samples,
    spatial_average,
    step_response,
)
from calib.errors import SignalError
from calib.types import FrequencyResponse, ImpulseResponse

FS = 48000


def _ir(*rows, names=None):
    rows = [np.asarray(r, dtype=float) for r in rows]
    return ImpulseResponse(samples=np.stack(rows), fs=FS, channel_names=names or tuple(f"c{i}" for i in range(len(rows))))


def test_delayed_impulse_is_flat_zero_phase():
    x = np.zeros(4096)
    x[100] = 0.5
    fr = ir_to_response(_ir(x))
    # exactly -6.0206 dB everywhere; delay removed → phase 0 (float rounding only)
    np.testing.assert_allclose(fr.magnitude_db, 20 * np.log10(0.5), atol=1e-9)
    np.testing.assert_allclose(fr.phase_rad, 0.0, atol=1e-7)
    fr0 = ir_to_response(_ir(x), remove_delay=False)
    gd = group_delay_s(fr0.freqs_hz, fr0.phase_rad)
    # pure delay of 100 samples → group delay 100/fs everywhere (to 1 ns)
    np.testing.assert_allclose(gd, 100 / FS, atol=1e-9)


def test_biquad_magnitude_matches_freqz():
    b, a = signal.butter(2, 1000, fs=FS)
    x = signal.lfilter(b, a, np.r_[1.0, np.zeros(16383)])
    fr = ir_to_response(_ir(x), remove_delay=False)
    _, h = signal.freqz(b, a, fr.freqs_hz, fs=FS)
    sel = fr.freqs_hz < 15000   # above, |H| falls below 1e-6 and truncation noise dominates
    np.testing.assert_allclose(fr.magnitude_db[0, sel], 20 * np.log10(np.abs(h[sel])), atol=1e-6)


def test_minimum_phase_system_has_no_excess_phase():
    b, a = signal.butter(2, 500, fs=FS)   # min-phase: zeros at z = -1, poles inside the circle
    x = signal.lfilter(b, a, np.r_[1.0, np.zeros(32767)])
    fr = ir_to_response(_ir(x), remove_delay=False, n_fft=65536)
    _mp, ex = min_excess_phase(fr)
    sel = (fr.freqs_hz > 20) & (fr.freqs_hz < 5000)
    # cepstral aliasing with a 65536-point FFT leaves < 0.01 rad
    assert np.max(np.abs(ex[0, sel])) < 0.01


def test_excess_phase_of_delayed_min_phase_is_the_delay():
    b, a = signal.butter(2, 500, fs=FS)
    x = signal.lfilter(b, a, np.r_[np.zeros(48), 1.0, np.zeros(32767 - 48)])
    fr = ir_to_response(_ir(x), remove_delay=False, n_fft=65536)
    _mp, ex = min_excess_phase(fr)
    gd = group_delay_s(fr.freqs_hz, ex)
    sel = (fr.freqs_hz > 50) & (fr.freqs_hz < 5000)
    # excess group delay = 48 samples = 1 ms (± 1 µs)
    np.testing.assert_allclose(gd[0, sel], 48 / FS, atol=1e-6)


def test_gate_removes_late_reflection():
    x = np.zeros(48000)
    x[1000] = 1.0
    x[1000 + 480] = 0.5      # 10 ms reflection
    full = ir_to_response(_ir(x))
    gated = ir_to_response(_ir(x), window="gate", gate_ms=(1.0, 5.0))
    # full: comb between 20·lg(1.5) and 20·lg(0.5); gated: flat 0 dB (the reflection is outside)
    assert full.magnitude_db.max() == pytest.approx(20 * np.log10(1.5), abs=1e-6)
    np.testing.assert_allclose(gated.magnitude_db, 0.0, atol=1e-9)


def test_fdw_includes_reflection_only_at_low_frequency():
    x = np.zeros(48000)
    t0 = 2000
    x[t0] = 1.0
    tau = 240                # 5 ms reflection, gain 0.5
    x[t0 + tau] = 0.5
    f = np.array([200.0, 500.0, 3000.0, 6000.0, 10000.0])
    h = fdw_spectrum(x, fs=FS, freqs_hz=f, cycles=15, t0_samples=t0)
    # window after the origin: flat for 7.5/f s, half-Hann over the next 7.5/f s.
    total = 15 * FS / f
    half = total / 2
    t = tau
    w = np.where(t <= half, 1.0, np.where(t >= total, 0.0, np.cos(0.5 * np.pi * (t - half) / half) ** 2))
    expect = 1 + 0.5 * w * np.exp(-2j * np.pi * f * tau / FS)
    np.testing.assert_allclose(h, expect, atol=1e-12)
    assert abs(h[-1]) == pytest.approx(1.0, abs=1e-12)   # 10 kHz: 1.5 ms window, reflection out


def test_fdw_response_object():
    x = np.zeros(9600)
    x[500] = 1.0
    fr = ir_to_response(_ir(x), window="fdw")
    assert fr.freqs_hz[0] == pytest.approx(10.0)
    np.testing.assert_allclose(fr.magnitude_db, 0.0, atol=1e-9)


def test_step_response_of_impulse_is_unit_step():
    x = np.zeros(100)
    x[10] = 1.0
    s = step_response(_ir(x))
    assert s[0, 9] == 0.0 and np.all(s[0, 10:] == 1.0)


def test_peak_and_onset():
    x = np.zeros(100)
    x[40], x[41], x[42] = 0.5, 1.0, 0.5
    assert peak_position_samples(x) == pytest.approx(41.0)
    x[42] = 0.9
    assert 41 < peak_position_samples(-x) < 42      # polarity does not matter
    x[42] = 0.5
    assert onset_index(x, threshold_db=-20) == 40
    with pytest.raises(SignalError, match="silent"):
        peak_position_samples(np.zeros(10))


def test_spatial_average_rms_vector_db():
    f = np.array([100.0, 200.0])
    a = FrequencyResponse(freqs_hz=f, magnitude_db=[[0.0, 0.0]], channel_names=("L",), phase_rad=[[0.0, 0.0]])
    b = FrequencyResponse(freqs_hz=f, magnitude_db=[[0.0, 0.0]], channel_names=("L",), phase_rad=[[0.0, np.pi]])
    rms = spatial_average([a, b])
    vec = spatial_average([a, b], method="vector")
    np.testing.assert_allclose(rms.magnitude_db, 0.0, atol=1e-12)
    # equal magnitudes, opposite phase at 200 Hz cancel in the vector mean
    assert vec.magnitude_db[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert vec.magnitude_db[0, 1] < -150
    c = FrequencyResponse(freqs_hz=f, magnitude_db=[[-6.0, -6.0]], channel_names=("L",))
    assert spatial_average([a, c], method="db").magnitude_db[0, 0] == pytest.approx(-3.0)
    # power mean of 1 and 0.2512: 10·lg((1 + 10^-0.6)/2)
    assert spatial_average([a, c]).magnitude_db[0, 0] == pytest.approx(10 * np.log10((1 + 10 ** -0.6) / 2))


def test_errors():
    x = np.zeros(1000)
    x[0] = 1
    with pytest.raises(SignalError, match="unknown window"):
        ir_to_response(_ir(x), window="hann")
    with pytest.raises(SignalError, match="shorter than the impulse response"):
        ir_to_response(_ir(x), n_fft=512)
    fr = ir_to_response(_ir(x), window="fdw")
    with pytest.raises(SignalError, match="full FFT grid"):
        min_excess_phase(fr)
    f = np.array([1.0, 2.0])
    a = FrequencyResponse(freqs_hz=f, magnitude_db=[[0.0, 0.0]], channel_names=("L",))
    with pytest.raises(SignalError, match="needs phase"):
        spatial_average([a, a], method="vector")
    b = FrequencyResponse(freqs_hz=f, magnitude_db=[[0.0, 0.0]], channel_names=("R",))
    with pytest.raises(SignalError, match="channels"):
        spatial_average([a, b])
    with pytest.raises(SignalError, match="no responses"):
        spatial_average([])


def test_seat_average_rms_of_two_known_seats():
    from calib.analysis.seats import seat_average_response

    x1 = np.zeros(4800)
    x1[100] = 1.0
    x2 = np.zeros(4800)
    x2[300] = 0.5                       # another seat: later and 6 dB lower, flat
    s1 = _ir(x1, names=("L",))
    s2 = _ir(x2, names=("L",))
    avg = seat_average_response([s1, s2], smoothing="none")
    # power mean of 1 and 0.25 at every frequency: 10·lg(0.625) = -2.04 dB (rounding only)
    np.testing.assert_allclose(avg.magnitude_db, 10 * np.log10(0.625), atol=1e-9)
    vec = seat_average_response([s1, s2], method="vector")
    # delays removed per seat: the complex mean of 1 and 0.5 is 0.75 → -2.50 dB
    np.testing.assert_allclose(vec.magnitude_db, 20 * np.log10(0.75), atol=1e-6)
    with pytest.raises(SignalError, match="no seats"):
        seat_average_response([])
