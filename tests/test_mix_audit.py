"""Audit of `roomtruth mix` as a new user types it: studio names as people write them,
hostile files and options refused in one line before any work, names with rich markup."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from mixes.fingerprint import load_fingerprint, studio_dir, studio_folder_name, valid_studio_name

FS = 48_000


def _mix(path, seed, tilt_db=0.0, seconds=4.0):
    """Stereo noise with a spectral tilt (dB per decade around 1 kHz), -20 dBFS RMS-ish."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    spec = np.fft.rfft(rng.standard_normal((2, n)), axis=1)
    f = np.maximum(np.fft.rfftfreq(n, 1 / FS), 1.0)
    spec *= 10 ** (tilt_db * np.log10(f / 1000) / 20) / np.sqrt(f / 1000)   # pink-ish
    x = np.fft.irfft(spec, n, axis=1)
    x *= 0.1 / np.sqrt(np.mean(x**2))
    sf.write(str(path), x.T, FS, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def mixes(tmp_path_factory):
    d = tmp_path_factory.mktemp("mix-audit")
    return d, [_mix(d / f"m{i}.wav", i, tilt_db=0.5 * i) for i in range(3)]


@pytest.mark.parametrize(
    "name, folder",
    [
        ("studio-a", "studio-a"),            # already folder-safe: unchanged (older workspaces)
        ("Studio Nord", "Studio-Nord"),
        ("  Studio Nord ", "Studio-Nord"),   # outer blanks are not part of the name
        ("Tonstudio Zürich", "Tonstudio-Zurich"),
        ("AC/DC live", "AC-DC-live"),
        ("../etc", "etc"),                   # never a path outside studios/
        ("...", None),                       # nothing folder-safe left: a hash name
        ("スタジオ", None),
    ],
)
def test_studio_folder_names(tmp_path, name, folder):
    got = studio_folder_name(name)
    if folder is None:
        assert got.startswith("studio-") and len(got) == len("studio-") + 10
    else:
        assert got == folder
    assert studio_dir(tmp_path, name).parent == tmp_path / "studios"


@pytest.mark.parametrize("bad", ["", "   ", "a\tb", "line\nbreak", "x" * 101])
def test_unusable_studio_names(bad):
    from calib.errors import ProfileError

    with pytest.raises(ProfileError, match="is not usable; give 1-100 printable characters"):
        valid_studio_name(bad)


def test_studio_nord_fingerprint_then_correct(run_cli, mixes, tmp_path):
    d, files = mixes
    ws = tmp_path / "ws"
    code, out, err = run_cli("mix", "fingerprint", "--studio", "Studio Nord", "-w", ws, "-j", "1", "--json", *files)
    assert code == 0, err
    fp = json.loads(out)
    assert fp["studio"] == "Studio Nord"  # the display name is kept
    assert set(fp) >= {"freqs_hz", "deviation_db", "confidence"}
    stored = ws / "studios" / "Studio-Nord" / "fingerprint.json"
    assert json.loads(stored.read_text())["studio"] == "Studio Nord"
    assert load_fingerprint(ws, "Studio Nord").studio == "Studio Nord"
    out_wav = tmp_path / "out.wav"
    code, out, err = run_cli("mix", "correct", "--studio", "Studio Nord", "-w", ws, "--json", files[0], out_wav)
    assert code == 0, err
    assert out_wav.is_file() and json.loads(out)["studio"] == "Studio Nord"
    # the human table prints names holding rich markup literally
    code, out, err = run_cli("mix", "fingerprint", "--studio", "Mix [final]/B", "-w", ws, "-j", "1", *files)
    assert code == 0, err
    assert "Room fingerprint of Mix [final]/B" in out


def test_two_studios_sharing_a_folder_name_never_overwrite(run_cli, mixes, tmp_path):
    d, files = mixes
    ws = tmp_path / "ws"
    assert run_cli("mix", "fingerprint", "--studio", "Ton+Art", "-w", ws, "-j", "1", *files)[0] == 0
    before = (ws / "studios" / "Ton-Art" / "fingerprint.json").read_text()
    # another spelling of the same name replaces it ...
    assert run_cli("mix", "fingerprint", "--studio", "ton art", "-w", ws, "-j", "1", *files)[0] == 0
    # ... a different name mapping to the same folder does not
    assert run_cli("mix", "fingerprint", "--studio", "Ton+Art", "-w", ws, "-j", "1", *files)[0] == 0
    code, out, err = run_cli("mix", "fingerprint", "--studio", "Ton-Art!", "-w", ws, "-j", "1", *files)
    assert code == 0  # "tonart" again: the same studio
    # "Студия A" keeps only "A" as a folder name, the same as studio "A"'s
    code, out, err = run_cli("mix", "fingerprint", "--studio", "Студия A", "-w", ws, "-j", "1", *files)
    assert code == 0, err
    other = (ws / "studios" / "A" / "fingerprint.json").read_text()
    code, out, err = run_cli("mix", "fingerprint", "--studio", "A", "-w", ws, "-j", "1", *files)
    assert code == 2 and "holds the fingerprint of studio 'Студия A'" in err and err.count("\n") == 1
    assert (ws / "studios" / "A" / "fingerprint.json").read_text() == other
    assert before  # the first file existed


def test_same_file_twice_is_refused(run_cli, mixes, tmp_path):
    d, files = mixes
    code, out, err = run_cli("mix", "fingerprint", "--studio", "A", "-w", tmp_path, files[0], files[1], files[0])
    assert code == 2 and "is given twice" in err and err.count("\n") == 1
    code, out, err = run_cli("mix", "fingerprint", "--studio", "A", "-w", tmp_path, files[0], files[1],
                             "--reference", files[1])
    assert code == 2 and "is given twice" in err
    assert not (tmp_path / "studios").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("analyze", "{m0}", "--out", "{tmp}"), "is a folder; give the file to write"),
        (("correct", "--studio", "S", "-w", "{ws}", "{m0}", "{tmp}"), "is a folder; give the WAV file"),
        (("correct", "--studio", "S", "-w", "{ws}", "{m0}", "{tmp}/o.wav", "--max-boost-db", "1e9"), "outside 0..24 dB"),
        (("correct", "--studio", "S", "-w", "{ws}", "{m0}", "{tmp}/o.wav", "--max-boost-db", "-1"), "outside 0..24 dB"),
        (("correct", "--studio", "S", "-w", "{ws}", "{m0}", "{tmp}/o.wav", "--max-cut-db", "nan"), "outside 0..40 dB"),
        (("analyze", "{ch3}"), "export the mix as stereo"),
        (("analyze", "{m0}", "{nan}"), "contains NaN or Inf samples"),  # one line: no progress bar residue
    ],
)
def test_hostile_mix_input_one_line_exit_2(run_cli, mixes, tmp_path, args, message):
    d, files = mixes
    ch3 = tmp_path / "ch3.wav"
    sf.write(str(ch3), np.full((FS, 3), 0.1), FS)
    nan = tmp_path / "nan.wav"
    x = np.full((FS, 2), 0.1)
    x[10, 0] = np.nan
    sf.write(str(nan), x, FS, subtype="FLOAT")
    fmt = {"m0": files[0], "tmp": tmp_path, "ws": d, "ch3": ch3, "nan": nan}
    code, out, err = run_cli("mix", *[a.format(**fmt) for a in args])
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o.wav").exists()


def test_correction_caps_are_checked_in_the_library():
    from calib.errors import SignalError
    from mixes.correct import band_gains_db
    from mixes.types import RoomFingerprint

    fp = RoomFingerprint(studio="s", freqs_hz=np.array([100.0, 1000.0]), deviation_db=np.zeros(2),
                         confidence=np.ones(2), spread_db=np.zeros(2), n_mixes=2, source="mixes", reference="t")
    with pytest.raises(SignalError, match="caps must lie in 0..24 dB"):
        band_gains_db(fp, max_boost_db=float("nan"))


@pytest.mark.parametrize(
    "text, message",
    [
        ('as_of = "2026"\n[[platform]]\nname = "X"\n', "must hold tables [platform.KEY]"),
        ('as_of = "2026"\nplatform = 3\n', "must hold tables [platform.KEY]"),
        ('as_of = "2026"\n[platform.x]\nname = "X"\ntarget_lufs = nan\nbehaviour = ""\nsource = ""\ntag = "U"\n',
         "platform.x.target_lufs must be a finite number"),
    ],
)
def test_platform_table_of_wrong_shape_is_one_line(run_cli, mixes, tmp_path, text, message):
    d, files = mixes
    t = tmp_path / "p.toml"
    t.write_text(text)
    code, out, err = run_cli("mix", "analyze", files[0], "--platforms", t)
    assert code == 2, err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_platform_table_folder_or_binary(run_cli, mixes, tmp_path):
    d, files = mixes
    code, out, err = run_cli("mix", "analyze", files[0], "--platforms", tmp_path)
    assert code == 2 and "is a folder; give the platform table's TOML file" in err
    code, out, err = run_cli("mix", "analyze", files[0], "--platforms", files[0])
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_correct_never_replaces_an_existing_file_without_force(run_cli, mixes, tmp_path):
    d, files = mixes
    ws = tmp_path / "ws"
    assert run_cli("mix", "fingerprint", "--studio", "S", "-w", ws, "-j", "1", *files)[0] == 0
    master = tmp_path / "master.wav"
    master.write_bytes(b"the only copy")
    code, out, err = run_cli("mix", "correct", "--studio", "S", "-w", ws, files[0], master)
    assert code == 2 and "exists; pass --force to replace it" in err and err.count("\n") == 1
    assert master.read_bytes() == b"the only copy"
    code, out, err = run_cli("mix", "correct", "--studio", "S", "-w", ws, "--force", "--json", files[0], master)
    assert code == 0, err
    y, fs = sf.read(str(master), always_2d=True)
    assert fs == FS and y.shape == (4 * FS, 2)


def test_batch_leaves_ctrl_c_to_the_parent(mixes):
    """Workers ignore SIGINT (the terminal sends it to the whole group; only the parent
    reports it), and the parent's own handler is back once the pool is running."""
    import signal

    from mixes.batch import _worker_start, analyze_many

    d, files = mixes
    before = signal.getsignal(signal.SIGINT)
    res = analyze_many(files[:2], jobs=2, checks=False)
    assert [r.file for r in res] == [str(f) for f in files[:2]]   # input order
    assert signal.getsignal(signal.SIGINT) is before
    try:
        _worker_start(False)   # the pool initializer (not forked: keeps sys.stdout)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
