"""vocal7: the vowel cue over every note of the tracked source (mixes.vocal_envelope.track_envelope_change_db).

A lead whose partials pass through a fixed body (a bowed string's resonances) keeps one spectral
envelope from note to note; a line whose two resonances move with the vowel of each note changes
it.  Both have the same delayed 5.5-Hz vibrato and legato notes, so every other cue of the
detector (centred, harmonic, common FM, periodic) sees them alike: the envelope decides.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixes.balance import measure_balance
from mixes.loudness import loudness
from mixes.songs import make_song
from mixes.songs_alt import make_song as make_alt
from mixes.vocal_envelope import TRACK_MIN_CHANGE_DB, track_envelope_change_db

FS = 48000


def _lead(dur_s: float, rng, *, vowels: bool) -> np.ndarray:
    """Legato notes of 0.5-1.2 s in a minor scale from 220-330 Hz, vibrato +-25 cents at 5.5 Hz
    after 0.15 s; partials 1/k through three fixed body peaks (450, 1100, 2800 Hz) or, with
    ``vowels``, through two resonances drawn per note (F1 300-800 Hz, F2 0.9-2.4 kHz); mono."""
    n = int(dur_s * FS)
    f0 = np.zeros(n)
    env = np.zeros(n)
    r1 = np.full(n, 500.0)
    r2 = np.full(n, 1500.0)
    scale = (0, 2, 3, 5, 7, 8, 10, 12)
    root = 220.0 * 2 ** (int(rng.integers(0, 7)) / 12)
    i = int(0.2 * FS)
    while i < n - int(0.3 * FS):
        m = min(int(rng.uniform(0.5, 1.2) * FS), n - i)
        t = np.arange(m) / FS
        vib = 25.0 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6.3)) * np.clip((t - 0.15) / 0.25, 0, 1)
        f0[i:i + m] = root * 2 ** (scale[int(rng.integers(0, 8))] / 12 + vib / 1200)
        env[i:i + m] = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.04)
        if vowels:
            r1[i:i + m], r2[i:i + m] = rng.uniform(300, 800), rng.uniform(900, 2400)
        i += m + (int(rng.uniform(0.1, 0.4) * FS) if rng.random() < 0.3 else 0)
    ph = 2 * np.pi * np.cumsum(f0) / FS
    out = np.zeros(n)
    for k in range(1, 30):
        fk = k * f0
        if vowels:
            g = 6 * np.exp(-0.5 * ((fk - r1) / 90) ** 2) + 3 * np.exp(-0.5 * ((fk - r2) / 140) ** 2) + 0.3
        else:
            g = (4 * np.exp(-0.5 * ((fk - 450) / 120) ** 2) + 3 * np.exp(-0.5 * ((fk - 1100) / 250) ** 2)
                 + 2 * np.exp(-0.5 * ((fk - 2800) / 500) ** 2) + 0.3)
        out += np.where(fk < 0.45 * FS, g / k, 0.0) * np.sin(k * ph)
    return out * env


def _with_lead(backing: np.ndarray, seed: int, *, vowels: bool):
    y = _lead(backing.shape[1] / FS, np.random.default_rng(seed), vowels=vowels)
    x = backing + (y * math.sqrt(np.mean(backing ** 2) / np.mean(y ** 2)))[None, :]   # lead at the backing's rms
    return measure_balance(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)


@pytest.mark.parametrize("gen, seed", [(make_song, 8101), (make_alt, 8103)])
def test_a_fixed_body_lead_is_not_a_voice_a_vowel_line_is(gen, seed):
    # no-voice backings of two generators, 12 s; before vocal7 both leads were taken for a voice
    backing = gen(seed, duration_s=12.0, voice=False).mix()
    body = _with_lead(backing, seed, vowels=False)
    assert not body.vocal_found
    assert any("keeps one spectral envelope across its notes" in n for n in body.notes), body.notes
    sung = _with_lead(backing, seed, vowels=True)
    assert sung.vocal_found, sung.notes


def _spectra(f0s_hz, shape, df_hz=23.4375, n_bins=1025, frames=10):
    """Centre power spectra (frames x bins) of notes: partials k f0 with power shape(k f0, note)."""
    hc = np.full((frames * len(f0s_hz), n_bins), 1e-12)
    f0 = np.zeros(frames * len(f0s_hz))
    notes = []
    for j, f in enumerate(f0s_hz):
        rows = np.arange(j * frames, (j + 1) * frames)
        f0[rows] = f
        for k in range(1, int(8000 // f)):
            hc[rows, int(round(k * f / df_hz))] = shape(k * f, j)
        notes.append(rows)
    return hc, df_hz, notes, f0


def test_the_measure_on_synthetic_spectra():
    pitches = (196.0, 247.0, 294.0, 330.0, 392.0)
    body = lambda f, j: (1 + 8 * np.exp(-0.5 * ((f - 450) / 150) ** 2) + 4 * np.exp(-0.5 * ((f - 2500) / 400) ** 2)) / f
    vow = ((700, 1200), (300, 2300), (500, 900), (400, 2000), (650, 1700))
    voice = lambda f, j: (1 + 30 * np.exp(-0.5 * ((f - vow[j][0]) / 100) ** 2)
                          + 15 * np.exp(-0.5 * ((f - vow[j][1]) / 150) ** 2)) / f
    d_body, p_body = track_envelope_change_db(*_spectra(pitches, body))
    d_voice, p_voice = track_envelope_change_db(*_spectra(pitches, voice))
    assert p_body == p_voice == 10                     # 5 notes: every pair shares >= 4 bands
    # a fixed body sampled at other pitches: the third-octave means move a little (partials fall
    # elsewhere on the resonances; 0.58 dB here); vowels move them by several dB (6.1 here)
    assert d_body < TRACK_MIN_CHANGE_DB < d_voice
    # the same envelope on every note at one pitch: exactly no change
    same = track_envelope_change_db(*_spectra((220.0,) * 4, body))
    assert same[0] == pytest.approx(0.0, abs=1e-9) and same[1] == 6
    # one note: nothing to compare
    assert track_envelope_change_db(*_spectra((220.0,), body))[1] == 0
