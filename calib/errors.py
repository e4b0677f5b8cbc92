"""One exception hierarchy for the whole of roomtruth.

The CLI turns every :class:`RoomtruthError` into ``error: <sentence>`` on stderr and exit
code 2.  Messages say what went wrong, the value, what was expected and what to do.
"""

from __future__ import annotations


class RoomtruthError(Exception):
    """Base class of every error roomtruth raises on purpose."""


class ConfigError(RoomtruthError):
    """A configuration file or command-line option is invalid."""


class SignalError(RoomtruthError):
    """An audio signal is unusable: empty, non-finite, wrong rate, too short, ..."""


class MeasurementError(RoomtruthError):
    """A capture is refused: clipping, dropout, too little SNR, no sweep found."""


class DeviceError(RoomtruthError):
    """An audio device is missing, busy or misbehaving."""


class ProfileError(RoomtruthError):
    """A calibration profile is missing, malformed or inconsistent."""


class StorageError(RoomtruthError):
    """A file or folder cannot be written (permissions, a full disk, a file where a folder is needed)."""


class VerificationError(RoomtruthError):
    """A verification cannot be carried out (not a failed verdict: that is a result)."""


def require_same_fs(*, fs_a: int, fs_b: int, what_a: str = "first input", what_b: str = "second input") -> None:
    """Raise :class:`SignalError` when two sample rates differ (nothing resamples silently)."""
    if int(fs_a) != int(fs_b):
        raise SignalError(
            f"sample rates differ: {what_a} is {int(fs_a)} Hz, {what_b} is {int(fs_b)} Hz; "
            "resample one of them first"
        )
