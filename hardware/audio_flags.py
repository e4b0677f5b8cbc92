"""PortAudio status flags, device descriptions and user channel maps (no audio I/O here).

The pure parts of :mod:`hardware.portaudio`, importable without PortAudio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from calib.errors import ConfigError

__all__ = ["FLAG_NAMES", "LOSS_FLAGS", "DeviceInfo", "StatusCounter", "channels_from_user"]

# PortAudio's PaStreamCallbackFlags bits (portaudio.h), in bit order.
FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (1, "input_underflow"),
    (2, "input_overflow"),
    (4, "output_underflow"),
    (8, "output_overflow"),
    (16, "priming_output"),
)
# Flags that mean samples were dropped from or inserted into the stream.
LOSS_FLAGS = frozenset({"input_underflow", "input_overflow", "output_underflow", "output_overflow"})
_LOSS_MASK = 1 | 2 | 4 | 8


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device as the user sees it."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate_hz: float
    default_input: bool
    default_output: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def channels_from_user(spec: str | Sequence[int], *, what: str = "channels") -> tuple[int, ...]:
    """Convert a 1-based user channel map (``"1,2"`` or ``[1, 2]``) to 0-based indices.

    Raises
    ------
    ConfigError
        Empty, non-integer, zero/negative, or repeated channel numbers.
    """
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(
                f"{what} {spec!r} is not a comma-separated list of channel numbers; "
                "write e.g. '1,2' (channels count from 1)") from None
    else:
        nums = [int(x) for x in spec]
    if not nums:
        raise ConfigError(f"{what} is empty; give at least one channel number (counting from 1)")
    bad = [n for n in nums if n < 1]
    if bad:
        raise ConfigError(f"{what} contains {bad[0]}, but channels count from 1; use 1 for the first channel")
    if len(set(nums)) != len(nums):
        raise ConfigError(f"{what} {nums} repeats a channel; give each channel once")
    return tuple(n - 1 for n in nums)


class StatusCounter:
    """Counts PortAudio status flags; written on the audio thread, read afterwards.

    Only integer additions happen in :meth:`add` (no allocation beyond Python ints).
    """

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0, 0]
        self.callbacks = 0

    def add(self, flags: int) -> None:
        self.callbacks += 1
        if flags:
            c = self.counts
            if flags & 1:
                c[0] += 1
            if flags & 2:
                c[1] += 1
            if flags & 4:
                c[2] += 1
            if flags & 8:
                c[3] += 1
            if flags & 16:
                c[4] += 1

    def as_dict(self) -> dict[str, int]:
        return {name: self.counts[i] for i, (_, name) in enumerate(FLAG_NAMES) if self.counts[i]}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.as_dict())

    @property
    def lost_samples(self) -> bool:
        return any(n in LOSS_FLAGS for n in self.names)

    @property
    def xruns(self) -> int:
        return sum(self.counts[:4])


def _flags_int(status: Any) -> int:
    return int(getattr(status, "_flags", 0) or 0)
