"""A hostile user's corpus across every command (issue 17).

Malformed files (empty, text, truncated, NaN, MP3 named .wav, folders, missing), broken
``room.toml`` files, damaged profiles and fingerprints, and options out of range or not
numbers.  Every case must end the same way: exit code 2, exactly one line on stderr starting
with ``error:``, no traceback, and nothing written (the whole tree is compared before and
after).  Runs in-process (``run_cli``) so the corpus stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from calib.audio_io import write_wav_atomic
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse

FS = 48_000


@pytest.fixture(scope="module")
def H(tmp_path_factory):
    """The corpus' files, built once."""
    from roomtruth.config import room_template
    from roomtruth.workspace import write_measurement_dir
    from test_correction_rooms import room_seats

    d = tmp_path_factory.mktemp("hostile")
    p: dict[str, Path] = {"d": d}
    seat = room_seats(1, names=("L", "R"), seed=9)[0]
    p["ir"] = d / "ir.wav"
    write_wav_atomic(p["ir"], seat.samples, fs=seat.fs)
    rng = np.random.default_rng(1)
    p["mix"] = d / "mix.wav"
    write_wav_atomic(p["mix"], 0.1 * rng.standard_normal((2, 2 * FS)), fs=FS)
    p["empty"] = d / "empty.wav"
    p["empty"].write_bytes(b"")
    p["text"] = d / "text.wav"
    p["text"].write_text("this is not audio\n")
    raw = p["ir"].read_bytes()
    p["cut"] = d / "cut.wav"
    p["cut"].write_bytes(raw[: len(raw) // 3])
    p["nan"] = d / "nan.wav"
    bad = seat.samples.copy()
    bad[0, 100] = np.nan
    import soundfile as sf

    sf.write(str(p["nan"]), bad.T, FS, subtype="FLOAT")
    p["mp3"] = d / "song.wav"
    p["mp3"].write_bytes(b"\xff\xfb\x90\x64" + bytes(400))
    p["folder"] = d / "afolder"
    p["folder"].mkdir()
    p["none"] = d / "does-not-exist.wav"
    p["fs44"] = d / "ir44.wav"
    write_wav_atomic(p["fs44"], seat.samples[:, :20000], fs=44_100)
    # a workspace with a measurement and a profile
    ws = d / "ws"
    (ws / "profiles").mkdir(parents=True)
    (ws / "measurements").mkdir()
    (ws / "reports").mkdir()
    (ws / "room.toml").write_text(room_template(name="hostile"))
    p["ws"] = ws
    p["meas"] = write_measurement_dir(ws / "measurements" / "20260101T000000Z-base",
                                      ImpulseResponse(seat.samples, FS, ("L", "R")), save_raw=False)
    ref = ImpulseResponse(seat.samples[:, :24000], FS, ("L", "R"), arrival_samples=(100.0, 107.0))
    prof = CalibrationProfile(name="main", speakers=(SpeakerCorrection("L", 0, peq=(Biquad("peaking", 60, -3, 4),)),
                                                     SpeakerCorrection("R", 1)), reference=ref)
    p["prof"] = prof.save(ws / "profiles" / "main")
    # damaged profiles
    for name, edit in {
        "prof_nohash": lambda j: j.pop("content_hash"),
        "prof_tamper": lambda j: j["speakers"][0]["peq"][0].update(gain_db=12.0),
        "prof_schema": lambda j: j.update(schema_version=99),
    }.items():
        q = d / name
        shutil.copytree(p["prof"], q)
        j = json.loads((q / "profile.json").read_text())
        edit(j)
        (q / "profile.json").write_text(json.dumps(j))
        p[name] = q
    q = d / "prof_badjson"
    shutil.copytree(p["prof"], q)
    (q / "profile.json").write_text("{not json")
    p["prof_badjson"] = q
    q = d / "prof_noref"
    shutil.copytree(p["prof"], q)
    (q / "reference.ir.wav").unlink()
    p["prof_noref"] = q
    # room.toml variants, each in its own workspace
    tomls = {
        "empty": "",
        "nospeakers": '[room]\nname = "x"\n[interface]\ndevice = "simulated"\n',
        "nodevice": '[room]\nname = "x"\n[[speakers]]\nname = "L"\noutput = 1\n',
        "syntax": "[room\nname=1\n",
        "unknown": room_template(name="x") + "\n[colour]\nhue = 1\n",
        "binary": None,
        "badfs": room_template(name="x").replace("fs = 48000", "fs = 12"),
    }
    for k, text in tomls.items():
        w = d / f"ws_{k}"
        (w / "measurements").mkdir(parents=True)
        (w / "profiles").mkdir()
        if text is None:
            (w / "room.toml").write_bytes(b"\x00\x01\xff\xfe" * 50)
        else:
            (w / "room.toml").write_text(text)
        p[f"ws_{k}"] = w
    # mic calibration, fingerprint
    p["miccal"] = d / "mic.txt"
    p["miccal"].write_text('"Sens Factor =abc, SERNO: 123"\n20 -1.0\n1000 0.0\n20000 1.0\n')
    fpw = d / "fpw"
    (fpw / "studios" / "S").mkdir(parents=True)
    (fpw / "studios" / "S" / "fingerprint.json").write_text(json.dumps({
        "schema_version": None, "studio": "S", "freqs_hz": [100.0, 1000.0], "deviation_db": [0.0, 0.0],
        "confidence": [1.0, 1.0]}))
    (fpw / "studios" / "N" ).mkdir(parents=True)
    (fpw / "studios" / "N" / "fingerprint.json").write_text("null")
    p["fpw"] = fpw
    p["outdir"] = d / "out"   # never created by a refused command
    return p


SW = ("--f1", "20", "--f2", "20000", "--sweep-s", "1")   # the sweep an 'ir' recording was made with

# (id, argv template, a piece of the expected message)
CASES = [
    # ---------------------------------------------------------------- command-line usage
    ("usage-bad-int", ["correct", "{ir}", "--out", "{outdir}/p", "--peq", "abc"], "'--peq'"),
    ("usage-missing-arg", ["correct"], "Missing argument"),
    ("usage-unknown-option", ["analyze", "{ir}", "--bogus"], "No such option"),
    ("usage-unknown-command", ["frobnicate"], "No such command"),
    ("usage-bad-float", ["verify", "--noise-db", "loud"], "'--noise-db'"),
    ("usage-out-of-range", ["verify", "--repeats", "99"], "'--repeats'"),
    ("usage-mix-missing", ["mix", "correct", "{mix}"], "Missing"),
    # ---------------------------------------------------------------- init
    ("init-name-surrogate", ["init", "{outdir}/w", "--name", os.fsdecode(b"bad\xff")], "not UTF-8"),
    ("init-over-file", ["init", "{ir}"], "not a folder"),
    ("init-existing", ["init", "{ws}"], "already exists"),
    # ---------------------------------------------------------------- measure
    ("measure-empty-toml", ["measure", "--room", "{ws_empty}"], "device is missing"),
    ("measure-speakerless-toml", ["measure", "--room", "{ws_nospeakers}"], "no [[speakers]]"),
    ("measure-deviceless-toml", ["measure", "--room", "{ws_nodevice}"], "device is missing"),
    ("measure-syntax-toml", ["measure", "--room", "{ws_syntax}"], "not valid TOML"),
    ("measure-unknown-toml", ["measure", "--room", "{ws_unknown}"], "unknown section"),
    ("measure-binary-toml", ["measure", "--room", "{ws_binary}"], "not"),
    ("measure-badfs-toml", ["measure", "--room", "{ws_badfs}"], "interface.fs"),
    ("measure-sweep-0", ["measure", "--simulate", "default", "--out", "{outdir}/m", "--sweep-s", "0"], "--sweep-s 0"),
    ("measure-sweep-nan", ["measure", "--simulate", "default", "--out", "{outdir}/m", "--sweep-s", "nan"], "--sweep-s"),
    ("measure-level-hot", ["measure", "--simulate", "default", "--out", "{outdir}/m", "--level-dbfs", "6"], "--level-dbfs"),
    ("measure-repeats-0", ["measure", "--simulate", "default", "--out", "{outdir}/m", "--repeats", "0"], "--repeats"),
    ("measure-fs-1", ["measure", "--simulate", "default", "--out", "{outdir}/m", "--fs", "1"], "--fs"),
    ("measure-sim-ir-empty", ["measure", "--simulate-ir", "{empty}", "--out", "{outdir}/m"], "empty.wav"),
    ("measure-sim-ir-text", ["measure", "--simulate-ir", "{text}", "--out", "{outdir}/m"], "not a readable audio file"),
    ("measure-sim-ir-cut", ["measure", "--simulate-ir", "{cut}", "--out", "{outdir}/m"], "truncated"),
    ("measure-sim-ir-nan", ["measure", "--simulate-ir", "{nan}", "--out", "{outdir}/m"], "NaN"),
    ("measure-sim-ir-mp3", ["measure", "--simulate-ir", "{mp3}", "--out", "{outdir}/m"], "MPEG"),
    ("measure-sim-ir-missing", ["measure", "--simulate-ir", "{none}", "--out", "{outdir}/m"], "no such file"),
    ("measure-two-sources", ["measure", "--simulate", "default", "--simulate-ir", "{ir}", "--out", "{outdir}/m"], "choose one"),
    ("measure-nowhere", ["measure", "--simulate", "default"], "--out"),
    ("measure-channel-unknown", ["measure", "--simulate", "default", "--out", "{outdir}/m", "--channels", "X"], "not X"),
    # ---------------------------------------------------------------- ir / sweep / spl-cal
    ("ir-text", ["ir", "{text}", "-o", "{outdir}/i.wav", *SW], "not a readable audio file"),
    ("ir-cut", ["ir", "{cut}", "-o", "{outdir}/i.wav", *SW], "truncated"),
    ("sweep-fs", ["sweep", "-o", "{outdir}/s.wav", "--fs", "10"], "sample rate 10 Hz"),
    ("sweep-duration", ["sweep", "-o", "{outdir}/s.wav", "--sweep-s", "0"], "duration"),
    ("sweep-preroll-nan", ["sweep", "-o", "{outdir}/s.wav", "--preroll-s", "nan"], "--preroll-s nan"),
    ("sweep-tail-huge", ["sweep", "-o", "{outdir}/s.wav", "--tail-s", "1e9"], "--tail-s"),
    ("ir-length-inf", ["ir", "{mix}", "-o", "{outdir}/i.wav", *SW, "--length-s", "inf"], "--length-s inf"),
    ("spl-cal-tone-0", ["spl-cal", "{mix}", "--tone-hz", "0"], "--tone-hz 0"),
    ("spl-cal-tone-30k", ["spl-cal", "{mix}", "--tone-hz", "30000"], "--tone-hz 30000"),
    ("spl-cal-tone-nan", ["spl-cal", "{mix}", "--tone-hz", "nan"], "--tone-hz nan"),
    ("spl-cal-level", ["spl-cal", "{mix}", "--db-spl", "300"], "--db-spl"),
    ("spl-cal-empty", ["spl-cal", "{empty}"], "empty.wav"),
    # ---------------------------------------------------------------- analyze
    ("analyze-empty", ["analyze", "{empty}"], "empty.wav"),
    ("analyze-text", ["analyze", "{text}"], "not a readable audio file"),
    ("analyze-cut", ["analyze", "{cut}"], "truncated"),
    ("analyze-nan", ["analyze", "{nan}"], "NaN"),
    ("analyze-mp3", ["analyze", "{mp3}"], "MPEG"),
    ("analyze-missing", ["analyze", "{none}"], "no such file"),
    ("analyze-folder", ["analyze", "{folder}"], "measurement"),
    ("analyze-spl-nan", ["analyze", "{ir}", "--spl-offset", "nan"], "--spl-offset nan"),
    ("analyze-dims", ["analyze", "{ir}", "--dims", "5x4"], "--dims"),
    ("analyze-names", ["analyze", "{ir}", "--names", "L"], "--names"),
    # ---------------------------------------------------------------- correct
    ("correct-tilt-nan", ["correct", "{ir}", "--out", "{outdir}/p", "--target", "tilt:nan"], "tilt:nan"),
    ("correct-tilt-big", ["correct", "{ir}", "--out", "{outdir}/p", "--target", "tilt:9"], "tilt"),
    ("correct-fs-mismatch", ["correct", "{ir}", "--out", "{outdir}/p", "--fs", "44100"], "--fs says 44100"),
    ("correct-fs-folder", ["correct", "{meas}", "--out", "{outdir}/p", "--fs", "44100"], "--fs says 44100"),
    ("correct-band-limit", ["correct", "{ir}", "--out", "{outdir}/p", "--band-limit-hz", "1e9"], "--band-limit-hz"),
    ("correct-band-low", ["correct", "{ir}", "--out", "{outdir}/p", "--band-limit-hz", "10"], "--band-limit-hz"),
    ("correct-fir-taps", ["correct", "{ir}", "--out", "{outdir}/p", "--fir-taps", "3"], "--fir-taps"),
    ("correct-range", ["correct", "{ir}", "--out", "{outdir}/p", "--range", "500,20"], "LO"),
    ("correct-boost", ["correct", "{ir}", "--out", "{outdir}/p", "--max-boost-db", "nan"], "--max-boost-db"),
    ("correct-empty", ["correct", "{empty}", "--out", "{outdir}/p"], "empty.wav"),
    ("correct-cut", ["correct", "{cut}", "--out", "{outdir}/p"], "truncated"),
    ("correct-nan", ["correct", "{nan}", "--out", "{outdir}/p"], "NaN"),
    ("correct-mp3", ["correct", "{mp3}", "--out", "{outdir}/p"], "MPEG"),
    ("correct-weights", ["correct", "{ir}", "--out", "{outdir}/p", "--weights", "a,b"], "--weights"),
    ("correct-speakers", ["correct", "{ir}", "--out", "{outdir}/p", "--speakers", "L"], "--speakers"),
    ("correct-out-file", ["correct", "{ir}", "--out", "{mix}"], "not a folder"),
    ("correct-phase", ["correct", "{ir}", "--out", "{outdir}/p", "--fir-phase", "linear"], "--fir-phase"),
    # ---------------------------------------------------------------- monitor render
    ("render-nohash", ["monitor", "render", "{prof_nohash}", "{mix}", "{outdir}/o.wav"], "content hash"),
    ("render-tamper", ["monitor", "render", "{prof_tamper}", "{mix}", "{outdir}/o.wav"], "content hash"),
    ("render-schema", ["monitor", "render", "{prof_schema}", "{mix}", "{outdir}/o.wav"], "schema version"),
    ("render-badjson", ["monitor", "render", "{prof_badjson}", "{mix}", "{outdir}/o.wav"], "not valid JSON"),
    ("render-noref", ["monitor", "render", "{prof_noref}", "{mix}", "{outdir}/o.wav"], "reference.ir.wav"),
    ("render-to-folder", ["monitor", "render", "{prof}", "{mix}", "{folder}"], "is a folder"),
    ("render-to-file-parent", ["monitor", "render", "{prof}", "{mix}", "{mix}/o.wav"], "not a folder"),
    ("render-threads", ["monitor", "render", "{prof}", "{mix}", "{outdir}/o.wav", "--threads", "-1"], "--threads -1"),
    ("render-cut", ["monitor", "render", "{prof}", "{cut}", "{outdir}/o.wav"], "truncated"),
    ("render-text", ["monitor", "render", "{prof}", "{text}", "{outdir}/o.wav"], "not a readable audio file"),
    ("render-ceiling", ["monitor", "render", "{prof}", "{mix}", "{outdir}/o.wav", "--ceiling", "3"], "ceiling"),
    ("render-paths", ["monitor", "render", "{mix}", "{outdir}/o.wav"], "render takes"),
    # ---------------------------------------------------------------- verify / history
    ("verify-nohash", ["verify", "--profile", "{prof_nohash}", "--simulate", "reference"], "content hash"),
    ("verify-tamper", ["verify", "--profile", "{prof_tamper}", "--simulate", "reference"], "content hash"),
    ("verify-sweep", ["verify", "--profile", "{prof}", "--simulate", "reference", "--sweep-s", "0"], "--sweep-s"),
    ("verify-level", ["verify", "--profile", "{prof}", "--simulate", "reference", "--level-dbfs", "nan"], "--level-dbfs"),
    ("verify-drift", ["verify", "--profile", "{prof}", "--simulate", "reference", "--drift", "level:L:x"], "drift"),
    ("verify-report-folder", ["verify", "--profile", "{prof}", "--simulate", "reference", "--report", "{folder}"], "is a folder"),
    ("verify-no-room", ["verify", "--room", "{none}"], "not a folder"),
    ("verify-seed", ["verify", "--profile", "{prof}", "--simulate", "reference", "--seed", "-1"], "--seed -1"),
    ("verify-text-history", ["verify", "--profile", "{prof}", "--simulate", "reference", "--history", "{text}"], "not a usable history"),
    ("history-missing", ["history", "--db", "{none}"], "no history database"),
    ("history-text", ["history", "--db", "{text}"], "not a usable history"),
    ("history-nothing", ["history"], "--room"),
    # ---------------------------------------------------------------- mix
    ("mix-analyze-cut", ["mix", "analyze", "{cut}"], "truncated"),
    ("mix-analyze-text", ["mix", "analyze", "{text}"], "not"),
    ("mix-correct-null-schema", ["mix", "correct", "{mix}", "{outdir}/c.wav", "--studio", "S", "-w", "{fpw}"], "schema version None"),
    ("mix-correct-null-doc", ["mix", "correct", "{mix}", "{outdir}/c.wav", "--studio", "N", "-w", "{fpw}"], "JSON object"),
    ("mix-correct-no-studio", ["mix", "correct", "{mix}", "{outdir}/c.wav", "--studio", "Z", "-w", "{fpw}"], "no fingerprint"),
    ("mix-translate-cut", ["mix", "translate", "{cut}"], "truncated"),
    # ---------------------------------------------------------------- report / schedule
    ("report-no-room", ["report", "--room", "{none}", "--out", "{outdir}/r.html"], "does not exist"),
    ("report-no-measurement", ["report", "--room", "{ws_empty}", "--out", "{outdir}/r.html"], "no measurement"),
    # ---------------------------------------------------------------- mic calibration
    ("ir-miccal-sens", ["ir", "{mix}", "-o", "{outdir}/i.wav", *SW, "--mic-cal", "{miccal}"], "Sens Factor"),
]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            q = Path(dirpath) / n
            st = q.lstat()
            out[str(q.relative_to(root))] = (st.st_size, st.st_mtime_ns if q.is_file() else 0)
    return out


@pytest.mark.parametrize("case_id, argv, expect", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_clean_error(run_cli, H, case_id, argv, expect, monkeypatch):
    monkeypatch.chdir(H["d"])
    args = [a.format(**{k: str(v) for k, v in H.items()}) for a in argv]
    before = _tree(H["d"])
    code, out, err = run_cli(*args)
    assert "Traceback" not in err + out, err
    assert code == 2, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expect in err, err
    assert "internal error" not in err
    after = _tree(H["d"])
    assert after == before, {k: after.get(k) for k in set(after) ^ set(before)}
