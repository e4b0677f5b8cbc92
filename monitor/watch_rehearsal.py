"""A watch rehearsal without hardware: programme → the profile's correction (the monitor engine,
offline) → a simulated room whose IRs switch to drifted ones at a given moment → mic + noise,
and the :class:`monitor.watch.Watch` fed in chunks as the live worker would feed it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from calib.errors import ConfigError
from calib.profile import CalibrationProfile

__all__ = ["render_feeds", "simulate_mic", "run_watch", "room_noise"]

#: Engine block for the rehearsal (the live default) and the offline FIR partition.
_BLOCK = 256
_FIR_BLOCK = 16384


def render_feeds(profile: CalibrationProfile, programme: np.ndarray, *, fs: int) -> np.ndarray:
    """The engine's output per speaker for ``programme``, aligned with it (float64).

    Parameters
    ----------
    profile : CalibrationProfile
    programme : ndarray, shape (n_channels, n)
        The input of the monitor (one channel per output channel of the profile, or mono:
        played on every channel).
    fs : int
        Rate (Hz).

    Returns
    -------
    ndarray, shape (n_speakers, n)
        Row ``i`` is what speaker ``profile.speakers[i]`` plays.
    """
    from monitor.engine import Engine, render_chunks

    n_ch = max(s.output_channel for s in profile.speakers) + 1
    x = np.atleast_2d(np.asarray(programme, dtype=np.float32))
    if x.shape[0] == 1 and n_ch > 1:
        x = np.repeat(x, n_ch, axis=0)
    if x.shape[0] != n_ch:
        raise ConfigError(f"the programme has {x.shape[0]} channels but profile {profile.name!r} plays {n_ch} "
                          f"outputs; give a programme with {n_ch} channels (or a mono one)")
    chunk = _FIR_BLOCK * 4
    engine = Engine(fs=fs, n_channels=n_ch, block=_BLOCK, max_block=chunk, threads=1, bypass=False,
                    fir_block=_FIR_BLOCK, max_align_s=0.0, limiter={"ceiling_dbfs": -1.0, "jump_duck_db": 0.0})
    try:
        engine.load(profile, "A")
        n = x.shape[1]
        out = np.empty((n_ch, n))
        pos = 0
        for y in render_chunks(engine, (x[:, s:s + chunk] for s in range(0, n, chunk)), n, copy=False):
            out[:, pos:pos + y.shape[1]] = y
            pos += y.shape[1]
    finally:
        engine.close()
    return out[[s.output_channel for s in profile.speakers]]


#: Pink-noise (−3 dB/octave) IIR filter, 0.05 dB accuracy over 9 octaves: the coefficients
#: published by J. O. Smith III, *Spectral Audio Signal Processing*, "Example: Synthesis of 1/f Noise".
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)


def room_noise(n: int, *, level_dbfs: float, fs: int, seed: int = 0) -> np.ndarray:  # noqa: ARG001 - fs for the contract
    """Room-like background noise: pink (−3 dB/octave), RMS ``level_dbfs``."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    x = lfilter(_PINK_B, _PINK_A, rng.standard_normal(n + 2000))[2000:]   # skip the filter's start
    return x * (10.0 ** (level_dbfs / 20.0) / max(float(np.sqrt(np.mean(x ** 2))), 1e-300))


def simulate_mic(feeds: np.ndarray, room: np.ndarray, *, fs: int, drifted: np.ndarray | None = None,
                 drift_at_s: float | None = None, noise_dbfs: float = -80.0, seed: int = 0) -> np.ndarray:
    """The mic: every feed through its room IR, summed; from ``drift_at_s`` on through the
    drifted IRs (the room changes at that moment: the output switches), plus room noise.

    Parameters
    ----------
    feeds : ndarray, shape (p, n)
    room, drifted : ndarray, shape (p, n_ir)
        IRs, sample 0 = the sound leaves the speaker.
    """
    from scipy.signal import oaconvolve

    n = feeds.shape[1]
    y = oaconvolve(feeds, room, axes=1)[:, :n].sum(axis=0)
    if drifted is not None and drift_at_s is not None:
        k = int(round(drift_at_s * fs))
        if k < n:
            lo = max(0, k - room.shape[1])   # the drifted room's output from k needs input from k - n_ir
            y2 = oaconvolve(feeds[:, lo:], drifted, axes=1)[:, k - lo:n - lo].sum(axis=0)
            y[k:] = y2
    if noise_dbfs > -200:
        y = y + room_noise(n, level_dbfs=noise_dbfs, fs=fs, seed=seed)
    return y


def run_watch(watch, feeds: np.ndarray, mic: np.ndarray, *, chunk_s: float = 1.0) -> dict:
    """Feed ``watch`` in chunks of ``chunk_s`` (as the live worker does); its result document."""
    step = max(1, int(round(chunk_s * watch.fs)))
    for s in range(0, mic.size, step):
        watch.push(feeds[:, s:s + step], mic[s:s + step])
    return watch.result()


def speaker_rows(profile: CalibrationProfile) -> Sequence[str]:
    return [s.name for s in profile.speakers]
