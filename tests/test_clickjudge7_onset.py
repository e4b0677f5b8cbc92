"""Stage 3 (clickjudge7): a sample-level event is no sound's attack.

The onset rule of mixes.click_onset takes a transient that starts a sound panned like it for that
sound's attack.  A click the same in both channels (a render glitch, a dual-mono file) just ahead
of a centred drum hit passed that test and was dropped; a click of one or a few samples is never
a beater's or a pick's attack, so it is now judged whole.  Clean drum and guitar loops must still
report nothing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from mixes.click_masking import audibility
from mixes.click_onset import is_attack_wide, sample_level_span_s
from mixes.clicks import click_audibility_db, detect_impulsive

FS = 48000


def _reports(x: np.ndarray, stereo: bool = True) -> list[tuple[float, int]]:
    """(time_s, channel) of every reported click (audibility above 0 dB) of both channels."""
    out = []
    for c in (0, 1):
        imp = detect_impulsive(x[c], fs=FS)
        aud = audibility(x[c], imp, fs=FS, other=x[1 - c] if stereo else None)
        out += [(imp.onset[k] / FS, c) for k in range(len(imp.onset)) if aud[k] > 0.0]
    return out


@lru_cache(maxsize=8)
def _song(gen: str, seed: int, dur_s: float = 6.0):
    import importlib
    s = importlib.import_module(gen).make_song(seed, duration_s=dur_s)
    return s.mix(), s.stems["drums"]


def _hits(drums: np.ndarray) -> np.ndarray:
    """Drum hits (samples): a 1-ms frame 10x louder than the 28 ms before it, >= 2 % of the
    loudest frame, >= 60 ms apart."""
    e = np.convolve((drums[0] + drums[1]) ** 2, np.ones(48), "same")[::48]
    out, last = [], -10 ** 9
    for i in range(30, e.size):
        if e[i] > 0.02 * e.max() and e[i] > 10 * e[i - 30:i - 2].mean() + 1e-20 and i - last > 60:
            out.append(i * 48)
            last = i
    return np.asarray(out)


def test_sample_level_spans_on_analytic_shapes():
    rng = np.random.default_rng(3)
    # one sample, a 3-sample shape, a doublet 4 samples apart: no attack (spans in samples)
    for c in (np.array([1.0]), np.array([0.6, 1.0, -0.5]), np.array([1.0, 0, 0, 0, -0.7])):
        assert not is_attack_wide(c, fs=FS), c
    # a one-sample click on a smooth hump 5x its size (what the interpolation across a gap
    # leaves where the music moves fast): the second difference finds it
    hump = 5 * np.sin(np.pi * np.arange(24) / 24)
    hump[9] += 1.0
    d1_s, d2_s = sample_level_span_s(hump, fs=FS)
    assert d2_s * FS <= 3 and not is_attack_wide(hump, fs=FS), (d1_s * FS, d2_s * FS)
    # a beater: 1 ms of high-passed noise with a 0.3-ms rise (songs3's kick) is wide enough
    from scipy.signal import butter, sosfilt
    t = np.arange(48) / FS
    z = sosfilt(butter(2, 1500, "hp", fs=FS, output="sos"), rng.standard_normal(48))
    beater = z * np.minimum(t / 0.0003, 1.0) * np.exp(-t / 0.0008)
    assert is_attack_wide(beater, fs=FS)
    # a slope corner (a pick's ramp ending, a sine starting), as the interpolation leaves it: a
    # hump with one corner, 1 ms either side: wide (its first difference is a step, no spike)
    assert is_attack_wide(np.r_[np.linspace(0, 1, 48), np.linspace(1, 0, 49)[1:]], fs=FS)


@pytest.mark.parametrize("gen,seed", [("mixes.songs3", 702), ("mixes.songs", 205)])
def test_identical_two_channel_clicks_just_before_drum_hits_are_found(gen, seed):
    # single-sample and 3-sample clicks, -30..-20 dBFS, the same in both channels, 4-18 ms
    # before each drum hit (a centred kick or snare: the onset rule's case)
    x, drums = _song(gen, seed)
    rng = np.random.default_rng(seed)
    y = x.copy()
    planted = []
    for p in _hits(drums)[:14]:
        q = int(p - rng.uniform(0.004, 0.018) * FS)
        c = (np.array([1.0]) if rng.random() < 0.5 else np.array([0.6, 1.0, -0.5])) \
            * rng.choice([-1, 1]) * 10 ** (rng.uniform(-30, -20) / 20)
        y[:, q:q + c.size] += c
        planted += [(q / FS, ch) for ch in (0, 1) if click_audibility_db(x[ch], c, q, fs=FS) > 3.0]
    assert len(planted) >= 10, len(planted)
    with_rule, alone = _reports(y), _reports(y, stereo=False)

    def found(ev, t, ch):
        return any(e[1] == ch and abs(e[0] - t) <= 0.002 for e in ev)

    n_alone = sum(found(alone, t, ch) for t, ch in planted)
    n_rule = sum(found(with_rule, t, ch) for t, ch in planted)
    # the rule loses none of them (before clickjudge7 it lost 8 of the 14 and 4 of the 12 found)
    assert n_rule >= n_alone, (n_rule, n_alone, len(planted))
    assert n_rule >= 0.5 * len(planted), (n_rule, len(planted))     # (measured 14/20, 12/22)


@pytest.mark.parametrize("gen,seed", [("mixes.songs3", 702), ("mixes.songs3", 900), ("mixes.songs4", 706),
                                      ("mixes.songs", 205)])
def test_clean_drum_loops_report_nothing(gen, seed):
    # (songs3 702 and 900: kicks with a beater on every beat, 3 and 2 reports judged per channel)
    x, _ = _song(gen, seed)
    assert _reports(x) == []
