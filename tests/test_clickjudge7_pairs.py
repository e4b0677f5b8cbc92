"""Two clicks 16 ms apart are two clicks (clickjudge7): stage 2's periodicity rule (a corner that
comes back a period before and after is a sawtooth's) no longer counts the first click of a pair
as the second one's "period" (with hat noise 16 ms after it, the pair looked periodic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixes.clicks import click_audibility_db, find_clicks

PIANO = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pyloudnorm-piano" / "piano.wav"


@pytest.fixture(scope="module")
def piano():
    if not PIANO.exists():
        pytest.skip(f"shared data not found: {PIANO}")
    import soundfile as sf
    x, fs = sf.read(str(PIANO), dtype="float64", always_2d=True)
    return x.T.copy(), fs


def _reports(y, fs):
    return [e for c in range(y.shape[0]) for e in find_clicks(y[c], fs=fs, channel=c, other=y[1 - c])]


def _found(ev, t_s, ch):
    return any(e.channel == ch and abs(e.time_s - t_s) <= 0.002 for e in ev)


def test_issue_example_pair_at_2_1_s_both_found(piano):
    # the issue's example, draw 9 of tests/test_clicks6_issue.py: clicks at 2.100 and 2.116 s in
    # the left channel under hi-hat strokes; the second was rejected as a periodic corner (the
    # first click 16 ms before it, hat noise 16 ms after it)
    from test_clicks6_issue import _issue_case
    x, fs = piano
    music, y, truth = _issue_case(x, fs, 9)
    (t1, c1, a1), (t2, c2, a2) = truth[:2]
    assert abs(t2 - t1 - 0.016) < 1e-3 and a1 > 3 and a2 > 3
    ev = _reports(y, fs)
    assert _found(ev, t1, c1) and _found(ev, t2, c2), [(e.time_s, e.channel) for e in ev if abs(e.time_s - t1) < 0.05]
    assert _reports(music, fs) == []


@pytest.mark.parametrize("hats", [False, True])
def test_16_ms_pairs_both_found(piano, hats):
    # twelve pairs of single or 3-sample clicks 16 ms apart, -34..-24 dBFS, one channel, in the
    # real piano (alone, and under eighth-note hats): the second click is found where the first
    # is (measured 11/11 alone; 8/10 under hats, whose two misses are not this rule's: one has no
    # stage-2 event, one is a low-band event just ahead of a hat stroke whose full-rate waveform
    # was refused); nothing is reported that was not planted
    from test_clicks6_issue import _hats
    x, fs = piano
    rng = np.random.default_rng(77 + hats)
    music = x + (_hats(x.shape[1], fs, rng) if hats else 0.0)
    y = music.copy()
    pairs = []
    for p in np.sort(rng.choice(np.arange(int(0.2 * fs), x.shape[1] - int(0.3 * fs), int(0.4 * fs)), 12, replace=False)):
        ch = int(rng.integers(2))
        pair = []
        for q in (int(p), int(p + 0.016 * fs)):
            c = (np.array([1.0]) if rng.random() < 0.5 else np.array([0.6, 1.0, -0.5])) \
                * rng.choice([-1.0, 1.0]) * 10 ** (rng.uniform(-34, -24) / 20)
            pair.append((q / fs, ch, click_audibility_db(music[ch], c, q, fs=fs)))
            y[ch, q:q + c.size] += c
        pairs.append(pair)
    ev = _reports(y, fs)
    firsts = [pr for pr in pairs if pr[0][2] > 3 and pr[1][2] > 3 and _found(ev, pr[0][0], pr[0][1])]
    assert len(firsts) >= 8, len(firsts)
    seconds = sum(_found(ev, pr[1][0], pr[1][1]) for pr in firsts)
    assert seconds >= (0.8 if hats else 1.0) * len(firsts), (seconds, len(firsts))
    assert all(any(abs(e.time_s - t) <= 0.002 and e.channel == ch for pr in pairs for t, ch, _ in pr) for e in ev)
