"""Platform preview, translation and cassette: table rules and analytic figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.errors import ConfigError, SignalError
from mixes.cassette import (TAPE, azimuth_minus3db_hz, azimuth_mono_loss_db, cassette_check, dolby_b_boost_db,
                            playback_eq_turnover_hz, tape_limit_db)
from mixes.ltas import band_centres_hz
from mixes.platforms import load_platforms, preview
from mixes.translation import load_systems, translate
from mixes.types import Ltas

FS = 48_000


def _by_name(previews):
    return {p.name: p for p in previews}


def test_table_is_dated_and_complete():
    t = load_platforms()
    assert t.as_of
    names = {p.key for p in t.platforms}
    assert {"spotify", "spotify_loud", "spotify_quiet", "apple_music", "youtube", "tidal", "amazon_music",
            "deezer", "ebu_r128", "pandora"} <= names
    targets = {p.key: p.target_lufs for p in t.platforms}
    assert targets["spotify"] == -14 and targets["spotify_loud"] == -11 and targets["spotify_quiet"] == -19
    assert targets["apple_music"] == -16 and targets["deezer"] == -15 and targets["ebu_r128"] == -23
    assert targets["pandora"] is None


def test_spotify_example_from_its_own_page():
    # Spotify: -20 LUFS with a -5 dBTP peak is lifted only to -16 LUFS (1 dB TP headroom kept)
    p = _by_name(preview(-20.0, -5.0))["Spotify (normal)"]
    assert p.gain_db == pytest.approx(4.0) and p.true_peak_after_dbtp == pytest.approx(-1.0)
    assert p.action == "up (capped)" and "-16.0 LUFS" in p.note


def test_loud_master_is_turned_down_everywhere():
    ps = _by_name(preview(-8.0, -0.3))
    assert ps["YouTube"].gain_db == pytest.approx(-6.0) and ps["YouTube"].action == "down"
    assert ps["Apple Music (Sound Check)"].gain_db == pytest.approx(-8.0)
    assert ps["EBU R128 broadcast"].gain_db == pytest.approx(-15.0)
    assert ps["Spotify (normal)"].true_peak_after_dbtp == pytest.approx(-6.3)
    assert "exceeds" in ps["Spotify (normal)"].note        # -0.3 dBTP master > -1 dBTP limit


def test_quiet_track_not_raised_where_platforms_do_not_raise():
    ps = _by_name(preview(-20.0, -9.0))
    for name in ("YouTube", "Tidal"):
        assert ps[name].gain_db == 0.0 and ps[name].action == "none"
    assert ps["Spotify (loud)"].action == "up (limited)"     # +9 dB on -9 dBTP -> 0 dBTP: limiter at -1
    assert ps["Pandora"].action == "unknown" and "not LUFS-based" in ps["Pandora"].note


def test_silence_preview():
    p = preview(-math.inf, -math.inf)[0]
    assert p.action == "unknown" and math.isnan(p.gain_db)


def test_platform_table_validation(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('as_of = "x"\n[platform.a]\nname = "A"\ntarget_lufs = "loud"\ncolour = 1\n')
    with pytest.raises(ConfigError) as ei:
        load_platforms(bad)
    msg = str(ei.value)
    assert "must be a finite number" in msg and "unknown key 'colour'" in msg and "missing 'behaviour'" in msg
    with pytest.raises(ConfigError, match="no such platform table"):
        load_platforms(tmp_path / "none.toml")
    (tmp_path / "q.toml").write_text("as_of = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_platforms(tmp_path / "q.toml")


# --- translation ---------------------------------------------------------------------------------

def test_translation_of_a_flat_spectrum_follows_the_system_curves():
    fc = band_centres_hz(3)
    flat = Ltas(fc, np.zeros(fc.size), 3, -23.0)
    res = {r.system: r for r in translate(flat, fs=FS)}
    phone = res["Phone speaker"]
    assert phone.mono and phone.region_change_db["bass"] < -15 and phone.region_change_db["presence"] > 0
    car = res["Car"]
    assert car.region_change_db["sub"] > 3
    assert all(math.isfinite(r.loudness_change_db) for r in res.values())


def test_mono_systems_hear_the_side_signal_loss():
    # left = right except an out-of-phase 2 kHz component: it vanishes in the mono sum
    from mixes.loudness import loudness
    from mixes.ltas import ltas
    from mixes.translation import mono_ltas_db

    rng = np.random.default_rng(4)
    n = np.arange(FS * 4)
    common = rng.standard_normal(n.size) * 0.05
    side = 0.2 * np.sin(2 * np.pi * 2000 * n / FS)
    x = np.stack([common + side, common - side])
    spec = ltas(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)
    mono = mono_ltas_db(x, fs=FS, spec=spec)
    k = int(np.argmin(np.abs(spec.freqs_hz - 2000)))
    assert mono.level_db[k] < spec.level_db[k] - 15            # the side tone is gone in mono
    j = int(np.argmin(np.abs(spec.freqs_hz - 200)))
    assert mono.level_db[j] == pytest.approx(spec.level_db[j], abs=0.3)   # common content unchanged
    res = {r.system: r for r in translate(spec, fs=FS, mono=mono)}
    assert any("mono" in note and "1995 Hz" in note for note in res["Phone speaker"].notes)   # exact base-ten 2 kHz band
    assert not any("mono fold-down" in note for note in res["Car"].notes)


def test_systems_table_validation(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('as_of = "x"\n[system.a]\nname = "A"\npoints = [[100, 0], [50, 1]]\n')
    with pytest.raises(ConfigError, match="rising f_hz"):
        load_systems(p)
    assert len(load_systems()) == 5


# --- cassette ------------------------------------------------------------------------------------

def test_iec_turnovers():
    # STANDARDS.md §6.1: 3180 µs -> 50 Hz, 120 µs -> 1326 Hz, 70 µs -> 2274 Hz (to 1 Hz)
    assert playback_eq_turnover_hz(3180e-6) == pytest.approx(50.05, abs=0.01)
    assert playback_eq_turnover_hz(120e-6) == pytest.approx(1326.3, abs=0.1)
    assert playback_eq_turnover_hz(70e-6) == pytest.approx(2273.6, abs=0.1)


def test_azimuth_mono_loss():
    # |cos(pi f tau)|: -3.01 dB at 1/(4 tau); 25 µs -> 10 kHz
    assert azimuth_minus3db_hz(25e-6) == pytest.approx(10_000.0)
    assert azimuth_mono_loss_db(np.array([10_000.0]), 25e-6)[0] == pytest.approx(-3.0103, abs=1e-4)


def test_tape_limits_and_dolby_b():
    f = np.array([315.0, 1000.0, 10_000.0, 20_000.0])
    lim = tape_limit_db(f, TAPE["I"])
    assert lim[0] == TAPE["I"].mol315_db and lim[2] == TAPE["I"].sol10k_db and lim[3] < lim[2]
    assert tape_limit_db(f, TAPE["II"])[2] > lim[2]            # chrome has more HF headroom
    assert dolby_b_boost_db(np.array([8000.0]), -40.0)[0] == pytest.approx(10.0)
    assert dolby_b_boost_db(np.array([8000.0]), 0.0)[0] == 0.0
    assert dolby_b_boost_db(np.array([200.0]), -60.0)[0] == 0.0


def test_bright_loud_master_saturates_type_i_at_hf_first():
    rng = np.random.default_rng(3)
    n = FS * 3
    w = rng.standard_normal((2, n))
    from scipy.signal import butter, sosfilt
    hf = sosfilt(butter(4, 6000, "highpass", fs=FS, output="sos"), w)
    x = 0.05 * w + 0.4 * hf                       # a bright master near full scale
    r1 = cassette_check(x, fs=FS, tape_type="I")
    r2 = cassette_check(x, fs=FS, tape_type="II")
    assert r1.worst_margin_db < 0 and r1.worst_band_hz >= 4000
    assert r2.worst_margin_db > r1.worst_margin_db
    assert any("de-ess" in a for a in r1.advice)
    quiet = cassette_check(x * 0.01, fs=FS, tape_type="I")
    assert quiet.worst_margin_db > 0


def test_cassette_errors():
    x = np.zeros((2, FS))
    with pytest.raises(SignalError, match="not I or II"):
        cassette_check(x, fs=FS, tape_type="IV")
    with pytest.raises(SignalError, match="0..200 µs"):
        cassette_check(x, fs=FS, azimuth_tau_s=1e-3)
