"""Artifacts on clean deliveries of many kinds (issue 12): a 16-bit recording made louder, loud
masters (true-peak limited, hard-clipped), dithered fades, 24 bits, a voice memo, tape."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_data
from mixes import artifact_clean as ac
from mixes.artifact_crush import file_grid, held_bursts
from mixes.artifacts import find_artifacts
from mixes.renderchecks import render_checks

FS = 48_000


@pytest.fixture(scope="module")
def piano():
    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    return x.T.copy(), fs


@pytest.fixture(scope="module")
def songs():
    from mixes.songs import make_song
    from mixes.songs_alt import make_song as make_alt
    return [make_song(7, duration_s=10.0).mix(), make_alt(505, duration_s=10.0).mix()]


def test_file_grid_reads_a_scaled_16_bit_grid_and_not_float():
    rng = np.random.default_rng(0)
    k = np.round(rng.normal(0, 3000, 20_000))
    for g in (1.0, 2.0, 3.98107, 10 ** (13 / 20)):
        v = k * g / 32768
        # exact to float rounding (relative 1e-12); float32 storage leaves ~1e-7 of the value
        assert file_grid(v) == pytest.approx(g / 32768, rel=1e-9)
        assert file_grid(v.astype(np.float32).astype(np.float64)) == pytest.approx(g / 32768, rel=1e-6)
    assert file_grid(rng.normal(0, 0.1, 20_000)) == 0.0                  # float material


@pytest.mark.parametrize("gain_db", [12.0, 15.0, 20.0, 26.0])
def test_a_16_bit_recording_made_louder_holds_values_but_has_no_burst(piano, gain_db):
    x, fs = piano
    y = x * 10 ** (gain_db / 20)
    # the holds of a 16-bit file after a gain are its word length (before: 2-6 reports here)
    assert held_bursts(y, fs=fs) == []
    assert held_bursts(y.astype(np.float32), fs=fs) == []
    for shift in (17, 29):                       # other hop alignments hold other samples
        assert held_bursts(y[:, shift:], fs=fs) == []
    assert not [e for e in find_artifacts(y, fs=fs) if e.kind == "digital_distortion"]


def test_a_crushed_stretch_in_the_louder_16_bit_recording_is_still_found(piano):
    x, fs = piano
    for g_db in (12.0, 20.0):
        for bits in (4, 6):
            for t in (2.1, 6.2):
                y = x * 10 ** (g_db / 20)
                p, m = int(t * fs), int(0.006 * fs)
                q = 2.0 ** -(bits - 1)
                y[:, p:p + m] = np.round(y[:, p:p + m] / q) * q
                ev = [e for e in held_bursts(y, fs=fs) if abs(e.time_s - t) < 0.01]
                assert ev, (g_db, bits, t)
        # clipped flat at half the local peak, then written at 16 bits (the file's grid)
        y = x * 10 ** (g_db / 20)
        p, m = int(4.3 * fs), int(0.004 * fs)
        c = 0.5 * np.abs(y[:, p:p + m]).max()
        y[:, p:p + m] = np.clip(y[:, p:p + m], -c, c)
        y = np.round(y / 10 ** (g_db / 20) * 32768) * 10 ** (g_db / 20) / 32768
        assert [e for e in held_bursts(y, fs=fs) if abs(e.time_s - 4.3) < 0.01], g_db


def test_hard_clipped_masters_are_one_finding_and_limited_masters_none(piano, songs):
    x, fs = piano
    cases = [(ac.clipped_master(s, drive_db=8, out_db=o), FS) for s in songs for o in (0.0, -0.3)]
    cases.append((np.clip(2 * x / np.abs(x).max(), -1, 1), fs))              # the piano +6 dB, clipped
    for y, f in cases:
        r = render_checks(y, fs=f)
        dd = [e for e in r.artifacts if e.kind == "digital_distortion"]
        assert len(dd) == 1 and dd[0].detail.startswith("hard-clipped") and dd[0].duration_s == 0.0
        # the clipper's corners are the clipping's, not edits
        assert not [e for e in r.artifacts if e.kind == "discontinuity"]
    for s in songs:
        m = ac.tp_limited_master(s, fs=FS)
        # the limiter's own check: true peak <= -1 dBTP (4x oversampling reads it within ~0.1 dB)
        assert 20 * np.log10(ac.true_peak(m)) <= -1.0 + 0.1
        for y in (m, ac.to_bits(m, 16)):
            assert render_checks(y, fs=FS).artifacts == ()


def test_a_splice_in_a_clipped_master_is_still_found(songs):
    y = ac.clipped_master(songs[0], drive_db=8)
    c0 = int(4.0 * FS)
    z = np.concatenate([y[:, :c0], y[:, int(6.3 * FS):]], axis=1)
    z[:, c0:] += 0.05 * np.sign(z[0, c0 - 1] - z[0, c0] + 1e-9)      # a join with a clear step
    d = [e for e in render_checks(z, fs=FS).artifacts if e.kind == "discontinuity"]
    assert d and all(abs(e.time_s - c0 / FS) < 0.001 for e in d)


def test_dithered_fades_24_bits_tape_and_a_voice_memo(songs):
    from mixes.songs import make_song
    s = songs[1]
    for y in (ac.to_bits(ac.faded(s, fs=FS, fade_s=4.0), 16, seed=2),     # dithered: not truncation
              ac.to_bits(ac.faded(s, fs=FS, fade_s=4.0), 24, dither=False),
              ac.tape_like(songs[0], fs=FS, seed=1)):
        assert render_checks(y, fs=FS).artifacts == ()
    # the same fade undithered at 16 bits is truncation
    assert [e for e in find_artifacts(np.round(ac.faded(s, fs=FS, fade_s=4.0) * 32768) / 32768, fs=FS)
            if e.kind == "truncation"]
    memo = ac.voice_memo(make_song(3, duration_s=10.0).stems["voice"], fs=FS)
    assert [e.kind for e in render_checks(memo, fs=FS).artifacts] == ["dual_mono"]
    assert render_checks(memo[:1], fs=FS).artifacts == ()                  # delivered as mono: nothing
