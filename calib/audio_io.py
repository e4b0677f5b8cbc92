"""Reading and writing audio and text files safely.

Every reader checks its input and raises :class:`~calib.errors.SignalError` with one clear
sentence (missing file, not audio, empty, NaN/Inf).  MPEG audio (MP3, also inside a RIFF/WAVE
container or behind an ID3 tag) is refused before libsndfile sees it (:func:`refuse_mpeg_audio`):
its MPEG decoder prints notes about damaged frames straight to the process's stderr, and a
lossy decode is not the master a measurement or mastering check is about.

Every writer is atomic: it writes a temporary file in the destination folder and renames it,
so a reader never sees half a file and an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from calib.errors import SignalError, StorageError

__all__ = [
    "read_audio",
    "open_sound_file",
    "wav_frames_declared",
    "refuse_truncated_wav",
    "other_frames_declared",
    "sf_name",
    "mpeg_audio_kind",
    "refuse_mpeg_audio",
    "read_raw_float32",
    "write_wav_atomic",
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_directory",
    "directory_debris",
    "clean_directory_debris",
]


def _check_finite(data: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(data)
    if bad.any():
        ch, idx = np.argwhere(bad)[0]
        raise SignalError(
            f"{path} contains NaN or Inf samples (first at channel {ch + 1}, sample {idx}); "
            "the file is damaged"
        )


# RIFF/WAVE format tags whose data libsndfile hands to its MPEG decoder (mpg123)
_MPEG_WAVE_TAGS = {0x0050: "MPEG audio", 0x0055: "MP3 (MPEG Layer III)"}
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def _is_mpeg_frame_header(b: bytes) -> bool:
    """ISO/IEC 11172-3 / 13818-3 frame header: 11-bit sync, valid version, layer, bitrate and
    sample-rate indices (4 bytes)."""
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return False
    version, layer = (b[1] >> 3) & 0x3, (b[1] >> 1) & 0x3
    bitrate, rate = b[2] >> 4, (b[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def mpeg_audio_kind(path: str | os.PathLike[str]) -> str | None:
    """Whether a file holds MPEG audio that libsndfile would decode with mpg123.

    Looks at the first bytes only (no decoding): an ID3v2 tag is skipped (10-byte header,
    syncsafe size, optional 10-byte footer); then a RIFF/RF64 ``WAVE`` file is MPEG when its
    ``fmt`` chunk's format tag (or the extensible sub-format's) is 0x0050 or 0x0055, and any
    other file when it starts with an MPEG audio frame header.

    Returns
    -------
    str or None
        What was found, e.g. ``"MP3 (MPEG Layer III) data in a RIFF/WAVE container"``, or None
        (not MPEG, or not readable: the reader names that problem itself).
    """
    try:
        with open(path, "rb") as fh:
            pos, tagged = 0, False
            for _ in range(4):                                   # ID3v2 tags, possibly repeated
                fh.seek(pos)
                head = fh.read(12)
                if len(head) < 10 or head[:3] != b"ID3" or any(c & 0x80 for c in head[6:10]):
                    break
                size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
                pos += 10 + size + (10 if head[5] & 0x10 else 0)
                tagged = True
            if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
                return _mpeg_in_wave(fh, pos + 12)
            if _is_mpeg_frame_header(head[:4]):
                return "MPEG audio (MP3) data" + (" behind an ID3 tag" if tagged else "")
    except OSError:
        return None
    return None


def _mpeg_in_wave(fh: Any, pos: int) -> str | None:
    """The MPEG kind of a RIFF/WAVE file's ``fmt`` chunk at or after ``pos`` (None: not MPEG)."""
    for _ in range(64):                  # chunks before 'fmt ': JUNK, ds64, bext, LIST, ...
        fh.seek(pos)
        hdr = fh.read(8)
        if len(hdr) < 8:
            return None
        size = int.from_bytes(hdr[4:], "little")
        if hdr[:4] == b"fmt ":
            fmt = fh.read(min(size, 40))
            if len(fmt) < 2:
                return None
            tag = int.from_bytes(fmt[:2], "little")
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
                tag = int.from_bytes(fmt[24:26], "little")          # the sub-format GUID's tag
            kind = _MPEG_WAVE_TAGS.get(tag)
            return None if kind is None else f"{kind} data in a RIFF/WAVE container"
        if hdr[:4] == b"data":
            return None
        pos += 8 + size + (size & 1)
    return None


def refuse_mpeg_audio(path: str | os.PathLike[str]) -> None:
    """Raise a one-line :class:`SignalError` when ``path`` holds MPEG audio (see :func:`mpeg_audio_kind`).

    Called before a file is handed to libsndfile, whose MPEG decoder would print
    "Note: Illegal Audio-MPEG-Header ..." lines to stderr (C level, beside our own error line)
    for a damaged stream.  The file is refused even when intact: an MP3 (often one renamed or
    wrapped as .wav) is a lossy decode, not the audio the measurement or master was made of.

    Raises
    ------
    SignalError
        The file holds MPEG audio.
    """
    kind = mpeg_audio_kind(path)
    if kind is None:
        return
    p = Path(path)
    named = f" although it is named {p.suffix}" if p.suffix.lower() not in ("", ".mp3", ".mp2", ".mpga") else ""
    raise SignalError(
        f"{p} holds {kind}{named}: roomtruth reads uncompressed or lossless audio (WAV, FLAC, AIFF), "
        f"not a lossy decode; export the original as WAV or FLAC (or decode it, e.g. ffmpeg -i IN.mp3 OUT.wav)")


def sf_name(path: str | os.PathLike[str]) -> bytes:
    """The file name as bytes for libsndfile.

    File names are bytes on Linux; one that is not valid UTF-8 reaches Python as a str with
    surrogate escapes, which soundfile cannot encode ("surrogates not allowed").  The bytes
    always work.
    """
    return os.fsencode(os.fspath(path))


def wav_frames_declared(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(frames the header announces, frames the file holds)`` of a RIFF/WAVE file whose
    ``data`` chunk is shorter than its header says, else ``None``.

    libsndfile quietly reads what is there, so a copy cut short would be measured, analysed or
    rendered as a shorter file.  Only plain RIFF/WAVE is checked (RF64/W64 keep sizes
    elsewhere), and a size of 0 or 0xFFFFFFFF (the placeholder of a recorder that never
    finished its header) is not taken as a promise.
    """
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = 0
            pos = 12
            for _ in range(64):                 # chunks before 'data': fmt, fact, LIST, bext, ...
                fh.seek(pos)
                hdr = fh.read(8)
                if len(hdr) < 8:
                    return None
                cid, csize = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                if cid == b"fmt " and csize >= 14:
                    fmt = fh.read(14)
                    if len(fmt) < 14:
                        return None             # libsndfile names what is wrong with the header
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                elif cid == b"data":
                    if csize in (0, 0xFFFFFFFF) or block_align <= 0:
                        return None
                    held = size - (pos + 8)
                    if held >= csize:
                        return None
                    return csize // block_align, max(held, 0) // block_align
                pos += 8 + csize + (csize & 1)
    except OSError:
        return None
    return None


def other_frames_declared(path: str | os.PathLike[str] | bytes) -> int | None:
    """Frames the header of an AIFF/AIFC, RF64 or W64 file announces (None: not one of those,
    or no usable figure).  libsndfile reads what is there of such a file cut short quietly (a
    master downloaded half-way measured as a 1.5-s mix of a 3-s one); :func:`wav_frames_declared`
    covers RIFF/WAVE."""
    unset = (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12:
                return None
            if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                pos = 12
                for _ in range(64):
                    fh.seek(pos)
                    hdr = fh.read(8)
                    if len(hdr) < 8:
                        return None
                    size = struct.unpack(">I", hdr[4:])[0]
                    if hdr[:4] == b"COMM":
                        body = fh.read(6)
                        return struct.unpack(">I", body[2:6])[0] if len(body) == 6 else None
                    pos += 8 + size + (size & 1)
                return None
            if head[:4] in (b"RF64", b"BW64") and head[8:12] == b"WAVE":
                hdr = fh.read(36)
                if len(hdr) < 36 or hdr[:4] != b"ds64":
                    return None
                data_size, count = struct.unpack("<QQ", hdr[16:32])
                if count not in unset:
                    return count
                pos, align = 12 + 8 + struct.unpack("<I", hdr[4:8])[0], 0
                for _ in range(64):
                    fh.seek(pos)
                    ch = fh.read(8)
                    if len(ch) < 8:
                        return None
                    size = struct.unpack("<I", ch[4:])[0]
                    if ch[:4] == b"fmt ":
                        fmt = fh.read(14)
                        align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) == 14 else 0
                    elif ch[:4] == b"data":
                        return data_size // align if align and data_size not in unset else None
                    pos += 8 + size + (size & 1)
                return None
            if head[:4] == b"riff":                      # Sony Wave64: 16-byte GUIDs, 8-byte sizes
                pos, align = 40, 0
                for _ in range(64):
                    fh.seek(pos)
                    ch = fh.read(24)
                    if len(ch) < 24:
                        return None
                    size = struct.unpack("<Q", ch[16:24])[0]
                    if ch[:4] == b"fmt ":
                        fmt = fh.read(14)
                        align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) == 14 else 0
                    elif ch[:4] == b"data":
                        return (size - 24) // align if align and size not in unset and size > 24 else None
                    if size < 24:
                        return None
                    pos += (size + 7) & ~7
                return None
    except (OSError, struct.error):
        return None
    return None


def refuse_truncated_wav(path: str | os.PathLike[str] | bytes, *, fs: int | None = None,
                         frames_held: int | None = None, shown: object = None) -> None:
    """Raise a one-line :class:`SignalError` when a WAV, AIFF/AIFC, RF64/BW64 or W64 file holds
    less audio than its header announces (:func:`wav_frames_declared`,
    :func:`other_frames_declared`): the one reader rule of every command.

    Parameters
    ----------
    fs : int, optional
        Sample rate (Hz), to say the lengths in seconds; frames otherwise.
    frames_held : int, optional
        The frames libsndfile reads from the file (asked of it when not given), for the formats
        other than RIFF/WAVE.
    shown : optional
        How to name the file in the message (default: ``path``).
    """
    cut = wav_frames_declared(path)
    if cut is None:
        declared = other_frames_declared(path)
        if declared is None:
            return
        if frames_held is None:
            import soundfile as sf

            try:
                frames_held = int(sf.info(path if not isinstance(path, bytes) else os.fsdecode(path)).frames)
            except Exception:                   # noqa: BLE001 - the reader names what is wrong
                return
        if declared <= frames_held:
            return
        cut = (declared, frames_held)
    path = shown if shown is not None else (os.fsdecode(path) if isinstance(path, bytes) else path)
    if fs:
        said, held = f"{cut[0] / fs:.3f} s", f"{cut[1] / fs:.3f} s"
    else:
        said, held = f"{cut[0]} frames", f"{cut[1]} frames"
    raise SignalError(f"{Path(path)} is truncated: its header announces {said} of audio but the file holds "
                      f"only {held}; export or copy it again")


def open_sound_file(path: str | os.PathLike[str]) -> "sf.SoundFile":
    """Open an audio file for block reading with the checks of :func:`read_audio` (exists, not a
    folder, not MPEG, readable, not empty, not truncated).  The caller closes it.

    Raises
    ------
    SignalError
    """
    p = Path(path)
    if not p.exists():
        raise SignalError(f"{p}: no such file")
    if p.is_dir():
        raise SignalError(f"{p} is a folder, expected an audio file")
    refuse_mpeg_audio(p)
    try:
        f = sf.SoundFile(sf_name(p))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise SignalError(f"{p} is not a readable audio file: {exc}") from None
    try:
        if f.frames == 0:
            raise SignalError(f"{p} holds no audio samples")
        refuse_truncated_wav(p, fs=int(f.samplerate), frames_held=int(f.frames))
    except BaseException:
        f.close()
        raise
    return f


def read_audio(path: str | os.PathLike[str], *, raw_fs: int | None = None,
               min_samples: int = 1) -> tuple[np.ndarray, int]:
    """Read an audio file as float64, channels first.

    Parameters
    ----------
    path : path-like
        WAV/FLAC/AIFF (anything libsndfile reads), or headerless float32 little-endian PCM
        when ``raw_fs`` is given (DRC's ``.pcm`` files).
    raw_fs : int, optional
        Sample rate (Hz) of a raw float32 file.
    min_samples : int
        Fewest samples accepted.

    Returns
    -------
    data : ndarray, shape (n_channels, n_samples), float64, full scale 1.0
    fs : int
        Sample rate (Hz).

    Raises
    ------
    SignalError
        Missing file, unreadable or not audio, MPEG audio (:func:`refuse_mpeg_audio`), empty,
        truncated (:func:`refuse_truncated_wav`), too short, NaN/Inf samples.
    """
    p = Path(path)
    if not p.exists():
        raise SignalError(f"{p}: no such file")
    if p.is_dir():
        raise SignalError(f"{p} is a folder, expected an audio file")
    if raw_fs is not None:
        return read_raw_float32(p, fs=raw_fs, min_samples=min_samples), int(raw_fs)
    refuse_mpeg_audio(p)
    try:
        data, fs = sf.read(sf_name(p), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        hint = " (headerless float32? pass --raw-fs HZ)" if p.suffix.lower() in {".pcm", ".raw", ".f32"} else ""
        raise SignalError(f"{p} is not a readable audio file{hint}: {exc}") from None
    data = np.ascontiguousarray(data.T)
    if data.shape[1] == 0:
        raise SignalError(f"{p} holds no audio samples")
    refuse_truncated_wav(p, fs=int(fs), frames_held=int(data.shape[1]))
    if data.shape[1] < min_samples:
        raise SignalError(f"{p} is too short: {data.shape[1]} samples, need at least {min_samples}")
    _check_finite(data, p)
    return data, int(fs)


def read_raw_float32(path: str | os.PathLike[str], *, fs: int, min_samples: int = 1) -> np.ndarray:
    """Read headerless float32 little-endian mono PCM (DRC's ``rs.pcm``) as ``(1, n)`` float64.

    Raises
    ------
    SignalError
        Missing file, a size that is not a whole number of float32 samples, empty, NaN/Inf,
        or an implausible sample rate.
    """
    p = Path(path)
    if not p.exists():
        raise SignalError(f"{p}: no such file")
    if not (1000 <= int(fs) <= 768_000):
        raise SignalError(f"--raw-fs {fs} Hz is outside 1000..768000 Hz")
    size = p.stat().st_size
    if size == 0:
        raise SignalError(f"{p} is empty")
    if size % 4:
        raise SignalError(f"{p} is {size} bytes, not a whole number of float32 samples")
    data = np.fromfile(p, dtype="<f4").astype(np.float64)[np.newaxis, :]
    if data.shape[1] < min_samples:
        raise SignalError(f"{p} is too short: {data.shape[1]} samples, need at least {min_samples}")
    _check_finite(data, p)
    return data


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _temp_beside(path: Path, suffix: str = "") -> Iterator[Path]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    except PermissionError:
        raise StorageError(f"cannot write {path}: no permission to write in {path.parent}") from None
    except (FileExistsError, NotADirectoryError):
        raise StorageError(f"cannot write {path}: {path.parent} is not a folder") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file 0600; give it the permissions a plain open() would have
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_wav_atomic(path: str | os.PathLike[str], data: np.ndarray, *, fs: int,
                     subtype: str = "FLOAT") -> Path:
    """Write ``data`` (``(n_channels, n)`` or 1-D) as a WAV file, atomically.

    ``subtype`` is a libsndfile subtype: ``"FLOAT"`` (32-bit float, the default for IRs and
    FIRs), ``"DOUBLE"``, ``"PCM_24"``, ``"PCM_16"``.
    """
    p = Path(path)
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if not np.all(np.isfinite(arr)):
        raise SignalError(f"refusing to write {p}: the signal contains NaN or Inf")
    with _temp_beside(p, ".wav") as tmp:
        sf.write(sf_name(tmp), arr.T, int(fs), subtype=subtype, format="WAV")
    return p


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> Path:
    p = Path(path)
    with _temp_beside(p) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating,)):
        v = float(obj)
        return v
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    """JSON text with numpy support; NaN becomes ``null`` (JSON has no NaN)."""
    return json.dumps(_nan_to_none(obj), indent=indent, default=_json_default, allow_nan=False)


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.ndarray):
        return _nan_to_none(obj.tolist())
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, to_json(obj) + "\n")


_RENAME_EXCHANGE = 2      # linux/fs.h: atomically exchange two paths
_AT_FDCWD = -100


def _exchange_paths(a: Path, b: Path) -> bool:
    """Swap two existing paths in ONE atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False when the system or file system cannot (the caller falls back); raises
    OSError for any other failure.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _swap_in(tmp: Path, dest: Path) -> None:
    """Put the complete folder ``tmp`` at ``dest``; an old ``dest`` is removed afterwards.

    Where the system allows, the swap is one atomic exchange: at every instant ``dest`` is the
    complete old or the complete new folder, and a kill leaves at most the old one under the
    hidden temporary name (removed by :func:`clean_directory_debris`).  Elsewhere two renames,
    and :func:`clean_directory_debris` puts a stranded old folder back.
    """
    if not dest.exists():
        os.replace(tmp, dest)
        return
    if _exchange_paths(tmp, dest):
        shutil.rmtree(tmp, ignore_errors=True)              # tmp now holds the old folder
        return
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def directory_debris(dest: str | os.PathLike[str]) -> list[Path]:
    """Hidden leftovers of interrupted atomic writes of ``dest`` in its parent folder:
    ``.<name>.<8 random>.tmp`` (a folder being built, or an old one being removed),
    ``.<name>.old-<pid>`` (an old folder being removed) and ``.<name>@<stamp>.<8 random>``
    (a rollback copy being made).  Never a complete visible folder."""
    import re

    d = Path(dest)
    if not d.parent.is_dir():
        return []
    n = re.escape(d.name)
    pat = re.compile(rf"^\.{n}(\.[A-Za-z0-9_]{{8}}\.tmp|\.old-\d+|@[0-9TZ-]+\.[A-Za-z0-9_]{{8}})$")
    return sorted(p for p in d.parent.iterdir() if pat.match(p.name))


def clean_directory_debris(dest: str | os.PathLike[str]) -> list[Path]:
    """Remove :func:`directory_debris` of ``dest``; returns what was removed.

    A ``dest`` that is missing while an ``.<name>.old-<pid>`` folder exists (a kill between the
    two renames of the fallback swap) gets that complete old folder back first.  Call it only
    while no other process writes ``dest`` (hold its lock).
    """
    d = Path(dest)
    debris = directory_debris(d)
    if not d.exists():
        olds = [p for p in debris if ".old-" in p.name and p.is_dir()]
        if olds:
            os.replace(olds[-1], d)
            debris.remove(olds[-1])
    for p in debris:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return debris


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it into place when the block succeeds.

    On any exception the temporary folder is removed and ``path`` is untouched.  With
    ``replace=False`` an existing non-empty ``path`` is an error; with ``replace=True`` the old
    folder is swapped out only after the new one is complete, in one atomic exchange
    (:func:`_swap_in`).
    """
    dest = Path(path)
    if dest.exists() and not dest.is_dir():
        raise SignalError(f"{dest} exists and is not a folder")
    if dest.exists() and any(dest.iterdir()) and not replace:
        raise SignalError(f"{dest} exists and is not empty; choose a new folder")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    except PermissionError:
        raise StorageError(f"cannot create {dest}: no permission to write in {dest.parent}") from None
    except (FileExistsError, NotADirectoryError):
        raise StorageError(f"cannot create {dest}: {dest.parent} is not a folder") from None
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
