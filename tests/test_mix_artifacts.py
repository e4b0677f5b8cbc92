"""Digital artifacts (issue 12): each kind found in a planted case, none on clean music."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_data
from mixes.artifacts import digital_distortion, dual_mono, find_artifacts, polarity_inverted, truncation
from mixes.renderchecks import render_checks

FS = 48_000


@pytest.fixture(scope="module")
def songs():
    """Two synthesized songs (stereo: pads detuned per channel, panned keys and hi-hats), one
    wide and one with the voice and drums left out (a quiet, sparse one)."""
    from mixes.songs import make_song
    a = make_song(3, duration_s=24.0, key=2).mix()
    b = make_song(8, duration_s=24.0, key=9, voice=False, drums=False).mix()
    return a, b * 10 ** (-18 / 20)


@pytest.fixture(scope="module")
def piano():
    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    return x.T.copy(), fs


def _kinds(events):
    return sorted({e.kind for e in events})


def test_clean_music_has_no_artifacts(songs, piano):
    for s in songs:
        assert find_artifacts(s, fs=FS) == []
        assert render_checks(s, fs=FS).artifacts == ()
    x, fs = piano
    assert render_checks(x, fs=fs).artifacts == ()        # a real 16-bit recording (noise: dithered)


def test_dual_mono(songs, piano):
    a, _ = songs
    ev = dual_mono(np.vstack([a[0], a[0]]), fs=FS)
    assert [e.kind for e in ev] == ["dual_mono"] and ev[0].channel == -1
    assert "identical" in ev[0].detail
    assert dual_mono(np.vstack([a[0], a[0] * (1 + 2 ** -23)]), fs=FS) == []   # one LSB apart: not dual mono
    assert dual_mono(np.zeros((2, FS)), fs=FS) == []                        # digital silence
    assert dual_mono(a[:1], fs=FS) == []                                    # a mono file is fine


def test_polarity_inverted_whole_file_and_section(songs, piano):
    a, b = songs
    for s in (a, b):
        ev = polarity_inverted(s * np.array([[1.0], [-1.0]]), fs=FS)
        assert [e.kind for e in ev] == ["polarity_inverted"] and ev[0].time_s == 0.0
    y = a.copy()
    y[1, 8 * FS: 21 * FS] *= -1                          # a flipped edit from 8 s to 21 s
    ev = polarity_inverted(y, fs=FS)
    assert len(ev) == 1
    # 5 s sections: those wholly inside the flip (10-20 s) are caught
    assert 5.0 <= ev[0].time_s <= 10.0 and ev[0].time_s + ev[0].duration_s >= 20.0
    x, fs = piano
    # (this recording is itself weakly anti-correlated below 150 Hz, r = -0.26: neither it nor its
    # flipped version, r = +0.26, is a polarity problem)
    assert polarity_inverted(x * np.array([[1.0], [-1.0]]), fs=fs) == []
    assert polarity_inverted(x, fs=fs) == []


def _fade(a):
    t = np.arange(a.shape[1]) / FS
    return a * np.where(t < 16.0, 1.0, 10 ** (-100 / 20 * (t - 16.0) / 8.0))   # 100 dB over 8 s


@pytest.mark.parametrize("how", ["truncate", "round"])
def test_truncation_without_dither_in_a_fade(songs, how):
    f = _fade(songs[0])
    q = np.floor(f * 32768) / 32768 if how == "truncate" else np.round(f * 32768) / 32768
    ev = truncation(q, fs=FS)
    assert sorted(e.channel for e in ev) == [0, 1]
    for e in ev:
        assert e.kind == "truncation" and 16.0 < e.time_s < 24.0
        assert -95.0 < e.level_db < -55.0                # the quiet part of the fade
        assert "dither" in e.detail


def test_dithered_or_float_fades_are_not_truncation(songs, piano):
    f = _fade(songs[0])
    rng = np.random.default_rng(1)
    tpdf = np.round(f * 32768 + rng.random(f.shape) - rng.random(f.shape)) / 32768
    assert truncation(tpdf, fs=FS) == []
    assert truncation(f, fs=FS) == []                    # float: finer than 16 bits
    x, fs = piano
    assert truncation(x, fs=fs) == []


@pytest.mark.parametrize("kind", ["clipped", "random"])
def test_digital_distortion_burst(songs, piano, kind):
    a, _ = songs
    rng = np.random.default_rng(4)
    y = a.copy()
    t0, dur = 5.3, (0.004 if kind == "clipped" else 0.003)
    p, m = int(t0 * FS), int(dur * FS)
    if kind == "clipped":
        y[:, p:p + m] = np.clip(30 * y[:, p:p + m], -1, 1)       # 4 ms hard-clipped garbage
    else:
        y[0, p:p + m] = rng.uniform(-0.5, 0.5, m)                # 3 ms of random samples
    ev = digital_distortion(y, fs=FS)
    assert ev and all(e.kind == "digital_distortion" for e in ev)
    assert all(abs(e.time_s - t0) < 0.001 and abs(e.duration_s - dur) < 0.0015 for e in ev)
    r = render_checks(y, fs=FS)
    assert "digital_distortion" in _kinds(r.artifacts)
    # the burst is one artifact, not a string of clicks
    assert not any(t0 - 0.002 <= c.time_s <= t0 + dur + 0.002 for c in r.clicks)
    x, fs = piano
    assert digital_distortion(x, fs=fs) == []


def test_splice_is_a_discontinuity_not_a_click(songs, piano):
    a, _ = songs
    y = np.concatenate([a[:, : int(6.5 * FS)], a[:, int(11.3 * FS) + 37:]], axis=1)   # a bad edit at 6.5 s
    r = render_checks(y, fs=FS)
    d = [e for e in r.artifacts if e.kind == "discontinuity"]
    assert d and all(abs(e.time_s - 6.5) < 0.001 for e in d)
    assert all(e.audibility_db > 0 and "splice" in e.detail for e in d)
    assert not any(abs(c.time_s - 6.5) < 0.002 for c in r.clicks)
    x, fs = piano
    for t_cut, t_join in ((4.5, 6.3), (2.2, 7.7)):
        z = np.concatenate([x[:, : int(t_cut * fs)], x[:, int(t_join * fs) + 11:]], axis=1)
        rz = render_checks(z, fs=fs)
        assert [e.kind for e in rz.artifacts] and {e.kind for e in rz.artifacts} == {"discontinuity"}
        assert all(abs(e.time_s - t_cut) < 0.001 for e in rz.artifacts)
        assert rz.clicks == ()


def test_artifact_json(songs):
    a, _ = songs
    r = render_checks(np.vstack([a[0], a[0]]), fs=FS)
    d = [e.to_dict() for e in r.artifacts]
    assert d and set(d[0]) >= {"kind", "time_s", "channel", "detail"}
    json.dumps(d)                                         # plain types only
    assert isinstance(d[0]["time_s"], float) and d[0]["level_db"] is None


def _loud(a):
    return a / np.abs(a).max() * 0.98


@pytest.mark.parametrize("bits,dur_s", [(3, 0.003), (4, 0.006), (6, 0.006)])
def test_short_bit_crush_is_digital_distortion(songs, bits, dur_s):
    # a few ms of a loud song requantised to 3-6 bits: under the first-difference jump of the
    # garbage-burst test, found by the exact repeats of sample values (mixes.artifact_crush).
    # (At 2 bits a -19 dBFS passage rounds to all zeros: a dropout, find_dropouts' business.)
    y = _loud(songs[0])
    t0 = 5.321
    p, m = int(t0 * FS), int(dur_s * FS)
    step = 2.0 ** (bits - 1)
    y[:, p:p + m] = np.round(y[:, p:p + m] * step) / step
    ev = [e for e in render_checks(y, fs=FS).artifacts if e.kind == "digital_distortion"]
    assert ev and all(t0 - 0.001 <= e.time_s <= t0 + dur_s for e in ev), ev
    assert {e.channel for e in ev} <= {0, 1}


def test_clipped_stretch_below_the_ceiling_is_digital_distortion(songs):
    y = _loud(songs[0])
    p, m = int(7.5 * FS), int(0.004 * FS)
    c = 0.5 * np.abs(y[:, p:p + m]).max()
    y[:, p:p + m] = np.clip(y[:, p:p + m], -c, c)                     # 4 ms clipped flat
    ev = [e for e in find_artifacts(y, fs=FS) if e.kind == "digital_distortion"]
    assert ev and all(abs(e.time_s - 7.5) < 0.005 for e in ev), ev


def test_saturation_limiting_and_16_bit_are_not_digital_distortion(songs):
    # music that is meant to sound so: a tanh drive on the whole mix, a master clipped at its
    # ceiling throughout (find_clipping's business), 16 bits with and without dither, quiet
    from mixes.artifact_crush import held_bursts
    rng = np.random.default_rng(2)
    for a in songs:
        y = _loud(a)
        versions = [np.tanh(3 * y), np.clip(4 * y, -1, 1), np.clip(4 * y, -0.9, 0.9),
                    np.round(y * 32768 + rng.random(y.shape) - rng.random(y.shape)) / 32768,
                    np.round(y * 32768) / 32768, np.round(y * 0.01 * 32768) / 32768, y.astype(np.float32)]
        for k, v in enumerate(versions):
            ev = held_bursts(v, fs=FS)
            if k in (1, 2):   # clipped throughout: one file-level "hard-clipped" finding, no burst (artifacts5)
                assert len(ev) == 1 and ev[0].detail.startswith("hard-clipped") and ev[0].duration_s == 0.0
            else:
                assert ev == []
