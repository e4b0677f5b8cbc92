"""WAV FIR files per speaker per rate, and a zita-convolver (``fconvolver``) config for them.

File names match :meth:`calib.profile.CalibrationProfile.save`: ``fir_<speaker>_<fs>.wav``
(32-bit float, mono).  ``fconvolver`` must be run with ``-T`` (without it the tail of the
output is wrong, RIG-NOTES.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calib.audio_io import read_audio, write_wav_atomic
from calib.errors import ProfileError
from calib.profile import CalibrationProfile

__all__ = ["fir_file_name", "write_fir_wavs", "read_fir_wav", "fconvolver_config"]


def fir_file_name(speaker: str, fs: int) -> str:
    return f"fir_{speaker}_{int(fs)}.wav"


def write_fir_wavs(profile: CalibrationProfile, directory: str | Path) -> list[Path]:
    """Write every speaker's FIR at every rate into ``directory`` (each file atomically)."""
    d = Path(directory)
    out = []
    for s in profile.speakers:
        for fs, taps in sorted(s.fir.items()):
            out.append(write_wav_atomic(d / fir_file_name(s.name, fs), np.asarray(taps, dtype=np.float32), fs=fs))
    return out


def read_fir_wav(path: str | Path, *, fs: int) -> np.ndarray:
    """Read a mono FIR WAV; raises ProfileError when its rate is not ``fs`` or it is not mono."""
    data, rate = read_audio(path)
    if rate != fs:
        raise ProfileError(f"{path} is at {rate} Hz, expected {fs} Hz")
    if data.shape[0] != 1:
        raise ProfileError(f"{path} has {data.shape[0]} channels; an FIR file must be mono")
    return data[0]


def fconvolver_config(fir_path: str | Path, *, n_taps: int, partition: int = 256, gain: float = 1.0) -> str:
    """A one-in one-out ``fconvolver``/``jconvolver`` config for a mono FIR WAV.

    ``/convolver/new 1 1 <partition> <max length> <density>`` then
    ``/impulse/read in out gain delay offset length channel file``.
    """
    size = 1 << int(np.ceil(np.log2(max(n_taps, partition))))
    return (f"/convolver/new 1 1 {partition} {size} 1.0\n"
            f"/impulse/read 1 1 {gain:.6f} 0 0 0 1 {Path(fir_path).resolve()}\n")
