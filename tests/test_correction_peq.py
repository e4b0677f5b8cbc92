"""PEQ optimizer against analytic truth (RBJ peaking boost and cut with equal Q cancel exactly)."""

from __future__ import annotations

import numpy as np
import pytest

from calib.correction._spectrum import log_grid_hz
from calib.correction.peq import PeqSettings, optimize_peq, peq_response_db
from calib.errors import ConfigError
from calib.profile import Biquad

FS = 48_000


def test_recovers_the_inverse_of_a_known_mode():
    f = log_grid_hz(20, 500, points_per_octave=48)
    room = peq_response_db([Biquad("peaking", 63.0, 8.0, 5.0)], f, fs=FS)
    peq = optimize_peq(f, -room, np.zeros_like(f), fs=FS, settings=PeqSettings(n_max=3), lo_hz=20, hi_hz=500)
    assert len(peq) >= 1
    main = min(peq, key=lambda b: b.gain_db)
    # the exact answer is 63 Hz, -8 dB, Q 5 (RBJ §7.1); tolerances: the grid's 1/48 octave and rounding
    assert main.freq_hz == pytest.approx(63.0, rel=0.005)
    assert main.gain_db == pytest.approx(-8.0, abs=0.1)
    assert main.q == pytest.approx(5.0, rel=0.03)
    resid = room + peq_response_db(peq, f, fs=FS)
    assert np.max(np.abs(resid)) < 0.25  # dB: what is left after the fit


def test_boosts_are_capped_and_broad():
    f = log_grid_hz(20, 500, points_per_octave=48)
    want = np.full_like(f, 8.0)  # every seat 8 dB below target: boosting is allowed, but only +3 dB
    st = PeqSettings(n_max=6, max_boost_db=3.0)
    peq = optimize_peq(f, want, np.full_like(f, 8.0), fs=FS, settings=st, lo_hz=20, hi_hz=500)
    resp = peq_response_db(peq, log_grid_hz(10, 20000), fs=FS)
    assert resp.max() <= 3.0 + 0.05  # 0.05 dB: the penalty is soft and gains are rounded to 0.01 dB
    assert all(b.q <= st.q_boost_max + 1e-9 for b in peq if b.gain_db > 0)


def test_never_boosts_a_dip_that_moves_between_seats():
    from calib.correction.multiseat import combine_seats

    f = log_grid_hz(20, 500, points_per_octave=48)
    dip = lambda fc: -10 * np.exp(-0.5 * (np.log2(f / fc) / 0.05) ** 2)  # narrow (0.05 oct) 10 dB dips
    dev = np.array([dip(80.0), dip(95.0), dip(110.0)])
    comb = combine_seats(dev, np.full(3, 1 / 3))
    peq = optimize_peq(f, comb.desired_db, comb.boost_allowed_db, fs=FS, settings=PeqSettings(), lo_hz=20, hi_hz=500)
    resp = peq_response_db(peq, f, fs=FS)
    assert resp.max() <= 0.05  # no boost anywhere (0.05 dB: rounding)


def test_limits_count_and_q_range():
    f = log_grid_hz(20, 500, points_per_octave=48)
    room = peq_response_db([Biquad("peaking", fc, 6.0, 8.0) for fc in (40, 55, 70, 90, 120, 160, 210)], f, fs=FS)
    st = PeqSettings(n_max=3, q_min=1.0, q_max=6.0)
    peq = optimize_peq(f, -room, np.zeros_like(f), fs=FS, settings=st, lo_hz=20, hi_hz=500)
    assert 1 <= len(peq) <= 3
    assert all(1.0 - 1e-3 <= b.q <= 6.0 + 1e-3 for b in peq)
    assert all(20 <= b.freq_hz <= 500 for b in peq)


def test_settings_errors():
    with pytest.raises(ConfigError, match="--peq"):
        PeqSettings(n_max=100)
    with pytest.raises(ConfigError, match="max-boost"):
        PeqSettings(max_boost_db=20)
    with pytest.raises(ConfigError, match="Q range"):
        PeqSettings(q_min=5, q_max=2)
