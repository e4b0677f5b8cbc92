"""`roomtruth analyze` through the CLI boundary: JSON contract, summary, every error path."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from calib.audio_io import write_wav_atomic

FS = 24000


def _stereo_ir(seconds=1.0, T=0.4, seed=0):
    rng = np.random.default_rng(seed)
    n, t0 = int(seconds * FS), 240
    t = np.arange(n - t0) / FS
    env = np.exp(-3 * math.log(10) / T * t)
    x = np.zeros((2, n))
    for ch in range(2):
        x[ch, t0 + ch * 12] = 0.5
        x[ch, t0 + ch * 12:] += 0.05 * env[: n - t0 - ch * 12] * rng.standard_normal(n - t0 - ch * 12)
    return x + rng.standard_normal((2, n)) * 1e-6


@pytest.fixture(scope="module")
def ir_wav(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "room.wav"
    write_wav_atomic(p, _stereo_ir(), fs=FS, subtype="FLOAT")
    return p


def test_json_output(run_cli, ir_wav):
    code, out, err = run_cli("analyze", ir_wav, "--dims", "5x4x2.8", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["fs"] == FS and d["channels"] == ["L", "R"]
    assert d["schroeder_hz"] > 0
    t30 = [v for v in d["decay"]["t30_s"] if v is not None]
    # one realisation of exponentially decaying noise (T = 0.4 s): the band estimates scatter
    # with the few degrees of freedom of the low bands (B·T), so: median within 5 %, all
    # within 15 % (the method's accuracy is proven deterministically in test_analysis_decay)
    assert t30 and abs(float(np.median(t30)) / 0.4 - 1) < 0.05
    assert all(abs(v / 0.4 - 1) < 0.15 for v in t30)
    assert d["matching"][0]["arrival_diff_ms"] == pytest.approx(-0.5, abs=0.01)   # 12 samples at 24 kHz
    assert {c["check"] for c in d["compliance"]} >= {"reverberation_time", "early_reflections", "level_matching"}


def test_human_summary(run_cli, ir_wav):
    code, out, err = run_cli("analyze", ir_wav)
    assert code == 0, err
    assert "Decay per octave" in out and "Compliance" in out and "T30" in out


def test_measurement_folder(run_cli, tmp_path):
    ws = pytest.importorskip("roomtruth.workspace")
    from calib.types import ImpulseResponse

    ir = ImpulseResponse(samples=_stereo_ir(), fs=FS, channel_names=("L", "R"))
    folder = ws.write_measurement_dir(tmp_path / "m1", ir)
    code, out, err = run_cli("analyze", folder, "--json")
    assert code == 0, err
    assert json.loads(out)["channels"] == ["L", "R"]


def test_raw_pcm(run_cli, tmp_path):
    p = tmp_path / "ir.pcm"
    _stereo_ir()[0].astype("<f4").tofile(p)
    code, out, err = run_cli("analyze", p, "--raw-fs", str(FS), "--json")
    assert code == 0, err
    assert json.loads(out)["channels"] == ["ch1"]


@pytest.mark.parametrize("args, message", [
    (["nope.wav"], "no such file"),
    (["{wav}", "--dims", "5x4"], "--dims '5x4' is not three numbers"),
    (["{wav}", "--source", "1,1,1", "--mic", "2,2,1"], "need the room dimensions"),
    (["{wav}", "--dims", "5x4x2.8", "--source", "9,1,1", "--mic", "2,2,1"], "outside the room"),
    (["{wav}", "--dims", "5x4x2.8", "--source", "1,1,1", "--source", "1,2,1", "--source", "1,3,1",
      "--mic", "2,2,1"], "3 --source positions for 2 channels"),
    (["{wav}", "--temperature", "400"], "outside -40..60"),
    (["{wav}", "--names", "A,B,C"], "--names gives 3 names"),
    (["{short}"], "too short"),
    (["{silent}"], "silent"),
    (["{dir}"], "not a measurement folder"),
    (["{pcm}"], "not a readable audio file"),
    (["{wav}", "--limits", "missing-limits.toml"], "does not exist"),
    (["{pcm}", "--raw-fs", "100"], "outside 1000..768000 Hz"),
    (["{wav}", "--raw-fs", "44100"], "drop --raw-fs"),
])
def test_errors_exit_2(run_cli, ir_wav, tmp_path, args, message):
    short = tmp_path / "short.wav"
    x = np.zeros((1, 1000))
    x[0, 10] = 1.0
    write_wav_atomic(short, x, fs=FS)
    silent = tmp_path / "silent.wav"
    write_wav_atomic(silent, np.zeros((1, FS)), fs=FS)
    pcm = tmp_path / "x.pcm"
    np.zeros(100, dtype="<f4").tofile(pcm)
    (tmp_path / "empty").mkdir()
    sub = {"{wav}": str(ir_wav), "{short}": str(short), "{silent}": str(silent), "{dir}": str(tmp_path / "empty"),
           "{pcm}": str(pcm)}
    code, out, err = run_cli("analyze", *[sub.get(a, a) for a in args])
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err and out == ""
