"""Clean full mixes with drums report no click; a click planted in the same mix is still found.

cleanclick9: a pick's or a beater's smooth hump is that sound's attack wherever the sound is panned
(``mixes.click_masking.SMOOTH_ONSET_RULE``), and the median's rounding of a smooth hump's extremum is
not a sample-level spike (``mixes.click_onset.RESIDUAL_MIN_SHARE``).  songs5 707 (songwriter) gave
three reports on channel 1 at 1.258 / 2.513 / 8.789 s: a guitar's pick onsets, 0.5 ms humps with
0.2-0.4 % of their energy above 6 kHz, in a channel the other does not share.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from mixes.click_masking import audibility, smooth_transient
from mixes.click_onset import is_attack_wide, sharp_share
from mixes.clicks import click_audibility_db, detect_impulsive

FS = 48000


@lru_cache(maxsize=2)
def _mix707() -> np.ndarray:
    from mixes.songs5 import make_song
    return np.asarray(make_song(707, duration_s=12.0).mix(), dtype=np.float32)


def _reports(x: np.ndarray) -> list[tuple[float, int, float]]:
    """(time_s, channel, audibility_db) of every reported click, as mix analyze judges them."""
    out = []
    for c in range(x.shape[0]):
        imp = detect_impulsive(x[c], fs=FS)
        aud = audibility(x[c], imp, fs=FS, other=x[1 - c])
        out += [(imp.onset[k] / FS, c, float(aud[k])) for k in range(len(imp.onset)) if aud[k] > 0.0]
    return out


def test_smooth_hump_is_no_spike_and_is_smooth():
    # a 0.4 ms hump (a pick's onset as the interpolation isolates it): the median rounds its
    # difference's extremum, which is no spike
    hump = np.sin(np.pi * np.arange(1, 21) / 21) ** 2 * 0.02
    assert sharp_share(hump) < 0.02
    assert is_attack_wide(hump, fs=FS)
    assert smooth_transient(hump, fs=FS)


@pytest.mark.parametrize("shape", ["spike", "burst", "step"])
def test_click_on_a_smooth_error_is_not_smooth(shape):
    # what the interpolation leaves where the music moves fast: a smooth error, here 5x the click
    rng = np.random.default_rng(1)
    base = 0.05 * np.sin(np.pi * np.arange(1, 49) / 49)
    c = np.zeros(48)
    if shape == "spike":
        c[20] = 0.01
    elif shape == "burst":
        c[10:40] = 0.01 * rng.standard_normal(30) * np.hanning(32)[1:-1]
    else:
        c[8:40] = 0.01
    ev = base + c
    assert sharp_share(ev) > 0.05, sharp_share(ev)
    assert not smooth_transient(ev, fs=FS)


def test_clean_songs5_707_reports_nothing():
    # (three reports before cleanclick9, each stem alone none)
    assert _reports(_mix707()) == []


def test_click_planted_in_the_same_mix_is_found_with_its_audibility():
    x = _mix707().astype(np.float64)
    y = x.copy()
    rng = np.random.default_rng(7)
    # one-sample clicks and 0.5-ms noise bursts, in channel 1, one just on the pick onset at 2.513 s
    plants = []
    for i, t in enumerate((2.0, 2.5130, 4.1, 6.3, 9.7)):
        q = int(t * FS)
        if i % 2 == 0:
            c = np.array([1.0])
        else:
            c = rng.standard_normal(24) * np.hanning(26)[1:-1]
            c /= np.abs(c).max()
        c = c * 10 ** (-30 / 20)
        plants.append((q / FS, click_audibility_db(x[1], c, q, fs=FS)))
        y[1, q:q + c.size] += c
    rep = _reports(y.astype(np.float32))
    for t, aud in plants:
        assert aud > 3.0, (t, aud)
        got = [r for r in rep if r[1] == 1 and abs(r[0] - t) <= 0.002]
        assert got, (t, aud, rep)
        # the reported margin is the planted click's (the model's own oracle from the clean mix
        # and the known click), erring on the quiet side in this dense mix: measured 4-10 dB
        # under the oracle, the same before cleanclick9 (the isolation takes a little of the
        # click for music)
        assert aud - 12.0 <= got[0][2] <= aud + 3.0, (t, got[0][2], aud)
    # and nothing else: the music's onsets stay music with clicks beside them (before
    # cleanclick9 the pick onsets at 1.258 and 8.789 s were reported here too)
    assert all(any(abs(r[0] - t) <= 0.002 for t, _ in plants) for r in rep), rep
