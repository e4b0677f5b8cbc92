"""LTAS, studio fingerprints and the correction EQ against analytic truth."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from calib.errors import ProfileError, SignalError
from calib.types import FrequencyResponse
from conftest import shared_data
from mixes.correct import band_gains_db, design_correction, fir_response_db
from mixes.fingerprint import (fingerprint_from_mixes, fingerprint_from_response, load_fingerprint,
                               read_response_file, save_fingerprint)
from mixes.loudness import loudness
from mixes.ltas import band_centres_hz, builtin_target, compare, ltas, reference_from_tracks
from mixes.types import RoomFingerprint

FS = 48_000


# --- LTAS ----------------------------------------------------------------------------------------

def test_band_centres_are_iec_base_ten():
    fc = band_centres_hz(3)
    assert fc[0] == pytest.approx(19.953, abs=1e-3) and fc.size == 31
    assert 1000.0 in np.round(fc, 9)
    np.testing.assert_allclose(fc[1:] / fc[:-1], 10 ** 0.1, rtol=1e-12)
    with pytest.raises(SignalError, match="not one of"):
        band_centres_hz(5)


def test_full_scale_sine_reads_minus_3_dB_in_its_band():
    n = np.arange(FS * 5)
    x = np.tile(np.sin(2 * np.pi * 1000 * n / FS), (2, 1))
    lv = ltas(x, fs=FS, integrated_lufs=-23.0)             # gain 0: no normalisation shift
    i = int(np.argmin(np.abs(lv.freqs_hz - 1000)))
    # mean square of a unit sine is 1/2 -> -3.01 dB; Hann leakage stays inside the band
    assert lv.level_db[i] == pytest.approx(-3.0103, abs=0.001)
    assert lv.level_db[i - 1] < -50 and lv.level_db[i + 1] < -50


def test_white_noise_band_levels_follow_bandwidth():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, FS * 20)) * 0.1
    lv = ltas(x, fs=FS, integrated_lufs=-23.0)
    bw = lv.freqs_hz * (10 ** 0.05 - 10 ** -0.05)
    want = 10 * np.log10(0.01 * bw / (FS / 2))
    sel = lv.freqs_hz >= 100
    # statistical error: >= 100 Hz bands hold >= 7 bins x 58 segments: std < 0.2 dB
    assert np.max(np.abs(lv.level_db[sel] - want[sel])) < 0.6


def test_loudness_normalisation_shifts_levels():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, FS * 5)) * 0.05
    li = loudness(x, fs=FS).integrated_lufs
    a = ltas(x, fs=FS, integrated_lufs=li)
    b = ltas(x * 4, fs=FS, integrated_lufs=li + 20 * math.log10(4))
    np.testing.assert_allclose(a.level_db, b.level_db, atol=1e-9)


def test_builtin_target_and_compare():
    fc = band_centres_hz(3)
    tgt = builtin_target(fc)
    assert tgt.level_db[np.argmin(np.abs(fc - 1000))] == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, FS * 4)) * 0.1
    lv = ltas(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)
    c = compare(lv, tgt)
    assert c["deviation_db"].shape == fc.shape
    assert c["outside_hz"].size > 0        # white noise is far brighter than a music target
    ref = reference_from_tracks([lv, lv])
    assert np.all(ref.tolerance_db == 1.5)
    with pytest.raises(SignalError, match="no reference tracks"):
        reference_from_tracks([])


# --- fingerprints --------------------------------------------------------------------------------

def _room_db(f):
    """The hidden room: a +8 dB mode at 60 Hz (Q 4) and a -2.5 dB bright-room shelf above 4 kHz."""
    f = np.maximum(f, 1.0)
    return 8.0 / (1 + ((f / 60 - 60 / f) * 4) ** 2) - 2.5 / (1 + (4000 / f) ** 2)


def _song(rng, colour_db_fn, seconds=6):
    """A different 'song' each call: a pinkish base with a smooth random balance (about 2 dB
    rms per band: what varies from song to song), optionally coloured by the room."""
    n = FS * seconds
    f = np.fft.rfftfreq(n, 1 / FS)
    lf = np.log2(np.maximum(f, 1) / 1000)
    var = sum(rng.normal(0, 1.6 / k ** 0.5) * np.cos(k * np.pi * lf / 10 + rng.uniform(0, 2 * np.pi))
              for k in range(1, 5))
    g = -12 * np.log10(np.maximum(f, 20) / 1000) + var + colour_db_fn(f)
    X = (rng.standard_normal((2, f.size)) + 1j * rng.standard_normal((2, f.size))) * 10 ** (g / 20)
    x = np.fft.irfft(X, n=n)
    return x * (0.1 / np.sqrt(np.mean(x ** 2)))


def _spec(x):
    return ltas(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)


@pytest.fixture(scope="module")
def eight_and_eight():
    rng = np.random.default_rng(11)
    # the engineer compensated the room's 60 Hz peak: the mixes are thin there (-room)
    mixes = [_spec(_song(rng, lambda f: -_room_db(f))) for _ in range(8)]
    refs = [_spec(_song(rng, lambda f: 0.0 * f)) for _ in range(8)]
    return mixes, refs


def _band_truth(fc):
    # the deviation as a third-octave power average (what a band-level estimate can see)
    out = []
    for c in fc:
        g = np.geomspace(c * 10 ** -0.05, c * 10 ** 0.05, 64)
        out.append(10 * np.log10(np.mean(10 ** (-_room_db(g) / 10))))
    return np.array(out)


def test_fingerprint_recovers_hidden_room_within_1_db_rms(eight_and_eight):
    mixes, refs = eight_and_eight
    fp = fingerprint_from_mixes("studio-a", mixes, refs)
    f = fp.freqs_hz
    sel = (f >= 40) & (f <= 12_000)
    truth = _band_truth(f)
    err = fp.deviation_db - truth
    err -= err[sel].mean()        # a broadband level is meaningless after loudness normalisation
    rms = math.sqrt(float(np.mean(err[sel] ** 2)))
    assert rms <= 1.0, rms        # issue 8 "done means": within 1 dB rms, third-octaves 40 Hz-12 kHz
    i60 = int(np.argmin(np.abs(f - 63)))
    assert fp.deviation_db[i60] < -3 and fp.confidence[i60] > 0.8    # thin at 60 Hz, consistently
    assert fp.n_mixes == 8 and fp.per_mix_deviation_db.shape == (8, f.size)


def test_fingerprint_against_builtin_target_has_lower_confidence(eight_and_eight):
    mixes, refs = eight_and_eight
    fp_ref = fingerprint_from_mixes("s", mixes, refs)
    fp_tgt = fingerprint_from_mixes("s", mixes, builtin_target(mixes[0].freqs_hz))
    assert fp_tgt.reference == "built-in broad target"
    assert np.mean(fp_tgt.confidence) < np.mean(fp_ref.confidence)


def test_fingerprint_errors(eight_and_eight):
    mixes, refs = eight_and_eight
    with pytest.raises(SignalError, match="at least 2 mixes"):
        fingerprint_from_mixes("s", mixes[:1], refs)
    with pytest.raises(ProfileError, match="is not usable"):
        fingerprint_from_mixes("bad\nname", mixes, refs)
    # a name with path parts is a display name; its folder stays inside studios/
    assert fingerprint_from_mixes("../evil", mixes, refs).studio == "../evil"


def test_fingerprint_from_measured_room_is_inverted():
    f = np.geomspace(10, 24_000, 2000)
    fr = FrequencyResponse(freqs_hz=f, magnitude_db=_room_db(f)[np.newaxis, :], channel_names=("L",))
    fp = fingerprint_from_response("s", fr)
    sel = (fp.freqs_hz >= 40) & (fp.freqs_hz <= 12_000)
    # the room's band (power-averaged) level, inverted in dB
    truth = -np.array([10 * np.log10(np.mean(10 ** (_room_db(np.geomspace(c * 10 ** -0.05, c * 10 ** 0.05, 64)) / 10)))
                       for c in fp.freqs_hz])
    err = fp.deviation_db - truth
    err -= err[sel].mean()
    assert np.max(np.abs(err[sel])) < 0.1      # same band averaging; 16-point band average of a Q 4 mode: < 0.07 dB
    assert fp.source == "measurement" and fp.n_mixes == 0


def test_read_real_frd_file():
    fr = read_response_file(shared_data("rsantct-drc", "R.frd"))
    assert fr.freqs_hz[0] > 0 and fr.magnitude_db.shape == (1, fr.freqs_hz.size)
    fp = fingerprint_from_response("rsantct", fr, source_file="R.frd")
    # the room's peaks near 56 and 89 Hz (data README) show as the mixes' thin bands there
    i = int(np.argmin(np.abs(fp.freqs_hz - 50)))
    assert fp.deviation_db[i] < fp.deviation_db[np.argmin(np.abs(fp.freqs_hz - 1000))]


def test_read_response_errors(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hello\n1 2\n")
    with pytest.raises(SignalError, match="at least 10"):
        read_response_file(p)
    with pytest.raises(SignalError, match="no such file"):
        read_response_file(tmp_path / "missing.frd")


def test_save_and_load_fingerprint_atomically(tmp_path, eight_and_eight):
    mixes, refs = eight_and_eight
    fp = fingerprint_from_mixes("studio-a", mixes, refs, files=("a.wav",))
    path = save_fingerprint(fp, tmp_path)
    assert path == tmp_path / "studios" / "studio-a" / "fingerprint.json"
    assert not [q for q in path.parent.iterdir() if q.name.startswith(".")]    # no temp left
    back = load_fingerprint(tmp_path, "studio-a")
    np.testing.assert_allclose(back.deviation_db, fp.deviation_db, atol=5e-4)   # stored to 1e-3 dB
    assert back.files == ("a.wav",)
    with pytest.raises(ProfileError, match="no fingerprint for studio 'other'"):
        load_fingerprint(tmp_path, "other")
    path.write_text("{not json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_fingerprint(tmp_path, "studio-a")
    path.write_text(json.dumps({"studio": "x"}))
    with pytest.raises(ProfileError, match="lacks freqs_hz"):
        load_fingerprint(tmp_path, "studio-a")


# --- correction ----------------------------------------------------------------------------------

def _fp(dev, conf=None):
    fc = band_centres_hz(3)
    d = np.interp(np.log(fc), np.log([20, 50, 63, 80, 200, 20000]), dev) if callable(dev) is False else dev(fc)
    return RoomFingerprint("s", fc, d, np.ones(fc.size) if conf is None else conf(fc), np.zeros(fc.size), 8,
                           "mixes", "test")


@pytest.mark.parametrize("phase", ["linear", "minimum"])
def test_correction_fir_realises_the_designed_gains(phase):
    fp = _fp(lambda f: -4 * np.exp(-0.5 * (np.log2(f / 63) / 0.4) ** 2) + 1.5 * (f > 5000))
    corr = design_correction(fp, fs=FS, phase=phase)
    real = fir_response_db(corr.fir, corr.freqs_hz, fs=FS)
    sel = (corr.freqs_hz >= 40) & (corr.freqs_hz <= 12_000)
    # frequency sampling on a 2.9 Hz grid of a smooth curve: within 0.25 dB at band centres
    assert np.max(np.abs(real[sel] - corr.gain_db[sel])) < 0.25
    assert corr.gain_db[np.argmin(np.abs(corr.freqs_hz - 63))] > 2.5     # the thin 63 Hz is boosted
    if phase == "linear":
        np.testing.assert_allclose(corr.fir, corr.fir[::-1], atol=1e-12)
        assert corr.latency_samples == (corr.fir.size - 1) // 2
    else:
        assert corr.latency_samples == 0 and int(np.argmax(np.abs(corr.fir))) < 50


def test_boost_cap_fade_and_confidence_weighting():
    fp = _fp(lambda f: -20 * np.exp(-0.5 * (np.log2(f / 100) / 0.5) ** 2), conf=lambda f: np.full(f.size, 0.5))
    wanted, g, capped = band_gains_db(fp, max_boost_db=6.0)
    assert np.max(g) == pytest.approx(6.0) and capped.any()
    assert np.max(wanted) == pytest.approx(10.0, abs=0.05)   # confidence 0.5 halves the wanted 20 dB
    far = band_gains_db(_fp(lambda f: np.full(f.size, -3.0)))[1]
    fc = band_centres_hz(3)
    assert abs(far[np.argmin(np.abs(fc - 20))]) < 3.0 and far[np.argmin(np.abs(fc - 1000))] == pytest.approx(3.0)


def test_correction_errors():
    fp = _fp(lambda f: 0 * f)
    with pytest.raises(SignalError, match="not 'linear' or 'minimum'"):
        design_correction(fp, fs=FS, phase="mixed")
    with pytest.raises(SignalError, match="at least 256"):
        design_correction(fp, fs=FS, n_taps=64)
    with pytest.raises(SignalError, match="caps must lie in"):
        band_gains_db(fp, max_boost_db=-1)


def test_measured_fingerprint_from_an_impulse_response_wav():
    # a real room IR (OpenAIR living room): a unit impulse would give an all-zero fingerprint;
    # the room's response gives a finite, level-free one with the measured confidence
    fr = read_response_file(shared_data("openair", "living_room_1.wav"))
    fp = fingerprint_from_response("living", fr)
    sel = (fp.freqs_hz >= 40) & (fp.freqs_hz <= 12_000)
    assert np.all(np.isfinite(fp.deviation_db)) and abs(float(np.mean(fp.deviation_db[sel]))) < 1e-9
    assert set(np.round(fp.confidence, 3)) <= {0.8, 0.4}


def test_unit_impulse_room_is_flat(tmp_path):
    import soundfile as sf
    x = np.zeros(FS)
    x[100] = 0.5
    p = tmp_path / "ir.wav"
    sf.write(str(p), x, FS, subtype="FLOAT")
    fp = fingerprint_from_response("flat", read_response_file(p))
    # a delta has a flat magnitude: every band the same to float precision
    assert np.max(np.abs(fp.deviation_db)) < 1e-6
