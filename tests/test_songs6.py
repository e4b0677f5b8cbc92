"""The sixth song generator (mixes.songs6): contract, determinism, keys, levels, continuity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from mixes.songs6 import STEMS, STYLES, make_song

FS = 16000          # a low rate keeps the test fast; the synthesis is rate-independent
DUR = 6.0


def _jump_score(x: np.ndarray, fs: int) -> tuple[float, int]:
    """The largest *isolated* one-sample step: |x[i+1]-x[i]| over the rms first difference in 5 ms
    around it, counted only where the step is 2.5x both neighbouring steps (a band-limited steep
    edge spreads over several samples; a cut or a splice does not).  A step of 1 % of the peak in
    a bass line scores ~50; this generator's stems stay under ~6 (a step where the waveform itself
    moves fast is not isolated and scores low: the measure is a floor, the eval's click and
    discontinuity detectors are the rest)."""
    d = np.diff(x)
    a = np.abs(d)
    w = max(int(0.005 * fs), 3)
    loc = np.sqrt(np.maximum((uniform_filter1d(d * d, w, mode="nearest") * w - d * d) / (w - 1), 0.0))   # without itself
    loc = loc + 1e-6 * (np.max(np.abs(x)) + 1e-30)
    nb = np.maximum(np.r_[a[1:], 0.0], np.r_[0.0, a[:-1]])
    s = np.where(a > 2.5 * nb, a / loc, 0.0)
    i = int(np.argmax(s))
    return float(s[i]), i + 1


@pytest.fixture(scope="module")
def songs():
    return {st: make_song(60 + i, duration_s=DUR, fs=FS, key=(7 * i) % 12, style=st) for i, st in enumerate(STYLES)}


def test_every_style_keeps_the_song_contract(songs):
    n = int(DUR * FS)
    for i, (st, s) in enumerate(songs.items()):
        assert s.style == st and set(STEMS) == set(s.stems)
        m = s.mix()
        assert m.shape == (2, n) and m.dtype == np.float64 and s.n_samples == n
        assert s.duration_s == pytest.approx(DUR)
        np.testing.assert_allclose(sum(s.stems[k] for k in STEMS), m, atol=1e-12)       # the stems ARE the mix
        np.testing.assert_allclose(s.mix({"voice": 6.0}) - m, s.stems["voice"] * (10 ** 0.3 - 1), atol=1e-12)
        np.testing.assert_allclose(s.mix({"bass": -np.inf}), m - s.stems["bass"], atol=1e-12)
        assert all(np.isfinite(x).all() for x in s.stems.values())
        peak_db = 20 * np.log10(np.max(np.abs(m)))
        assert -3.2 <= peak_db <= -0.9, (st, peak_db)                                   # no clipping, mastered
        for k in ("bass", "voice"):
            assert 20 * np.log10(np.std(s.stems[k]) + 1e-12) > -45.0, (st, k)           # they sound
        L, R = s.stems["voice"]
        assert np.sum(L * R) / np.sqrt(np.sum(L * L) * np.sum(R * R)) > 0.6, st                # a centred singer
        assert abs(10 * np.log10(np.sum(L * L) / np.sum(R * R))) < 1.5, st
        # the key asked for
        assert s.key.split()[0] == ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")[(7 * i) % 12]
        assert s.tonic_midi == 48 + (7 * i) % 12
        meta = s.notes["meta"]
        assert meta["bass_kind"] in ("upright", "finger", "pick", "sub") and "," in meta["voice_kind"]
        assert meta["metre"] in ("4/4", "3/4", "6/8")
        assert s.sections[0][1] == 0.0 and all(a < b for _, a, b in s.sections)
    with pytest.raises(ValueError, match="no stem named"):
        songs["soul"].mix({"vocals": 1.0})


def test_bass_plays_in_the_key(songs):
    for st, s in songs.items():
        pcs = {(m - s.tonic_midi) % 12 for _, _, m in s.notes["bass"]}
        allowed = set(s.scale) | {(x + s.notes["meta"]["modulation"]) % 12 for x in s.scale}
        # walking lines and motown runs add chromatic approach notes; most notes are in the key
        inside = np.mean([(m - s.tonic_midi) % 12 in allowed for _, _, m in s.notes["bass"]])
        assert inside >= 0.7, (st, pcs)


def test_deterministic_and_parts_independent():
    a = make_song(3, duration_s=4.0, fs=FS)
    b = make_song(3, duration_s=4.0, fs=FS)
    for k in STEMS:
        np.testing.assert_array_equal(a.stems[k], b.stems[k])
    c = make_song(3, duration_s=4.0, fs=FS, voice=False)
    assert not np.any(c.stems["voice"]) and np.any(a.stems["voice"])
    for k in STEMS:
        if k != "voice":
            np.testing.assert_array_equal(a.stems[k], c.stems[k])                      # other stems untouched
    d = make_song(3, duration_s=4.0, fs=FS, drums=False)
    assert not np.any(d.stems["drums"])
    np.testing.assert_array_equal(a.stems["voice"], d.stems["voice"])
    e = make_song(4, duration_s=4.0, fs=FS)
    assert e.style != a.style and a.style == STYLES[3 % len(STYLES)]


def test_bad_arguments_raise():
    for kw in (dict(duration_s=0.0), dict(duration_s=float("nan")), dict(fs=100), dict(key=12), dict(style="polka")):
        with pytest.raises(ValueError):
            make_song(1, **{"duration_s": 2.0, **kw})


def test_no_discontinuities_in_any_stem(songs):
    for st, s in songs.items():
        for k, x in s.stems.items():
            for ch in range(2):
                score, i = _jump_score(x[ch], FS)
                assert score < 8.0, (st, k, ch, i / FS, score)
    # the measure sees a real step: a 1 % step planted in the middle of a stem
    x = songs["soul"].stems["bass"][0].copy()
    j = int(3.0 * FS)
    x[j:] += 0.01 * np.max(np.abs(x))
    assert _jump_score(x, FS)[0] > 10.0


def test_full_rate_song_is_continuous():
    s = make_song(107, duration_s=8.0, fs=48000, style="rocklive")
    m = s.mix()
    for ch in range(2):
        assert _jump_score(m[ch], 48000)[0] < 8.0
