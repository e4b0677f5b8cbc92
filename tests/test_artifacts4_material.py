"""Artifacts on a third kind of material (mixes.artifact_material): a loud, bright, dense rock
mix and a quiet, sparse ballad with reverb.  Clean: nothing; planted: found."""

from __future__ import annotations

import numpy as np
import pytest

from mixes.artifact_material import dense_rock, sparse_ballad
from mixes.artifacts import find_artifacts, truncation
from mixes.renderchecks import render_checks

FS = 48_000


@pytest.fixture(scope="module")
def pieces():
    return {"rock": dense_rock(3, duration_s=10.0), "ballad": sparse_ballad(3, duration_s=10.0)}


def test_material_is_what_it_claims(pieces):
    rock, ballad = pieces["rock"], pieces["ballad"]
    # rock near full scale and loud, the ballad quiet: two ends of the level range (dB, +-1.5)
    assert 20 * np.log10(np.abs(rock).max()) == pytest.approx(-1.0, abs=0.2)
    assert 10 * np.log10(np.mean(rock ** 2)) > -14.0
    assert 10 * np.log10(np.mean(ballad ** 2)) == pytest.approx(-30.0, abs=0.1)


def test_clean_pieces_report_no_artifact(pieces):
    for name, x in pieces.items():
        r = render_checks(x, fs=FS)
        assert r.artifacts == (), (name, r.artifacts)


@pytest.mark.parametrize("how", [np.floor, np.round])
def test_missing_dither_in_a_fast_fade_of_bright_and_quiet_material(pieces, how):
    rng = np.random.default_rng(5)
    for name, x in pieces.items():
        t = np.arange(x.shape[1]) / FS
        f = x * np.where(t < 7.5, 1.0, 10 ** (-100 / 20 * (t - 7.5) / 2.0))   # -100 dB in 2 s
        ev = truncation(how(f * 32768) / 32768, fs=FS)
        # (the ballad's quiet intro, floored too, may be where it is first seen)
        assert ev and {e.channel for e in ev} == {0, 1}, name
        tpdf = np.round(f * 32768 + rng.random(f.shape) - rng.random(f.shape)) / 32768
        assert truncation(tpdf, fs=FS) == [], name


def test_clip_burst_and_splice_in_the_rock_mix(pieces):
    x = pieces["rock"]
    y = x.copy()
    p, m = int(4.2 * FS), int(0.004 * FS)
    y[:, p:p + m] = np.clip(10 * y[:, p:p + m], -1, 1)       # hits 0 dBFS; the master stops at -1
    ev = [e for e in find_artifacts(y, fs=FS) if e.kind == "digital_distortion"]
    assert ev and all(abs(e.time_s - p / FS) < 0.005 for e in ev)
    # a step at one sample (an edit between two takes at different offsets), 8x the rms first
    # difference of the loud, bright mix around it (a splice of realistic size)
    z = x.copy()
    c0 = int(6.3 * FS)
    z[:, c0:] += 8 * np.sqrt(np.mean(np.diff(x[:, c0 - 480: c0 + 480], axis=1) ** 2))
    ev = [e for e in find_artifacts(z, fs=FS) if e.kind == "discontinuity"]
    assert len(ev) == 1 and abs(ev[0].time_s - 6.3) < 0.001
