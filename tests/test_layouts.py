"""Layouts (calib.layouts), room.toml layouts and subs, and the many-speaker simulated room."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from calib.errors import ConfigError, SignalError
from calib.layouts import check_positions, direction_deg, layout, layout_names
from hardware.simulated import C_M_S, image_source_ir, layout_room
from roomtruth.config import parse_room_config


def test_standard_layouts_names_order_and_angles():
    assert set(layout_names()) >= {"2.0", "2.1", "5.1", "7.1", "7.1.4", "9.1.6"}
    l714 = layout("7.1.4")
    assert l714.channel_names == ("L", "R", "C", "LFE", "Lss", "Rss", "Lrs", "Rrs", "Ltf", "Rtf", "Ltr", "Rtr")
    assert len(l714.main_names) == 11 and l714.has_lfe
    # BS.2051 4+7+0 as the EAR table has it: front pair +-30, sides +-90, rears +-135, heights 30 deg up
    az = {s.name: (s.azimuth_deg, s.elevation_deg) for s in l714.speakers if not s.lfe}
    assert az["L"] == (30.0, 0.0) and az["R"] == (-30.0, 0.0) and az["Rrs"] == (-135.0, 0.0)
    assert az["Ltf"] == (45.0, 30.0) and az["Rtr"] == (-135.0, 30.0)
    assert [s.name for s in l714.speakers if s.is_height] == ["Ltf", "Rtf", "Ltr", "Rtr"]
    assert l714.status == "ear"
    l916 = layout("9.1.6")
    assert len(l916.main_names) == 15 and l916.status == "unverified"   # Dolby angles not read: [U]
    assert layout("2.0").channel_names == ("L", "R") and not layout("2.0").has_lfe
    assert layout("5.1").channel_names == ("L", "R", "C", "LFE", "Ls", "Rs")
    with pytest.raises(ConfigError, match="layout '7.2.4' is unknown; known layouts are"):
        layout("7.2.4")


def test_direction_and_position_check():
    mic = (3.0, 2.5, 1.2)
    # a speaker 2 m away at azimuth +30 (left), elevation 0: ahead is -x, left is -y
    spk = (3.0 - 2 * math.cos(math.radians(30)), 2.5 - 2 * math.sin(math.radians(30)), 1.2)
    az, el, d = direction_deg(spk, mic)
    assert az == pytest.approx(30.0, abs=1e-9) and el == pytest.approx(0.0, abs=1e-9) and d == pytest.approx(2.0)
    top = (3.0 - 1.0, 2.5 + 1.0, 1.2 + math.sqrt(2) * math.tan(math.radians(40)))   # Rtf: -45 deg, 40 deg up
    az, el, _ = direction_deg(top, mic)
    assert az == pytest.approx(-45.0) and el == pytest.approx(40.0)
    lay = layout("7.1.4")
    res, warn = check_positions(lay, {"L": spk, "Rtf": top}, mic)
    assert res["L"]["off_deg"] == 0 and res["Rtf"]["off_deg"] == 0 and not warn
    # R placed at -60 deg: 15 deg outside the -45..-30 range (widened 5 deg on the open side)
    r_bad = (3.0 - 2 * math.cos(math.radians(60)), 2.5 + 2 * math.sin(math.radians(60)), 1.2)
    res, warn = check_positions(lay, {"R": r_bad}, mic)
    assert res["R"]["off_deg"] == pytest.approx(15.0, abs=1e-6)
    assert len(warn) == 1 and warn[0].startswith("speaker R sits at azimuth -60 deg")


def _room(**over):
    d = {"room": {"layout": "2.1"}, "interface": {"device": "simulated"},
         "speakers": [{"name": "L", "output": 1}, {"name": "R", "output": 2}],
         "subs": [{"name": "SUB", "output": 3, "position_m": [1.0, 1.0, 0.3]}]}
    d.update(over)
    return d


def test_room_toml_layout_and_subs():
    cfg = parse_room_config(_room())
    assert cfg.layout == "2.1" and cfg.main_names == ("L", "R") and cfg.sub_names == ("SUB",)
    assert cfg.speakers[-1].is_sub and cfg.speakers[-1].position_m == (1.0, 1.0, 0.3)
    assert parse_room_config(_room(room={})).layout is None
    # every problem at once: a name outside the layout, a sub on a used output, an unknown key
    bad = _room(speakers=[{"name": "Left", "output": 1}, {"name": "R", "output": 2}],
                subs=[{"name": "SUB", "output": 2, "gain": 1}])
    with pytest.raises(ConfigError) as ei:
        parse_room_config(bad)
    msg = str(ei.value)
    assert "speakers Left are not channels of layout 2.1" in msg
    assert "output 2 is used by two speakers" in msg and "unknown key 'gain' in subs #1" in msg
    five = _room(subs=[{"name": f"SUB{i}", "output": 3 + i} for i in range(5)])
    with pytest.raises(ConfigError, match="at most 16 speakers and 4 subs"):
        parse_room_config(five)
    with pytest.raises(ConfigError, match=r"layout '5\.2' is unknown"):
        parse_room_config(_room(room={"layout": "5.2"}))


def test_image_source_ir_direct_sound_and_first_reflection():
    fs = 48000
    dims, src, mic = (6.0, 4.3, 2.9), (1.0, 1.3, 1.1), (4.0, 1.3, 1.1)
    h = image_source_ir(src, mic, dims_m=dims, fs=fs, reflection=0.5, max_order=1, length_s=0.1)
    # direct: 3 m -> 3/c s, amplitude 0.8/3; front-wall image at x=-1: 5 m, amplitude 0.8*0.5/5
    # (the other first-order images: floor 3.72 m, left wall 3.97, ceiling 4.69, right wall 6.71)
    t0, t1 = 3.0 / C_M_S * fs, 5.0 / C_M_S * fs
    assert np.argmax(np.abs(h)) in (int(t0), int(t0) + 1)

    def dc_gain(t: float) -> float:
        # a band-limited impulse's kernel has unit DC gain: its samples sum to its amplitude
        k = np.arange(int(t) - 16, int(t) + 18)
        return float(np.sum(h[k]))

    assert dc_gain(t0) == pytest.approx(0.8 / 3, rel=0.005)
    assert dc_gain(t1) == pytest.approx(0.8 * 0.5 / 5, rel=0.005)
    with pytest.raises(SignalError, match="lies outside the 6 x 4.3 x 2.9 m room"):
        image_source_ir((7.0, 1.0, 1.0), mic, dims_m=dims, fs=fs)


def test_measure_twenty_channels_from_one_ir_file(run_cli, tmp_path):
    """16 mains + 4 subs from one 20-channel IR WAV, named by --channels: each measured arrival
    is its own speaker's distance (so the channel order is kept)."""
    fs = 16000
    names = [f"S{i + 1}" for i in range(16)] + ["SUB1", "SUB2", "SUB3", "SUB4"]
    mic = (4.0, 3.0, 1.2)
    pos = {}
    for i, n in enumerate(names):
        a = 2 * math.pi * i / len(names)
        r = 1.5 + 0.1 * i            # every speaker at its own distance
        pos[n] = (mic[0] + r * math.cos(a), mic[1] + r * math.sin(a), 1.2 if i < 16 else 0.3)
    ir = layout_room(pos, mic, dims_m=(9.0, 7.0, 3.0), fs=fs, subs=names[16:], length_s=0.3)
    wav = tmp_path / "room20.wav"
    sf.write(wav, ir.samples.T, fs, subtype="FLOAT")
    out = tmp_path / "m"
    code, stdout, err = run_cli("measure", "--simulate-ir", wav, "--channels", ",".join(names), "--out", out,
                                "--sweep-s", "0.3", "--json", "--no-probe")
    assert code == 0, err
    meta = json.loads(stdout)
    from roomtruth.workspace import load_measurement_dir

    got = load_measurement_dir(out)
    assert got.channel_names == tuple(names)
    arr_ms = (np.array(got.arrival_samples) - got.onset_samples) / fs * 1000
    want_ms = np.array([ir.meta["distance_m"][n] / C_M_S * 1000 for n in names])
    # mains: direct sound found within 0.05 ms (a sample at 16 kHz is 0.0625 ms); subs, band-
    # limited to 200 Hz, within 1.5 ms (their envelope peak is broad)
    np.testing.assert_allclose(arr_ms[:16], want_ms[:16], atol=0.05)
    np.testing.assert_allclose(arr_ms[16:], want_ms[16:], atol=1.5)
    assert meta is not None
