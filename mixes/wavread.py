"""Fast reading of plain PCM/float WAV files into a channels-first float32 array.

libsndfile decodes a 24-bit stereo WAV at about 11 ns per sample and the interleaved frames
must then be transposed into ``(n_channels, n_samples)`` (together 0.34 s of CPU for 10 minutes
of 48 kHz stereo on the quiet project machine, the first thing every analysis waits for).
Here the bytes of each block are read into one buffer and every channel is converted straight
into its row: a strided integer view of the buffer (24-bit samples through a 4-byte view whose
top byte is shifted out), one conversion to float32 with the scale of libsndfile's own
normalisation (``1 / 2^(bits - 1)``: 16 and 24-bit values are exact in float32 and the scale
is a power of two, so every value is bit-identical to ``soundfile``'s; 32-bit integers are
rounded to float32 first, as libsndfile does).  About 3x less CPU.

Only the layouts whose conversion is exactly libsndfile's are taken: RIFF/WAVE (not RF64/W64)
with a ``fmt`` of integer PCM at 16, 24 or 32 bits (container = valid bits) or 32-bit IEEE
float, plain or ``WAVE_FORMAT_EXTENSIBLE``, little-endian, and a ``data`` chunk whose frame count
agrees with what libsndfile reports.  Anything else (FLAC, AIFF, 8-bit, 20-in-24 bits, a
header libsndfile reads differently) returns ``None`` from :func:`pcm_layout` and is read by
soundfile as before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["WavLayout", "pcm_layout", "read_into"]

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


@dataclass(frozen=True)
class WavLayout:
    """Where the samples of a plain WAV file are and how they are stored.

    Attributes
    ----------
    data_offset : int
        Byte offset of the first sample.
    n_frames : int
    n_channels : int
    width_bytes : int
        Bytes per sample: 2, 3 or 4.
    is_float : bool
        32-bit IEEE float samples (else integer PCM).
    """

    data_offset: int
    n_frames: int
    n_channels: int
    width_bytes: int
    is_float: bool


def pcm_layout(path, *, n_channels: int, n_frames: int) -> WavLayout | None:
    """The layout of a plain PCM/float WAV file, or ``None`` (read it with soundfile).

    ``n_channels`` and ``n_frames`` are libsndfile's view of the file: the layout is only
    returned when the header agrees with it.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos, fmt = 12, None
            for _ in range(64):                    # chunks before 'data': fmt, fact, LIST, bext, ...
                fh.seek(pos)
                hdr = fh.read(8)
                if len(hdr) < 8:
                    return None
                cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(min(size, 40))
                elif cid == b"data":
                    return _layout(fmt, pos + 8, size, n_channels, n_frames)
                pos += 8 + size + (size & 1)
    except OSError:
        return None
    return None


def _layout(fmt: bytes | None, offset: int, size: int, n_channels: int, n_frames: int) -> WavLayout | None:
    if fmt is None or len(fmt) < 16:
        return None
    tag, ch, _fs, _rate, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE:
        if len(fmt) < 26:
            return None
        valid = struct.unpack("<H", fmt[18:20])[0]
        tag = struct.unpack("<H", fmt[24:26])[0]      # the sub-format GUID's first two bytes
        if valid not in (0, bits):
            return None
    if ch != n_channels or ch < 1 or align != ch * (bits // 8) or bits % 8:
        return None
    width = bits // 8
    if not ((tag == _PCM and width in (2, 3, 4)) or (tag == _FLOAT and width == 4)):
        return None
    if size in (0, 0xFFFFFFFF) or size // align != n_frames:
        return None
    return WavLayout(offset, n_frames, ch, width, tag == _FLOAT)


def read_into(path, layout: WavLayout, x: np.ndarray, *, block_frames: int,
              on_block: Callable[[int, int], None]) -> int:
    """Read the samples into ``x`` (float32, ``(n_channels, >= n_frames)``) block by block.

    ``on_block(pos, m)`` is called after frames ``pos .. pos + m`` are in ``x``.  Returns the
    frames read (fewer than ``layout.n_frames`` only if the file shrank meanwhile).
    """
    ch, w = layout.n_channels, layout.width_bytes
    align = ch * w
    buf = bytearray(block_frames * align + 1)     # +1: the 4-byte view of the last 24-bit sample
    view = memoryview(buf)
    tmp = np.empty(block_frames, dtype=np.uint32)
    scale = np.float32(2.0 ** -(8 * w - 1))
    pos = 0
    with open(path, "rb", buffering=0) as fh:
        fh.seek(layout.data_offset)
        while pos < layout.n_frames:
            want = min(block_frames, layout.n_frames - pos)
            got = _read_full(fh, view[: want * align]) // align
            if got == 0:
                break
            for c in range(ch):
                out = x[c, pos:pos + got]
                if w == 3:
                    v = np.ndarray((got,), dtype="<u4", buffer=buf, offset=3 * c, strides=(align,))
                    t = tmp[:got]
                    np.left_shift(v, 8, out=t)             # the sample in the top 24 bits
                    np.multiply(t.view(np.int32), np.float32(2.0 ** -31), out=out, dtype=np.float32,
                                casting="unsafe")
                elif layout.is_float:
                    out[...] = np.ndarray((got,), dtype="<f4", buffer=buf, offset=4 * c, strides=(align,))
                else:
                    v = np.ndarray((got,), dtype="<i2" if w == 2 else "<i4", buffer=buf, offset=w * c,
                                   strides=(align,))
                    np.multiply(v, scale, out=out, dtype=np.float32, casting="unsafe")
            on_block(pos, got)
            pos += got
            if got < want:
                break
    return pos


def _read_full(fh, mv: memoryview) -> int:
    """readinto until ``mv`` is full or the file ends; bytes read."""
    n = 0
    while n < len(mv):
        k = fh.readinto(mv[n:])
        if not k:
            break
        n += k
    return n
