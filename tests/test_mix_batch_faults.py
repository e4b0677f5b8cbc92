"""``roomtruth mix analyze`` / ``mix fingerprint`` on an album with damaged files in it.

Every good track is analysed (its figures checked against the tone levels written), each bad
one is named with a one-line reason on stderr and under ``failed``, the exit code is 2, and
the ``--out`` file is complete (written once, atomically) or, when nothing could be
analysed, not written at all.
"""

from __future__ import annotations

import csv
import io
import json
import struct

import numpy as np
import pytest
import soundfile as sf

from calib.errors import SignalError
from mixes.batch import analyze_each, analyze_many, expand_inputs

FS = 48_000
GOOD_DBFS = {"01-intro.wav": -20.0, "03-ballad.wav": -26.0, "06-outro.wav": -30.0}


def _tone(path, level_dbfs, seconds=3.0, subtype="PCM_24"):
    n = np.arange(int(seconds * FS))
    x = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * 997 * n / FS)
    sf.write(str(path), np.stack([x, x], axis=1), FS, subtype=subtype)
    return path


def _unknown_codec_wav(path):
    """A RIFF/WAVE file whose format tag (0x1234) no decoder knows."""
    fmt = struct.pack("<HHIIHH", 0x1234, 2, FS, 4 * FS, 4, 16)
    data = bytes(4000)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.fixture
def album(tmp_path):
    """Three good tracks (known levels) and four damaged ones, as an album folder."""
    d = tmp_path / "album"
    d.mkdir()
    for name, lvl in GOOD_DBFS.items():
        _tone(d / name, lvl)
    whole = _tone(tmp_path / "whole.wav", -23.0).read_bytes()
    (d / "02-truncated.wav").write_bytes(whole[: len(whole) // 2])       # a copy cut short
    (d / "04-notes.wav").write_text("mix notes: louder chorus\n")         # text named .wav
    _unknown_codec_wav(d / "05-codec.wav")                               # unsupported format
    nan = np.full((FS, 2), 0.1, dtype=np.float32)
    nan[FS // 2, 1] = np.nan
    sf.write(str(d / "07-nan.wav"), nan, FS, subtype="FLOAT")            # damaged float WAV
    return d


BAD = {"02-truncated.wav": "is truncated: its header announces 3.000 s of audio but the file holds only 1.500 s",
       "04-notes.wav": "is not a readable audio file",
       "05-codec.wav": "is not a readable audio file",
       "07-nan.wav": "contains NaN or Inf samples (first at channel 2, 0.500 s)"}


def _name(p: str) -> str:
    return p.rsplit("/", 1)[-1]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_album_with_bad_files_json(run_cli, album, tmp_path, jobs):
    out_file = tmp_path / "res.json"
    code, out, err = run_cli("mix", "analyze", "--json", "--jobs", jobs, "--out", out_file, album)
    assert code == 2
    data = json.loads(out)
    assert [_name(m["file"]) for m in data["mixes"]] == list(GOOD_DBFS)          # album order kept
    # the good tracks are analysed as if alone: a 997 Hz sine of peak A in both channels reads
    # 10 lg(2 A^2/2) - 0.691 + 0.691 = 20 lg A LUFS (EBU Tech 3341 case 1), within 0.05 LU
    for m in data["mixes"]:
        assert m["integrated_lufs"] == pytest.approx(GOOD_DBFS[_name(m["file"])], abs=0.05)
    assert [_name(f["file"]) for f in data["failed"]] == list(BAD)
    for f in data["failed"]:
        assert BAD[_name(f["file"])] in f["error"] and f["file"] in f["error"] and "\n" not in f["error"]
    # one error line per bad file, naming it, and nothing else on stderr
    lines = err.splitlines()
    assert len(lines) == len(BAD) and all(ln.startswith("error: ") for ln in lines)
    assert [_name(ln.split(" ", 2)[1]) for ln in lines] == list(BAD)
    assert "Traceback" not in err
    # --out holds the same complete document; no temp file left beside it
    assert json.loads(out_file.read_text()) == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["album", "res.json", "whole.wav"]


def test_album_with_bad_files_csv_and_human(run_cli, album, tmp_path):
    code, out, err = run_cli("mix", "analyze", "--csv", "--jobs", "1", album)
    assert code == 2 and len(err.splitlines()) == len(BAD)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [_name(r["file"]) for r in rows] == list(GOOD_DBFS) + list(BAD)
    good, bad = rows[: len(GOOD_DBFS)], rows[len(GOOD_DBFS):]
    assert all(r["error"] == "" for r in good)
    # level differences between the good tracks within 0.01 LU (same tone, same length)
    assert float(good[0]["integrated_lufs"]) - float(good[1]["integrated_lufs"]) == pytest.approx(6.0, abs=0.01)
    for r in bad:
        assert BAD[_name(r["file"])] in r["error"] and r["integrated_lufs"] == "" and r["true_peak_dbtp"] == ""
    code, out, err = run_cli("mix", "analyze", "--jobs", "1", album)
    assert code == 2
    assert out.count("Integrated") == len(GOOD_DBFS)                    # one table per good track
    assert len(err.splitlines()) == len(BAD) and "07-nan.wav contains NaN" in err


def test_all_files_bad_is_one_line_and_writes_nothing(run_cli, album, tmp_path):
    for name in GOOD_DBFS:
        (album / name).unlink()
    out_file = tmp_path / "res.json"
    code, out, err = run_cli("mix", "analyze", "--json", "--jobs", "2", "--out", out_file, album)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "02-truncated.wav is truncated" in err and "none of the 4 files could be analysed" in err
    assert not out_file.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".res")]
    # one bad file alone: its own sentence, as before
    code, out, err = run_cli("mix", "analyze", album / "07-nan.wav")
    assert code == 2 and err.count("\n") == 1 and "NaN or Inf" in err and "none of" not in err


def test_bad_reference_stops_before_the_album(run_cli, album):
    code, out, err = run_cli("mix", "analyze", "--json", "-r", album / "04-notes.wav", album / "01-intro.wav")
    assert code == 2 and out == "" and err.count("\n") == 1 and "04-notes.wav is not a readable" in err


def test_library_each_and_many(album):
    paths = expand_inputs([album])
    good, failed = analyze_each(paths, jobs=1, checks=False)
    assert [_name(g.file) for g in good] == list(GOOD_DBFS) and [_name(f.file) for f in failed] == list(BAD)
    # the strict form tries all and raises the first bad file in input order
    with pytest.raises(SignalError, match="02-truncated.wav is truncated"):
        analyze_many(paths, jobs=2, checks=False)


def test_fingerprint_leaves_bad_mixes_out(run_cli, album, tmp_path):
    ws = tmp_path / "ws"
    mixes = [album / n for n in GOOD_DBFS] + [album / "07-nan.wav"]
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1", "--json", *mixes)
    assert code == 2
    fp = json.loads(out)
    assert fp["n_mixes"] == 3 and [_name(f) for f in fp["files"]] == list(GOOD_DBFS)
    assert [_name(f["file"]) for f in fp["failed"]] == ["07-nan.wav"]
    assert err.count("\n") == 1 and "07-nan.wav contains NaN" in err
    saved = json.loads((ws / "studios" / "north" / "fingerprint.json").read_text())
    assert saved["n_mixes"] == 3 and "failed" not in saved
    # a silent mix has no spectrum: left out the same way
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros((FS, 2)), FS)
    code, out, err = run_cli("mix", "fingerprint", "--studio", "south", "-w", ws, "-j", "1", *mixes[:2], silent)
    assert code == 2 and "silent.wav is silent" in err and (ws / "studios" / "south" / "fingerprint.json").is_file()


def test_fingerprint_with_too_few_good_mixes_writes_nothing(run_cli, album, tmp_path):
    ws = tmp_path / "ws"
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1",
                             album / "01-intro.wav", album / "04-notes.wav")
    assert code == 2 and err.count("\n") == 1
    assert "04-notes.wav is not a readable audio file" in err and "needs at least 2 mixes and only one" in err
    assert not (ws / "studios").exists()
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1",
                             album / "01-intro.wav", album / "03-ballad.wav", "--reference", album / "04-notes.wav")
    assert code == 2 and err.count("\n") == 1 and "04-notes.wav is not a readable" in err
    assert not (ws / "studios").exists()


# ---------------------------------------------------------------- never lose a fingerprint
def _fp_path(ws, studio="north", name="fingerprint.json"):
    return ws / "studios" / studio / name


def test_failed_mix_keeps_the_existing_fingerprint_and_writes_beside_it(run_cli, album, tmp_path):
    ws = tmp_path / "ws"
    good = [album / n for n in GOOD_DBFS]
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1", *good)
    assert code == 0, err
    before = _fp_path(ws).read_bytes()
    assert json.loads(before)["n_mixes"] == 3
    # the same studio again, one mix damaged: the 3-mix fingerprint is not replaced by a 2-mix one
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1", "--json",
                             *good[:2], album / "07-nan.wav")
    assert code == 2
    assert _fp_path(ws).read_bytes() == before                               # byte for byte
    partial = _fp_path(ws, name="fingerprint.partial.json")
    fp = json.loads(out)
    assert fp["written"] == str(partial) and fp["n_mixes"] == 2 and [_name(f["file"]) for f in fp["failed"]] == ["07-nan.wav"]
    saved = json.loads(partial.read_text())
    assert saved["n_mixes"] == 2 and "failed" not in saved and "written" not in saved
    # the bad mix on one line, then one line saying what was kept and where the new one is
    lines = err.splitlines()
    assert len(lines) == 2 and all(ln.startswith("error: ") for ln in lines)
    assert "07-nan.wav contains NaN" in lines[0]
    assert (f"the existing {_fp_path(ws)} (learnt from 3 mixes) is kept" in lines[1]
            and f"beside it: {partial};" in lines[1] and "--force" in lines[1])
    # the partial one is exactly what the 2 good mixes alone give (same analysis, within 0.001 dB)
    code, out, _ = run_cli("mix", "fingerprint", "--studio", "north", "-w", tmp_path / "alone", "-j", "1",
                           "--json", *good[:2])
    assert code == 0
    alone = json.loads(out)
    np.testing.assert_allclose(saved["deviation_db"], alone["deviation_db"], atol=1e-3)
    assert not [p.name for p in _fp_path(ws).parent.iterdir() if p.name.startswith(".")]   # no temp files
    # the human form names the partial file on stdout as where it was written
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1",
                             *good[:2], album / "04-notes.wav")
    assert code == 2 and f"written: {partial}" in out.replace("\n", "") and _fp_path(ws).read_bytes() == before


def test_force_replaces_and_a_complete_run_replaces_as_before(run_cli, album, tmp_path):
    ws = tmp_path / "ws"
    good = [album / n for n in GOOD_DBFS]
    assert run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1", *good)[0] == 0
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1", "--force",
                             *good[:2], album / "07-nan.wav")
    assert code == 2 and err.count("\n") == 1 and "07-nan.wav contains NaN" in err
    assert json.loads(_fp_path(ws).read_text())["n_mixes"] == 2
    assert not _fp_path(ws, name="fingerprint.partial.json").exists()
    # every mix usable: a deliberate relearn replaces without asking, exit 0
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1", *good)
    assert code == 0 and err == "" and json.loads(_fp_path(ws).read_text())["n_mixes"] == 3


def test_existing_unreadable_or_measured_fingerprint_is_kept(run_cli, album, tmp_path):
    ws = tmp_path / "ws"
    good = [album / n for n in GOOD_DBFS]
    _fp_path(ws).parent.mkdir(parents=True)
    _fp_path(ws).write_bytes(b"{not json")                       # damaged, but still the user's file
    code, out, err = run_cli("mix", "fingerprint", "--studio", "north", "-w", ws, "-j", "1", *good[:2],
                             album / "04-notes.wav")
    assert code == 2 and _fp_path(ws).read_bytes() == b"{not json"
    assert json.loads(_fp_path(ws, name="fingerprint.partial.json").read_text())["n_mixes"] == 2
    assert f"the existing {_fp_path(ws)} is kept" in err.splitlines()[-1]
    # a fingerprint from a measured room response is kept the same way, and said to be one
    resp = tmp_path / "room.txt"
    resp.write_text("".join(f"{f} {0.0 if f < 200 else -3.0}\n" for f in (20, 40, 80, 160, 315, 630, 1250, 2500, 5000, 10000, 20000)))
    code, out, err = run_cli("mix", "fingerprint", "--studio", "south", "-w", ws, "--measured", resp)
    assert code == 0, err
    before = _fp_path(ws, "south").read_bytes()
    code, out, err = run_cli("mix", "fingerprint", "--studio", "south", "-w", ws, "-j", "1", *good[:2],
                             album / "04-notes.wav")
    assert code == 2 and _fp_path(ws, "south").read_bytes() == before
    assert "(from a measured room response) is kept" in err.splitlines()[-1]


def test_another_studios_folder_is_still_refused_when_mixes_fail(run_cli, album, tmp_path):
    # two studios whose names give one folder, studios/A (mixes.fingerprint.studio_folder_name)
    ws = tmp_path / "ws"
    good = [album / n for n in GOOD_DBFS]
    assert run_cli("mix", "fingerprint", "--studio", "Студия A", "-w", ws, "-j", "1", *good)[0] == 0
    folder = ws / "studios" / "A"
    before = (folder / "fingerprint.json").read_bytes()
    code, out, err = run_cli("mix", "fingerprint", "--studio", "A", "-w", ws, "-j", "1", *good[:2],
                             album / "07-nan.wav")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "holds the fingerprint of studio 'Студия A'" in err
    assert (folder / "fingerprint.json").read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["fingerprint.json"]
