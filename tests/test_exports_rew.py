"""REW filter settings: the real Spanish-locale export, round trips with decimal commas, errors."""

from __future__ import annotations

import numpy as np
import pytest

from calib.correction.peq import peq_response_db
from calib.errors import ConfigError
from calib.exports.rew import format_rew_filters, parse_rew_filters, read_rew_filters
from calib.profile import Biquad
from conftest import shared_data


def test_reads_the_real_rew_file_with_decimal_commas():
    peq = read_rew_filters(shared_data("rsantct-drc", "rew_R.txt"))
    # the values published in the file itself (data/README.md)
    assert [(b.kind, b.freq_hz, b.gain_db, b.q) for b in peq] == [
        ("peaking", 46.4, -3.0, 12.60), ("peaking", 54.4, -10.0, 11.03),
        ("peaking", 86.8, -4.0, 13.61), ("peaking", 450.0, -1.7, 2.00)]


@pytest.mark.parametrize("decimal", [".", ","])
def test_round_trip(decimal):
    peq = [Biquad("peaking", 46.4, -3.0, 12.6), Biquad("peaking", 1234.56, 2.25, 0.707),
           Biquad("lowshelf", 80.0, 3.5, 0.7071), Biquad("highpass", 20.0, 0.0, 0.5)]
    text = format_rew_filters(peq, decimal=decimal)
    if decimal == ",":
        assert "46,40" in text
    back = parse_rew_filters(text)
    assert [b.kind for b in back] == [b.kind for b in peq]
    f = np.geomspace(10, 20000, 500)
    # response unchanged within 0.01 dB: values are written with 2 decimals (3 for Q)
    assert np.max(np.abs(peq_response_db(back, f, fs=48_000) - peq_response_db(peq, f, fs=48_000))) < 0.01


@pytest.mark.parametrize("text, match", [
    ("hello\nworld\n", "not a REW filter-settings file"),
    ("Filter  1: ON  PK  Fc 46,4 Hz  Gain -3,0 dB\n", "without 'Q"),
    ("Filter  1: ON  XYZ Fc 46,4 Hz\n", "not supported"),
    ("Filter one: ON PK\n", "not a REW filter line"),
    ("Filter  1: ON  PK  Gain -3 dB Q 2\n", "Fc"),
    ("Filter  1: ON  PK  Fc 46 Hz Gain -99 dB Q 2\n", "outside"),
])
def test_malformed_filter_text(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_rew_filters(text)


def test_off_and_none_slots_are_skipped():
    text = "Filter 1: OFF PK Fc 50 Hz Gain -3 dB Q 5\nFilter 2: ON None\nFilter 3: ON PK Fc 60 Hz Gain -2 dB Q 4\n"
    assert [b.freq_hz for b in parse_rew_filters(text)] == [60.0]
