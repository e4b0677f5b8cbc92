"""Rooms, profiles and programmes for the watch tests (analytic truth: the room is known).

A speaker-to-mic IR is built from known parts (as tests/verify_synth.py, at any rate): a
band-limited speaker (2nd-order 45 Hz high-pass, low-pass at 0.4 fs), the direct sound at a
known distance, discrete reflections, an exponentially decaying diffuse tail of a given RT60
and optionally a room mode (a resonance).  A profile holds these IRs as its baseline (with a
pre-delay, as measured IRs keep one) and a small PEQ correction, so the monitor engine
really filters the programme before it reaches the room.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import signal

from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse

SPEED_OF_SOUND = 343.2
ONSET = 240          # pre-delay of the baseline IRs (samples), as measured IRs keep one


def _frac_delay(h: np.ndarray, delay_s: float, fs: int) -> np.ndarray:
    n = 1 << (2 * h.size - 1).bit_length()
    f = np.fft.rfftfreq(n, 1.0 / fs)
    return np.fft.irfft(np.fft.rfft(h, n) * np.exp(-2j * np.pi * f * delay_s), n)[: h.size]


def speaker_ir(distance_m: float, *, fs: int, seed: int, rt60_s: float = 0.3, n_s: float = 0.5,
               mode_hz: float | None = None) -> np.ndarray:
    """One speaker-to-mic IR (sample 0 = the sound leaves the speaker)."""
    rng = np.random.default_rng(seed)
    n = int(n_s * fs)
    imp = np.zeros(n)
    imp[0] = 1.0
    hp = signal.butter(2, 45.0, "highpass", fs=fs, output="sos")
    lp = signal.butter(2, 0.4 * fs, "lowpass", fs=fs, output="sos")
    spk = signal.sosfilt(lp, signal.sosfilt(hp, imp))
    h = _frac_delay(spk, distance_m / SPEED_OF_SOUND, fs) / distance_m
    for extra_m, refl in ((1.3, 0.45), (2.1, -0.3), (3.4, 0.25), (4.4, 0.2)):
        d = distance_m + extra_m + 0.1 * rng.standard_normal()
        h += refl * _frac_delay(spk, d / SPEED_OF_SOUND, fs) / d
    t = np.arange(n) / fs
    start = int((distance_m / SPEED_OF_SOUND + 0.012) * fs)
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60_s) * 0.02 / distance_m
    tail[:start] = 0.0
    h += signal.sosfilt(hp, tail)
    if mode_hz:
        b, a = signal.iirpeak(mode_hz, 8.0, fs=fs)
        h += 0.5 * signal.lfilter(b, a, h)
    return h


def stereo_room(*, fs: int, rt60_s: float = 0.3, seed: int = 1, mode_hz: float | None = 63.0) -> np.ndarray:
    """L at 3.0 m, R at 3.1 m; (2, n) IRs."""
    return np.stack([speaker_ir(3.0, fs=fs, seed=seed, rt60_s=rt60_s, mode_hz=mode_hz),
                     speaker_ir(3.1, fs=fs, seed=seed + 1, rt60_s=rt60_s, mode_hz=mode_hz)])


def profile_for(room: np.ndarray, *, fs: int, names: tuple[str, ...] = ("L", "R")) -> CalibrationProfile:
    """A profile with ``room`` as its baseline and a small PEQ per speaker."""
    ref = ImpulseResponse(samples=np.concatenate([np.zeros((room.shape[0], ONSET)), room], axis=1), fs=fs,
                          channel_names=names, onset_samples=ONSET)
    spk = tuple(SpeakerCorrection(n, i, trim_db=-0.5 * i, peq=(Biquad("peaking", 63.0 * (1 + i), -4.0, 4.0),
                                                                Biquad("peaking", 2500.0, 1.5, 1.0)))
                for i, n in enumerate(names))
    return CalibrationProfile(name="watch-test", speakers=spk, design_fs=fs, reference=ref)


@lru_cache(maxsize=4)
def programme(fs: int, total_s: float, piano_path: str | None = None) -> np.ndarray:
    """Stereo programme of ``total_s``: synthetic songs (centred voice, bass, drums, wide pads,
    reverb; different keys, tempi and seeds) with the real piano recording among them."""
    from mixes.songs import make_song

    parts = []
    if piano_path:
        import soundfile as sf

        p, fs_p = sf.read(piano_path, always_2d=True)
        p = signal.resample_poly(p.T, fs, fs_p, axis=1) if fs_p != fs else p.T
        parts.append(0.7 * p / max(np.max(np.abs(p)), 1e-9))
    seed = 11
    n_total = int(total_s * fs)
    song_s = 75.0
    while sum(x.shape[1] for x in parts) < n_total:
        s = make_song(seed, duration_s=song_s, fs=fs).mix()
        parts.insert(len(parts) // 2 + 1 if len(parts) > 1 else len(parts), s)
        seed += 1
    x = np.concatenate(parts, axis=1)[:, :n_total]
    x.setflags(write=False)
    return x


def rms_dbfs(x: np.ndarray) -> float:
    return 10.0 * math.log10(float(np.mean(np.asarray(x) ** 2)) + 1e-300)
