"""Same-song comparison against the accompaniment's common gain (mixes.balance._common_gain_db).

A mix and an otherwise identical reference share every cell (frame x third octave) that holds
only the accompaniment: those cells all read the overall gain.  Cells that also hold an
untracked part of the voice, or a moved bass line's upper harmonics, lean toward that part's
offset; the estimate must not lean with them (it did, as a mean over frames: mixes.songs_alt
vocal offsets read ~35 % short).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixes.balance import _common_gain_db, compare_balance, measure_balance
from mixes.loudness import loudness
from mixes.songs_alt import make_song as make_alt
from mixes.vocal_frames import VoiceFrames

FS = 48_000


def _frames(e_bands: np.ndarray) -> VoiceFrames:
    n = e_bands.shape[0]
    return VoiceFrames(f0_hz=np.full(n, np.nan, dtype=np.float32), e_voice=np.zeros(n),
                       e_acc=e_bands.sum(axis=1).astype(np.float64), e_low_tonal=np.ones(n),
                       gated=np.ones(n, dtype=bool), hop_s=0.02133, e_bands=e_bands.astype(np.float32))


@pytest.mark.parametrize("gain_db,voice_db,share", [(-4.3, 3.0, 0.5), (7.0, -2.5, 0.7), (0.0, 6.0, 0.3)])
def test_common_gain_ignores_the_cells_a_moved_part_sits_in(gain_db, voice_db, share):
    rng = np.random.default_rng(int(10 * gain_db) + 100)
    acc = 10.0 ** rng.uniform(-6, 0, size=(400, 18))
    voice = np.where(rng.random(acc.shape) < share, acc * 10.0 ** rng.uniform(-1.5, 1.0, size=acc.shape), 0.0)
    ref = acc + voice
    mix = 10.0 ** (gain_db / 10.0) * (acc + 10.0 ** (voice_db / 10.0) * voice)
    got = _common_gain_db(_frames(mix), _frames(ref), np.ones(400, dtype=bool))
    # the accompaniment-only cells read the gain exactly (float32 storage: ~1e-6 dB)
    assert got == pytest.approx(gain_db, abs=0.01)
    # what a mean over the frames reads instead: leaning toward the voice's offset
    lean = 10.0 * math.log10(mix.sum() / ref.sum())
    assert abs(lean - gain_db) > 0.5


def test_common_gain_needs_band_records():
    a = _frames(np.ones((20, 18)))
    b = VoiceFrames(**{**a.__dict__, "e_bands": None})
    assert math.isnan(_common_gain_db(a, b, np.ones(20, dtype=bool)))


def _balance(x):
    return measure_balance(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)


# songs_alt (another generator: its lead sits ~-4 dB against the mix, louder than mixes.songs'),
# seeds not used in tuning: rock (style 1) and acoustic (style 3) 20-s songs; the vocal and the bass
# moved together and the mix brought to another loudness
@pytest.mark.parametrize("seed,vocal_db,bass_db,scale_db", [(7001, -2.5, 2.0, -9.0), (7003, 2.0, -2.5, 4.0)])
def test_songs_alt_vocal_offsets_are_not_read_short(seed, vocal_db, bass_db, scale_db):
    song = make_alt(seed, duration_s=20.0, fs=FS)
    ref = _balance(song.mix())
    mix = _balance(song.mix({"voice": vocal_db, "bass": bass_db}) * 10.0 ** (scale_db / 20.0))
    bass_vs, vocal_vs = compare_balance(mix, [ref])
    assert ref.vocal_found
    # before: -2.5 read about -1.6 (a mean over frames that also held the voice); measured with
    # the common gain: songs_alt 20/30 s rms error 0.21/0.05 dB, worst 0.78/0.20 (24 songs each)
    assert vocal_vs == pytest.approx(vocal_db, abs=0.5)
    # the low end: the kick/bass separation limits it (rms 0.5 dB on songs_alt): issue's 1 dB
    assert bass_vs == pytest.approx(bass_db, abs=1.0)
