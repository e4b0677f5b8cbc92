"""The fifth song generator (mixes.songs5): the song contract, determinism, levels, every style."""

from __future__ import annotations

import numpy as np
import pytest

from mixes.songs5 import STEMS, STYLES, make_song

FS = 16000          # a low rate keeps the test fast; the synthesis is rate-independent


@pytest.fixture(scope="module")
def songs():
    # one short song per style, keys varied
    return {st: make_song(50 + i, duration_s=2.5, fs=FS, key=(5 * i) % 12, style=st) for i, st in enumerate(STYLES)}


def test_every_style_keeps_the_song_contract(songs):
    n = int(2.5 * FS)
    for st, s in songs.items():
        assert s.style == st and set(STEMS) <= set(s.stems)
        m = s.mix()
        assert m.shape == (2, n) and m.dtype == np.float64 and s.n_samples == n
        assert s.duration_s == pytest.approx(2.5)
        np.testing.assert_allclose(sum(s.stems[k] for k in s.stems), m, atol=1e-12)   # the stems ARE the mix
        np.testing.assert_allclose(s.mix({"bass": 20 * np.log10(2)}) - m, s.stems["bass"], atol=1e-12)
        np.testing.assert_allclose(s.mix({"voice": -np.inf}), m - s.stems["voice"], atol=1e-12)
        assert all(np.isfinite(x).all() and x.shape == (2, n) for x in s.stems.values())
        peak_db = 20 * np.log10(np.max(np.abs(m)))
        assert -12.0 <= peak_db <= -0.29, (st, peak_db)                               # mastered, never over
        assert 20 * np.log10(np.std(s.stems["bass"]) + 1e-12) > -50.0, st            # the bass sounds
        assert 20 * np.log10(np.std(s.stems["voice"]) + 1e-12) > -50.0, st           # and the singer
        rest = sum(s.stems[k] for k in ("keys", "pads", "guitar"))
        assert 20 * np.log10(np.std(rest) + 1e-12) > -50.0, st                        # and the harmony
        assert s.notes["meta"]["master"] in ("none", "comp+limit")
        assert " " in s.key and 48 <= s.tonic_midi <= 59 and s.tempo_bpm > 40
    assert not np.any(songs["songwriter"].stems["drums"])                            # guitar and voice only
    assert np.any(songs["metal"].stems["drums"])
    with pytest.raises(ValueError, match="no stem named"):
        songs["pop"].mix({"vocals": 1.0})


def test_deterministic_and_parts_independent():
    a = make_song(3, duration_s=3.0, fs=FS)
    b = make_song(3, duration_s=3.0, fs=FS)
    for k in STEMS:
        np.testing.assert_array_equal(a.stems[k], b.stems[k])
    c = make_song(3, duration_s=3.0, fs=FS, voice=False)
    assert not np.any(c.stems["voice"]) and np.any(a.stems["voice"])
    for k in STEMS:
        if k != "voice":
            np.testing.assert_array_equal(a.stems[k], c.stems[k])                    # other stems untouched
    d = make_song(3, duration_s=3.0, fs=FS, drums=False)
    assert not np.any(d.stems["drums"])
    np.testing.assert_array_equal(a.stems["voice"], d.stems["voice"])
    assert a.style == STYLES[3 % len(STYLES)] and a.key == b.key and a.tempo_bpm == b.tempo_bpm
    e = make_song(4, duration_s=3.0, fs=FS)
    assert e.key != a.key or e.tempo_bpm != a.tempo_bpm or e.style != a.style


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown style"):
        make_song(1, duration_s=1.0, fs=FS, style="polka")
    with pytest.raises(ValueError, match="duration_s"):
        make_song(1, duration_s=0.0, fs=FS)
    with pytest.raises(ValueError, match="duration_s"):
        make_song(1, duration_s=float("nan"), fs=FS)
    with pytest.raises(ValueError, match="key"):
        make_song(1, duration_s=1.0, fs=FS, key=12)
    with pytest.raises(ValueError, match="fs"):
        make_song(1, duration_s=1.0, fs=100)
