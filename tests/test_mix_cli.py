"""``roomtruth mix`` end to end: the JSON/CSV contract, fingerprint -> correct, errors."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_data
from mixes.batch import analyze_many, expand_inputs, to_csv

FS = 48_000


def _tone_file(path, level_dbfs=-23.0, seconds=3.0, f_hz=1000.0, fs=FS):
    n = np.arange(int(seconds * fs))
    x = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * f_hz * n / fs)
    sf.write(str(path), np.stack([x, x], axis=1), fs, subtype="PCM_24")
    return path


def test_analyze_json_contract(run_cli, tmp_path):
    f = _tone_file(tmp_path / "a.wav")
    code, out, err = run_cli("mix", "analyze", "--json", str(f))
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"mixes", "failed"} and data["failed"] == [] and len(data["mixes"]) == 1
    d = data["mixes"][0]
    for key in ("file", "integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "lra_lu",
                "true_peak_dbtp", "sample_peak_dbfs", "platforms", "clicks", "dropouts", "ltas"):
        assert key in d
    assert d["integrated_lufs"] == pytest.approx(-22.95, abs=0.1)    # 1 kHz reads +0.046 vs 997 Hz
    assert d["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.02)
    for p in d["platforms"]:
        assert set(p) >= {"name", "target_lufs", "gain_db", "true_peak_after_dbtp", "note"}
    assert d["clicks"] == [] and d["dropouts"] == []
    assert len(d["ltas"]["freqs_hz"]) == len(d["ltas"]["level_db"])


def test_analyze_ltas_against_reference_and_builtin_target(run_cli, tmp_path):
    f = _tone_file(tmp_path / "a.wav")
    code, out, err = run_cli("mix", "analyze", "--json", str(f))
    assert code == 0, err
    cmp = json.loads(out)["mixes"][0]["ltas_vs_reference"]
    assert cmp["reference"] == "built-in broad target" and len(cmp["deviation_db"]) == len(cmp["freqs_hz"])
    assert cmp["outside_hz"]                                 # a pure tone is no music balance
    code, out, err = run_cli("mix", "analyze", "--json", "-r", str(f), str(f))
    assert code == 0, err
    cmp = json.loads(out)["mixes"][0]["ltas_vs_reference"]
    # the mix is its own reference: zero deviation where the tone has energy, nothing outside
    assert cmp["reference"] == "reference tracks (1)" and cmp["outside_hz"] == []
    k = int(np.argmin(np.abs(np.array(cmp["freqs_hz"]) - 1000)))
    assert cmp["deviation_db"][k] == pytest.approx(0.0, abs=0.01)


def test_analyze_folder_csv_and_out_file(run_cli, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    _tone_file(album / "01.wav", -20.0)
    _tone_file(album / "02.wav", -30.0)
    (album / "notes.txt").write_text("not audio")
    out_file = tmp_path / "res.csv"
    code, out, err = run_cli("mix", "analyze", "--csv", "--jobs", "1", "--out", str(out_file), str(album))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["file"].rsplit("/", 1)[-1] for r in rows] == ["01.wav", "02.wav"]
    assert float(rows[0]["integrated_lufs"]) - float(rows[1]["integrated_lufs"]) == pytest.approx(10.0, abs=0.01)
    assert out_file.read_text() == out


def test_human_output_lists_clicks(run_cli, tmp_path):
    n = np.arange(3 * FS)
    x = 0.25 * np.sin(2 * np.pi * 440 * n / FS)
    x[int(1.5 * FS)] += 0.1
    p = tmp_path / "click.wav"
    sf.write(str(p), np.stack([x, x], axis=1), FS, subtype="FLOAT")
    code, out, err = run_cli("mix", "analyze", str(p))
    assert code == 0, err
    assert "Integrated" in out and "click" in out and "0:01.500" in out


def test_analyze_errors(run_cli, tmp_path):
    code, out, err = run_cli("mix", "analyze", str(tmp_path / "missing.wav"))
    assert code == 2 and err.startswith("error: ") and "no such file" in err and "Traceback" not in err
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    code, _, err = run_cli("mix", "analyze", str(bad))
    assert code == 2 and "not a readable audio file" in err
    short = _tone_file(tmp_path / "short.wav", seconds=0.2)
    code, _, err = run_cli("mix", "analyze", str(short))
    assert code == 2 and "at least 0.4 s" in err
    code, _, err = run_cli("mix", "analyze", "--json", "--csv", str(short))
    assert code == 2 and "exclusive" in err
    code, _, err = run_cli("mix", "analyze", "--bands-per-octave", "5", str(short))
    assert code == 2 and "not one of" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli("mix", "analyze", str(empty))
    assert code == 2 and "without audio files" in err
    nan = tmp_path / "nan.wav"
    y = np.zeros((FS, 2), dtype=np.float32)
    y[100, 1] = np.nan
    sf.write(str(nan), y, FS, subtype="FLOAT")
    code, _, err = run_cli("mix", "analyze", str(nan))
    assert code == 2 and "NaN or Inf" in err and "channel 2" in err


def _coloured(path, rng, room_db, seconds=4.0):
    n = int(FS * seconds)
    f = np.fft.rfftfreq(n, 1 / FS)
    g = -12 * np.log10(np.maximum(f, 20) / 1000) + rng.normal(0, 0.5) * np.log2(np.maximum(f, 20) / 1000) + room_db(f)
    X = (rng.standard_normal((2, f.size)) + 1j * rng.standard_normal((2, f.size))) * 10 ** (g / 20)
    x = np.fft.irfft(X, n=n)
    x *= 0.1 / np.sqrt(np.mean(x ** 2))
    sf.write(str(path), x.T, FS, subtype="FLOAT")
    return path


def _dip(f):
    """The mixes' fingerprint: thin at 60 Hz (-6 dB), the room had a peak there."""
    return -6.0 * np.exp(-0.5 * (np.log2(np.maximum(f, 1) / 63) / 0.35) ** 2)


def test_fingerprint_then_correct(run_cli, tmp_path):
    rng = np.random.default_rng(5)
    mixes = [_coloured(tmp_path / f"m{i}.wav", rng, _dip) for i in range(4)]
    refs = [_coloured(tmp_path / f"r{i}.wav", rng, lambda f: 0 * f) for i in range(4)]
    ws = tmp_path / "ws"
    args = ["mix", "fingerprint", "--studio", "north", "--workspace", str(ws), "--jobs", "1", "--json"]
    for r in refs:
        args += ["--reference", str(r)]
    code, out, err = run_cli(*args, *map(str, mixes))
    assert code == 0, err
    fp = json.loads(out)
    assert set(fp) >= {"freqs_hz", "deviation_db", "confidence", "studio", "n_mixes"}
    i63 = int(np.argmin(np.abs(np.array(fp["freqs_hz"]) - 63)))
    assert fp["deviation_db"][i63] < -3.5 and fp["confidence"][i63] > 0.8
    assert (ws / "studios" / "north" / "fingerprint.json").is_file()

    new_mix = _coloured(tmp_path / "new.wav", rng, _dip)
    out_wav = tmp_path / "fixed.wav"
    code, out, err = run_cli("mix", "correct", "--studio", "north", "--workspace", str(ws), "--json",
                             str(new_mix), str(out_wav))
    assert code == 0, err
    rep = json.loads(out)
    assert rep["engine"] == "monitor engine (offline)" and rep["limited_samples"] == 0
    c = rep["correction"]
    g63 = c["gain_db"][int(np.argmin(np.abs(np.array(c["freqs_hz"]) - 63)))]
    assert g63 > 3.0                                        # the thin 60 Hz is put back
    y, fs = sf.read(str(out_wav), always_2d=True)
    x, _ = sf.read(str(new_mix), always_2d=True)
    assert fs == FS and y.shape == x.shape                  # latency removed, same length
    # the realised correction: band level ratio output/input near 63 Hz equals the design
    from mixes.ltas import ltas
    a = ltas(x.T, fs=FS, integrated_lufs=-23.0)
    b = ltas(y.T, fs=FS, integrated_lufs=-23.0)
    k = int(np.argmin(np.abs(a.freqs_hz - 63)))
    assert b.level_db[k] - a.level_db[k] == pytest.approx(rep["realised_db"][i63], abs=0.5)

    code, _, err = run_cli("mix", "correct", "--studio", "south", "--workspace", str(ws), str(new_mix),
                           str(tmp_path / "x.wav"))
    assert code == 2 and "no fingerprint for studio 'south'" in err
    assert not (tmp_path / "x.wav").exists()
    code, _, err = run_cli("mix", "correct", "--studio", "north", "--workspace", str(ws), str(new_mix), str(new_mix))
    assert code == 2 and "is the input" in err
    code, _, err = run_cli("mix", "correct", "--studio", "north", "--workspace", str(ws), "--phase", "mixed",
                           str(new_mix), str(tmp_path / "y.wav"))
    assert code == 2 and "--phase mixed" in err and not (tmp_path / "y.wav").exists()
    # minimum phase: no latency to remove, same length, same correction magnitude
    code, out, err = run_cli("mix", "correct", "--studio", "north", "--workspace", str(ws), "--phase", "minimum",
                             "--json", str(new_mix), str(tmp_path / "min.wav"))
    assert code == 0, err
    assert json.loads(out)["correction"]["latency_samples"] == 0


def test_fingerprint_from_measured_room_and_errors(run_cli, tmp_path):
    frd = shared_data("rsantct-drc", "R.frd")
    code, out, err = run_cli("mix", "fingerprint", "--studio", "home", "--workspace", str(tmp_path),
                             "--measured", str(frd), "--json")
    assert code == 0, err
    assert json.loads(out)["source"] == "measurement"
    # a slash is part of a name as people write it ("AC/DC"); it is stored in a folder-safe name
    code, _, err = run_cli("mix", "fingerprint", "--studio", "a/b", "--workspace", str(tmp_path), "--measured", str(frd))
    assert code == 0, err
    assert json.loads((tmp_path / "studios" / "a-b" / "fingerprint.json").read_text())["studio"] == "a/b"
    code, _, err = run_cli("mix", "fingerprint", "--studio", "a\tb", "--workspace", str(tmp_path), "--measured", str(frd))
    assert code == 2 and "is not usable" in err
    code, _, err = run_cli("mix", "fingerprint", "--studio", "x", "--workspace", str(tmp_path))
    assert code == 2 and "no mixes given" in err
    one = _tone_file(tmp_path / "one.wav")
    code, _, err = run_cli("mix", "fingerprint", "--studio", "x", "--workspace", str(tmp_path), "--jobs", "1", str(one))
    assert code == 2 and "at least 2 mixes" in err


def test_translate_command(run_cli, tmp_path):
    p = _coloured(tmp_path / "t.wav", np.random.default_rng(1), lambda f: 0 * f)
    code, out, err = run_cli("mix", "translate", "--json", "--cassette", "II", str(p))
    assert code == 0, err
    d = json.loads(out)
    assert len(d["systems"]) == 5 and d["cassette"]["playback_eq"] == "3180 µs + 70 µs"
    code, _, err = run_cli("mix", "translate", "--cassette", "IV", str(p))
    assert code == 2 and "not I or II" in err


def test_batch_pool_keeps_order_and_reports_progress(tmp_path):
    files = [_tone_file(tmp_path / f"{i}.wav", -20.0 - i, seconds=1.0) for i in range(3)]
    seen = []
    res = analyze_many(expand_inputs(files), jobs=2, progress=lambda d, t, n: seen.append((d, t)), checks=False)
    assert [r.file for r in res] == [str(f) for f in files]
    assert [round(r.integrated_lufs - res[0].integrated_lufs, 2) for r in res] == [0.0, -1.0, -2.0]
    assert seen[-1] == (3, 3)
    text = to_csv(res)
    assert text.splitlines()[0].startswith("file,duration_s,integrated_lufs")
    assert math.isclose(float(text.splitlines()[1].split(",")[2]), round(res[0].integrated_lufs, 2))


def test_silent_file_gives_nulls_not_errors(run_cli, tmp_path):
    p = tmp_path / "silent.wav"
    sf.write(str(p), np.zeros((FS, 2)), FS, subtype="PCM_16")
    code, out, err = run_cli("mix", "analyze", "--json", str(p))
    assert code == 0, err
    d = json.loads(out)["mixes"][0]
    assert d["integrated_lufs"] is None and d["true_peak_dbtp"] is None and d["ltas"] is None
    assert any("silent" in w for w in d["warnings"])
    assert all(pl["gain_db"] is None or pl["target_lufs"] is None for pl in d["platforms"])
