"""The letter to a mix engineer from a studio's room fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from reports.letter import band_name, consistent_regions, normalise_fingerprint, write_letter

BANDS = [31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 500, 1000, 2000, 4000, 8000]


def _fp(dev, conf=None, **kw):
    dev = np.asarray(dev, dtype=float)
    return {"studio": "Studio Nord", "n_mixes": 4, "freqs_hz": BANDS, "deviation_db": dev,
            "confidence": np.full(dev.size, 0.9) if conf is None else conf, **kw}


def _dev(**at):
    d = np.zeros(len(BANDS))
    for f, v in at.items():
        d[BANDS.index(float(f[1:]) if "." in f[1:] else int(f[1:]))] = v
    return d


def test_bass_light_mixes_blame_a_bass_buildup():
    # RoomFingerprint convention (mixes.types): deviation_db < 0 = the mixes lack it
    fp = _fp(_dev(f50=-4.0, f63=-5.0, f80=-4.5))
    regions = consistent_regions(fp)
    assert len(regions) == 1
    r = regions[0]
    assert (r.lo_hz, r.hi_hz, r.centre_hz) == (50, 80, 63)
    assert r.mix_excess_db == pytest.approx(-4.5, abs=1e-12)  # mean of the run
    text = write_letter(fp)
    assert text.startswith("Dear Studio Nord team,")
    assert "The low end needed attention consistently across the 4 mixes" in text
    assert "the mixes carry too little between 50 Hz and 80 Hz — 4.5 dB on average" in text
    assert "piles up bass there" in text
    assert "Bass traps in the corners" in text


def test_bass_heavy_mixes_blame_a_dip_and_count_tracks():
    fp = _fp(_dev(f63=4.0, f80=5.0))
    per_mix = np.zeros((4, len(BANDS)))
    per_mix[:3, 3:5] = 5.0
    per_mix[3, 3:5] = -1.0  # one track went the other way
    text = write_letter(fp, per_mix_excess_db=per_mix)
    assert "The low end needed attention on 3 of 4 tracks" in text
    assert "carry too much between 63 Hz and 80 Hz" in text
    assert "a room with a dip there" in text
    per_mix[3, 3:5] = 4.0
    assert "needed attention on every track" in write_letter(fp, per_mix_excess_db=per_mix)


def test_secondary_region_and_loudness_sentence():
    fp = _fp(_dev(f63=-5.0, f8000=-3.0))
    mixes = [{"integrated_lufs": v} for v in (-14.2, -13.1, -15.0, -14.0)]
    text = write_letter(fp, mixes=mixes)
    assert "Smaller but also consistent: 3.0 dB less than neutral around 8 kHz (top end" in text
    assert "between -15.0 and -13.1 LUFS integrated (1.9 LU apart), nicely consistent." in text


def test_low_confidence_or_small_deviations_are_not_mentioned():
    conf = np.full(len(BANDS), 0.9)
    conf[3] = 0.3
    fp = _fp(_dev(f63=-6.0, f1000=1.5), conf=conf)  # 63 Hz not consistent, 1 kHz too small
    assert consistent_regions(fp) == []
    text = write_letter(fp)
    assert "nothing in their tonal balance points to your room" in text


def test_room_deviation_convention_is_the_opposite_sign():
    a = consistent_regions(_fp(_dev(f63=-5.0)))
    fp = _fp(_dev(f63=-5.0))
    fp["room_deviation_db"] = fp.pop("deviation_db") * -1  # the room's own +5 dB peak
    b = consistent_regions(fp)
    assert a[0].mix_excess_db == b[0].mix_excess_db == -5.0


def test_band_names():
    assert [band_name(f) for f in (40, 100, 300, 1000, 3000, 10000)] == [
        "sub-bass", "low end", "low mids", "midrange", "presence range", "top end"]


def test_bad_fingerprints():
    with pytest.raises(ValueError, match="fingerprint arrays differ in length: bands 15, deviation 3"):
        normalise_fingerprint({"freqs_hz": BANDS, "deviation_db": [1, 2, 3], "confidence": [1, 1, 1]})
    with pytest.raises(ValueError, match="fingerprint has no deviation"):
        normalise_fingerprint({"freqs_hz": BANDS})


def test_works_with_the_mixes_package_type():
    types = pytest.importorskip("mixes.types")
    fp = types.RoomFingerprint(studio="nord", freqs_hz=np.array(BANDS, float), deviation_db=_dev(f63=-5.0),
                               confidence=np.full(len(BANDS), 0.95), spread_db=np.zeros(len(BANDS)), n_mixes=3,
                               source="mixes", reference="built-in target")
    text = write_letter(fp)
    assert text.startswith("Dear nord team,") and "3 of your mixes" in text and "too little around 63 Hz" in text


def test_letter_addresses_the_studio_by_its_display_name():
    # fingerprints are stored under a folder-safe name (mixes.fingerprint.valid_studio_name);
    # the letter writes the name the way people do
    fp = _fp(_dev(f50=-4.0, f63=-5.0, f80=-4.5))
    assert write_letter({**fp, "studio": "Studio-Nord"}).startswith("Dear Studio Nord team,")
    assert write_letter({**fp, "studio": "mix_house"}).startswith("Dear mix house team,")
    assert write_letter({**fp, "studio": "Nord-2", "display_name": "Nord 2 (Hamburg)"}).startswith(
        "Dear Nord 2 (Hamburg) team,")
    assert write_letter({**fp, "studio": ""}).startswith("Dear mix engineer,")  # no name: no "Dear your studio"
