"""The click detector's time-frequency path (clicks7, :mod:`mixes.click_tf`).

Clicks inside hi-hat strokes that the order-16 AR model of stage 2 cannot see (a step or burst
held 0.5-2 ms, whose energy lies below ~3 kHz, where the hat leaves room) are found by band
powers normalised by their own two-sided local level; two clicks 16 ms apart stay two events;
a clean percussion loop gives nothing.  The truth for "should be found" is the oracle
(:func:`mixes.clicks.click_audibility_db`, from the known click and the clean programme).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

import mixes.clicks as C
from conftest import shared_data
from mixes.click_decimate import _decimate, _lowpass
from mixes.click_tf import SCORE_MIN, centres
from mixes.clicks import click_audibility_db, find_clicks


@pytest.fixture(scope="module")
def piano():
    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    return x.T.copy(), fs


@pytest.fixture
def tf_on(monkeypatch):
    monkeypatch.setattr(C, "TF_PATH", True)


def _hats(n, fs, rng, *, level=0.04, period_s=0.25, start_s=0.07):
    """Hi-hat-like strokes: noise high-passed at 6 kHz, 20-60 ms decay, one per ``period_s``."""
    sos = butter(4, 6000, "hp", fs=fs, output="sos")
    y = np.zeros((2, n))
    t = np.arange(int(0.6 * fs)) / fs
    for p in range(int(start_s * fs), n - t.size, int(period_s * fs)):
        y[:, p:p + t.size] += sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.02, 0.06)) * level
    return y


def _loop(n, fs, rng, level=0.15):
    """A clean drum loop: hats on eighths (120 bpm), kick on 1, snare on 3, over nothing else."""
    y = np.zeros((2, n))
    sos = butter(4, 6000, "hp", fs=fs, output="sos")
    eighth = int(0.25 * fs)
    t = np.arange(int(0.6 * fs)) / fs
    for k, p in enumerate(range(int(0.05 * fs), n - t.size, eighth)):
        y[:, p:p + t.size] += sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.02, 0.06)) \
            * level * np.array([[0.8], [1.0]])
        if k % 4 == 0:
            y[:, p:p + t.size] += 2 * level * np.sin(2 * np.pi * (50 * t + 8 * (1 - np.exp(-t / 0.04)))) * np.exp(-t / 0.12)
        if k % 4 == 2:
            y[:, p:p + t.size] += 1.2 * level * rng.standard_normal(t.size) * np.exp(-t / 0.08)
    return y


def test_band_scores_click_in_decaying_noise_bursts(tf_on):
    # analytic material: noise strokes (white, so every band is busy) decaying with 30 ms every
    # 125 ms; the level changes 3x over a stroke's first 30 ms, which a one-sided or fixed
    # reference would take for events.  A 1 ms step of 4x the noise's rms 30 ms into a stroke
    # scores far above anything in the clean strokes (measured 96-547 against a clean maximum
    # of 44-50 over three noise draws: a chi-square tail, which the AR check of stage 2 then
    # refuses) and is placed within 1 ms; two such steps 16 ms apart are two peaks; the clean
    # strokes give no click.
    fs = 48000
    d, h = _lowpass(fs)
    for seed in (3, 4):
        rng = np.random.default_rng(seed)
        n = 4 * fs
        t = np.arange(n) / fs
        env = 0.05 * np.exp(-((t - 0.02) % 0.125) / 0.03)
        x = rng.standard_normal(n) * env
        _, clean = centres(_decimate(x, d, h), fs, d, h.size, 0.0)
        assert find_clicks(x, fs=fs) == []
        y = x.copy()
        qs = [int((0.02 + 0.125 * 7 + 0.03) * fs), int((0.02 + 0.125 * 20 + 0.03) * fs)]
        qs.append(qs[1] + int(0.016 * fs))
        for q in qs:
            y[q:q + 48] += 4 * env[q]
        pos, score = centres(_decimate(y, d, h), fs, d, h.size, 0.0)
        for q in qs:
            k = int(np.argmin(np.abs(pos - (q + 24))))
            # (the frame's centre vs the step's middle: within 1 ms)
            assert abs(pos[k] - (q + 24)) <= 0.001 * fs, (seed, pos[k] - q)
            assert score[k] > max(SCORE_MIN, 1.5 * clean.max()), (seed, score[k], clean.max())


def _steps_in_strokes(x, fs, seed):
    """Piano + hats; 0.6-1.8 ms steps and bursts at -40..-30 dBFS 15-35 ms into every third
    stroke (channel 0), a partner 16 ms later at every third of those.  Returns clean, dirty, truth
    [(sample, audibility_db, pair id or -1)]."""
    rng = np.random.default_rng(40 + seed)
    music = x + _hats(x.shape[1], fs, rng)
    y = music[0].copy()
    truth = []
    for stroke in range(2, 36, 3):
        q = int((0.07 + 0.25 * stroke + rng.uniform(0.015, 0.035)) * fs)
        w = int(rng.uniform(0.0006, 0.0018) * fs)
        c = np.ones(w) if stroke % 2 == 0 else rng.standard_normal(w) * np.hanning(w + 2)[1:-1]
        c = c / np.abs(c).max() * 10 ** (rng.uniform(-40, -30) / 20) * rng.choice([-1, 1])
        qs = [q, q + int(0.016 * fs)] if stroke % 3 == 2 else [q]
        for qq in qs:
            truth.append((qq, click_audibility_db(music[0], c, qq, fs=fs), stroke if len(qs) == 2 else -1))
            y[qq:qq + c.size] += c
    return music, y, truth


def test_steps_and_bursts_inside_hat_strokes(piano, monkeypatch):
    # measured (3 draws, 72 plants, 69-72 audible): stage 1-2 alone 26 found, with the TF path 37;
    # nothing false, nothing on the clean files; the 16-ms pairs are counted as two
    x, fs = piano
    found = {False: 0, True: 0}
    pairs_both = 0
    n_aud = 0
    for seed in range(3):
        music, y, truth = _steps_in_strokes(x, fs, seed)
        n_aud += sum(a > 0 for _, a, _ in truth)
        for tf in (False, True):
            monkeypatch.setattr(C, "TF_PATH", tf)
            ev = find_clicks(y, fs=fs, other=music[1])
            on = np.array([int(round(e.time_s * fs)) for e in ev], dtype=np.int64)
            hit = {q for q, a, _ in truth if a > 0 and on.size and np.min(np.abs(on - q)) <= 0.002 * fs}
            false = [o for o in on if not any(abs(o - q) <= 0.002 * fs for q, _, _ in truth)]
            assert not false, (seed, tf, false)
            found[tf] += len(hit)
            if tf:
                assert find_clicks(music[0], fs=fs, other=music[1]) == []
                # a 16-ms pair found whole is two events, one per click
                for pid in {p for _, _, p in truth if p >= 0}:
                    qs = [q for q, _, p in truth if p == pid]
                    if all(q in hit for q in qs):
                        pairs_both += 1
                        assert sum(np.any(np.abs(on - q) <= 0.002 * fs) for q in qs) == 2
    assert n_aud >= 66
    assert found[True] >= 33 and found[True] >= found[False] + 7, found     # measured 37 vs 26
    assert pairs_both >= 1


def test_clean_drum_loops_report_nothing(piano, tf_on):
    # hats + kick + snare alone, over the piano, and 6 dB louder: the TF path adds no report
    x, fs = piano
    for seed, gain in ((0, 1.0), (1, 2.0)):
        rng = np.random.default_rng(70 + seed)
        loop = _loop(x.shape[1], fs, rng) * gain
        for prog in (loop, loop + x):
            for ch in range(2):
                assert find_clicks(prog[ch], fs=fs, other=prog[1 - ch]) == [], (seed, gain, ch)
