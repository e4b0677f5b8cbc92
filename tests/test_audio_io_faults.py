"""Audio files that hold MPEG audio (MP3), e.g. a lossy file renamed or wrapped as .wav.

libsndfile hands such data to mpg123, whose notes about damaged frames ("Note: Illegal
Audio-MPEG-Header 0x... at offset ...", "Note: Trying to resync...") go straight to file
descriptor 2, beside roomtruth's one-line error.  The readers now look at the header first
(calib.audio_io.mpeg_audio_kind) and refuse MPEG audio with exactly one line.

The files are built byte by byte: MPEG-1 Layer III frame headers (ISO/IEC 11172-3:
FF FB 90 00 = sync, MPEG-1, Layer III, no CRC, 128 kbit/s, 44.1 kHz, 417-byte frames) with
zero payload, and a stretch of invalid headers in the middle that makes mpg123 resync.
"""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from calib.audio_io import mpeg_audio_kind, read_audio, refuse_mpeg_audio
from calib.errors import SignalError

FS = 44_100
FRAME = b"\xff\xfb\x90\x00" + bytes(413)      # one 417-byte MPEG-1 Layer III frame (silent payload)


def _mp3_stream(n_frames: int = 40, damaged: bool = True) -> bytes:
    data = FRAME * n_frames
    if damaged:   # 200 bytes of headers with a reserved layer field: mpg123 must skip them
        data = data[:1000] + b"\xff\xf9\x00\x11" * 50 + data[1000:]
    return data


def _wave(fmt: bytes, data: bytes, riff: bytes = b"RIFF", pre_chunks: bytes = b"") -> bytes:
    body = b"WAVE" + pre_chunks + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return riff + struct.pack("<I", len(body)) + body


def _mp3_fmt(tag: int = 0x0055) -> bytes:
    """WAVEFORMATEX + MPEGLAYER3WAVEFORMAT extra bytes (ID, flags, block size, frames, delay)."""
    return struct.pack("<HHIIHHH", tag, 2, FS, 16_000, 1, 0, 12) + struct.pack("<HIHHH", 1, 2, 417, 1, 1393)


def _extensible_fmt(sub_tag: int) -> bytes:
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return (struct.pack("<HHIIHHH", 0xFFFE, 2, FS, 4 * FS, 4, 16, 22) + struct.pack("<HI", 16, 3)
            + struct.pack("<H", sub_tag) + guid_tail)


@pytest.fixture
def mp3_in_wave(tmp_path):
    p = tmp_path / "master.wav"
    p.write_bytes(_wave(_mp3_fmt(), _mp3_stream()))
    return p


def _run(*args: str):
    return subprocess.run([sys.executable, "-m", "roomtruth", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_libsndfile_itself_would_print_to_stderr(mp3_in_wave):
    """The hazard being guarded against, shown on this very file (skipped when this
    libsndfile build has no MPEG decoder: then it simply refuses the file)."""
    code = f"import soundfile as sf; sf.read({str(mp3_in_wave)!r})"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) does not decode MPEG")
    assert "Illegal Audio-MPEG-Header" in p.stderr


@pytest.mark.parametrize("command", [("mix", "analyze"), ("analyze",)])   # mixes reader, calib reader
def test_cli_says_one_line(mp3_in_wave, command):
    p = _run(*command, mp3_in_wave)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
    assert f"{mp3_in_wave} holds MP3 (MPEG Layer III) data in a RIFF/WAVE container although it is named .wav" in p.stderr
    assert "ffmpeg" in p.stderr and "Note:" not in p.stderr and p.stdout == ""


def test_monitor_render_says_one_line(tmp_path, mp3_in_wave):
    fir = tmp_path / "fir.wav"
    sf.write(fir, np.r_[1.0, np.zeros(63)].astype(np.float32), 48000)
    p = _run("monitor", "render", "--fir", fir, mp3_in_wave, tmp_path / "out.wav")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "MP3" in p.stderr and "Note:" not in p.stderr
    assert not (tmp_path / "out.wav").exists()


def test_album_with_a_disguised_mp3_one_line_from_the_workers(tmp_path, mp3_in_wave):
    """In a batch the files are read in worker processes sharing stderr: still one line per bad file."""
    d = tmp_path / "album"
    d.mkdir()
    n = np.arange(2 * FS)
    x = 0.1 * np.sin(2 * np.pi * 997 * n / FS)
    sf.write(str(d / "01-good.wav"), np.stack([x, x], axis=1), FS, subtype="PCM_24")
    (d / "02-mp3.wav").write_bytes(mp3_in_wave.read_bytes())
    (d / "03-raw.wav").write_bytes(_mp3_stream())
    p = _run("mix", "analyze", "--json", "--jobs", "2", d)
    assert p.returncode == 2 and "Note:" not in p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("error: ") for ln in lines)
    assert "02-mp3.wav holds MP3" in lines[0] and "03-raw.wav holds MPEG audio (MP3) data" in lines[1]
    import json

    good = json.loads(p.stdout)["mixes"]
    # the good track still analysed: 997 Hz stereo sine of peak 0.1 reads 20 lg 0.1 = -20 LUFS (within 0.05 LU)
    assert len(good) == 1 and good[0]["integrated_lufs"] == pytest.approx(-20.0, abs=0.05)


@pytest.mark.parametrize(
    "make, kind",
    [
        (lambda: _wave(_mp3_fmt(), _mp3_stream(damaged=False)), "MP3 (MPEG Layer III) data in a RIFF/WAVE container"),
        (lambda: _wave(_mp3_fmt(0x0050), _mp3_stream()), "MPEG audio data in a RIFF/WAVE container"),
        (lambda: _wave(_extensible_fmt(0x0055), _mp3_stream()), "MP3 (MPEG Layer III) data in a RIFF/WAVE container"),
        # a JUNK chunk before fmt (as many recorders write), RF64 container
        (lambda: _wave(_mp3_fmt(), _mp3_stream(), pre_chunks=b"JUNK" + struct.pack("<I", 27) + bytes(28)),
         "MP3 (MPEG Layer III) data in a RIFF/WAVE container"),
        (lambda: _wave(_mp3_fmt(), _mp3_stream(), riff=b"RF64"), "MP3 (MPEG Layer III) data in a RIFF/WAVE container"),
        (lambda: _mp3_stream(), "MPEG audio (MP3) data"),
        # ID3v2.4 tag of 100 bytes (syncsafe size 0x00 0x00 0x00 0x64) before the frames
        (lambda: b"ID3\x04\x00\x00\x00\x00\x00\x64" + bytes(100) + _mp3_stream(), "MPEG audio (MP3) data behind an ID3 tag"),
    ],
    ids=["mp3-tag", "mpeg-tag", "extensible", "junk-first", "rf64", "raw", "id3"],
)
def test_mpeg_is_recognised(tmp_path, make, kind):
    p = tmp_path / "x.wav"
    p.write_bytes(make())
    assert mpeg_audio_kind(p) == kind
    with pytest.raises(SignalError, match=r"x\.wav holds .*although it is named \.wav: roomtruth reads"):
        read_audio(p)


def test_a_file_named_mp3_is_refused_without_the_rename_remark(tmp_path):
    p = tmp_path / "song.mp3"
    p.write_bytes(_mp3_stream())
    with pytest.raises(SignalError, match=r"song\.mp3 holds MPEG audio \(MP3\) data: roomtruth reads") as exc:
        refuse_mpeg_audio(p)
    assert "although it is named" not in str(exc.value)


@pytest.mark.parametrize(
    "make",
    [
        # PCM tag decides, whatever the samples look like (data starting FF FB 90 00)
        lambda p: p.write_bytes(_wave(struct.pack("<HHIIHH", 1, 2, FS, 4 * FS, 4, 16), _mp3_stream())),
        lambda p: p.write_bytes(_wave(_extensible_fmt(0x0003), bytes(800))),        # float, extensible
        lambda p: sf.write(str(p), np.zeros((100, 2)), FS, subtype="FLOAT", format="WAV"),
        lambda p: sf.write(str(p), np.zeros((100, 1)), FS, format="FLAC"),
        lambda p: sf.write(str(p), np.zeros((100, 1)), FS, format="AIFF"),
        lambda p: p.write_bytes(b"\xff\xff\xff\xff" + bytes(100)),      # sync, but bitrate index 15 (invalid)
        lambda p: p.write_bytes(b"\xff\xfb\x90"),                       # too short for a header
        lambda p: p.write_bytes(b"RIFF\x04\x00\x00\x00WAVE"),           # no chunks at all
        lambda p: p.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x64"),    # a tag and nothing else
        lambda p: p.write_text("mix notes\n"),
    ],
    ids=["pcm-tag", "float-extensible", "float-wav", "flac", "aiff", "bad-bitrate", "short", "empty-riff",
         "id3-only", "text"],
)
def test_other_files_are_not_taken_for_mpeg(tmp_path, make):
    p = tmp_path / "x.wav"
    make(p)
    assert mpeg_audio_kind(p) is None
    refuse_mpeg_audio(p)     # no error: whatever is wrong with it is the reader's to say


def test_unreadable_path_is_left_to_the_reader(tmp_path):
    assert mpeg_audio_kind(tmp_path / "missing.wav") is None
    assert mpeg_audio_kind(tmp_path) is None                 # a folder
    with pytest.raises(SignalError, match="no such file"):
        read_audio(tmp_path / "missing.wav")


@pytest.mark.parametrize("fmt,ext", [("AIFF", "aiff"), ("RF64", "wav"), ("W64", "w64")])
def test_every_reader_refuses_a_cut_aiff_rf64_w64(tmp_path, fmt, ext):
    """A download cut half-way is refused by the common reader (not only the mix side): libsndfile
    would read what is there as a shorter file.  The whole file still reads, to the sample."""
    fs = 48_000
    x = (np.sin(2 * np.pi * 997 * np.arange(3 * fs) / fs) * 0.5).astype(np.float32)
    whole = tmp_path / f"whole.{ext}"
    sf.write(whole, np.stack([x, x], 1), fs, format=fmt, subtype="PCM_24")
    data, fs_read = read_audio(whole)
    assert fs_read == fs and data.shape == (2, 3 * fs)
    cut = tmp_path / f"cut.{ext}"
    raw = whole.read_bytes()
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SignalError, match=r"is truncated: its header announces 3\.000 s of audio but the file holds only 1\.\d+ s"):
        read_audio(cut)
