"""Stage 3's onset rule (mixes.click_onset): a transient that starts a sound panned into both
channels is that sound's attack; a click in one channel is still a click, also on a drum's onset."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from mixes.click_masking import audibility
from mixes.click_onset import coherent_share, onset_rise_db
from mixes.clicks import click_audibility_db, detect_impulsive

FS = 48000
PIANO = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pyloudnorm-piano" / "piano.wav"


class _Ev:
    def __init__(self, time_s: float, channel: int) -> None:
        self.time_s, self.channel = time_s, channel


def _both(x: np.ndarray, stereo: bool = True, fs: int = FS) -> list:
    """Reported clicks of both channels (find_clicks' rule: audibility above 0 dB), judged with
    the other channel (stereo) or each channel alone."""
    out = []
    for c in (0, 1):
        imp = detect_impulsive(x[c], fs=fs)
        aud = audibility(x[c], imp, fs=fs, other=x[1 - c] if stereo else None)
        out += [_Ev(imp.onset[k] / fs, c) for k in range(len(imp.onset)) if aud[k] > 0.0]
    return out


@lru_cache(maxsize=4)
def _song3(seed: int, dur_s: float = 6.0) -> np.ndarray:
    from mixes.songs3 import make_song
    return make_song(seed, duration_s=dur_s).mix()


def _found(events, t_s: float, ch: int, tol_s: float = 0.002) -> bool:
    return any(e.channel == ch and abs(e.time_s - t_s) <= tol_s for e in events)


def test_coherent_share_and_rise_on_analytic_signals():
    rng = np.random.default_rng(5)
    n = FS // 2
    # two independent "music" backgrounds (smooth: integrated noise), a 1 ms high-passed burst
    bg = np.cumsum(rng.standard_normal((2, n)), axis=1) * 1e-4
    bg -= bg.mean(axis=1, keepdims=True)
    burst = np.diff(rng.standard_normal(49)) * np.exp(-np.arange(48) / 10.0) * 0.05
    o = n // 2
    for gains in ((1.0, 1.0), (1.0, 0.3), (0.4, 1.0)):       # a source panned by a pan-pot
        x = bg.copy()
        for c in (0, 1):
            x[c, o:o + 48] += gains[c] * burst
        # (the share is an amplitude ratio; 0.2 = the other channel explains 96 % of the energy)
        share, gain_db = coherent_share(x[0], x[1], o, 48, fs=FS)
        assert share < 0.2, gains
        # (the pan-pot's ratio; 1.5 dB: the backgrounds' share of the cross term)
        assert gain_db == pytest.approx(20 * np.log10(gains[0] / gains[1]), abs=1.5)
        assert coherent_share(x[1], x[0], o, 48, fs=FS)[0] < 0.2, gains
    x = bg.copy()
    x[0, o:o + 48] += burst                                   # one channel only
    assert coherent_share(x[0], x[1], o, 48, fs=FS)[0] > 0.9
    x[1, o + 480:o + 528] += burst                            # the other channel's, 10 ms later
    assert coherent_share(x[0], x[1], o, 48, fs=FS)[0] > 0.9
    # a tone that starts at the event rises by far more than 6 dB in its band; a held one does not
    t = np.arange(n) / FS
    tone = 0.3 * np.sin(2 * np.pi * 196.0 * t)
    starts = np.where(np.arange(n) >= o, tone, 0.0) + bg[0]
    assert onset_rise_db(starts, o, 10, fs=FS) > 20.0
    assert abs(onset_rise_db(tone + bg[0], o, 10, fs=FS)) < 1.0       # (dB: Hann windows, 21 ms)


@pytest.mark.parametrize("seed", [504, 708])
def test_kick_beaters_of_clean_pop_songs_are_not_clicks(seed):
    # songs3 radio songs: a played kick with a beater click (1 ms of high-passed noise) on every
    # beat, panned centre; clicks5 found 15 reports on 504 and 19 on 708 (12 s)
    x = _song3(seed)
    mono = _both(x, stereo=False)
    assert len(mono) >= 3                  # (what the test guards against: one channel alone)
    assert _both(x) == []


def test_clicks_on_the_kick_onsets_and_between_them_are_still_found():
    # clicks in ONE channel, planted exactly where the kick's beater is (the onsets the
    # one-channel detector reported) and halfway between: every one the stereo rule must keep
    x = _song3(504)
    onsets = sorted({round(e.time_s * FS) for e in _both(x, stereo=False)})
    rng = np.random.default_rng(12)
    y = x.copy()
    plants = []
    for k, o in enumerate(onsets):
        for p in (o, o + int(0.25 * FS)):
            ch = int(rng.integers(2))
            c = np.array([0.6, 1.0, -0.5]) if k % 2 else np.array([1.0])
            c = c * 10 ** (rng.uniform(-24, -14) / 20) * rng.choice([-1.0, 1.0])
            if p + 10 < x.shape[1]:
                plants.append((p, ch, click_audibility_db(x[ch], c, p, fs=FS)))
                y[ch, p:p + c.size] += c
    heard = [(p, ch) for p, ch, a in plants if a > 3.0]
    assert len(heard) >= 6
    with_other = _both(y)
    alone = _both(y, stereo=False)
    lost = [(p, ch) for p, ch in heard if _found(alone, p / FS, ch) and not _found(with_other, p / FS, ch)]
    assert lost == []
    found = sum(_found(with_other, p / FS, ch) for p, ch in heard)
    assert found >= 0.8 * len(heard), (found, len(heard))


def test_clicks_in_both_channels_of_a_held_sound_are_still_clicks():
    # the same click in both channels (a mono source's click, a dual-mono file) is coherent: only
    # the onset test stands between it and "a drum's attack".  Where no sound starts there, it is
    # judged whole.  Known limit: where a note panned like the click starts within the ~21 ms
    # after it, it is taken for that note's attack (real piano, every 0.37 s: 2 of 28 at the
    # session's code, both where a piano note starts, 7-10 dB in its band)
    if not PIANO.exists():
        pytest.skip(f"shared data not found: {PIANO}")
    import soundfile as sf
    x, fs = sf.read(str(PIANO), dtype="float64", always_2d=True)
    assert fs == 44100
    x = x.T[:, : 6 * fs].copy()
    rng = np.random.default_rng(3)
    y = x.copy()
    plants = []
    for p in range(int(0.3 * fs), x.shape[1] - fs // 4, int(0.37 * fs)):
        c = np.array([1.0]) * 10 ** (rng.uniform(-40, -28) / 20)
        y[:, p] += c[0]
        plants.append((p, min(click_audibility_db(x[ch], c, p, fs=fs) for ch in (0, 1))))
    heard = [p for p, a in plants if a > 3.0]
    assert len(heard) >= 8
    ev = _both(y, fs=fs)
    alone = _both(y, stereo=False, fs=fs)
    both = [(p, ch) for p in heard for ch in (0, 1) if _found(alone, p / fs, ch)]
    lost = [(p / fs, ch) for p, ch in both if not _found(ev, p / fs, ch)]
    assert len(both) >= 16
    assert len(lost) <= 0.1 * len(both), lost
