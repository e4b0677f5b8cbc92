"""The capture backend protocol every audio path implements.

A backend plays a block of output channels and records a block of input channels at the
same time, sample-synchronously, and says honestly whether anything was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class CaptureResult:
    """What came back from one play-and-record run.

    Parameters
    ----------
    recording : ndarray, shape (n_inputs, n_samples), float64
        The captured input channels, in the order they were asked for, same length as the
        stimulus.
    fs : int
        Sample rate (Hz).
    status_flags : tuple of str
        Every PortAudio/JACK status flag seen during the run (``"input_overflow"``,
        ``"output_underflow"``, ...).  Empty when nothing went wrong.
    lost_samples : bool
        True when the backend knows samples were dropped or inserted (the capture is
        unusable and must be refused, never averaged in).
    device : str
        Human-readable device description.
    """

    recording: np.ndarray
    fs: int
    status_flags: tuple[str, ...] = ()
    lost_samples: bool = False
    device: str = ""
    meta: dict = field(default_factory=dict)


@runtime_checkable
class AudioBackend(Protocol):
    """A duplex audio path.

    ``play_record`` plays ``stimulus`` (``(n_outputs, n_samples)`` float32, full scale 1.0)
    on the 0-based ``output_channels`` and records the 0-based ``input_channels`` for the
    same number of samples.  Implementations raise :class:`calib.errors.DeviceError` for a
    missing or failing device.
    """

    name: str

    def play_record(self, stimulus: np.ndarray, *, fs: int, output_channels: tuple[int, ...],
                    input_channels: tuple[int, ...]) -> CaptureResult:
        ...

    def close(self) -> None:
        ...


# Real-time duplex streaming (the monitor path).  The callback is called on the audio
# thread with float32 arrays shaped (frames, n_channels) -- PortAudio's layout -- and must
# write ``outdata`` in place.  It must not allocate, lock, log, do I/O or raise.
class DuplexCallback(Protocol):
    def __call__(self, indata: np.ndarray, outdata: np.ndarray, frames: int, status_flags: int) -> None:
        ...


@dataclass
class StreamStats:
    """Counters a running duplex stream exposes (read from the UI thread)."""

    xruns: int = 0                 # input overflows + output underflows reported by the host
    callbacks: int = 0
    cpu_load: float = 0.0          # host API's estimate, 0..1
    latency_s: tuple[float, float] = (0.0, 0.0)  # (input, output) as reported by the host


@runtime_checkable
class DuplexStream(Protocol):
    """An open duplex stream; created by a concrete backend (``hardware.portaudio``)."""

    stats: StreamStats

    def start(self) -> None:
        ...

    def stop(self) -> None:
        ...

    def close(self) -> None:
        ...


@runtime_checkable
class StreamingBackend(Protocol):
    """A backend that can open a real-time duplex stream for the monitor engine."""

    def open_duplex(self, callback: DuplexCallback, *, fs: int, block_size: int,
                    n_inputs: int, n_outputs: int) -> DuplexStream:
        ...
