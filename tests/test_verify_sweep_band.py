"""verify sweeps the band the baseline was measured with (measure's default 10 Hz..fs/2, or
room.toml's): a subwoofer's arrival and the top third-octave band then compare like with like.

Before: verify swept 20 Hz..0.45 fs whatever the baseline's band; the deconvolution's causal
high-pass at the sweep start moved a 120 Hz sub's cross-correlated arrival by 2.6 ms (arrival
and polarity SUB failed on an unchanged room) and the 6.3 kHz band warned at 16 kHz (-1.17 dB).
"""

from __future__ import annotations

import json
import math

import soundfile as sf

from hardware.simulated import layout_room

FS = 16000   # low rate: the top band (6.3 kHz) sits where a 0.45 fs stop would bend it


def test_verify_sweeps_the_baseline_band_sub_arrival_unchanged(run_cli, tmp_path):
    mic = (2.5, 3.0, 1.2)
    c30, s30 = math.cos(math.radians(30)), math.sin(math.radians(30))
    spk = {"L": (mic[0] - 1.8 * c30, mic[1] - 1.8 * s30, 1.2), "R": (mic[0] - 1.8 * c30, mic[1] + 1.8 * s30, 1.2),
           "SUB": (6.2, 4.5, 0.3)}
    ir = layout_room(spk, mic, dims_m=(8.0, 6.0, 2.8), fs=FS, subs=("SUB",), reflection=0.5, max_order=3,
                     length_s=0.5, main_highpass_hz=40.0, sub_lowpass_hz=120.0)
    wav = tmp_path / "room.wav"
    sf.write(wav, ir.samples.T, FS, subtype="FLOAT")
    code, _, err = run_cli("measure", "--simulate-ir", wav, "--channels", "L,R,SUB", "--out", tmp_path / "m",
                           "--sweep-s", "0.5", "--no-probe")
    assert code == 0, err
    code, _, err = run_cli("correct", tmp_path / "m", "--out", tmp_path / "p", "--subs", "SUB", "--peq", "1")
    assert code == 0, err
    code, out, err = run_cli("verify", "--profile", tmp_path / "p", "--simulate-ir", wav, "--repeats", "2",
                             "--sweep-s", "0.5", "--json")
    v = json.loads(out)
    bad = [(c["name"], c["channel"], c["value"], c["verdict"]) for c in v["checks"] if c["verdict"] not in ("pass", "skip")]
    assert code == 0 and v["verdict"] == "pass", bad
    assert v["meta"]["sweep_band_hz"] == [10.0, FS / 2]      # measure's default band, read from the baseline
    arr = {c["channel"]: c["value"] for c in v["checks"] if c["name"] == "arrival"}
    # an unchanged room: every arrival within 0.01 ms (the same simulated IR; was 2.6 ms for SUB)
    assert set(arr) == {"L", "R", "SUB"} and all(abs(x) < 0.01 for x in arr.values()), arr


def test_baseline_band_from_the_reference_meta():
    from types import SimpleNamespace

    from roomtruth.cmd_verify import _baseline_band_hz

    ref = SimpleNamespace(meta={"sweep": {"f_start_hz": 20.0, "f_stop_hz": 20000.0}})
    assert _baseline_band_hz(ref, 48000) == (20.0, 20000.0)
    assert _baseline_band_hz(ref, 16000) == (20.0, 8000.0)                 # capped at fs/2
    assert _baseline_band_hz(SimpleNamespace(meta={}), 48000) == (10.0, 22000.0)   # measure's default
    assert _baseline_band_hz(None, 44100) == (10.0, 22000.0)
    bad = SimpleNamespace(meta={"sweep": {"f_start_hz": "x", "f_stop_hz": 100.0}})
    assert _baseline_band_hz(bad, 48000) == (10.0, 22000.0)
