"""Artifacts on varied material (issue 12): splices cut at random points, clip bursts at the
file's own ceiling, and none of it on clean music (both song generators and the real piano)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_data
from mixes.artifact_crush import held_bursts
from mixes.artifact_splice import find_splices
from mixes.renderchecks import render_checks

FS = 48_000


@pytest.fixture(scope="module")
def material():
    """An alt-generator song of each style (12 s), a mixes.songs song, and the real piano."""
    from mixes.songs import make_song
    from mixes.songs_alt import make_song as make_alt
    out = [(f"alt{s}", make_alt(s, duration_s=12.0).mix(), FS) for s in (400, 401, 402, 403)]
    out.append(("songs5", make_song(5, duration_s=12.0).mix(), FS))
    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    out.append(("piano", x.T.copy(), fs))
    return out


def _step_ratio(z, c0):
    """The join's step against the rms first difference over 10 ms on the louder side."""
    w = int(0.010 * FS)
    step = z[:, c0] - z[:, c0 - 1]
    left = np.mean(np.diff(z[:, c0 - w: c0], axis=1) ** 2, axis=1).sum()
    right = np.mean(np.diff(z[:, c0: c0 + w], axis=1) ** 2, axis=1).sum()
    return math.sqrt(float(np.sum(step ** 2)) / max(left, right))


def test_random_cuts_of_audible_size_are_splices_and_clean_music_has_none(material):
    rng = np.random.default_rng(11)
    found = total = 0
    for name, x, fs in material:
        assert find_splices(x, fs=fs) == [], name
        dur = x.shape[1] / fs
        for _ in range(5):
            t1 = rng.uniform(0.15, 0.45) * dur
            t2 = rng.uniform(t1 + 0.5, 0.95 * dur)
            c0 = int(t1 * fs)
            z = np.concatenate([x[:, :c0], x[:, int(t2 * fs):]], axis=1)
            ev = find_splices(z, fs=fs)
            # nothing anywhere else, whatever the step's size
            assert all(abs(e.time_s - c0 / fs) < 0.001 for e in ev), (name, ev)
            if _step_ratio(z, c0) >= 6.0:            # the realistic size: see artifact_splice
                total += 1
                found += bool(ev)
                assert all(e.channel == -1 and e.audibility_db > 0 for e in ev)
    assert total >= 8
    assert found >= 0.9 * total, (found, total)


def test_a_step_added_to_the_piano_is_a_splice_not_a_click(material):
    _, x, fs = material[-1]
    y = x.copy()
    p = int(3.3 * fs)
    y[:, p:] += 0.02                                   # a DC step of -34 dBFS in both channels
    r = render_checks(y, fs=fs)
    d = [e for e in r.artifacts if e.kind == "discontinuity"]
    assert d and all(abs(e.time_s - p / fs) < 0.001 for e in d)
    assert not any(abs(c.time_s - p / fs) < 0.003 for c in r.clicks)


@pytest.mark.parametrize("gain", [10.0, 30.0])
def test_clip_burst_at_the_files_own_ceiling_is_digital_distortion(material, gain):
    for name, x, fs in material[:5]:
        y = x.copy()
        p, m = int(6.1 * fs), int(0.004 * fs)
        y[:, p:p + m] = np.clip(gain * y[:, p:p + m], -1, 1)
        r = render_checks(y, fs=fs)
        dd = [e for e in r.artifacts if e.kind == "digital_distortion"]
        assert dd and all(abs(e.time_s - p / fs) < 0.005 for e in dd), (name, r.artifacts)
        assert not any(p / fs - 0.002 <= c.time_s <= (p + m) / fs + 0.002 for c in r.clicks), name


def test_a_master_clipped_at_its_ceiling_is_not_a_burst(material):
    # (float songs; the 16-bit piano made louder: tests/test_artifacts5_clean.py)
    for name, x, fs in material[:5]:
        y = x / np.abs(x).max()
        for v in (np.clip(2.0 * y, -1, 1), np.clip(1.3 * y, -0.9, 0.9)):
            ev = held_bursts(v, fs=fs)   # no burst; at most the file-level "hard-clipped" finding (artifacts5)
            assert all(e.detail.startswith("hard-clipped") and e.duration_s == 0.0 for e in ev), name
