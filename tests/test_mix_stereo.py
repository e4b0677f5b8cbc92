"""The stereo image (mixes/stereo.py): analytic figures, planted problems in synthesized songs,
and normal songs (wide pads, reverb, panned keys and hats) that must report nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mixes.songs import make_song
from mixes.stereo import LR_IMBALANCE_DB, measure_stereo

FS = 48_000


@pytest.fixture(scope="module")
def songs():
    """Three songs in different keys, one of them at 44.1 kHz and one without reverb."""
    return [make_song(11, duration_s=12.0, key=2),
            make_song(12, duration_s=12.0, key=9, fs=44_100),
            make_song(13, duration_s=12.0, key=5, reverb=False)]


def _with_bass(song, fn):
    stems = dict(song.stems)
    stems["bass"] = fn(stems["bass"].copy())
    return sum(stems.values())


def test_analytic_figures_on_noise():
    """Correlation, width and mono loss of constructed pairs against their closed forms."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 20 * FS)) * 0.1
    # two unrelated channels of equal level: rho 0, E_S/E_M 1, mono loss 10 lg(1/2) = -3.01 dB;
    # the estimate over ~20 s x thousands of bins per octave scatters < 0.02 in rho
    im = measure_stereo(np.stack([a, b]), fs=FS)
    ok = np.isfinite(im.correlation)
    assert ok.sum() >= 9
    assert np.all(np.abs(im.correlation[ok][1:]) < 0.03)
    assert np.allclose(im.width[ok][1:], 1.0, atol=0.06)
    assert np.allclose(im.mono_loss_db[ok][1:], -3.01, atol=0.15)
    # the same signal on both sides: exactly mono
    im = measure_stereo(np.stack([a, a]), fs=FS)
    assert np.allclose(im.correlation[ok], 1.0, atol=1e-4)
    assert np.allclose(im.width[ok], 0.0, atol=1e-4)
    assert np.allclose(im.mono_loss_db[ok], 0.0, atol=1e-3)
    assert im.problems == () and not im.low_end_wide and not im.polarity_inverted
    # right = 0.5 x left: rho 1, balance 20 lg 2 = 6.02 dB in every band and K-weighted
    im = measure_stereo(np.stack([a, 0.5 * a]), fs=FS)
    assert np.allclose(im.lr_balance_db_bands[ok], 6.02, atol=0.01)
    assert im.lr_balance_db == pytest.approx(6.02, abs=0.01)
    # mixed: R = 0.6 a + 0.8 b (unit variance): rho = 0.6 (estimation scatter < 0.03)
    im = measure_stereo(np.stack([a, 0.6 * a + 0.8 * b]), fs=FS)
    assert np.all(np.abs(im.correlation[ok][1:] - 0.6) < 0.03)
    # exact opposite: rho -1, the mono sum is (almost) nothing: the floor
    im = measure_stereo(np.stack([a, -a]), fs=FS)
    assert np.allclose(im.correlation[ok], -1.0, atol=1e-4)
    assert np.all(im.mono_loss_db[ok] <= -50)
    assert im.polarity_inverted


def test_normal_songs_report_nothing(songs):
    for song in songs:
        im = measure_stereo(song.mix(), fs=song.fs)
        assert not im.polarity_inverted, song.key
        assert not im.low_end_wide and not im.low_end_out_of_phase, (song.key, im.low_end_correlation)
        assert not im.lr_imbalanced, (song.key, im.lr_balance_db)
        assert im.problems == (), [p.what for p in im.problems]
        # centred bass and kick: the low end is (close to) mono
        assert im.low_end_correlation > 0.9
        # wide pads, reverb: the mid bands are wide but not out of phase
        assert np.nanmin(im.correlation) > 0.0
        # a pad-heavy mix: detuned unison swings a window's correlation now and then, no problem
        assert measure_stereo(song.mix({"pads": 6.0, "voice": -3.0}), fs=song.fs).problems == ()


@pytest.mark.parametrize("channel", [0, 1])
def test_inverted_polarity(songs, channel):
    for song in songs[:2]:
        x = song.mix()
        x[channel] *= -1
        im = measure_stereo(x, fs=song.fs)
        assert im.polarity_inverted, song.key
        assert im.problems[0].kind == "polarity_inverted"
        # one verdict, not one per band and window
        assert [p.kind for p in im.problems].count("out_of_phase") == 0
        # inverting does not move the level balance
        assert im.lr_balance_db == pytest.approx(measure_stereo(song.mix(), fs=song.fs).lr_balance_db, abs=1e-6)


def test_low_end_out_of_phase(songs):
    for song in songs:
        x = _with_bass(song, lambda b: b * np.array([[1.0], [-1.0]]))
        im = measure_stereo(x, fs=song.fs)
        assert im.low_end_wide and im.low_end_out_of_phase, song.key
        assert not im.polarity_inverted                 # the mids are still positive
        assert im.low_end_correlation < 0
        kinds = {p.kind for p in im.problems}
        assert "low_end_out_of_phase" in kinds


def test_low_end_wide_haas_bass(songs):
    """A bass widened by a 4 ms inter-channel delay (a common 'stereo bass' trick): wide, not inverted."""
    for song in songs:
        d = int(0.004 * song.fs)
        x = _with_bass(song, lambda b: np.stack([b[0], np.roll(b[1], d)]))
        im = measure_stereo(x, fs=song.fs)
        assert im.low_end_wide, (song.key, im.low_end_correlation)
        assert not im.polarity_inverted
        assert any(p.kind in ("low_end_wide", "low_end_out_of_phase") for p in im.problems)


def test_wide_low_end_only_in_the_chorus_is_placed_in_time(songs):
    song = songs[0]
    chorus = next(s for s in song.sections if s[0] == "chorus")
    t = np.arange(song.n_samples) / song.fs

    def chorus_wide(b):
        inv = (t >= chorus[1]) & (t < chorus[2])
        b[1, inv] *= -1
        return b

    im = measure_stereo(_with_bass(song, chorus_wide), fs=song.fs)
    low = [p for p in im.problems if p.kind.startswith("low_end")]
    assert low and im.low_end_wide
    first = min(p.time_s for p in low)
    # windows are ~2 s: the problem starts within one window of the chorus
    assert abs(first - chorus[1]) <= im.window_s + 0.01, (first, chorus)
    assert all(p.time_s + p.duration_s >= chorus[1] for p in low)


@pytest.mark.parametrize("imbalance_db", [2.0, -2.0])
def test_two_db_imbalance(songs, imbalance_db):
    for song in songs:
        x0 = song.mix()
        im0 = measure_stereo(x0, fs=song.fs)
        base = im0.lr_balance_db
        g = 10 ** (imbalance_db / 40)
        im = measure_stereo(x0 * np.array([[g], [1 / g]]) * 0.5, fs=song.fs)   # also 6 dB quieter
        # a gain ratio moves the K-weighted balance by exactly its dB; the centred low end shows it
        assert im.lr_balance_db - base == pytest.approx(imbalance_db, abs=0.01)
        assert im.lr_balance_low_end_db - im0.lr_balance_low_end_db == pytest.approx(imbalance_db, abs=0.01)
        assert abs(im0.lr_balance_low_end_db) < 0.3
        assert im.lr_imbalanced
        p = next(p for p in im.problems if p.kind == "lr_imbalance")
        assert ("left" if im.lr_balance_db > 0 else "right") in p.what
    # the threshold is what the module says
    assert LR_IMBALANCE_DB <= 1.5


def test_arrangement_lean_is_not_a_channel_error(songs):
    """Keys panned to one side lean the mix (about 1 dB) but keep the low end centred: not an
    imbalance; the same lean from a channel gain is one."""
    song = songs[0]
    x = song.mix({"keys": 4.0})
    im = measure_stereo(x, fs=song.fs)
    assert 0.5 < abs(im.lr_balance_db) < 1.5 and abs(im.lr_balance_low_end_db) < 0.1
    assert not im.lr_imbalanced and im.problems == ()
    g = 10 ** (1.2 / 20)
    im = measure_stereo(song.mix() * np.array([[g], [1.0]]), fs=song.fs)
    assert im.lr_imbalanced and "centred low end" in im.problems[0].what


def test_out_of_phase_pad_in_the_mids(songs):
    """Pads made wide by sending one copy inverted to the other side (the 'phase trick')
    cancel in mono: the bands and the time are named."""
    song = songs[2]
    stems = dict(song.stems)
    m = stems["pads"].mean(axis=0)
    x = sum(stems.values()) - stems["pads"] + 2.0 * np.stack([m, -m])
    im = measure_stereo(x, fs=song.fs)
    oop = [p for p in im.problems if p.kind == "out_of_phase"]
    assert oop and not im.polarity_inverted
    assert all(125 <= p.band_hz <= 2000 for p in oop)
    # over time: the windows of a problem band show the loss the problem names
    j = int(np.argmin(np.abs(im.bands_hz - oop[0].band_hz)))
    k = int(np.searchsorted(im.times_s, oop[0].time_s))
    assert im.mono_loss_over_time_db[k, j] < -3.0 and im.correlation_over_time[k, j] < -0.3
    assert len(im.to_dict()["over_time"]["mono_loss_db"]) == im.times_s.size
    assert all("in mono" in p.what for p in oop)


def test_shapes_and_edge_cases():
    rng = np.random.default_rng(3)
    assert measure_stereo(rng.standard_normal(FS), fs=FS) is None          # mono: no image
    im = measure_stereo(rng.standard_normal((3, 3 * FS)) * 0.1, fs=FS)
    assert im.notes and "3 channels" in im.notes[0]
    short = measure_stereo(rng.standard_normal((2, 2000)) * 0.1, fs=FS)    # shorter than one frame
    assert short.bands_hz.size == 10 and short.times_s.size == 1
    dead = rng.standard_normal((2, 3 * FS)) * 0.1
    dead[1] = 0.0                                                          # a dead right channel
    im = measure_stereo(dead, fs=FS)
    assert im.lr_imbalanced and im.lr_balance_db == pytest.approx(120.0) and "right channel is silent" in im.problems[0].what
    silent = measure_stereo(np.zeros((2, 5 * FS), dtype=np.float32), fs=FS)
    assert silent.problems == () and not silent.lr_imbalanced
    d = silent.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["correlation"][0] is None and d["lr_balance_db"] is None
    for key in ("bands_hz", "correlation", "mono_loss_db", "width", "lr_balance_db", "polarity_inverted",
                "low_end_wide", "problems"):
        assert key in d
    im = measure_stereo(rng.standard_normal((2, 4 * 22_050)) * 0.1, fs=22_050)
    assert im.bands_hz[-1] == pytest.approx(3981, rel=0.01)     # the 8 kHz octave reaches past 0.5 fs


@pytest.mark.parametrize("delay_samples", [20, -37, 100])
def test_channel_offset_is_measured(songs, delay_samples):
    """One channel late by a plugin-latency-like delay: the offset (sign: + = left late) within
    one sample (the parabola through a peak band-limited to 8 kHz is biased by a fraction of a
    sample), and the mono comb it causes."""
    song = songs[0]
    x = song.mix()
    x[0] = np.roll(x[0], delay_samples)
    im = measure_stereo(x, fs=song.fs)
    assert im.channel_offset_ms == pytest.approx(delay_samples / song.fs * 1000, abs=1000 / song.fs)
    p = next(p for p in im.problems if p.kind == "channel_offset")
    assert ("left" if delay_samples > 0 else "right") + " channel lags" in p.what
    assert not im.polarity_inverted
    assert np.isnan(measure_stereo(song.mix(), fs=song.fs).channel_offset_ms)


def test_real_spaced_pair_piano_recording(request):
    """The real piano recording (../shared/data): its microphones are ~1.7 ms apart, found by
    cross-correlating the channels directly (peak at 74-75 samples at 44.1 kHz); the octaves
    where that comb cancels are named."""
    from conftest import shared_data
    import soundfile as sf

    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), always_2d=True)
    im = measure_stereo(x.T, fs=fs)
    assert im.channel_offset_ms == pytest.approx(74.5 / 44.1, abs=0.05)
    assert not im.polarity_inverted
    assert any(p.kind == "out_of_phase" and p.to_dict()["band_hz"] == 250.0 for p in im.problems)


def test_band_figures_match_a_time_domain_implementation(songs):
    """Independent check: band-pass L and R in the time domain (8th-order Butterworth, zero
    phase) and take the correlation coefficient and the mono-sum loss directly.  The filter's
    skirts differ from the FFT bins' brick wall, hence the tolerances (0.05 in rho, 0.3 dB)."""
    from scipy import signal

    song = songs[0]
    x = song.mix()
    im = measure_stereo(x, fs=song.fs)
    for j in (3, 5, 7):                                  # 250 Hz, 1 kHz, 4 kHz octaves
        fc = im.bands_hz[j]
        sos = signal.butter(8, [fc / 2 ** 0.5, fc * 2 ** 0.5], btype="bandpass", fs=song.fs, output="sos")
        l, r = signal.sosfiltfilt(sos, x, axis=-1)
        rho = float(np.sum(l * r) / np.sqrt(np.sum(l * l) * np.sum(r * r)))
        loss = 10 * np.log10(np.sum((l + r) ** 2) / (2 * (np.sum(l * l) + np.sum(r * r))))
        assert im.correlation[j] == pytest.approx(rho, abs=0.05), fc
        assert im.mono_loss_db[j] == pytest.approx(loss, abs=0.3), fc
