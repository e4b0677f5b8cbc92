"""Alignment: sub-sample arrival, delays, trims, polarity flags (analytic delayed impulses)."""

from __future__ import annotations

import numpy as np
import pytest

from calib.correction.alignment import align_speakers, arrival_s, band_level_db
from calib.errors import SignalError

FS = 48_000


def _impulse(delay_samples: float, gain: float = 1.0, n: int = 8192) -> np.ndarray:
    k = np.arange(n)
    x = k - delay_samples
    return gain * np.sinc(x) * np.where(np.abs(x) < 200, 0.5 * (1 + np.cos(np.pi * x / 200)), 0.0)


@pytest.mark.parametrize("delay", [1000.0, 1000.3, 1234.75])
def test_sub_sample_arrival(delay):
    t, pol = arrival_s(_impulse(delay), fs=FS)
    # 0.05 sample (1 µs at 48 kHz): parabolic refinement of the band-limited envelope peak
    assert t * FS == pytest.approx(delay, abs=0.05)
    assert pol == 1


def test_delays_trims_and_polarity():
    irs = np.array([_impulse(1000.0), _impulse(1012.4, 0.5), _impulse(1003.0, -1.0)])
    a = align_speakers(irs, ("L", "R", "C"), fs=FS)
    # everyone waits for the latest arrival (R at 1012.4 samples)
    assert np.array(a.delay_s) * FS == pytest.approx([12.4, 0.0, 9.4], abs=0.05)
    # R is 6.02 dB quieter (gain 0.5): everyone else is trimmed down to it; 0.01 dB: band-edge ripple
    assert a.trim_db == pytest.approx((20 * np.log10(0.5), 0.0, 20 * np.log10(0.5)), abs=0.01)
    assert a.polarity == (1, 1, -1)
    assert any("C has the opposite polarity" in w for w in a.warnings)


def test_inverted_chain_flag_and_levels():
    a = align_speakers(np.array([_impulse(500, -1.0), _impulse(500, -1.0)]), ("L", "R"), fs=FS)
    assert any("measurement chain" in w for w in a.warnings)
    assert band_level_db(_impulse(500, 2.0), fs=FS) == pytest.approx(20 * np.log10(2.0), abs=0.01)


def test_zero_ir_is_refused():
    with pytest.raises(SignalError, match="all zeros"):
        arrival_s(np.zeros(1000), fs=FS)


def test_simulated_room_arrivals_match_its_geometry():
    sim = pytest.importorskip("hardware.simulated")
    ir = sim.default_room(FS)
    facts = sim.DEFAULT_ROOM_FACTS
    a = align_speakers(ir.samples, ir.channel_names, fs=FS)
    for name, t in zip(a.names, a.arrival_s):
        # 0.02 sample (0.4 µs): the room renders its direct sounds as fractional-delay impulses
        assert t * 1e3 == pytest.approx(facts.arrival_ms[name], abs=0.02 / FS * 1e3)
    assert a.delay_s[0] * 1e3 == pytest.approx(facts.channel_delay_ms, abs=0.02 / FS * 1e3)
    assert a.delay_s[1] == 0.0
