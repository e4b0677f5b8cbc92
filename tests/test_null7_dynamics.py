"""The null test with a limiter or bus compressor on one side of a same-song pair
(mixes.balance_null_dyn), and the test material itself (mixes.balance_null_fx)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixes.balance_null import null_balance
from mixes.balance_null_dyn import gain_track
from mixes.balance_null_fx import bus_compressor, lookahead_limiter

FS = 48000


@pytest.fixture(scope="module")
def song():
    from mixes.songs import make_song
    return make_song(4105, duration_s=12.0)


def test_limiter_holds_its_ceiling_and_reduces_the_loudest_peak_by_the_drive():
    """A 1-kHz burst 12 dB over a quiet tone: the output never passes the ceiling, the burst
    is reduced by the drive (its peak sits at the ceiling), the quiet tone (under the ceiling
    even after the drive) is untouched once the release has passed."""
    t = np.arange(2 * FS) / FS
    a = np.where((t > 0.5) & (t < 0.7), 1.0, 0.25)
    x = np.stack([a * np.sin(2 * np.pi * 1000 * t)] * 2)
    y = lookahead_limiter(x, FS, drive_db=6.0, ceiling_db=-1.0, release_s=0.05)
    ceil = 10 ** (-1 / 20)
    assert np.max(np.abs(y)) <= ceil + 1e-12
    burst = np.max(np.abs(y[0, int(0.55 * FS):int(0.65 * FS)]))
    assert 20 * math.log10(burst) == pytest.approx(-1.0, abs=0.05)   # at the ceiling
    # the quiet tone, 1.5 s after the burst (30 release constants): gain 1 after the drive
    q_in = 0.25 * ceil * 10 ** (6 / 20)
    q_out = np.max(np.abs(y[0, int(1.6 * FS):int(1.9 * FS)]))
    assert 20 * math.log10(q_out / q_in) == pytest.approx(0.0, abs=0.01)


def test_compressor_static_curve_follows_its_ratio():
    """Steady tones 6 dB apart, both over the threshold: the output steps differ by 6 / ratio dB
    (the static curve of a hard-knee compressor), whatever the make-up gain."""
    t = np.arange(4 * FS) / FS
    a = np.where(t < 2.0, 0.5, 1.0)                       # +6.02 dB at 2 s
    x = np.stack([a * np.sin(2 * np.pi * 440 * t)] * 2)
    y = bus_compressor(x, FS, drive_db=12.0, ratio=4.0)
    lo = np.sqrt(np.mean(y[0, int(1.0 * FS):int(1.9 * FS)] ** 2))
    hi = np.sqrt(np.mean(y[0, int(3.0 * FS):int(3.9 * FS)] ** 2))
    # threshold 12 dB under the loud half's RMS: both levels are above it
    assert 20 * math.log10(hi / lo) == pytest.approx(6.02 / 4.0, abs=0.05)


@pytest.mark.parametrize("side, fx, kw, gv, gb", [
    ("mix", "lim", dict(drive_db=8.0), 3.0, -2.5),
    ("ref", "comp", dict(drive_db=8.0, ratio=4.0, attack_s=0.005, release_s=0.1), 2.0, 4.0),
])
def test_limiter_or_compressor_on_one_side_is_divided_out(song, side, fx, kw, gv, gb):
    """A louder master of the same song (limited 8 dB, or a 2:1 / 4:1 bus compressor) against the
    plain one: the gain track is found and divided out, and the vocal and bass read their
    offsets within 0.5 dB (session 6 read them 2-9 dB off; measured after: <= 0.2 dB on this
    song).  The mix also at another overall level."""
    ref = song.mix()
    mix = song.mix({"voice": gv, "bass": gb}) * 10 ** (-7 / 20)
    f = (lambda x: lookahead_limiter(x, FS, **kw)) if fx == "lim" else (lambda x: bus_compressor(x, FS, **kw))
    if side == "mix":
        mix = f(mix)
    else:
        ref = f(ref)
    nb = null_balance(mix, ref, fs=FS, vocal_in_files=True)
    assert nb.gate.same, nb.gate.reason
    assert nb.gate.dynamics_db > 1.0
    assert "limiter or compressor" in nb.gate.reason
    assert nb.bass_vs_reference_db == pytest.approx(gb, abs=0.5)
    assert nb.vocal_vs_reference_db == pytest.approx(gv, abs=0.5)


def test_no_processing_leaves_the_session6_path(song):
    """Without a limiter the gain track is the accompaniment's constant gain plus the moved parts'
    own offsets in the frames they fill: not taken for dynamics, the pair is nulled as before."""
    ref = song.mix()
    mix = song.mix({"voice": 4.0, "bass": -3.0}) * 0.5
    tr = gain_track(mix, ref, FS)
    assert not tr.dynamic
    nb = null_balance(mix, ref, fs=FS, vocal_in_files=True)
    assert nb.gate.same and nb.gate.dynamics_db == 0.0
    assert nb.vocal_vs_reference_db == pytest.approx(4.0, abs=0.3)
    assert nb.bass_vs_reference_db == pytest.approx(-3.0, abs=0.3)


def test_precheck_passes_a_limited_reference_and_not_another_song(song):
    """The cheap same-song pre-check on the balance frame records (no audio re-read): a
    reference limited by 8 dB still passes (the ranks of the envelopes: a limiter bends them
    monotonically; their plain correlation fell to 0.05 on this kind of pair), another song of
    the same generator does not."""
    from mixes.balance import measure_balance
    from mixes.balance_null_refs import may_be_same_song
    from mixes.loudness import loudness
    from mixes.songs import make_song

    def frames(x):
        return measure_balance(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs).frames

    mix = song.mix({"voice": -3.0, "bass": 2.5}) * 0.5
    fm = frames(mix)
    assert may_be_same_song(fm, frames(lookahead_limiter(song.mix(), FS, drive_db=8.0)))
    assert not may_be_same_song(fm, frames(make_song(4106, duration_s=12.0).mix()))
