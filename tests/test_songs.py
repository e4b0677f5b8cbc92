"""The synthetic songs used as programme material by the demo, rehearsals and tests."""

from __future__ import annotations

import numpy as np
import pytest

from mixes.songs import STEMS, make_song, midi_hz

FS = 24000


@pytest.fixture(scope="module")
def song():
    return make_song(3, duration_s=8.0, fs=FS, key=9, minor=False)


def test_stems_sum_to_the_mix_and_gains_are_db(song):
    m = song.mix()
    assert m.shape == (2, 8 * FS)
    np.testing.assert_allclose(sum(song.stems.values()), m, atol=1e-12)
    # -6.02 dB on the voice halves its amplitude: the difference is exactly half the voice
    d = song.mix() - song.mix({"voice": -20 * np.log10(2)})
    np.testing.assert_allclose(d, 0.5 * song.stems["voice"], atol=1e-12)
    assert np.max(np.abs(m)) == pytest.approx(10 ** (-3 / 20), rel=1e-9)   # peaks at -3 dBFS
    with pytest.raises(ValueError, match="no stem named"):
        song.mix({"vocals": 1.0})


def test_parts_have_their_character(song):
    assert set(song.stems) == set(STEMS)
    v = song.stems["voice"]
    assert np.corrcoef(v)[0, 1] > 0.9 and np.max(np.abs(v)) > 0         # centred (its reverb is stereo)
    dry = make_song(3, duration_s=8.0, fs=FS, key=9, minor=False, reverb=False).stems["voice"]
    assert np.array_equal(dry[0], dry[1])                                  # the dry voice: exactly centre
    pads = song.stems["pads"]
    assert np.corrcoef(pads)[0, 1] < 0.95                                  # pads are wide
    # the bass plays notes of the key, with fundamentals in 40-120 Hz
    for _, _, note in song.notes["bass"]:
        assert 40.0 <= midi_hz(note) <= 120.0
        assert (note - 9) % 12 in (0, 2, 4, 5, 7, 9, 11)                   # A major
    assert song.key == "A major"
    assert [s[0] for s in song.sections] == ["intro", "verse", "chorus"]


def test_seeds_differ_and_repeat():
    a, b = make_song(1, duration_s=3.0, fs=FS), make_song(1, duration_s=3.0, fs=FS)
    c = make_song(2, duration_s=3.0, fs=FS)
    assert np.array_equal(a.mix(), b.mix())
    assert not np.allclose(a.mix(), c.mix())
    assert not np.any(make_song(5, duration_s=3.0, fs=FS, voice=False).stems["voice"])
    with pytest.raises(ValueError, match="at least 2 s"):
        make_song(1, duration_s=1.0, fs=FS)
