"""Hostile real-world files through ``roomtruth mix ...`` (session 9, robust9).

Each case is either a correct result (with a note where the estimate is unsure) or one
``error:`` line and exit code 2 for a single file / an entry under ``failed`` in an album,
never a traceback, a numpy warning on stderr or a partial output file.  ``mixes/wavread.py``
is checked bit for bit against libsndfile on the odd WAV layouts it accepts.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
import soundfile as sf

FS = 48_000


def _music(fs=FS, seconds=2.0, ch=2, seed=9):
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs * seconds)) / fs
    x = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 440 * t) + 0.03 * rng.standard_normal(t.size)
    return np.stack([x * (1.0 - 0.05 * c) for c in range(ch)], axis=1)


def _write(path, x, fs=FS, subtype="PCM_24", fmt=None):
    sf.write(str(path), x, fs, subtype=subtype, format=fmt)
    return path


def _chunk(cid: bytes, data: bytes, size=None, pad=True) -> bytes:
    s = len(data) if size is None else size
    return cid + struct.pack("<I", s) + data + (b"\0" if pad and len(data) % 2 else b"")


def _fmt(tag, ch, fs, bits, ext=None) -> bytes:
    align = ch * bits // 8
    f = struct.pack("<HHIIHH", tag if ext is None else 0xFFFE, ch, fs, fs * align, align, bits)
    if ext is not None:
        valid, mask, sub = ext
        f += struct.pack("<HHI", 22, valid, mask) + struct.pack("<H", sub) + \
            b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return _chunk(b"fmt ", f)


def _riff(chunks, riff_size=None) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def _pcm16(x) -> bytes:
    return (np.clip(x, -1, 1 - 1 / 32768) * 32768).round().astype("<i2").tobytes()


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "Warning" not in err and "internal error" not in err
    return lines[0]


# --- sample rates below the balance's vocal band ---------------------------------------------

def test_8khz_mix_is_analysed_without_the_balance(run_cli, tmp_path):
    """At 8 kHz the vocal band (to 5 kHz) is above Nyquist: was an internal error (a matmul
    shape mismatch in the balance's frame pass), now the other figures with a note."""
    f = _write(tmp_path / "phone.wav", _music(fs=8000), fs=8000)
    code, out, err = run_cli("mix", "analyze", f, "--json")
    assert code == 0, err
    m = json.loads(out)["mixes"][0]
    assert m["fs"] == 8000 and m["balance"] is None
    assert m["integrated_lufs"] == pytest.approx(-14.1, abs=0.5)
    assert any("balance is not measured" in w for w in m["warnings"])
    # as the reference of a 48 kHz mix: was the same internal error, now one line (its
    # spectrum stops at 4 kHz, the mix's bands go to 20 kHz)
    g = _write(tmp_path / "mix.wav", _music())
    code, out, err = run_cli("mix", "analyze", g, "--reference", f, "--json")
    assert code == 2 and out == "" and "different bands" in _one_error_line(err)


# --- floating-point files with values no mix holds -------------------------------------------

def test_float_file_at_integer_scale_is_refused(run_cli, tmp_path):
    """Integer sample values stored as float (peaks near 32767, +90 dBFS) were measured as a
    +75 LUFS master; values near 1e30 overflowed into a 'silent' file with 16 numpy warnings."""
    f = _write(tmp_path / "intscale.wav", (_music() * 32767).astype(np.float32), subtype="FLOAT")
    code, out, err = run_cli("mix", "analyze", f, "--json")
    line = _one_error_line(err)
    assert code == 2 and out == "" and "wrong scale" in line and "dBFS (" in line
    g = _write(tmp_path / "absurd.wav", (_music() * 1e30).astype(np.float32), subtype="FLOAT")
    code, out, err = run_cli("mix", "analyze", g, "--json")
    assert code == 2 and "wrong scale" in _one_error_line(err)


def test_hot_float_mix_is_measured_as_it_is(run_cli, tmp_path):
    """A float mix 18 dB over full scale is a real (if bad) master: measured, overs reported."""
    f = _write(tmp_path / "hot.wav", (_music() * 8).astype(np.float32), subtype="FLOAT")
    code, out, err = run_cli("mix", "analyze", f, "--json")
    assert code == 0, err
    m = json.loads(out)["mixes"][0]
    assert m["true_peak_dbtp"] > 9.0 and len(m["overs"]) > 100


def test_double_beyond_float_range_is_one_line(run_cli, tmp_path):
    f = _write(tmp_path / "d.wav", _music() * 1e300, subtype="DOUBLE")
    code, out, err = run_cli("mix", "analyze", f)
    assert code == 2 and "beyond the float range" in _one_error_line(err)


# --- messages --------------------------------------------------------------------------------

def test_unreadable_file_message_has_no_bytes_repr(run_cli, tmp_path):
    f = tmp_path / "notes.wav"
    f.write_text("not audio\n" * 50)
    code, _, err = run_cli("mix", "analyze", f)
    line = _one_error_line(err)
    assert code == 2 and "not a readable audio file: Format not recognised" in line
    assert "Error opening" not in line and "b'" not in line


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_in_album(run_cli, tmp_path):
    d = tmp_path / "album"
    d.mkdir()
    _write(d / "01.wav", _music())
    bad = _write(d / "02.wav", _music())
    bad.chmod(0)
    code, out, err = run_cli("mix", "analyze", d, "--json", "-j", "1")
    res = json.loads(out)
    assert code == 2 and len(res["mixes"]) == 1
    assert "permission denied" in res["failed"][0]["error"]


# --- an album folder as it comes off a disk --------------------------------------------------

def test_album_folder_with_links_and_mac_forks(run_cli, tmp_path):
    """A '._01.wav' AppleDouble fork is not a track (it failed the album); a dangling or looping
    link named like a track is a failed track with its reason (it was left out silently)."""
    d = tmp_path / "album"
    d.mkdir()
    _write(d / "01 intro ü.wav", _music())
    (d / "._01 intro ü.wav").write_bytes(b"\x00\x05\x16\x07" + bytes(4092))
    (d / "02-gone.wav").symlink_to("nowhere.wav")
    (d / "03-loop.wav").symlink_to("03-loop.wav")
    (d / "sub.wav").mkdir()
    _write(d / "04.flac", _music(), fmt="FLAC")
    code, out, err = run_cli("mix", "analyze", d, "--json", "-j", "1")
    res = json.loads(out)
    assert code == 2
    assert [os.path.basename(m["file"]) for m in res["mixes"]] == ["01 intro ü.wav", "04.flac"]
    why = {os.path.basename(f["file"]): f["error"] for f in res["failed"]}
    assert set(why) == {"02-gone.wav", "03-loop.wav"}
    assert "link to nowhere.wav, which does not exist" in why["02-gone.wav"]
    assert "loops" in why["03-loop.wav"]
    assert err.count("error: ") == 2 and "Traceback" not in err
    # given directly: the same sentence, one line
    code, _, err = run_cli("mix", "analyze", d / "03-loop.wav")
    assert code == 2 and "loops" in _one_error_line(err)


# --- memory ----------------------------------------------------------------------------------

def test_file_too_big_for_memory_is_refused_before_reading(run_cli, tmp_path, monkeypatch):
    import mixes.analysis as an

    f = _write(tmp_path / "long.wav", _music())
    monkeypatch.setattr(an, "_MEM_BASE", 5e9)            # as if the file needed 5 GB
    monkeypatch.setattr(an, "_mem_available", lambda: 2e9)
    code, out, err = run_cli("mix", "analyze", f, "--json")
    line = _one_error_line(err)
    assert code == 2 and out == "" and "needs about 5.0 GB of memory and 2.0 GB is available" in line


def test_memory_error_is_one_line(run_cli, tmp_path, monkeypatch):
    import mixes.analysis as an

    f = _write(tmp_path / "m.wav", _music())

    def boom(*a, **k):
        raise MemoryError

    monkeypatch.setattr(an, "_plan", boom)
    code, _, err = run_cli("mix", "analyze", f)
    assert code == 2 and "ran out of memory" in _one_error_line(err)


# --- the client store ------------------------------------------------------------------------

def test_file_given_twice_is_stored_once(run_cli, tmp_path):
    f = _write(tmp_path / "a.wav", _music())
    ws = tmp_path / "ws"
    code, _, err = run_cli("mix", "analyze", f, f, "--client", "Twice", "-w", ws, "--json", "-j", "1")
    assert code == 0 and "stored 1 mix for client Twice" in err
    assert len(list((ws / "clients" / "Twice" / "mixes").glob("*.json"))) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_workspace_is_refused_before_the_album(run_cli, tmp_path):
    f = _write(tmp_path / "a.wav", _music())
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code, out, err = run_cli("mix", "analyze", f, "--client", "X", "-w", ro / "ws", "--json")
    assert code == 2 and out == "" and "no permission to write" in _one_error_line(err)


# --- wavread against libsndfile --------------------------------------------------------------

def _odd_wavs(d):
    m = _music(seconds=0.5)
    d16 = _pcm16(m)
    f = _fmt(1, 2, FS, 16)
    files = {
        "list_bext_ixml": _riff([_chunk(b"bext", bytes(602)), f, _chunk(b"LIST", b"INFOINAM\x05\x00\x00\x00Song\x00\x00"),
                                 _chunk(b"iXML", b"<BWFXML></BWFXML>"), _chunk(b"data", d16)]),
        "odd_chunk_padded": _riff([f, _chunk(b"junk", b"abc"), _chunk(b"data", d16)]),
        "data_not_aligned": _riff([f, _chunk(b"data", d16[:-2])]),
        "data_size_odd": _riff([f, _chunk(b"data", d16, size=len(d16) - 1)]),
        "riff_size_wrong": _riff([f, _chunk(b"data", d16)], riff_size=100),
        "riff_size_huge": _riff([f, _chunk(b"data", d16)], riff_size=0x7FFFFFF0),
        "trailing_junk": _riff([f, _chunk(b"data", d16)]) + b"garbage!" * 50,
        "fmt_18": _riff([_chunk(b"fmt ", struct.pack("<HHIIHHH", 1, 2, FS, 4 * FS, 4, 16, 0)), _chunk(b"data", d16)]),
        "fact_in_pcm": _riff([f, _chunk(b"fact", struct.pack("<I", 5)), _chunk(b"data", d16)]),
        "ext_pcm16_mask0": _riff([_fmt(1, 2, FS, 16, ext=(16, 0, 1)), _chunk(b"data", d16)]),
        "ext_float": _riff([_fmt(3, 2, FS, 32, ext=(32, 3, 3)), _chunk(b"data", m.astype("<f4").tobytes())]),
        "ext_51": _riff([_fmt(1, 6, FS, 16, ext=(16, 0x3F, 1)), _chunk(b"data", _pcm16(_music(seconds=0.5, ch=6)))]),
        "ext_24_valid20": _riff([_fmt(1, 2, FS, 24, ext=(20, 3, 1)), _chunk(
            b"data", (np.clip(m, -1, 1 - 2 ** -23) * 2 ** 23).round().astype("<i4").view("u1").reshape(-1, 4)[:, :3].tobytes())]),
    }
    out = {}
    for name, b in files.items():
        (d / f"{name}.wav").write_bytes(b)
        out[name] = d / f"{name}.wav"
    for name, sub, fmt in (("i24", "PCM_24", None), ("i32", "PCM_32", None), ("f32", "FLOAT", None),
                           ("u8", "PCM_U8", None), ("f64", "DOUBLE", None), ("wavex24", "PCM_24", "WAVEX"),
                           ("rf64", "PCM_24", "RF64"), ("mono16", "PCM_16", None)):
        x = m[:, :1] if name == "mono16" else m
        out[name] = _write(d / f"{name}.wav", x, subtype=sub, fmt=fmt)
    return out


def test_wavread_is_libsndfile_on_odd_wavs(tmp_path):
    from mixes.wavread import pcm_layout, read_into

    taken = set()
    for name, path in _odd_wavs(tmp_path).items():
        info = sf.info(str(path))
        lay = pcm_layout(str(path), n_channels=info.channels, n_frames=info.frames)
        if lay is None:
            continue
        taken.add(name)
        ref = sf.read(str(path), dtype="float32", always_2d=True)[0].T
        x = np.full((info.channels, info.frames), 7.0, dtype=np.float32)
        got = read_into(str(path), lay, x, block_frames=1000, on_block=lambda a, b: None)
        assert got == ref.shape[1] and np.array_equal(x, ref), name
    # what it must take (plain layouts) and what it must leave to libsndfile
    assert {"list_bext_ixml", "odd_chunk_padded", "data_not_aligned", "data_size_odd", "riff_size_wrong",
            "riff_size_huge", "trailing_junk", "fmt_18", "fact_in_pcm", "ext_pcm16_mask0", "ext_float",
            "ext_51", "i24", "i32", "f32", "wavex24", "mono16"} <= taken
    assert not taken & {"ext_24_valid20", "u8", "f64", "rf64"}


@pytest.mark.parametrize("name", ["u8", "f64", "rf64", "ext_24_valid20", "data_not_aligned", "list_bext_ixml"])
def test_odd_wavs_analyse_alike(run_cli, tmp_path, name):
    """Every odd layout gives the loudness of the plain 24-bit file (within the format's own
    rounding: 8 bits +-0.1 LU)."""
    files = _odd_wavs(tmp_path)
    code, out, err = run_cli("mix", "analyze", files[name], files["i24"], "--json", "-j", "1")
    assert code == 0, err
    a, b = json.loads(out)["mixes"]
    assert a["integrated_lufs"] == pytest.approx(b["integrated_lufs"], abs=0.1)


# --- never lose the master -------------------------------------------------------------------

def test_out_never_overwrites_a_mix(run_cli, tmp_path):
    """``--out song.wav`` wrote the JSON over the master (exit 0); now refused, nothing written."""
    f = _write(tmp_path / "song.wav", _music())
    before = f.read_bytes()
    (tmp_path / "other.wav").hardlink_to(f)
    for out, fmt in ((f, "--json"), (tmp_path / "other.wav", "--csv"), (tmp_path / "new.wav", "--json")):
        code, so, err = run_cli("mix", "analyze", f, "--out", out, fmt)
        assert code == 2 and so == "" and "--out" in _one_error_line(err)
    assert f.read_bytes() == before and not (tmp_path / "new.wav").exists()
    code, _, err = run_cli("mix", "correct", "--studio", "S", "-w", tmp_path, f, tmp_path / "other.wav", "--force")
    assert code == 2 and "is the input" in _one_error_line(err) and f.read_bytes() == before


def test_correct_refuses_a_non_wav_output_name(run_cli, tmp_path):
    """The corrected mix is always WAV: 'OUT.flac' wrote a RIFF/WAVE file named .flac."""
    f = _write(tmp_path / "song.wav", _music())
    code, so, err = run_cli("mix", "correct", "--studio", "S", "-w", tmp_path, f, tmp_path / "out.flac")
    assert code == 2 and "written as WAV" in _one_error_line(err) and not (tmp_path / "out.flac").exists()


# --- a download cut off, in the other containers ---------------------------------------------

@pytest.mark.parametrize("fmt,subtype,suffix", [("AIFF", "PCM_24", ".aiff"), ("AIFF", "FLOAT", ".aif"),
                                                ("AIFF", "PCM_S8", ".aiff"), ("AIFF", "ULAW", ".aifc"),
                                                ("RF64", "PCM_24", ".wav"), ("RF64", "FLOAT", ".wav"),
                                                ("W64", "PCM_16", ".w64"), ("W64", "PCM_24", ".w64")])
def test_cut_aiff_rf64_w64_is_refused_whole_is_read(tmp_path, fmt, subtype, suffix):
    """libsndfile read the first half of an AIFF/RF64/W64 cut in half as a shorter mix; the
    header's own frame count now says it is truncated (the WAV rule of calib.audio_io)."""
    from calib.errors import SignalError
    from mixes.analysis import read_mix

    whole = _write(tmp_path / f"whole{suffix}", _music(seconds=1.0, ch=2 if "16" not in subtype else 1),
                   subtype=subtype, fmt=fmt)
    x, fs = read_mix(whole)
    assert fs == FS and x.shape[1] == FS
    cut = tmp_path / f"cut{suffix}"
    b = whole.read_bytes()
    cut.write_bytes(b[: len(b) * 2 // 3])
    with pytest.raises(SignalError, match=r"is truncated: its header announces 1\.000 s"):
        read_mix(cut)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_is_refused_not_waited_on(run_cli, tmp_path):
    """A FIFO named .wav (alone or in an album) blocked the open for ever."""
    d = tmp_path / "album"
    d.mkdir()
    _write(d / "01.wav", _music())
    os.mkfifo(d / "02.wav")
    code, _, err = run_cli("mix", "analyze", d / "02.wav")
    assert code == 2 and "not a regular file" in _one_error_line(err)
    code, out, err = run_cli("mix", "analyze", d, "--json", "-j", "1")
    res = json.loads(out)
    assert code == 2 and len(res["mixes"]) == 1 and "not a regular file" in res["failed"][0]["error"]
