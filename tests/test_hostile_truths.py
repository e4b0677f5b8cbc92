"""Issue 17 (hostile run): data that must never be faked, and the small truths seen on the way.

Each test here failed on the main branch before the fix it names.
"""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from calib.audio_io import read_audio, write_wav_atomic
from calib.errors import ProfileError, SignalError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse
from conftest import ROOT

FS = 48_000


# --------------------------------------------------------------------- the content hash
@pytest.fixture(scope="module")
def ref_profile(tmp_path_factory):
    """A saved profile with PEQ, an FIR, tolerances and a reference IR (two speakers)."""
    rng = np.random.default_rng(17)
    n = 4800
    t = np.arange(n) / FS
    ir = np.zeros((2, n))
    for c, d in enumerate((200, 207)):
        ir[c, d] = 0.5
        ir[c, d:] += 0.01 * rng.standard_normal(n - d) * np.exp(-t[: n - d] / 0.05)
    ref = ImpulseResponse(ir, FS, ("L", "R"), arrival_samples=(200.0, 207.0), snr_db=(60.0, 58.0))
    fir = np.zeros(256)
    fir[0] = 1.0
    fir[1:5] = [0.1, -0.05, 0.02, -0.01]
    prof = CalibrationProfile(
        name="main",
        speakers=(SpeakerCorrection("L", 0, trim_db=-0.5, peq=(Biquad("peaking", 63.0, -6.0, 4.0),),
                                    fir={FS: fir}),
                  SpeakerCorrection("R", 1, delay_s=1e-4, peq=(Biquad("peaking", 140.0, -4.3, 5.0),))),
        tolerances={"verify": {"level": {"fail_db": 1.0}}},
        target={"kind": "flat", "range_hz": [20.0, 500.0]},
        reference=ref,
    )
    d = tmp_path_factory.mktemp("hash") / "main"
    prof.save(d)
    return d


def _edit(src: Path, dst: Path, fn) -> Path:
    shutil.copytree(src, dst)
    doc = json.loads((dst / "profile.json").read_text())
    fn(doc)
    (dst / "profile.json").write_text(json.dumps(doc))
    return dst


@pytest.mark.parametrize("what, edit", [
    # the hostile run: content_hash deleted together with a +3 dB trim and +12 dB PEQ
    ("no hash, +3 dB trim, +12 dB PEQ", lambda d: (d.pop("content_hash"), d["speakers"][0].update(trim_db=2.5),
                                                   d["speakers"][1]["peq"][0].update(gain_db=12.0))),
    ("tolerances raised", lambda d: d["tolerances"]["verify"]["level"].update(fail_db=6.0)),
    ("reference arrival +200", lambda d: d["reference"]["arrival_samples"].__setitem__(0, 400.0)),
    ("reference onset", lambda d: d["reference"].update(onset_samples=50)),
    ("target", lambda d: d["target"].update(kind="house")),
    ("routing (output channel)", lambda d: d["speakers"][1].update(output_channel=3)),
    ("polarity", lambda d: d["speakers"][1].update(polarity=-1)),
    ("design rate", lambda d: d.update(design_fs=44100)),
    ("hash emptied", lambda d: d.update(content_hash="")),
])
def test_profile_json_tampering_is_refused(ref_profile, tmp_path, what, edit):
    p = _edit(ref_profile, tmp_path / "p", edit)
    with pytest.raises(ProfileError, match="content hash"):
        CalibrationProfile.load(p)


@pytest.mark.parametrize("fname, scale", [("reference.ir.wav", 2.0), ("fir_L_48000.wav", 1.0 + 2 ** -10)])
def test_reference_and_fir_files_are_covered(ref_profile, tmp_path, fname, scale):
    """reference.ir.wav scaled x2 read as a -6 dB room drift before; now it is tampering."""
    p = tmp_path / "p"
    shutil.copytree(ref_profile, p)
    data, fs = read_audio(p / fname)
    write_wav_atomic(p / fname, data * scale, fs=fs)
    with pytest.raises(ProfileError, match="does not match its recorded content hash"):
        CalibrationProfile.load(p)


def test_hash_is_stable_over_save_and_load_and_ignores_name_and_provenance(ref_profile, tmp_path):
    prof = CalibrationProfile.load(ref_profile)
    h = json.loads((ref_profile / "profile.json").read_text())["content_hash"]
    assert prof.content_hash() == h
    prof.save(tmp_path / "again")
    assert CalibrationProfile.load(tmp_path / "again").content_hash() == h
    # renaming and provenance (creation time, software) decide no verdict
    assert prof.with_name("other").content_hash() == h
    from dataclasses import replace

    assert replace(prof, provenance={"created_utc": "2030-01-01"}).content_hash() == h
    # an integer-typed JSON value reads back as the same number
    p = _edit(ref_profile, tmp_path / "int", lambda d: d["speakers"][1].update(trim_db=0))
    assert CalibrationProfile.load(p).content_hash() == h


def test_verify_and_render_refuse_a_profile_without_hash(run_cli, ref_profile, tmp_path):
    """verify passed and render ran on the hostile run's hash-less, +12 dB profile."""
    p = _edit(ref_profile, tmp_path / "p", lambda d: (d.pop("content_hash"),
                                                      d["speakers"][1]["peq"][0].update(gain_db=12.0)))
    x = tmp_path / "in.wav"
    write_wav_atomic(x, 0.1 * np.ones((2, 4800)), fs=FS)
    code, out, err = run_cli("monitor", "render", p, x, tmp_path / "out.wav")
    assert code == 2 and err.startswith("error: ") and "content hash" in err and err.count("\n") == 1
    assert not (tmp_path / "out.wav").exists()
    code, out, err = run_cli("verify", "--profile", p, "--simulate", "reference", "--repeats", "1")
    assert code == 2 and "content hash" in err and err.count("\n") == 1


# --------------------------------------------------------------------- truncated audio
def _truncate(src: Path, dst: Path, *, keep: float) -> Path:
    raw = src.read_bytes()
    dst.write_bytes(raw[: 44 + int((len(raw) - 44) * keep)])
    return dst


def _header_claims(src: Path, dst: Path, *, frames: int, block_align: int) -> Path:
    """A WAV whose header says ``frames`` frames but which holds what ``src`` holds."""
    import struct

    raw = bytearray(src.read_bytes())
    i = raw.index(b"data")
    raw[i + 4:i + 8] = struct.pack("<I", frames * block_align)
    dst.write_bytes(bytes(raw))
    return dst


def test_truncated_wav_refused_by_the_one_reader_rule(tmp_path):
    rng = np.random.default_rng(3)
    for subtype, ch in (("PCM_16", 1), ("PCM_24", 2), ("FLOAT", 3)):
        src = tmp_path / f"ok_{subtype}.wav"
        write_wav_atomic(src, 0.1 * rng.standard_normal((ch, FS)), fs=FS, subtype=subtype)
        read_audio(src)  # intact: fine
        cut = _truncate(src, tmp_path / f"cut_{subtype}.wav", keep=1 / 3)
        with pytest.raises(SignalError, match=r"is truncated: its header announces 1\.000 s of audio but the file holds only 0\.33"):
            read_audio(cut)
        bs = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}[subtype] * ch
        hours = 3 if bs <= 4 else 1     # the RIFF size field holds at most 4 GiB
        long = _header_claims(src, tmp_path / f"3h_{subtype}.wav", frames=hours * 3600 * FS, block_align=bs)
        with pytest.raises(SignalError, match=rf"announces {hours * 3600}\.000 s"):
            read_audio(long)


def test_truncated_audio_refused_by_every_command(run_cli, tmp_path):
    """analyze, correct, measure --simulate-ir, monitor render and a measurement folder's IRs
    all passed truncated WAVs; mix analyze already refused them."""
    from test_correction_rooms import room_seats

    seat = room_seats(1, names=("L", "R"), seed=4)[0]
    src = tmp_path / "ir.wav"
    write_wav_atomic(src, seat.samples, fs=seat.fs)
    cut = _truncate(src, tmp_path / "cut.wav", keep=0.33)
    x = tmp_path / "in.wav"
    write_wav_atomic(x, 0.1 * np.ones((2, FS)), fs=FS)
    xcut = _truncate(x, tmp_path / "incut.wav", keep=0.5)
    prof = tmp_path / "prof"
    CalibrationProfile(name="p", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1))).save(prof)
    meas = tmp_path / "meas"
    from roomtruth.workspace import write_measurement_dir

    write_measurement_dir(meas, ImpulseResponse(seat.samples, seat.fs, ("L", "R")), save_raw=False)
    _truncate(meas / "R.ir.wav", meas / "R.ir.wav.cut", keep=0.4).replace(meas / "R.ir.wav")
    cases = [
        ("analyze", cut),
        ("analyze", meas),
        ("correct", cut, "--out", tmp_path / "o1"),
        ("correct", meas, "--out", tmp_path / "o2"),
        ("measure", "--simulate-ir", cut, "--out", tmp_path / "o3", "--sweep-s", "0.5"),
        ("monitor", "render", prof, xcut, tmp_path / "o4.wav"),
        ("mix", "analyze", xcut),
    ]
    for args in cases:
        code, out, err = run_cli(*args)
        assert code == 2 and "is truncated" in err and err.count("\n") == 1, (args, code, err)
        assert "Traceback" not in err
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 4)) and not (tmp_path / "o4.wav").exists()


# ------------------------------------------------------------------------- file names
def test_non_utf8_file_names_are_read(run_cli, tmp_path):
    """File names are bytes on Linux: a valid WAV called b'seat\\xe9.wav' was refused with
    'surrogates not allowed' by analyze and correct."""
    import os

    from test_correction_rooms import room_seats

    seat = room_seats(1, names=("L",), seed=6)[0]
    name = os.fsdecode(b"seat\xe9.wav")
    p = tmp_path / name
    write_wav_atomic(p, seat.samples, fs=seat.fs)
    assert p.exists() and read_audio(p)[1] == seat.fs
    code, out, err = run_cli("analyze", p, "--json")
    assert code == 0, err
    code, out, err = run_cli("correct", p, "--out", tmp_path / "prof", "--range", "20,300", "--peq", "2", "--json")
    assert code == 0, err
    CalibrationProfile.load(tmp_path / "prof")
    # rendering to a non-UTF-8 output name works too (was: internal error)
    x = tmp_path / "in.wav"
    write_wav_atomic(x, 0.1 * np.ones((1, 4800)), fs=FS)
    out_name = tmp_path / os.fsdecode(b"out\xff.wav")
    code, out, err = run_cli("monitor", "render", tmp_path / "prof", x, out_name)
    assert code == 0, err
    assert out_name.exists()


# ------------------------------------------------------------------------- small truths
def _box(dims, src, mic, *, order):
    from calib.analysis.physics import speed_of_sound_m_s
    from calib.analysis.reflections import image_sources

    c = speed_of_sound_m_s(20.0)
    ims = image_sources(dims, src, mic, max_order=order)
    r0 = math.dist(src, mic)
    x = np.zeros(FS // 2)
    t0 = 200 + r0 / c * FS

    def imp(pos, amp):
        i0 = int(math.floor(pos))
        n = np.arange(i0 - 32, i0 + 33)
        x[n] += amp * np.sinc(n - pos) * np.kaiser(n.size, 8.0)

    imp(t0, 1.0 / r0)
    for im in ims:
        imp(t0 + im.extra_path_m / c * FS, 0.7 ** len(im.surfaces) / im.distance_m)
    return x, c


@pytest.mark.parametrize("src_x", [1.92, 1.16])
def test_first_order_reflection_is_not_named_after_a_coinciding_second_order_path(src_x):
    """A 6.1 x 4.3 x 2.8 m room whose front-wall delay coincides (within 8 us) with a
    second-order path ('right wall + floor' / 'left wall + floor'): the room holds only
    first-order reflections, and each is named after its own surface."""
    from calib.analysis.reflections import early_reflections, image_sources

    dims = (6.1, 4.3, 2.8)
    src, mic = (src_x, 1.2, 1.2), (src_x + 2.3, 2.15, 1.2)
    x, c = _box(dims, src, mic, order=1)
    ims2 = image_sources(dims, src, mic, max_order=2)
    front = next(im for im in ims2 if im.surfaces == ("front wall",))
    twin = min((im for im in ims2 if len(im.surfaces) == 2),
               key=lambda im: abs(im.extra_path_m - front.extra_path_m))
    assert abs(twin.extra_path_m - front.extra_path_m) / c < 1e-5  # the tie the hostile run met
    found = early_reflections(x, fs=FS, c_m_s=c, images=ims2, window_ms=30, min_level_db=-40)
    at = min(found, key=lambda r: abs(r.delay_ms - front.extra_path_m / c * 1000))
    assert at.surface == "front wall"
    for r in found:  # every reflection of a first-order room is named by a first-order surface
        assert r.surface is None or " + " not in r.surface


def test_findings_quote_each_speakers_own_cut():
    """'an EQ cut of 11.4 dB at 140 Hz is applied (L, R)' where R's cut was 4.3 dB."""
    from reports.findings import room_findings

    a = {"modes": [{"freq_hz": 140.0, "level_db": 9.0, "q": 8.0, "t60_s": 0.5, "channel": "L"},
                   {"freq_hz": 139.0, "level_db": 6.0, "q": 8.0, "t60_s": 0.5, "channel": "R"}],
         "reflections": []}
    prof = CalibrationProfile(name="p", speakers=(
        SpeakerCorrection("L", 0, peq=(Biquad("peaking", 140.0, -11.4, 6.0),)),
        SpeakerCorrection("R", 1, peq=(Biquad("peaking", 138.0, -4.3, 6.0), Biquad("peaking", 300.0, -2.0, 2.0)))))
    action = room_findings(a, dims_m=(6.1, 4.3, 2.8), profile=prof)[0].action
    assert "EQ cuts of 11.4 dB at 140 Hz (L) and 4.3 dB at 138 Hz (R) are applied" in action
    assert "(L, R)" not in action


def test_pyproject_license_is_an_spdx_string():
    """setuptools warned about the deprecated ``project.license`` table on every install."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert doc["project"]["license"] == "MIT"
    req = [r for r in doc["build-system"]["requires"] if r.startswith("setuptools")]
    assert req and int(req[0].split(">=")[1].split(".")[0]) >= 77  # SPDX strings need setuptools 77


def test_room_name_with_quotes_brackets_and_newlines_round_trips(run_cli, tmp_path):
    """init --name with quotes/brackets/newlines was an internal error (TOML not escaped)."""
    from roomtruth.config import load_room_config

    for i, name in enumerate(['Studio "A" [live]', "two\nlines\\ and a tab\t", "ünïcödé ]]\x7f"]):
        code, out, err = run_cli("init", tmp_path / f"w{i}", "--name", name)
        assert code == 0, err
        assert load_room_config(tmp_path / f"w{i}").name == name


# ------------------------------------------------------------------ the true-peak ceiling
def _hostile_signals(n: int):
    from scipy import signal

    rng = np.random.default_rng(48)
    t = np.arange(n) / FS
    yield "square 997 Hz", np.sign(np.sin(2 * np.pi * 997 * t + 0.3))
    yield "square 11025 Hz", np.sign(np.sin(2 * np.pi * 11025 * t + 0.3))
    yield "fs/4 at 45 deg", np.sin(2 * np.pi * FS / 4 * t + np.pi / 4)
    step = np.zeros(n)
    step[n // 2:] = 1.0
    yield "step", step
    jump = np.zeros(n)
    jump[n // 3:] = np.sign(rng.standard_normal(n - n // 3))
    yield "jump into full-scale noise", jump
    yield "Nyquist pattern", np.tile([1.0, -1.0], n // 2)
    yield "clipped noise", np.clip(3 * rng.standard_normal(n), -1, 1)
    b, a = signal.iirpeak(12_000, 30, FS)
    h = signal.lfilter(b, a, np.r_[1.0, np.zeros(2047)])
    y = np.convolve(rng.standard_normal(n), h)[:n]
    yield "noise through a resonant FIR (12 kHz, Q 30)", 2 * y / np.abs(y).max()


@pytest.mark.parametrize("block", [256, 9600])
def test_limiter_holds_the_true_peak_ceiling_on_hostile_signals(block):
    """17 of 48 hostile renders read over -1 dBTP (worst +0.2 dBTP) on the 8x meter: the
    limiter only held the sample peak.  Now every one reads <= -1 dBTP on the same meter."""
    from mixes.truepeak import true_peak
    from monitor.limiter import Limiter

    n = FS // 2
    worst = -math.inf
    for name, x in _hostile_signals(n):
        x2 = np.vstack([x, np.roll(x, 7)]).astype(np.float32)
        x2 = np.concatenate([x2, np.zeros((2, 2 * block), np.float32)], axis=1)  # flush the look-ahead
        lim = Limiter(2, fs=FS, max_block=block, ceiling_dbfs=-1.0, jump_duck_db=0.0)
        y = np.zeros_like(x2)
        for s in range(0, x2.shape[1] - block + 1, block):
            lim.process(x2[:, s:s + block].copy(), y[:, s:s + block])
        tp = true_peak(y.astype(np.float64), fs=FS, oversample=8).true_peak_dbtp
        # 0.005 dB: float32 output rounding; the limiter aims 0.06 dB below the ceiling
        assert tp <= -1.0 + 0.005, (name, tp)
        assert lim.clipped_samples == 0, name          # the sample-peak guard never had to act
        worst = max(worst, tp)
    assert worst > -1.5      # and it does limit at the ceiling, not far below it


def test_render_of_noise_through_a_resonant_fir_stays_under_the_ceiling(run_cli, tmp_path):
    from scipy import signal

    from mixes.truepeak import true_peak

    b, a = signal.iirpeak(9_000, 20, FS)
    fir = signal.lfilter(b, a, np.r_[1.0, np.zeros(4095)]) * 16.0   # +24 dB at 9 kHz
    write_wav_atomic(tmp_path / "fir.wav", fir, fs=FS)
    x = np.random.default_rng(5).standard_normal((2, FS)) * 0.25
    write_wav_atomic(tmp_path / "in.wav", x, fs=FS)
    code, out, err = run_cli("monitor", "render", "--fir", tmp_path / "fir.wav", tmp_path / "in.wav",
                             tmp_path / "out.wav", "--json")
    assert code == 0, err
    y, _ = read_audio(tmp_path / "out.wav")
    assert true_peak(y, fs=FS, oversample=8).true_peak_dbtp <= -1.0 + 0.005
    assert json.loads(out)["limited_samples"] > 0


# ------------------------------------------------------------------------- the history
def _as_nobody(fn) -> None:
    """Run ``fn`` in a child process without write permission to what root could write anyway
    (root ignores file modes): setuid to nobody when root; else the modes act directly."""
    import os

    if os.getuid() != 0:
        fn()
        return
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported through the exit code
            import sys

            sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_read_only_history_is_read_read_only_and_refusals_leave_no_side_files(tmp_path):
    """'history --db' on a healthy read-only database advised 'move it aside and run again to
    start a new one'; a refused database left -wal/-shm files behind."""
    import os

    import tempfile

    from monitor.history import History, HistoryError

    # a folder the unprivileged child can reach (pytest's own folders are private to root)
    tmp_path = Path(tempfile.mkdtemp(prefix="roomtruth-ro-"))
    os.chmod(tmp_path, 0o777)
    ro = tmp_path / "ro"
    ro.mkdir()
    with History(ro / "h.sqlite") as h:
        h.add_measurement(measurement_id="m1", label="base", path="p", channels=["L"], fs=FS, snr_db=[50.0])
    with History(tmp_path / "new.sqlite") as h:
        h._con.execute("PRAGMA user_version = 99")     # written by a newer roomtruth
    os.chmod(tmp_path / "new.sqlite", 0o444)
    os.chmod(ro / "h.sqlite", 0o444)
    os.chmod(ro, 0o555)

    def check():
        with History(ro / "h.sqlite", readonly=True) as h:      # read, as it stands
            assert [m.measurement_id for m in h.measurements()] == ["m1"]
        with pytest.raises(HistoryError, match="is read-only") as e:
            History(ro / "h.sqlite")
        assert "move it aside" not in str(e.value)
        for ro_flag in (True, False):
            with pytest.raises(HistoryError) as e:
                History(tmp_path / "new.sqlite", readonly=ro_flag)
            assert "move it aside" not in str(e.value)

    try:
        _as_nobody(check)
        left = sorted(p.name for p in tmp_path.rglob("*") if p.name.endswith(("-wal", "-shm", "-journal")))
        assert left == []
    finally:
        os.chmod(ro, 0o755)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_verify_cleans_stale_report_temp_files_of_a_killed_run(run_cli, tmp_path):
    import os
    import time

    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    ref = _measure_repeats(SimulatedRoom(None, noise_db=-80.0, seed=5), [("L", 0), ("R", 1)], fs=FS,
                           sweep_s=1.0, repeats=1, ir_length_s=0.5, level_dbfs=-12.0)[0]
    ws = tmp_path / "room"
    CalibrationProfile(name="main", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1)),
                       reference=ref).save(ws / "profiles" / "main")
    (ws / "reports").mkdir()
    stale = ws / "reports" / ".verify-20260101T000000Z-0001a.json.x1y2z3w4.tmp"
    stale.write_text('{"verdict": "pa')            # killed mid-write
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = ws / "reports" / ".verify-now.json.abcdefgh.tmp"   # another run writing right now
    fresh.write_text("{")
    code, out, err = run_cli("verify", "--room", ws, "--simulate", "reference", "--repeats", "2", "--sweep-s", "1")
    assert code == 0, err
    assert not stale.exists() and fresh.exists()


def test_measurement_lookup_ignores_temporary_folders(tmp_path):
    from roomtruth.workspace import Workspace, write_measurement_dir

    ws = Workspace(tmp_path)
    (tmp_path / "room.toml").write_text("")
    ir = ImpulseResponse(np.eye(1, 4800, 100), FS, ("L",))
    good = write_measurement_dir(ws.measurements_dir / "20260101T000000Z-base", ir, save_raw=False)
    bad = ws.measurements_dir / ".20990101T000000Z-late.abcdefgh.tmp"
    bad.mkdir()
    (bad / "measurement.json").write_text("")
    assert ws.measurement_dirs() == [good] and ws.latest_measurement() == good


def test_profiles_written_before_hash_version_2_still_load(ref_profile, tmp_path):
    """Existing workspaces keep working: a profile with the old (filters-only) hash and no
    ``hash_version`` loads; the same profile with a changed trim does not."""
    from calib.profile import _legacy_hash_v1

    def legacy(doc, trim=None):
        prof = CalibrationProfile.load(ref_profile)
        doc.pop("hash_version")
        doc["content_hash"] = _legacy_hash_v1(prof)
        if trim is not None:
            doc["speakers"][0]["trim_db"] = trim

    CalibrationProfile.load(_edit(ref_profile, tmp_path / "old", legacy))
    with pytest.raises(ProfileError, match="content hash"):
        CalibrationProfile.load(_edit(ref_profile, tmp_path / "old2", lambda d: legacy(d, trim=2.5)))


def test_measure_cleans_half_built_measurement_folders_of_a_killed_run(run_cli, tmp_path):
    import os
    import time

    from roomtruth.config import room_template

    ws = tmp_path / "room"
    (ws / "measurements").mkdir(parents=True)
    (ws / "room.toml").write_text(room_template(name="k"))
    stale = ws / "measurements" / ".20260101T000000Z-base.a1b2c3d4.tmp"
    stale.mkdir()
    (stale / "L.ir.wav").write_bytes(b"RIFF")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    code, out, err = run_cli("measure", "--room", ws, "--sweep-s", "0.3", "--repeats", "1")
    assert code == 0, err
    names = [p.name for p in (ws / "measurements").iterdir()]
    assert len(names) == 1 and not names[0].startswith(".")


def test_a_later_serialisation_does_not_refuse_stored_profiles(ref_profile, tmp_path, monkeypatch):
    """The stored document proves itself: a later roomtruth whose profile.json carries one more
    key (so its re-serialisation hashes differently) still loads the files this one wrote,
    while a hand edit of the stored document is still refused."""
    d = tmp_path / "p"
    shutil.copytree(ref_profile, d)
    before = CalibrationProfile.to_json_dict

    def later(self, *, hash_field: bool = True):
        doc = before(self, hash_field=hash_field)
        doc["a_later_field"] = {"default": 1.0}
        return doc

    monkeypatch.setattr(CalibrationProfile, "to_json_dict", later)
    prof = CalibrationProfile.load(d)                       # not refused
    assert prof.name == "main"
    pj = d / "profile.json"
    doc = json.loads(pj.read_text())
    doc["tolerances"]["verify"]["level"]["fail_db"] = 3.0   # a hand edit still fails
    pj.write_text(json.dumps(doc))
    with pytest.raises(ProfileError, match="does not match its recorded content hash"):
        CalibrationProfile.load(d)
