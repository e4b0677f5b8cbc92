"""The JACK virtual room's impulse response and parameters (see :mod:`hardware.jackrig`).

The built-in room (``synthetic_room_ir`` or the simulated default room), loading and checking
a user's room IR (one channel per speaker, at the rig's rate, an impulse response, not too
long, not too many speakers), the rig's sample rates and period, and the speakers' names.
Everything here is checked before any process of the rig starts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from calib.audio_io import read_audio
from calib.errors import ConfigError, SignalError
from calib.names import check_names

__all__ = ["MAX_IR_SAMPLES", "N_DEVICE_CHANNELS", "SUPPORTED_FS", "synthetic_room_ir"]

# dummy driver capture/playback ports (the virtual interface): 16 mains + 4 subs, the dedicated
# loopback output, and the mic and loopback inputs fit (a port costs the dummy driver a memset)
N_DEVICE_CHANNELS = 22
MAX_IR_SAMPLES = 1 << 20       # jconvolver's practical limit (memory), about 22 s at 48 kHz
SUPPORTED_FS = (22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)


def synthetic_room_ir(*, fs: int) -> np.ndarray:
    """A small deterministic room IR, ``(1, n)`` float64, used when no default room exists.

    Direct sound at 2.5 ms, four discrete reflections, two damped low-frequency modes
    (47 Hz and 71 Hz, T60 0.4 s) and an exponentially decaying diffuse tail (T60 0.35 s)
    starting at 8 ms, 0.6 s long; peak 0.5.
    """
    n = int(round(0.6 * fs))
    t = np.arange(n) / fs
    ir = np.zeros(n)
    d0 = int(round(0.0025 * fs))
    ir[d0] = 0.5
    for delay_s, gain in ((0.0041, -0.21), (0.0063, 0.15), (0.0087, -0.11), (0.0122, 0.08)):
        ir[d0 + int(round(delay_s * fs))] += gain
    td = np.clip(t - d0 / fs, 0.0, None)
    on = t >= d0 / fs
    for f_hz, amp in ((47.0, 0.004), (71.0, 0.003)):
        ir += on * amp * np.exp(-6.91 * td / 0.4) * np.sin(2 * np.pi * f_hz * td)
    rng = np.random.default_rng(20240611)
    start = d0 + int(round(0.008 * fs))
    tail = rng.standard_normal(n - start) * 0.02 * np.exp(-6.91 * np.arange(n - start) / fs / 0.35)
    ir[start:] += tail
    return ir[np.newaxis, :]


def _default_room(fs: int) -> tuple[np.ndarray, str]:
    try:
        from hardware.simulated import default_room  # written by the simulated-room engineer
    except ImportError:
        return synthetic_room_ir(fs=fs), "built-in synthetic room"
    room = default_room(fs)
    arr = getattr(room, "samples", None)
    if arr is None:
        arr = getattr(room, "ir", None)
    if arr is None:
        arr = room[0] if isinstance(room, tuple) else room
    arr = np.atleast_2d(np.asarray(arr, dtype=np.float64))
    return arr, "built-in default room"


def _load_ir(ir_path: str | os.PathLike[str] | None, fs: int) -> tuple[np.ndarray, str]:
    if ir_path is None:
        ir, source = _default_room(fs)
    else:
        ir, ir_fs = read_audio(ir_path, min_samples=1)
        if ir_fs != fs:
            raise SignalError(
                f"the room IR {ir_path} is at {ir_fs} Hz but the rig runs at {fs} Hz; "
                f"start the rig with --fs {ir_fs} or resample the IR")
        source = str(Path(ir_path).resolve())
        from calib.quality import check_impulse_response

        check_impulse_response(ir, what=f"the room IR {ir_path}",
                               hint="give the room's impulse response (one channel per speaker), e.g. from 'roomtruth ir'")
    n_spk = ir.shape[0]
    if n_spk > N_DEVICE_CHANNELS - 2:
        raise SignalError(
            f"the room IR has {n_spk} channels (one per speaker) but the rig takes at most "
            f"{N_DEVICE_CHANNELS - 2}; give one channel per speaker")
    if ir.shape[1] > MAX_IR_SAMPLES:
        raise SignalError(
            f"the room IR is {ir.shape[1]} samples long, the rig takes at most {MAX_IR_SAMPLES}; "
            "trim its tail")
    peak = float(np.max(np.abs(ir)))
    if peak == 0.0:
        raise SignalError(f"the room IR {ir_path} is all zeros; give a real impulse response")
    return ir, source


def _check_params(fs: int, period: int) -> None:
    if int(fs) not in SUPPORTED_FS:
        raise ConfigError(f"rig sample rate {fs} Hz is not supported; use one of "
                          f"{', '.join(str(f) for f in SUPPORTED_FS)}")
    if period < 64 or period > 4096 or period & (period - 1):
        raise ConfigError(f"rig period {period} frames is invalid; use a power of two from 64 to 4096 "
                          "(jconvolver's partition equals the period)")


def _check_speaker_names(names, n: int, source: str) -> tuple[str, ...]:
    """Speaker names for the rig: one per IR channel, distinct, usable as file names
    (the rule of :func:`calib.names.check_names`, shared with ``measure --channels``)."""
    if not names:
        return ()
    names = tuple(str(x).strip() for x in names)
    if len(names) != n:
        raise ConfigError(f"--channels names {len(names)} speaker(s) ({', '.join(names)}) but the room IR "
                          f"({source}) has {n} channel(s); give one name per channel")
    return check_names(names, noun="speaker", given=f"rig start --channels {','.join(names)!r}")
