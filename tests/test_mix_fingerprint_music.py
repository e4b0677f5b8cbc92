"""Studio fingerprints on music (issue 12): held-out synthetic studios, calibrated intervals,
and a correction that touches only what the interval supports.

Material: :func:`mixes.songs.make_song` songs (a bass line of sustained notes in the song's own
key, held chords, plucked keys, a sung voice with vibrato and formants, drums, reverb), 20 s
each, every song of a set in its own key.  A studio's room leaves a smooth deviation on its
mixes: the mixes are the songs filtered by it (the sign of ``RoomFingerprint.deviation_db``:
positive = the mixes have too much there).  The references are other songs, unfiltered.

Truth per band: the deviation's third-octave power average, level-aligned over 40 Hz-12 kHz
like the fingerprint (loudness normalisation makes a broadband gain meaningless).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from mixes.analysis import analyze_array
from mixes.correct import band_decisions, design_correction, fir_response_db
from mixes.fingerprint import fingerprint_from_mixes, load_fingerprint, save_fingerprint
from mixes import studio_curves
from mixes.songs import make_song
from mixes.types import Ltas, RoomFingerprint

FS = 48000
DUR_S = 20.0
FIFTHS = (0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5)     # every song of a set in its own key
BANDS = (39.0, 12_100.0)                             # third-octaves 40 Hz .. 10 kHz (12.5 kHz > 12 kHz)


_issue_room = studio_curves.issue_room
_random_room = studio_curves.smooth_room


def _colour(x, room):
    return studio_curves.colour(x, room, FS)


def _truth(room, fc):
    return studio_curves.band_truth_db(room, fc, BANDS)


def _score(fp, truth):
    sel = (fp.freqs_hz >= BANDS[0]) & (fp.freqs_hz <= BANDS[1])
    iv = fp.interval_db
    inside = (truth >= iv[:, 0]) & (truth <= iv[:, 1])
    sure = (iv[:, 1] - iv[:, 0]) <= 3.0
    err = fp.deviation_db - truth
    return {"cover": float(inside[sel].mean()), "sure": float(sure[sel].mean()),
            "rms_sure": math.sqrt(float(np.mean(err[sel & sure] ** 2))) if (sel & sure).any() else math.nan,
            "rms_all": math.sqrt(float(np.mean(err[sel] ** 2))), "inside": inside, "sure_mask": sure}


def _spectrum(x):
    return analyze_array(x, fs=FS, checks=False).ltas


@pytest.fixture(scope="module")
def refs():
    """Eight reference songs (seeds 1-8) and the audio of the first three (for the CLI)."""
    audio = [make_song(1 + i, key=FIFTHS[(i + 5) % 12], duration_s=DUR_S).mix() for i in range(8)]
    return [_spectrum(x) for x in audio], audio[:3]


def _studio(room, first_seed):
    audio = [_colour(make_song(first_seed + i, key=FIFTHS[i], duration_s=DUR_S).mix(), room) for i in range(8)]
    return [_spectrum(x) for x in audio], audio[:3]


@pytest.fixture(scope="module")
def issue_studio():
    return _studio(_issue_room, 11)


@pytest.fixture(scope="module")
def studio_a():
    return _studio(_random_room(1), 21)


def test_issue_studio_truth_inside_intervals_and_sure_bands_within_1_db(refs, issue_studio):
    mixes, _ = issue_studio
    fp = fingerprint_from_mixes("Studio Nord", mixes, refs[0])
    truth = _truth(_issue_room, fp.freqs_hz)
    s = _score(fp, truth)
    # issue 12 "done means": >= 85 % of third-octaves 40 Hz-12 kHz hold the truth (measured 1.00)
    assert s["cover"] >= 0.85, s
    # over the sure bands (90 % interval <= 3 dB wide) within 1.0 dB rms (measured 0.35 dB)
    assert s["rms_sure"] <= 1.0, s
    # >= 80 % sure bands (measured 0.88; 0.76 with the time-averaged floor of the last session)
    assert s["sure"] >= 0.80, s
    f = fp.freqs_hz
    i63, i160, i3k = (int(np.argmin(np.abs(f - v))) for v in (63, 160, 3150))
    # the dip the old method got wrong where it was most sure: inside, sure, and not zero
    lo, hi = fp.interval_db[i63]
    assert lo <= truth[i63] <= hi and hi < -2.0 and fp.confidence[i63] > 0.9
    assert abs(fp.deviation_db[i63] - truth[i63]) < 1.0          # truth -5.0 dB after level alignment
    assert fp.interval_db[i3k, 0] > 0                            # the 3 kHz presence is found
    assert np.all(fp.interval_db[:, 0] <= fp.deviation_db) and np.all(fp.deviation_db <= fp.interval_db[:, 1])
    # the old estimator (mean band power) on the same files: less accurate, far fewer sure bands
    old = _score(fingerprint_from_mixes("Studio Nord", mixes, refs[0], estimator="mean"), truth)
    assert s["rms_all"] < old["rms_all"] and s["sure"] >= old["sure"] + 0.15, (s, old)


def test_random_studio_other_keys_and_deviation(refs, studio_a):
    mixes, _ = studio_a
    fp = fingerprint_from_mixes("B-side", mixes, refs[0])
    s = _score(fp, _truth(_random_room(1), fp.freqs_hz))
    assert s["cover"] >= 0.85 and s["rms_sure"] <= 1.0 and s["sure"] >= 0.80, s   # measured 1.00, 0.47, 0.88


def test_intervals_narrow_as_mixes_are_added(refs, issue_studio):
    mixes, _ = issue_studio
    sel = (mixes[0].freqs_hz >= BANDS[0]) & (mixes[0].freqs_hz <= BANDS[1])
    widths = []
    for n in (3, 5, 8):
        # averaged over the eight rotations of the mix list: which 3 or 5 mixes are taken moves a
        # small sample's spread by more than the step from 3 to 5 (one draw measured 2.11, 2.23, 1.98)
        w = []
        for r in range(len(mixes)):
            iv = fingerprint_from_mixes("s", (mixes[r:] + mixes[:r])[:n], refs[0]).interval_db
            w.append(float(np.median((iv[:, 1] - iv[:, 0])[sel])))
        widths.append(float(np.mean(w)))
    # the mixes' share of the variance falls as 1/n, the eight references' stays: with equal
    # spreads the width goes as sqrt(1/n + 1/8), 3 -> 8 mixes 0.74x (measured 2.55, 2.21, 2.08 dB)
    assert widths[0] > widths[1] > widths[2] and widths[2] < 0.88 * widths[0], widths


def test_calibration_over_many_held_out_studios(refs, issue_studio, studio_a):
    """30 more studios, cheaply: a smooth deviation scales a band's floor and mean alike, so
    a studio's mixes are modelled by adding its band truth to unfiltered songs' spectra (the
    16 studio songs, unfiltered by subtracting their own room).  Averaged over studios, the
    90 % intervals hold the truth in 0.85-0.97 of the bands (not far above 0.90 either: an
    interval that always holds is too wide to be useful)."""
    songs = [Ltas(m.freqs_hz, m.level_db - t, 3, m.normalised_to_lufs, m.floor_db - t, m.floor_gap_db)
             for room, (ms, _) in ((_issue_room, issue_studio), (_random_room(1), studio_a))
             for t in [_truth(room, ms[0].freqs_hz)] for m in ms] + list(refs[0])
    f = songs[0].freqs_hz
    rng = np.random.default_rng(12)
    covers = []
    for k in range(30):
        idx = rng.permutation(len(songs))
        t = _truth(_random_room(100 + k), f)
        mixes = [Ltas(f, songs[i].level_db + t, 3, -23.0, songs[i].floor_db + t) for i in idx[:8]]
        fp = fingerprint_from_mixes("s", mixes, [songs[i] for i in idx[8:16]])
        covers.append(_score(fp, t)["cover"])
    assert 0.85 <= float(np.mean(covers)) <= 0.97, covers


def test_one_outlying_mix_is_down_weighted(refs, issue_studio):
    mixes, _ = issue_studio
    f = mixes[0].freqs_hz
    odd = np.where((f > 35) & (f < 130), 12.0, 0.0)              # one mix with 12 dB too much bass
    bad = mixes[:7] + [Ltas(f, mixes[7].level_db + odd, 3, -23.0, mixes[7].floor_db + odd)]
    i63 = int(np.argmin(np.abs(f - 63)))
    good = fingerprint_from_mixes("s", mixes, refs[0]).deviation_db[i63]
    robust = fingerprint_from_mixes("s", bad, refs[0]).deviation_db[i63]
    # a plain mean would move by 12/8 = 1.5 dB (and more through the level alignment)
    assert abs(robust - good) < 1.0, (good, robust)


def test_correct_only_bands_whose_interval_excludes_zero(refs, issue_studio):
    fp = fingerprint_from_mixes("s", issue_studio[0], refs[0])
    corrected, bands = band_decisions(fp)
    iv = fp.interval_db
    excl = (iv[:, 0] > 0) | (iv[:, 1] < 0)
    inband = (fp.freqs_hz >= 30) & (fp.freqs_hz <= 16_000)
    np.testing.assert_array_equal(corrected, excl & inband)
    assert excl.any() and (~excl & inband).any()                 # both kinds occur
    corr = design_correction(fp, fs=FS)
    for i, b in enumerate(bands):
        assert b["corrected"] == bool(corrected[i]) and b["f_hz"] == pytest.approx(fp.freqs_hz[i], abs=1e-3)
        if corrected[i]:
            assert "excludes 0: corrected" in b["why"] and corr.wanted_db[i] * fp.deviation_db[i] < 0
        elif inband[i]:
            assert "includes 0: not corrected" in b["why"] and corr.wanted_db[i] == 0.0
        else:
            assert "outside the correction band" in b["why"]
    i63 = int(np.argmin(np.abs(fp.freqs_hz - 63)))
    assert corrected[i63] and corr.gain_db[i63] > 3.5               # the thin 63 Hz is put back
    # 1/6-octave smoothing with intervals: an uncorrected band gets little of its neighbours'
    # gain (measured at most 0.5 dB), and the FIR realises the design within 0.5 dB
    # (frequency sampling on a 2.9 Hz grid; the steepest slope is 40-63 Hz)
    assert np.max(np.abs(corr.gain_db[inband & ~corrected])) < 1.0, corr.gain_db[inband & ~corrected]
    sel = (fp.freqs_hz >= 40) & (fp.freqs_hz <= 12_000)
    real = fir_response_db(corr.fir, fp.freqs_hz, fs=FS)
    assert np.max(np.abs(real - corr.gain_db)[sel]) < 0.5
    assert corr.to_dict()["bands"][i63]["interval_db"] == [round(float(v), 2) for v in iv[i63]]


def test_fingerprint_file_keeps_intervals_and_old_files_still_load(tmp_path, refs, issue_studio):
    fp = fingerprint_from_mixes("Studio Nord", issue_studio[0], refs[0])
    save_fingerprint(fp, tmp_path)
    back = load_fingerprint(tmp_path, "Studio Nord")
    np.testing.assert_allclose(back.interval_db, fp.interval_db, atol=1e-3)
    # a file from before intervals: loads, and the correction says why it weighs by confidence
    d = fp.to_dict()
    del d["interval_db"]
    old = RoomFingerprint.from_dict(d)
    assert old.interval_db is None
    corr = design_correction(old, fs=FS)
    assert all("no interval" in b["why"] for b in corr.bands if 30 <= b["f_hz"] <= 16_000)
    bad = dict(d, interval_db=[[1.0, 0.0]] * len(d["freqs_hz"]))
    with pytest.raises(Exception, match="interval_db must hold"):
        RoomFingerprint.from_dict(bad)


def test_cli_fingerprint_then_correct_on_wav_files(run_cli, tmp_path, refs, issue_studio):
    """End to end on WAV files: 3 mixes from the issue's studio vs 3 references."""
    files = []
    for tag, arrs in (("mix", issue_studio[1]), ("ref", refs[1])):
        for i, x in enumerate(arrs):
            p = tmp_path / f"{tag}{i}.wav"
            sf.write(str(p), x.T.astype(np.float32), FS, subtype="FLOAT")
            files.append(p)
    ws = tmp_path / "ws"
    args = ["mix", "fingerprint", "--studio", "Studio Nord", "-w", str(ws), "--jobs", "1", "--json"]
    for r in files[3:]:
        args += ["--reference", str(r)]
    code, out, err = run_cli(*args, *map(str, files[:3]))
    assert code == 0, err
    d = json.loads(out)
    assert set(d) >= {"freqs_hz", "deviation_db", "confidence", "interval_db", "spread_db"}
    iv = np.array(d["interval_db"])
    assert iv.shape == (len(d["freqs_hz"]), 2) and np.all(iv[:, 0] <= iv[:, 1])
    stored = json.loads((ws / "studios" / "Studio-Nord" / "fingerprint.json").read_text())
    assert stored["interval_db"] == d["interval_db"]
    out_wav = tmp_path / "fixed.wav"
    code, out, err = run_cli("mix", "correct", "--studio", "Studio Nord", "-w", str(ws), "--json",
                             str(files[0]), str(out_wav))
    assert code == 0, err
    rep = json.loads(out)
    bands = rep["correction"]["bands"]
    assert len(bands) == len(d["freqs_hz"]) and all({"f_hz", "interval_db", "corrected", "why"} <= set(b) for b in bands)
    for b, (lo, hi) in zip(bands, iv):
        if 30 <= b["f_hz"] <= 16_000:
            assert b["corrected"] == bool(lo > 0 or hi < 0)
    # the console says per band why
    code, out, err = run_cli("mix", "correct", "--studio", "Studio Nord", "-w", str(ws), "--force",
                             str(files[0]), str(out_wav))
    assert code == 0, err
    assert "includes 0: not corrected" in out or "excludes 0: corrected" in out
    assert sum(1 for line in out.splitlines() if "corrected; applied" in line) >= 20


def test_fewer_shorter_songs_at_44k1():
    """Four mixes against four references, 12 s songs at 44.1 kHz (bins of 1.35 Hz): the
    intervals widen honestly instead of claiming what four songs cannot show."""
    fs = 44_100

    def colour(x):
        return studio_curves.colour(x, _issue_room, fs)

    mixes = [analyze_array(colour(make_song(71 + i, key=FIFTHS[i + 3], duration_s=12.0, fs=fs).mix()), fs=fs,
                           checks=False).ltas for i in range(4)]
    refs = [analyze_array(make_song(81 + i, key=FIFTHS[i + 7], duration_s=12.0, fs=fs).mix(), fs=fs,
                          checks=False).ltas for i in range(4)]
    fp = fingerprint_from_mixes("s", mixes, refs)
    truth = _truth(_issue_room, fp.freqs_hz)
    s = _score(fp, truth)
    i63 = int(np.argmin(np.abs(fp.freqs_hz - 63)))
    assert fp.interval_db[i63, 0] <= truth[i63] <= fp.interval_db[i63, 1] < 0, fp.interval_db[i63]
    # measured: coverage 0.84-0.88 (with the songs of d4ccc18 and before), rms over sure bands
    # 0.60 dB, only 40 % of bands sure (8 + 8: 76 %).  One studio's coverage is a draw: the
    # mean over many studios is held to 0.85-0.97 in test_calibration_over_many_held_out_studios;
    # here >= 0.76 (about two standard errors under 0.90 for 25 bands) guards against a collapse.
    assert s["cover"] >= 0.76 and s["rms_sure"] <= 1.0 and s["sure"] < 0.6, s


def test_fingerprint_argument_errors():
    from calib.errors import SignalError

    f = np.array([50.0, 63.0, 1000.0, 3150.0])
    a = [Ltas(f, np.array([0.0, 1.0, 2.0, 3.0]) + k, 3, -23.0) for k in range(3)]   # no floors
    with pytest.raises(SignalError, match="estimator 'floor' needs band floors"):
        fingerprint_from_mixes("s", a, a, estimator="floor")
    with pytest.raises(SignalError, match="interval level 0.2 is outside"):
        fingerprint_from_mixes("s", a, a, level=0.2)
    with pytest.raises(SignalError, match="is not 'auto', 'floor' or 'mean'"):
        fingerprint_from_mixes("s", a, a, estimator="median")
    fp = fingerprint_from_mixes("s", a, a)            # without floors: the mean band power
    assert fp.meta["estimator"].startswith("band mean power") and fp.interval_db.shape == (4, 2)


def _noise_ltas(x, fs=FS):
    """Band levels and frame floors of a stereo signal, no loudness normalisation."""
    from mixes.ltas import _segment_power, ltas_from_power, spectrum_nfft

    nfft = spectrum_nfft(fs)
    return ltas_from_power(_segment_power(x, nfft, overlap=True, floors_fs=fs), fs=fs, nfft=nfft)


def test_frame_floor_stays_on_the_noise_under_moving_notes_and_follows_a_slope_in_the_band():
    """Analytic cases for mixes.envelope: white noise of known density under notes, and a
    density step inside one band."""
    from mixes.envelope import frame_floors
    from mixes.ltas import spectrum_nfft, third_octave_floor_grid

    rng = np.random.default_rng(3)
    n = 12 * FS
    noise = 0.01 * rng.standard_normal((2, n))
    t = np.arange(n) / FS
    # a melody through the 250 Hz third-octave (224-282 Hz): four notes a semitone apart,
    # 2.1 s each with 0.25 s fades (held notes), 41 dB over the noise per bin, 32 dB in the band
    k = np.floor(t / 2.1)
    tl = t - 2.1 * k
    env = np.sin(0.5 * np.pi * np.clip(np.minimum(tl, 2.1 - tl) / 0.25, 0.0, 1.0)) ** 2
    tune = 0.03 * env * np.sin(2 * np.pi * 228.0 * 2 ** ((k % 4) / 12) * tl)
    base = _noise_ltas(noise)
    with_notes = _noise_ltas(noise + tune)
    i = int(np.argmin(np.abs(base.freqs_hz - 250)))
    assert with_notes.level_db[i] - base.level_db[i] > 30.0            # the notes own the band's power
    # the frame floor stays on the noise: measured +1.2 dB (the notes' fades and skirts; the
    # scatter of the noise's own floor over 12 s is a few tenths)
    assert abs(with_notes.floor_db[i] - base.floor_db[i]) < 2.0, (with_notes.floor_db[i], base.floor_db[i])
    nfft = spectrum_nfft(FS)
    # the frame percentile equals numpy's (linear interpolation) on half bands up to 96 bins
    grid = third_octave_floor_grid(FS, nfft)
    frames = rng.exponential(size=(5, nfft // 2 + 1))
    got = frame_floors(frames, grid)
    for j in np.flatnonzero(grid.stops - grid.starts <= 96):
        np.testing.assert_allclose(got[:, j], np.percentile(frames[:, grid.starts[j]:grid.stops[j]], 10, axis=1),
                                   rtol=1e-12)
    # a +6 dB density step at 1 kHz, the middle of the 1 kHz third-octave (891-1122 Hz): the
    # floor rises like the band's power average (+4.1 dB: the upper half is 122 of 231 Hz wide),
    # not like the lower bins a single percentile would read (measured +4.0 dB; +1.7 dB without
    # the half bands)
    spec = np.fft.rfft(noise, axis=-1)
    spec[:, np.fft.rfftfreq(n, 1 / FS) >= 1000.0] *= 10 ** (6.0 / 20)
    step = _noise_ltas(np.fft.irfft(spec, n=n, axis=-1))
    k = int(np.argmin(np.abs(base.freqs_hz - 1000)))
    rise_level = step.level_db[k] - base.level_db[k]
    rise_floor = step.floor_db[k] - base.floor_db[k]
    assert rise_level == pytest.approx(4.10, abs=0.2)
    assert rise_floor == pytest.approx(rise_level, abs=0.4), (rise_floor, rise_level)


def test_other_generator_mixed_styles_widens_the_intervals_honestly():
    """Songs of another generator (mixes.songs_alt: ballad, rock, electronic, acoustic), the
    styles mixed between mixes and references.  Their own spectral balance differs by +-5 dB
    per band from style to style, which no estimator can tell from a room with six tracks:
    the intervals must widen and still hold the truth, not claim the style as the room."""
    songs_alt = pytest.importorskip("mixes.songs_alt")
    room = _random_room(7)
    mixes = [_spectrum(_colour(songs_alt.make_song(400 + i, key=FIFTHS[i], duration_s=12.0).mix(), room))
             for i in range(6)]
    refs = [_spectrum(songs_alt.make_song(500 + i, key=FIFTHS[i + 6], duration_s=12.0).mix()) for i in range(6)]
    fp = fingerprint_from_mixes("s", mixes, refs)
    s = _score(fp, _truth(room, fp.freqs_hz))
    sel = (fp.freqs_hz >= BANDS[0]) & (fp.freqs_hz <= BANDS[1])
    width = fp.interval_db[:, 1] - fp.interval_db[:, 0]
    # measured: coverage 1.00, median width 6.5 dB, 16 % of bands sure (0.17 dB rms there)
    assert s["cover"] >= 0.85, s
    assert float(np.median(width[sel])) > 3.0
    # where it does claim a band (<= 3 dB wide), it is right
    assert not (s["sure"] > 0) or s["rms_sure"] <= 1.0, s
