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

__all__ = ["fir_file_name", "write_fir_wavs", "read_fir_wav", "fconvolver_config", "speaker_fir", "speaker_fir_files"]


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


def speaker_fir(profile: CalibrationProfile, name: str, *, n_taps: int = 65536, source: str | None = None) -> np.ndarray:
    """The complete filter of one speaker's path as an FIR at the design rate: the routing path
    from ``source`` (a programme channel; default: a main's own channel, a sub's first main)
    with its crossover/all-pass biquads and matrix gain, then the speaker's preamp + trim,
    polarity, delay (exact, applied in the frequency domain: a band-limited fractional delay)
    and its FIR or PEQ.  For a player without routing: feed a main's FIR its own channel and a
    sub's FIR the sum of the mains (plus the LFE at +10 dB).

    Raises
    ------
    ProfileError
        Unknown speaker, or an FIR shorter than the delay it must hold.
    """
    from scipy.signal import sosfilt

    from calib.profile import Biquad, peq_sos

    fs = profile.design_fs
    s = profile.speaker(name)
    if s.delay_s * fs + 1024 > n_taps:
        raise ProfileError(f"speaker {name}: delay {1e3 * s.delay_s:.1f} ms does not fit {n_taps} taps")
    x = np.zeros(n_taps)
    x[0] = 1.0
    r = getattr(profile, "routing", None)
    if r:
        outs, ins = list(r["outputs"]), list(r["inputs"])
        o = outs.index(name)
        if source is None:
            source = name if name in ins else next(i for i in ins if i != r.get("lfe") and r["matrix"][o][ins.index(i)])
        g = float(r["matrix"][o][ins.index(source)])
        bqs = [Biquad.from_dict(b) for b in ((r.get("filters") or {}).get(name, {}) or {}).get(source, [])]
        x = g * (sosfilt(peq_sos(tuple(bqs), fs=fs), x) if bqs else x)
    x = x * 10 ** ((profile.preamp_db + s.trim_db) / 20) * s.polarity
    X = np.fft.rfft(x)
    X *= np.exp(-2j * np.pi * np.fft.rfftfreq(n_taps, 1.0 / fs) * s.delay_s)
    x = np.fft.irfft(X, n_taps)
    if fs in s.fir:
        x = np.convolve(x, s.fir[fs])[:n_taps]
    elif s.peq:
        x = sosfilt(peq_sos(s.peq, fs=fs), x)
    return x


def speaker_fir_files(profile: CalibrationProfile, *, n_taps: int = 65536) -> dict[str, bytes]:
    """``speaker_fir/<speaker>.wav`` (32-bit float, design rate) for every speaker, as bytes
    for :meth:`CalibrationProfile.save`'s ``extra_files``."""
    import io

    import soundfile as sf

    out = {}
    for s in profile.speakers:
        buf = io.BytesIO()
        sf.write(buf, speaker_fir(profile, s.name, n_taps=n_taps).astype(np.float32), profile.design_fs,
                 format="WAV", subtype="FLOAT")
        out[f"speaker_fir/{s.name}.wav"] = buf.getvalue()
    return out
