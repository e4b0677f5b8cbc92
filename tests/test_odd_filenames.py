"""File names the user did not choose for us: bytes that are not UTF-8 (a Latin-1 ``café`` from
an old disk, ``b'caf\\xe9.wav'``), spaces, a leading dash, NFC vs NFD accents, names near the
255-byte limit of a file name.

Every command that takes a file reads such a name (libsndfile is handed the bytes), writes to it,
and prints it escaped (``caf\\udce9.wav``) in tables, CSV and error lines, never a traceback;
JSON carries it as the ``\\udce9`` escape, which ``os.fsencode`` turns back into the file's bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata

import numpy as np
import pytest

from calib.audio_io import read_audio, write_wav_atomic

FS = 48000
LATIN1 = os.fsdecode(b"caf\xe9 mix.wav")          # a space too
LATIN1_REF = os.fsdecode(b"r\xe9f\xe9rence.wav")
BAD_BYTE = os.fsdecode(b"m2\xff.wav")               # not Latin-1 text either: a lone 0xFF byte
DASH = "-take 2.wav"                               # only usable after ``--``
NFC = unicodedata.normalize("NFC", "Chœur à l'église.wav")
NFD = unicodedata.normalize("NFD", "Chœur à l'église.wav")
LONG = "x" * 200 + "ü" * 20 + ".wav"               # 200 + 40 + 4 = 244 bytes (limit 255)


def _utf8_safe(text: str) -> bool:
    """True when ``text`` holds no lone surrogate (it encodes as UTF-8, i.e. it prints)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    """Three 5 s songs in different keys (mixes), one song as the reference, under odd names."""
    from mixes.songs import make_song

    d = tmp_path_factory.mktemp("odd names")
    songs = {LATIN1: 3, BAD_BYTE: 4, DASH: 5, LATIN1_REF: 8}
    for name, seed in songs.items():
        x = make_song(seed, duration_s=5.0, fs=FS).mix()
        write_wav_atomic(d / name, 0.5 * x / np.max(np.abs(x)), fs=FS, subtype="PCM_24")
    write_wav_atomic(d / NFC, 0.3 * make_song(6, duration_s=5.0, fs=FS, voice=False).mix(), fs=FS)
    os.link(d / NFC, d / NFD)                      # the same audio under the other normal form
    os.link(d / LATIN1, d / LONG)
    assert {os.fsencode(p.name) for p in d.iterdir()} >= {b"caf\xe9 mix.wav", b"m2\xff.wav"}
    return d


def test_mix_analyze_reads_odd_names_and_prints_them_escaped(run_cli, album, tmp_path):
    files = [album / LATIN1, album / BAD_BYTE, album / NFC, album / NFD, album / LONG]
    # two worker processes: the names travel pickled to the workers and back
    code, out, err = run_cli("mix", "analyze", "--json", "-j", "2", "-r", album / LATIN1_REF, "--", *files, album / DASH)
    assert code == 0, err
    doc = json.loads(out)
    assert not doc["failed"]
    got = [m["file"] for m in doc["mixes"]]
    assert got == [str(p) for p in files] + [str(album / DASH)]
    # the JSON string gives back the exact bytes of the name (NFD stays NFD, 0xE9 stays 0xE9)
    assert os.fsencode(got[0]).endswith(b"caf\xe9 mix.wav")
    assert os.fsencode(got[1]).endswith(b"m2\xff.wav")
    assert got[2] != got[3] and unicodedata.normalize("NFC", got[3]) == got[2]
    # hard links: the same samples whatever the name
    by = {m["file"]: m for m in doc["mixes"]}
    assert by[str(album / NFC)]["integrated_lufs"] == by[str(album / NFD)]["integrated_lufs"]
    assert by[str(album / LATIN1)]["true_peak_dbtp"] == by[str(album / LONG)]["true_peak_dbtp"]

    # CSV on stdout and in an --out file with a non-UTF-8 name of its own
    out_csv = tmp_path / os.fsdecode(b"r\xe9sultats.csv")
    code, out, err = run_cli("mix", "analyze", "--csv", "-j", "1", "--out", out_csv, album / LATIN1, album / BAD_BYTE)
    assert code == 0, err
    assert _utf8_safe(out) and "caf\\udce9 mix.wav" in out and "m2\\udcff.wav" in out
    written = out_csv.read_bytes().decode("utf-8")        # valid UTF-8, names escaped as on screen
    assert written.splitlines()[1:] == out.splitlines()[1:]

    # the console table
    code, out, err = run_cli("mix", "analyze", "-j", "1", album / LATIN1, album / NFD)
    assert code == 0, err
    assert _utf8_safe(out) and "caf\\udce9 mix.wav" in out and "Integrated" in out


def test_a_failing_odd_name_is_one_error_line(run_cli, album, tmp_path):
    bad = tmp_path / os.fsdecode(b"cass\xe9\nnewline [x].wav")   # not audio, a newline in its name
    bad.write_bytes(b"RIFF junk")
    code, out, err = run_cli("mix", "analyze", "-j", "1", album / LATIN1, bad)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "cass\\udce9" in err, err
    assert "Traceback" not in err and "Integrated" in out     # the good file is still reported
    code, out, err = run_cli("mix", "analyze", tmp_path / os.fsdecode(b"missing\xe9.wav"))
    assert code == 2 and err == "error: " + str(tmp_path).replace("\n", " ") + "/missing\\udce9.wav: no such file or folder\n"


def test_fingerprint_correct_translate_and_patterns_with_odd_names(run_cli, album, tmp_path):
    ws = tmp_path / "ws"
    code, out, err = run_cli("mix", "fingerprint", "--studio", "Nord", "-w", ws, "--json", "-j", "1",
                             "-r", album / LATIN1_REF, "--", album / LATIN1, album / BAD_BYTE, album / DASH)
    assert code == 0, err
    fp = json.loads(out)
    assert fp["n_mixes"] == 3
    assert [os.fsencode(os.path.basename(f)) for f in fp["files"]][:2] == [b"caf\xe9 mix.wav", b"m2\xff.wav"]

    dst = tmp_path / os.fsdecode(b"corrig\xe9 \xff.wav")
    code, out, err = run_cli("mix", "correct", "--studio", "Nord", "-w", ws, "--json", album / LATIN1, dst)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["input"] == str(album / LATIN1) and doc["output"] == str(dst)
    y, fs = read_audio(dst)
    x, _ = read_audio(album / LATIN1)
    assert fs == FS and y.shape == x.shape

    code, out, err = run_cli("mix", "translate", album / NFD)
    assert code == 0 and "System" in out and "Loudness" in out, err
    code, out, err = run_cli("mix", "translate", "--json", "--", album / DASH)
    assert code == 0, err
    assert json.loads(out)["file"] == str(album / DASH)

    code, out, err = run_cli("mix", "analyze", "-j", "1", "--client", "Mia", "-w", ws, "-r", album / LATIN1_REF,
                             album / LATIN1, album / BAD_BYTE, album / LONG)
    assert code == 0, err
    code, out, err = run_cli("mix", "patterns", "--client", "Mia", "-w", ws, "--json")
    assert code == 0, err
    files = json.loads(out)["files"]
    assert sorted(os.fsencode(os.path.basename(f)) for f in files) == sorted(
        [b"caf\xe9 mix.wav", b"m2\xff.wav", os.fsencode(LONG)])


def test_render_analyze_and_measure_take_odd_names(run_cli, album, tmp_path, monkeypatch):
    # a 44.1 kHz room IR under a Latin-1 name: measure must run at the IR's own rate
    from test_correction_rooms import room_seats

    seat = room_seats(1, names=("L",), fs=44100, seed=11)[0]
    ir = tmp_path / os.fsdecode(b"pi\xe8ce 1.wav")
    write_wav_atomic(ir, seat.samples, fs=seat.fs)
    code, out, err = run_cli("correct", ir, "--out", tmp_path / "prof", "--range", "20,300", "--peq", "2")
    assert code == 0, err
    # --raw-fs is refused for a WAV whatever its name (was: the WAV read as raw float32 NaNs)
    code, out, err = run_cli("analyze", ir, "--raw-fs", "44100")
    assert code == 2 and "--raw-fs is for headerless float32 PCM only" in err and "pi\\udce8ce" in err
    code, out, err = run_cli("measure", "--simulate-ir", ir, "--out", tmp_path / "m", "--sweep-s", "0.5", "--json")
    assert code == 0, err
    meas = next((tmp_path / "m").rglob("measurement.json"))
    assert json.loads(meas.read_text())["fs"] == seat.fs

    # monitor render: odd input AND output names
    x, _ = read_audio(album / LATIN1)
    src = tmp_path / os.fsdecode(b"\xe9cho.wav")
    write_wav_atomic(src, x[:1, : seat.fs], fs=seat.fs)
    dst = tmp_path / os.fsdecode(b"rendu \xff.wav")
    # the console wraps at 80 columns without a terminal: a longer tmp path (pytest-xdist adds
    # /popen-gwN) put the line break inside the name; a wide console keeps the name on one line
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = run_cli("monitor", "render", tmp_path / "prof", src, dst)
    assert code == 0, err
    assert _utf8_safe(out) and "rendu \\udcff.wav" in out
    y, fs = read_audio(dst)
    assert fs == seat.fs and y.shape == (1, seat.fs)


def test_escapes_reach_a_real_stdout_under_the_c_utf8_locale(album, tmp_path):
    """Under C.UTF-8 (containers, CI) Python's stdout uses ``surrogateescape`` and wrote the raw
    0xE9 byte: invalid UTF-8 in the table and the CSV.  The CLI escapes it there too."""
    env = dict(os.environ, LC_ALL="C.UTF-8", PYTHONIOENCODING="")
    env.pop("PYTHONIOENCODING")
    p = subprocess.run([sys.executable, "-m", "roomtruth", "mix", "analyze", "--csv", os.fsencode(album / LATIN1)],
                       capture_output=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr.decode("utf-8", "replace")
    text = p.stdout.decode("utf-8")                      # strict: raw 0xE9 would raise here
    assert "caf\\udce9 mix.wav" in text
