"""Targets: analytic shapes, automatic level, REW/CSV/DRC target files, errors."""

from __future__ import annotations

import numpy as np
import pytest

from calib.correction.targets import (HOUSE_CURVE, Target, auto_level_db, parse_range, parse_target_text,
                                      read_target_file, target_from_option)
from calib.errors import ConfigError


def test_flat_tilt_house_shapes():
    f = np.array([31.25, 62.5, 125.0, 1000.0, 2000.0, 4000.0, 8000.0])
    assert np.all(Target("flat").curve_db(f) == 0.0)
    tilt = Target("tilt", tilt_db_per_octave=-0.5).curve_db(f)
    # exactly -0.5 dB per octave re 1 kHz: 1 kHz is 0, 2 kHz -0.5, 31.25 Hz (5 octaves down) +2.5 (1e-12: rounding)
    assert tilt[3] == pytest.approx(0.0, abs=1e-12)
    assert tilt[4] == pytest.approx(-0.5, abs=1e-12)
    assert tilt[0] == pytest.approx(2.5, abs=1e-12)
    house = Target("house").curve_db(np.array([HOUSE_CURVE["lf_corner_hz"], 1e-3, 4000.0]))
    # the shelf is half its rise at the corner; the HF fall is 1 dB/oct above 1 kHz (2 octaves -> -2 dB,
    # plus the negligible shelf tail 4*(1/(1+(4000/120)^2)) = 0.0036 dB)
    assert house[0] == pytest.approx(HOUSE_CURVE["lf_rise_db"] / 2, abs=1e-9)
    assert house[1] == pytest.approx(HOUSE_CURVE["lf_rise_db"], abs=1e-6)
    assert house[2] == pytest.approx(-2.0 + 4.0 / (1 + (4000 / 120) ** 2), abs=1e-9)


def test_auto_level_is_the_mean_offset():
    rng = np.random.default_rng(3)
    t = rng.normal(size=200)
    assert auto_level_db(t + 7.25, t) == pytest.approx(7.25, abs=1e-12)


@pytest.mark.parametrize("text", [
    "* REW export\n* Freq(Hz) SPL(dB)\n20 1.5\n100 0.0\n1000 -1.0\n",
    "Freq;dB\n20;1,5\n100;0,0\n1000;-1,0\n",
    "20 1,5\n100 0,0\n1000 -1,0\n",
    "freq,db\n20,1.5\n100,0.0\n1000,-1.0\n",
    "20\t1,5\t0\n100\t0\t0\n1000\t-1\t0\n",
])
def test_target_text_formats_and_decimal_commas(text):
    f, db = parse_target_text(text)
    assert f.tolist() == [20.0, 100.0, 1000.0]
    assert db.tolist() == [1.5, 0.0, -1.0]


def test_file_target_interpolates_on_log_frequency(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("100 0\n400 -6\n")
    t = read_target_file(p)
    # 200 Hz is halfway on log2 between 100 and 400 -> -3 dB; beyond the ends held constant
    assert t.curve_db(np.array([200.0, 50.0, 1000.0])).tolist() == pytest.approx([-3.0, 0.0, -6.0], abs=1e-12)


def test_drc_target_file_reads():
    from pathlib import Path

    p = Path("/usr/share/drc/target/44.1 kHz/pa-44.1.txt")
    if not p.exists():
        pytest.skip("Debian drc targets not installed")
    t = read_target_file(p)
    assert t.curve_db(np.array([1000.0]))[0] == 0.0  # flat 20 Hz-18 kHz in that file
    assert t.points_hz[0] == 10.0  # the 0 Hz row is skipped (log axis)


@pytest.mark.parametrize("text, match", [
    ("20 1\n100 x\n", "line 2"),
    ("20 1\n10 2\n", "does not increase"),
    ("20 1\n100 99\n", "implausible"),
    ("only words here\n", "at least 2"),
])
def test_malformed_target_text(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_target_text(text)


def test_target_options_and_ranges(tmp_path):
    assert target_from_option("tilt:-0.5", lo_hz=20, hi_hz=500).tilt_db_per_octave == -0.5
    with pytest.raises(ConfigError, match="tilt"):
        target_from_option("tilt:x", lo_hz=20, hi_hz=500)
    with pytest.raises(ConfigError, match="does not exist"):
        target_from_option(str(tmp_path / "nope.txt"), lo_hz=20, hi_hz=500)
    assert parse_range("20, 300") == (20.0, 300.0)
    with pytest.raises(ConfigError, match="LO,HI"):
        parse_range("20-300")
    with pytest.raises(ConfigError, match="0 < LO < HI"):
        parse_range("300,20")
    with pytest.raises(ConfigError, match="unknown target"):
        Target("pink")
