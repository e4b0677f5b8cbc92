"""null8: the null test on sparse songs (the common gain chosen by what the difference holds),
the same-song pre-check on the third-octave cells (the e_acc check failing), the files' own
pitch track for a vocal the detector misses in the difference, and no confident wrong figure
when two readings of the vocal disagree."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import mixes.balance_null as bn
from mixes.balance import measure_balance
from mixes.balance_null_choice import part_likeness
from mixes.balance_null_refs import _cells_agree, compare_balance_null, may_be_same_song
from mixes.balance_null_track import aligned_file_track
from mixes.loudness import loudness

FS = 48000


def _bal(x):
    return measure_balance(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)


@pytest.fixture(scope="module")
def folk():
    """songs4 726 (folk, 12 s): a fingerpicked guitar, upright bass, harmonium and a male
    straight-tone singer: sparse; its voice owns the top octaves (breath, sibilance), so the
    session-6 top-octave rule took the voice's gain for the common one (bass -3.75 read +3.21)."""
    from mixes.songs4 import make_song
    return make_song(726, duration_s=12.0)


@pytest.fixture(scope="module")
def pop():
    """mixes.songs 5301 (12 s): a vibrato voice over drums, bass, pads and keys."""
    from mixes.songs import make_song
    return make_song(5301, duration_s=12.0)


@pytest.mark.parametrize("gv, gb, lvl", [(-2.89, -3.75, -6.59), (3.5, -2.0, -12.0), (-4.0, 4.0, 0.0)])
def test_sparse_song_vocal_and_bass_moved_read_within_1_db(folk, gv, gb, lvl):
    """The accompaniment's gain, not the voice's, is the common gain: the overall gain within
    0.1 dB of the level change (the null test's LS gain over the nulling cells: measured <= 0.04
    dB), the bass and the vocal within the done-means' 1 dB (measured <= 0.05 dB)."""
    ref = folk.mix()
    mix = folk.mix({"voice": gv, "bass": gb}) * 10 ** (lvl / 20)
    nb = bn.null_balance(mix, ref, fs=FS)
    assert nb.gate.same, nb.gate.reason
    assert nb.gate.gain_db == pytest.approx(lvl, abs=0.1)
    assert nb.bass_vs_reference_db == pytest.approx(gb, abs=1.0)
    assert nb.vocal_vs_reference_db == pytest.approx(gv, abs=1.0)


def test_part_likeness_tells_the_voice_from_the_backing(folk):
    """The difference left by the right gain (the moved voice and bass) is one centred harmonic
    part; the one left by the voice's gain (guitar, harmonium, bass) is not: comb share higher by
    at least the switch margin (0.05), measured 0.95 against 0.87."""
    ref = folk.mix()
    mix = folk.mix({"voice": -2.89, "bass": -3.75}) * 10 ** (-6.59 / 20)
    sp = bn._spectra(mix, ref, FS)
    h_acc, s_acc = part_likeness(sp.M, sp.R, sp.fk, 10 ** (-6.59 / 20))
    h_voc, s_voc = part_likeness(sp.M, sp.R, sp.fk, 10 ** ((-6.59 - 2.89) / 20))
    assert h_acc >= h_voc + 0.05
    assert s_acc <= s_voc + 1.0


def _corrupt_e_acc(b, seed=1):
    """The record with its accompaniment envelope scrambled: what an untracked +4.5-dB voice and
    its hall do to e_acc in a sparse song (songs4 801 on the session-7 tree)."""
    fr = b.frames
    e = np.random.default_rng(seed).permutation(np.asarray(fr.e_acc))
    return dataclasses.replace(b, frames=dataclasses.replace(fr, e_acc=e))


def test_precheck_passes_on_cells_when_e_acc_disagrees(pop, folk):
    """The e_acc check fails (scrambled), the cells still agree (>= 0.25 of them in one 1-dB
    window: a moved voice and bass leave the accompaniment's cells at one ratio); another song
    (of another generator and style) stays well under it (songs4, 12 same-style pairs: <= 0.10)."""
    ref = pop.mix()
    mix = pop.mix({"voice": 4.5, "bass": -1.1}) * 10 ** (-15.6 / 20)
    bm, br = _corrupt_e_acc(_bal(mix)), _bal(ref)
    assert _cells_agree(bm.frames, br.frames, 100) >= 0.25
    assert may_be_same_song(bm.frames, br.frames)
    bo = _bal(folk.mix())
    assert _cells_agree(bo.frames, br.frames, 100) < 0.2
    assert not may_be_same_song(bo.frames, br.frames)
    # end to end: the null test runs and reads the offsets (not the frame comparison's figure)
    b, v, by_null, notes = compare_balance_null(bm, [br], lambda: (mix, FS), [lambda: (ref, FS)], ["ref.wav"])
    assert any("by the null test" in n for n in notes), notes
    assert v == pytest.approx(4.5, abs=1.0)
    assert b == pytest.approx(-1.1, abs=1.0)


def test_precheck_at_a_lag(pop):
    """The reference 0.3 s later: the cells agree at the broadband envelopes' best lag."""
    ref = pop.mix()
    mix = pop.mix({"voice": -3.0, "bass": 2.0})
    lag = int(0.3 * FS)
    ref_l = np.concatenate([np.zeros((2, lag)), ref[:, :-lag]], axis=1)
    bm, br = _corrupt_e_acc(_bal(mix)), _bal(ref_l)
    assert _cells_agree(bm.frames, br.frames, 100) >= 0.25


def test_file_track_reads_a_vocal_the_detector_misses(pop, monkeypatch):
    """With the voice detectors blind in the difference (patched to find nothing), a vocal moved
    -5 dB used to read 0 dB ("did not move") whenever a file had found the vocal; the files' own
    pitch track now places its comb: within 1 dB, with a note."""
    ref = pop.mix()
    mix = pop.mix({"voice": -5.0, "bass": 3.0}) * 0.5
    bm, br = _bal(mix), _bal(ref)
    monkeypatch.setattr(bn, "_voice_track", lambda d, fs: None)
    monkeypatch.setattr(bn, "straight_voice_track", lambda *a, **k: None)
    old = bn.null_balance(mix, ref, fs=FS, vocal_in_files=True)
    assert old.vocal_vs_reference_db == 0.0                    # the confident wrong figure
    tracks = (bm.frames.f0_hz, br.frames.f0_hz, bm.frames.hop_s)
    nb = bn.null_balance(mix, ref, fs=FS, vocal_in_files=True, file_tracks=tracks)
    assert nb.vocal_vs_reference_db == pytest.approx(-5.0, abs=1.0)
    assert nb.bass_vs_reference_db == pytest.approx(3.0, abs=0.3)
    assert any("pitch the files tracked" in n for n in nb.notes)


def test_aligned_file_track_shifts_by_the_overlap_start():
    """Frame j of the null test is frame j + i0/hop of the mix and j + j0/hop of the reference."""
    hop, n = 512, 100 * 512
    f_mix = np.full(100, np.nan)
    f_ref = np.arange(100, dtype=float) + 200.0
    lag = 3 * hop                                  # r[n + lag] lines up with m[n]: j0 = 3 hops
    out = aligned_file_track((f_mix, f_ref, hop / FS), lag_samples=lag, n_mix=n, n_ref=n, fs=FS, hop=hop,
                             n_frames=97)
    assert out[0] == 203.0 and out[96] == 299.0
    f_mix[10] = 440.0                              # the mix's track wins where it has a pitch
    out = aligned_file_track((f_mix, f_ref, hop / FS), lag_samples=lag, n_mix=n, n_ref=n, fs=FS, hop=hop,
                             n_frames=97)
    assert out[10] == 440.0
    # another hop (or an excerpted long file): not aligned
    assert aligned_file_track((f_mix, f_ref, 1024 / FS), lag_samples=0, n_mix=n, n_ref=n, fs=FS, hop=hop,
                              n_frames=100) is None


def test_two_readings_that_disagree_give_no_figure():
    """The comb's sum and weighted median: a comb shared by a moved part (cells at g-1 = +0.33)
    and the voice (g-1 = -0.29) reads two ways; the median follows the weight, the sum the
    sign-mixed ratio (the guard in _figures: > 1 dB apart -> no figure)."""
    rng = np.random.default_rng(3)
    v = (rng.normal(size=(2, 40, 30)) + 1j * rng.normal(size=(2, 40, 30))).astype(np.complex64)
    Rv = v.copy()
    Dv = (10 ** (-3 / 20) - 1) * v                  # the voice moved -3 dB
    assert bn._median_gain_db(Dv, Rv) == pytest.approx(-3.0, abs=0.01)
    assert 20 * math.log10(1 + float(np.sum(np.abs(Dv) ** 2)) / float(np.sum((np.conj(Rv) * Dv).real))) == \
        pytest.approx(-3.0, abs=0.01)
    Dv2 = Dv.copy()
    Dv2[:, :, :6] = (10 ** (2.5 / 20) - 1) * v[:, :, :6] * 4   # a loud bass partial moved +2.5 dB
    Rv2 = Rv.copy()
    Rv2[:, :, :6] = v[:, :, :6] * 4
    s = bn._gain_db(float(np.sum(np.abs(Dv2) ** 2)), float(np.sum((np.conj(Rv2) * Dv2).real)),
                    float(np.sum(np.abs(Rv2) ** 2)))
    m = bn._median_gain_db(Dv2, Rv2)
    assert abs(s - m) > bn.VOCAL_AGREE_DB


def test_a_mix_without_the_voice_is_not_a_vocal_found(pop):
    """The song without its voice against the song with it (the stems summed, so the gate
    accepts): the difference is the reference's whole voice, read ~ -60 dB; that is no vocal
    in the mix, so vocal_found must stay false and no vocal figure is given (before: found, by
    the null test, at -60 dB)."""
    ref = pop.mix()
    nov = sum(v for k, v in pop.stems.items() if k != "voice")
    nb = bn.null_balance(nov, ref, fs=FS, vocal_in_files=True)
    assert nb.gate.same, nb.gate.reason
    assert not nb.vocal_in_difference
    assert nb.vocal_vs_reference_db is None
    assert any("holds no vocal" in n for n in nb.notes)
