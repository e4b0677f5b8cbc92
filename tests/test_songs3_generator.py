"""The third song generator (mixes.songs3): the song contract, determinism, levels, voice, key."""

from __future__ import annotations

import numpy as np
import pytest

from mixes.songs3 import STEMS, STYLES, make_song

FS = 24000          # a low rate keeps the tests fast; the synthesis is rate-independent


@pytest.fixture(scope="module")
def songs():
    # one 6-s song per style; keys and modes varied
    return {st: make_song(20 + i, duration_s=6.0, fs=FS, key=(5 * i + 1) % 12, minor=bool(i % 2), style=st)
            for i, st in enumerate(STYLES)}


def _pcs(s):
    return {(s.tonic_midi + d) % 12 for d in s.scale}


def test_the_song_contract(songs):
    for st, s in songs.items():
        assert s.style == st and set(STEMS) <= set(s.stems) and s.fs == FS
        m = s.mix()
        assert m.shape == (2, 6 * FS) and m.dtype == np.float64
        np.testing.assert_array_equal(sum(s.stems[k] for k in s.stems), m)          # the stems ARE the mix
        d = s.mix({"bass": 20 * np.log10(2)}) - m
        np.testing.assert_allclose(d, s.stems["bass"], atol=1e-12)                     # +6.02 dB = x2
        np.testing.assert_allclose(s.mix({"voice": -np.inf}), m - s.stems["voice"], atol=1e-12)
        peak_db = 20 * np.log10(np.max(np.abs(m)))
        assert -4.0 - 1e-9 <= peak_db <= -1.0 + 1e-9                                   # never clipped
        assert all(np.isfinite(x).all() for x in s.stems.values())
        for k in ("bass", "drums", "voice"):                                           # every core part sounds
            assert 20 * np.log10(np.std(s.stems[k]) + 1e-12) > -45.0, (st, k)
        assert 70.0 <= s.tempo_bpm <= 140.0 and s.sections[0][0] == "intro"
    with pytest.raises(ValueError, match="no stem named"):
        songs["radio"].mix({"vocals": 1.0})


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least 2 s"):
        make_song(1, duration_s=1.0)
    with pytest.raises(ValueError, match="unknown style"):
        make_song(1, duration_s=3.0, style="polka")
    with pytest.raises(ValueError, match="tempo_bpm"):
        make_song(1, duration_s=3.0, tempo_bpm=400.0)


def test_determinism_and_parts_left_out():
    a = make_song(11, duration_s=4.0, fs=FS)
    b = make_song(11, duration_s=4.0, fs=FS)
    assert all(np.array_equal(a.stems[k], b.stems[k]) for k in STEMS)
    assert a.style == STYLES[11 % len(STYLES)]
    c = make_song(12, duration_s=4.0, fs=FS)
    assert not np.array_equal(a.mix(), c.mix()[:, : a.n_samples])
    nv = make_song(11, duration_s=4.0, fs=FS, voice=False)
    nd = make_song(11, duration_s=4.0, fs=FS, drums=False)
    assert not np.any(nv.stems["voice"]) and not np.any(nd.stems["drums"])
    for k in STEMS:                                   # the rest of the song is bit-identical
        if k != "voice":
            assert np.array_equal(nv.stems[k], a.stems[k]), k
        if k != "drums":
            assert np.array_equal(nd.stems[k], a.stems[k]), k
    dry = make_song(11, duration_s=4.0, fs=FS, reverb=False)
    assert dry.key == a.key and not np.allclose(dry.stems["voice"], a.stems["voice"])
    s44 = make_song(11, duration_s=3.0, fs=44100)
    assert s44.mix().shape == (2, 3 * 44100) and s44.key == a.key


def test_key_respected(songs):
    for st, s in songs.items():
        pcs = _pcs(s)
        assert s.key.split()[0] in ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
        assert s.tonic_midi % 12 == (5 * STYLES.index(st) + 1) % 12
        assert s.key.endswith("minor") == bool(STYLES.index(st) % 2)
        played = [m for _, _, m in s.notes["voice"]] + [m for _, _, m in s.notes["bass"]] \
            + [m for _, _, m in s.notes["harmony"]] + [m for _, _, v in s.notes["chords"] for m in v]
        assert played and all(m % 12 in pcs for m in played), st
        # and in the sound: the bass stem's pitch on its longer notes (after an 808's drop or a
        # glide) is the note's pitch class, within 50 cents
        x = s.stems["bass"].mean(axis=0)
        ok = n = 0
        for t0, t1, m in s.notes["bass"]:
            if t1 - t0 >= 0.25 and t1 < s.duration_s:
                f0, _ = _f0_autocorr(x[int((t0 + 0.08) * FS): int((t0 + 0.2) * FS)], FS, lo_hz=30.0, hi_hz=400.0)
                c = 1200 * np.log2(f0 / (440.0 * 2 ** ((m - 69) / 12))) % 1200
                ok += min(c, 1200 - c) < 50
                n += 1
        assert n == 0 or ok / n >= 0.9, (st, ok, n)


def _f0_autocorr(x, fs, lo_hz=70.0, hi_hz=1000.0):
    """(f0 Hz, normalised autocorrelation peak) of a short frame."""
    x = x - x.mean()
    r = np.correlate(x, x, "full")[x.size - 1:]
    r /= r[0] + 1e-12
    a, b = int(fs / hi_hz), int(fs / lo_hz)
    k = a + int(np.argmax(r[a:b]))
    # prefer the shortest lag whose peak is nearly as high (octave errors)
    for d in range(2, 5):
        kk = int(round(k / d))
        w = r[max(kk - 3, a): kk + 4]
        if w.size and w.max() > 0.9 * r[k]:
            k = max(kk - 3, a) + int(np.argmax(w))
    return fs / k, float(r[k])


def test_voice_is_centred_and_harmonic_on_its_notes(songs):
    ok = total = 0
    for st, s in songs.items():
        v = s.stems["voice"]
        lr_db = 10 * np.log10(np.sum(v[0] ** 2) / np.sum(v[1] ** 2))
        assert abs(lr_db) < 1.5, st                 # centred (the reverb's own L/R differences)
        if not s.notes["meta"]["backing"] and not s.notes["meta"]["delay"]:
            d = make_song(20 + STYLES.index(st), duration_s=6.0, fs=FS, key=s.tonic_midi % 12,
                          minor=s.key.endswith("minor"), style=st, reverb=False).stems["voice"]
            np.testing.assert_allclose(d[0], d[1], atol=1e-12)                      # dry lead: dead centre
        mid = v.mean(axis=0)
        for t0, t1, m in s.notes["voice"]:
            if t1 - t0 < 0.25:
                continue
            a, b = int((t0 + 0.09) * FS), int((t0 + 0.19) * FS)                     # after the scoop, before vibrato
            f0, peak = _f0_autocorr(mid[a:b], FS)
            cents = 1200 * np.log2(f0 / (440.0 * 2 ** ((m - 69) / 12)))
            total += 1
            ok += abs(cents) < 60 and peak > 0.6
    assert total >= 10 and ok / total >= 0.8, (ok, total)
