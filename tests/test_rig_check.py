"""The rig's render check (hardware.rig_check): what makes a capture through the JACK virtual
room verifiably intact, or not.  Pure signal tests plus the backend's decision."""

from __future__ import annotations

import numpy as np

from hardware.rig_check import CONV_TOL_REL, check_render

P = 256
RNG = np.random.default_rng(11)
X = RNG.uniform(-0.5, 0.5, 8 * P * 10).astype(np.float32).astype(np.float64)
IR = np.zeros(300)
IR[[5, 40, 299]] = [0.7, -0.2, 0.05]
ROUTING = {0: [(0, IR)], 1: [(0, None)]}


def _delayed(y: np.ndarray, d: int) -> np.ndarray:
    out = np.zeros_like(y)
    out[d:] = y[: y.size - d]
    return out


def _capture(d: int = P) -> np.ndarray:
    mic = np.convolve(X, IR)[: X.size].astype(np.float32).astype(np.float64)  # float32 like jconvolver
    return np.vstack([_delayed(mic, d), _delayed(X, d)])


def test_intact_capture_matches_with_one_period_delay():
    chk = check_render(_capture(), played={0: X}, routing=ROUTING, input_channels=(0, 1), period=P)
    assert chk.ok and chk.delay_samples == P and chk.checked_inputs == (0, 1)
    # float32 rounding of the convolved mic only (2^-24 relative, well under CONV_TOL_REL)
    assert chk.max_error_rel < 1e-6 < CONV_TOL_REL


def test_a_dropped_block_is_caught_anywhere():
    for block in (3, 40, 79):   # early, middle, last-but-one period
        rec = _capture()
        i = block * P
        rec[:, i:] = np.concatenate([rec[:, i + P:], np.zeros((2, P))], axis=1)   # block lost
        chk = check_render(rec, played={0: X}, routing=ROUTING, input_channels=(0, 1), period=P)
        assert not chk.ok and chk.delay_samples is None, block


def test_a_wire_must_be_bit_exact_and_the_room_within_tolerance():
    rec = _capture()
    rec[1, 5000] = np.nextafter(rec[1, 5000], 1.0)          # one ulp on the wire: refused
    assert not check_render(rec, played={0: X}, routing=ROUTING, input_channels=(0, 1), period=P).ok
    rec = _capture()
    rec[0, 5000] += 1e-3 * np.max(np.abs(rec[0]))            # 1e-3 of peak on the mic: refused
    chk = check_render(rec, played={0: X}, routing=ROUTING, input_channels=(0, 1), period=P)
    assert not chk.ok and "differs from the rig's output by 1.00e-03" in chk.reason
    rec = _capture()
    rec[0, 5000] += 1e-6 * np.max(np.abs(rec[0]))            # float32-rounding size: accepted
    assert check_render(rec, played={0: X}, routing=ROUTING, input_channels=(0, 1), period=P).ok


def test_nothing_to_compare():
    chk = check_render(np.zeros((1, 1000)), played={0: np.zeros(1000)}, routing=ROUTING,
                       input_channels=(0,), period=P)
    assert not chk.ok and chk.checked_inputs == () and chk.reason == "nothing to compare"
    chk = check_render(np.zeros((1, 1000)), played={0: X[:1000]}, routing=ROUTING,
                       input_channels=(5,), period=P)
    assert chk.checked_inputs == ()
