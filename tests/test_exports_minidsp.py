"""miniDSP coefficients: sign convention of a1/a2 and a round trip to the same filter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt

from calib.errors import ConfigError
from calib.exports.minidsp import format_minidsp, parse_minidsp
from calib.profile import Biquad


def test_round_trip_and_difference_equation():
    peq = [Biquad("peaking", 54.4, -10.0, 11.03), Biquad("lowshelf", 100.0, 3.0, 0.7071)]
    text = format_minidsp(peq, fs=48_000, n_slots=4)
    assert text.count("biquad") == 4 and text.rstrip().endswith(tuple("0123456789"))
    sos = parse_minidsp(text)
    ref = np.vstack([b.sos(fs=48_000) for b in peq])
    assert np.max(np.abs(sos[:2] - ref)) < 1e-15  # 16 significant digits
    assert np.all(sos[2:] == [1, 0, 0, 1, 0, 0])
    # miniDSP's difference equation y = b0 x + b1 x1 + b2 x2 + a1 y1 + a2 y2 with the exported a1, a2
    vals = dict(kv.split("=") for kv in text.replace("\n", "").split(",") if "=" in kv)
    b0, b1, b2, a1, a2 = (float(vals[k]) for k in ("b0", "b1", "b2", "a1", "a2"))  # the last biquad's
    x = np.random.default_rng(0).standard_normal(500)
    y = np.zeros_like(x)
    for n in range(x.size):
        y[n] = b0 * x[n] + (b1 * x[n - 1] if n > 0 else 0) + (b2 * x[n - 2] if n > 1 else 0) \
            + (a1 * y[n - 1] if n > 0 else 0) + (a2 * y[n - 2] if n > 1 else 0)
    assert np.allclose(y, x)  # the last slot is a pass-through
    first = text.split("biquad2")[0]
    v1 = dict(kv.split("=") for kv in first.replace("\n", "").split(",") if "=" in kv)
    y1 = sosfilt(ref[:1], x)
    z = np.zeros_like(x)
    c = {k: float(v) for k, v in v1.items()}
    for n in range(x.size):
        z[n] = c["b0"] * x[n] + (c["b1"] * x[n - 1] if n > 0 else 0) + (c["b2"] * x[n - 2] if n > 1 else 0) \
            + (c["a1"] * z[n - 1] if n > 0 else 0) + (c["a2"] * z[n - 2] if n > 1 else 0)
    assert np.max(np.abs(z - y1)) < 1e-12


def test_errors():
    with pytest.raises(ConfigError, match="slots"):
        format_minidsp([Biquad("peaking", 50, -3, 5)] * 3, fs=48_000, n_slots=2)
    with pytest.raises(ConfigError, match="name=value"):
        parse_minidsp("biquad1,\nb0 1.0")
    with pytest.raises(ConfigError, match="lacks"):
        parse_minidsp("biquad1,\nb0=1.0")
