"""The second song generator (mixes.songs_alt): the Song contract of mixes.songs, other music."""

from __future__ import annotations

import numpy as np
import pytest

from mixes.songs import STEMS, Song, midi_hz
from mixes.songs_alt import STYLES, make_song

FS = 24000


@pytest.fixture(scope="module")
def songs():
    # one song per style, 8 s, at a low rate (fast); keys and modes varied
    return {st: make_song(i, duration_s=8.0, fs=FS, key=(3 * i + 2) % 12, minor=bool(i % 2), style=st)
            for i, st in enumerate(STYLES)}


def test_the_song_contract(songs):
    for st, s in songs.items():
        assert isinstance(s, Song) and set(s.stems) == set(STEMS) and s.notes["style"] == [st]
        m = s.mix()
        assert m.shape == (2, 8 * FS) and m.dtype == np.float64
        np.testing.assert_array_equal(sum(s.stems[k] for k in STEMS), m)          # the stems ARE the mix
        d = s.mix() - s.mix({"bass": -20 * np.log10(2)})
        np.testing.assert_allclose(d, 0.5 * s.stems["bass"], atol=1e-12)
        peak_db = 20 * np.log10(np.max(np.abs(m)))
        assert -3.5 - 1e-9 <= peak_db <= -1.0 + 1e-9                               # below 0 dBFS, never clipped
        assert all(np.isfinite(x).all() for x in s.stems.values())
        assert [x[0] for x in s.sections][:3] == ["intro", "verse", "chorus"]
        assert s.sections[0][1] == 0.0 and s.sections[-1][2] == pytest.approx(8.0)
    assert songs["ballad"].key.endswith("major") and songs["rock"].key.endswith("minor")
    assert songs["rock"].key.startswith("F")                                        # key=5


def test_determinism_seeds_durations_rates():
    a, b = make_song(11, duration_s=2.5, fs=FS), make_song(11, duration_s=2.5, fs=FS)
    assert all(np.array_equal(a.stems[k], b.stems[k]) for k in STEMS)
    c = make_song(15, duration_s=2.5, fs=FS)                                        # same style, other seed
    assert not np.allclose(a.mix(), c.mix())
    assert make_song(2, duration_s=2.0, fs=44100).mix().shape == (2, 88200)
    assert make_song(3, duration_s=3.3, fs=16000).mix().shape == (2, 52800)
    with pytest.raises(ValueError, match="at least 2 s"):
        make_song(1, duration_s=1.5)
    with pytest.raises(ValueError, match="unknown style"):
        make_song(1, duration_s=2.0, style="polka")
    s = make_song(5, duration_s=4.0, fs=FS, voice=False, drums=False)
    assert not np.any(s.stems["voice"]) and not np.any(s.stems["drums"]) and s.notes["voice"] == []
    assert np.any(s.stems["bass"]) and np.any(s.stems["pads"])


def test_lead_vocal_is_centred_backing_off_centre():
    for seed in (0, 3):
        dry = make_song(seed, duration_s=9.0, fs=FS, reverb=False)
        v = dry.stems["voice"]
        assert np.any(v)
        lead_only = np.ones(v.shape[1], bool)       # away from backing notes (their breath, release)
        for t0, t1, _m in dry.notes["backing"]:
            lead_only[max(int((t0 - 0.6) * FS), 0):int((t1 + 0.3) * FS)] = False
        assert lead_only.mean() > 0.3
        np.testing.assert_array_equal(v[0, lead_only], v[1, lead_only])
        wet = make_song(seed, duration_s=9.0, fs=FS).stems["voice"]
        mid, side = wet[0] + wet[1], wet[0] - wet[1]
        assert np.sum(side ** 2) < 0.2 * np.sum(mid ** 2)           # reverb/backing: mostly centred
    # a backing vocal somewhere in the styles is off centre
    backs = [make_song(s, duration_s=9.0, fs=FS, reverb=False) for s in (5, 6)]
    assert any(x.notes["backing"] and not np.array_equal(x.stems["voice"][0], x.stems["voice"][1]) for x in backs)


def test_bass_fundamentals_and_voice_pitch(songs):
    for st, s in songs.items():
        assert len(s.notes["bass"]) >= 2          # a ballad may hold one note over two bars
        for _, _, m in s.notes["bass"]:
            assert 40.0 <= midi_hz(m) <= 120.0
        b = s.stems["bass"][0]
        spec = np.abs(np.fft.rfft(b)) ** 2
        f = np.fft.rfftfreq(b.size, 1 / FS)
        assert np.sum(spec[(f >= 35) & (f <= 250)]) > 0.5 * np.sum(spec)         # a bass: energy low
        lead = s.notes["voice"]
        assert lead and all(43 <= m <= 84 for _, _, m in lead)
    # the voice sings the written pitch: harmonic-sum pitch of the longest note within 0.6 semitone
    s = make_song(2, duration_s=6.0, fs=FS, reverb=False, drums=False)
    t0, t1, m = max(s.notes["voice"], key=lambda x: x[1] - x[0])
    x = s.stems["voice"][0, int((t0 + 0.15) * FS):int((t1 - 0.05) * FS)]
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), 8 * x.size))
    f = np.fft.rfftfreq(8 * x.size, 1 / FS)
    cand = np.geomspace(70, 1000, 2000)
    hs = [sum(np.interp(k * c, f, spec) for k in range(1, 6)) for c in cand]
    f0 = cand[int(np.argmax(hs))]
    assert abs(12 * np.log2(f0 / midi_hz(m))) < 0.6


def test_styles_have_their_instruments():
    rock = make_song(1, duration_s=6.0, fs=FS, style="rock", reverb=False)
    g = rock.stems["keys"]
    assert np.corrcoef(g)[0, 1] < 0.5                              # double-tracked guitars, left and right
    el = make_song(2, duration_s=6.0, fs=FS, style="electronic", reverb=False)
    assert max(midi_hz(m) for _, _, m in el.notes["bass"]) <= 120.0
    ac = make_song(3, duration_s=6.0, fs=FS, style="acoustic")
    pads = ac.stems["pads"]
    assert np.all(np.isfinite(pads))
    wide = make_song(0, duration_s=6.0, fs=FS, style="ballad").stems["pads"]
    assert np.corrcoef(wide)[0, 1] < 0.95                          # strings are wide
