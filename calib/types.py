"""Core data types that cross module boundaries.

Every array crosses a module boundary inside one of these, together with its sample rate.
Arrays are channels-first, ``(n_channels, n_samples)`` (or ``(n_channels, n_freqs)``),
float64 in analysis.  The dataclasses are frozen; arrays inside are made read-only so a
consumer cannot change a producer's data by accident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from calib.errors import SignalError


def _as_2d_readonly(x: Any, *, name: str) -> np.ndarray:
    arr = np.array(x, dtype=np.float64, copy=True)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise SignalError(f"{name} must be (n_channels, n) shaped, got {arr.ndim} dimensions")
    arr.setflags(write=False)
    return arr


def _check_fs(fs: Any) -> int:
    try:
        fs_int = int(fs)
    except (TypeError, ValueError) as exc:  # pragma: no cover - defensive
        raise SignalError(f"sample rate must be a whole number of Hz, got {fs!r}") from exc
    if fs_int != fs or fs_int < 1000 or fs_int > 768_000:
        raise SignalError(f"sample rate {fs!r} Hz is outside 1000..768000 Hz")
    return fs_int


@dataclass(frozen=True)
class SweepSpec:
    """An exponential sine sweep and the silence around it.

    Parameters
    ----------
    f_start_hz, f_stop_hz : float
        Sweep band (Hz).  Put ``f_start_hz`` an octave below the lowest frequency of
        interest so the fade-in lies outside the evaluated band (STANDARDS.md §1.3).
    duration_s : float
        Requested sweep duration (s).  With ``synchronized`` the actual duration is
        adjusted so that ``f_start_hz * L`` is an integer (Novak et al. 2015, eq. 32).
    fs : int
        Sample rate (Hz).
    level_dbfs : float
        Peak level of the sweep (dBFS).
    fade_in_s, fade_out_s : float
        Half-Hann fade lengths (s).
    synchronized : bool
        Synchronized swept sine (phase-synchronous harmonic IRs).
    preroll_s : float
        Silence recorded before the sweep (noise floor, SNR).
    tail_s : float
        Silence recorded after the sweep (reverberant tail, latency).
    """

    f_start_hz: float = 10.0
    f_stop_hz: float = 22_000.0
    duration_s: float = 5.0
    fs: int = 48_000
    level_dbfs: float = -12.0
    fade_in_s: float = 0.05
    fade_out_s: float = 0.005
    synchronized: bool = True
    preroll_s: float = 0.5
    tail_s: float = 1.5

    def __post_init__(self) -> None:
        fs = _check_fs(self.fs)
        object.__setattr__(self, "fs", fs)
        if not (0 < self.f_start_hz < self.f_stop_hz <= fs / 2):
            raise SignalError(
                f"sweep band {self.f_start_hz}..{self.f_stop_hz} Hz is invalid at fs={fs} Hz; "
                f"need 0 < f_start < f_stop <= {fs / 2:g} Hz"
            )
        if not (0.1 <= self.duration_s <= 120):
            raise SignalError(f"sweep duration {self.duration_s} s is outside 0.1..120 s")
        if self.level_dbfs > 0:
            raise SignalError(f"sweep level {self.level_dbfs} dBFS is above full scale")
        for name in ("fade_in_s", "fade_out_s", "preroll_s", "tail_s"):
            if getattr(self, name) < 0:
                raise SignalError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def rate_l_s(self) -> float:
        """The sweep rate ``L`` (s): time per neper of frequency, ``T / ln(f2/f1)``.

        For a synchronized sweep ``L = round(f1 * T / ln(f2/f1)) / f1`` (Novak eq. 32).
        """
        r = math.log(self.f_stop_hz / self.f_start_hz)
        if self.synchronized:
            return max(round(self.f_start_hz * self.duration_s / r), 1) / self.f_start_hz
        return self.duration_s / r

    @property
    def actual_duration_s(self) -> float:
        """Duration actually played (s); differs slightly from ``duration_s`` when synchronized."""
        return self.rate_l_s * math.log(self.f_stop_hz / self.f_start_hz)

    def to_dict(self) -> dict[str, Any]:
        return {
            "f_start_hz": self.f_start_hz,
            "f_stop_hz": self.f_stop_hz,
            "duration_s": self.duration_s,
            "fs": self.fs,
            "level_dbfs": self.level_dbfs,
            "fade_in_s": self.fade_in_s,
            "fade_out_s": self.fade_out_s,
            "synchronized": self.synchronized,
            "preroll_s": self.preroll_s,
            "tail_s": self.tail_s,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SweepSpec":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Measurement:
    """A raw capture of one or more sweeps.

    Parameters
    ----------
    recording : ndarray, shape (n_channels, n_samples)
        Mic signal per played speaker (row ``i`` is the capture while speaker ``i`` played),
        float64, full scale = 1.0.
    fs : int
        Sample rate (Hz).
    sweep : SweepSpec
        The excitation.
    channel_names : tuple of str
        Speaker names, one per row of ``recording``.
    reference : ndarray, shape (n_channels, n_samples), optional
        Loopback reference captured together with each row (timing / interface response).
    meta : mapping
        Device, mic, position, latency, gains, time, repeats, ...
    """

    recording: np.ndarray
    fs: int
    sweep: SweepSpec
    channel_names: tuple[str, ...]
    reference: np.ndarray | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fs", _check_fs(self.fs))
        rec = _as_2d_readonly(self.recording, name="recording")
        object.__setattr__(self, "recording", rec)
        object.__setattr__(self, "channel_names", tuple(self.channel_names))
        if len(self.channel_names) != rec.shape[0]:
            raise SignalError(
                f"{len(self.channel_names)} channel names for {rec.shape[0]} recorded channels"
            )
        if self.reference is not None:
            ref = _as_2d_readonly(self.reference, name="reference")
            if ref.shape != rec.shape:
                raise SignalError(f"reference shape {ref.shape} differs from recording shape {rec.shape}")
            object.__setattr__(self, "reference", ref)
        if self.sweep.fs != self.fs:
            raise SignalError(f"sweep is at {self.sweep.fs} Hz but the recording at {self.fs} Hz")


@dataclass(frozen=True)
class ImpulseResponse:
    """Impulse responses of one or more speakers at one mic position.

    Parameters
    ----------
    samples : ndarray, shape (n_channels, n_samples)
        Linear IRs, float64.  A wire measures as a unit impulse.
    fs : int
        Sample rate (Hz).
    channel_names : tuple of str
        One name per row.
    onset_samples : int
        Index of sample 0 of the *time origin* shared by all channels: the pre-delay kept
        before the earliest arrival.  Relative timing between channels is preserved; the
        acoustic arrival of channel ``i`` is ``arrival_samples[i]``.  For measured IRs
        (``calib.deconvolve``) the time origin is the moment the sweep left the output
        (latency removed when a loopback was recorded), so
        ``(arrival_samples[i] - onset_samples) / fs`` is the propagation delay.
    arrival_samples : tuple of float
        Per channel, the (sub-sample) index of the direct-sound onset in ``samples``.
    latency_samples : float
        Interface latency found from the loopback (or 0.0 when unknown), already removed.
    harmonics : mapping int -> ndarray (n_channels, n_h)
        Harmonic IRs (order k >= 2), each cut with the same pre-delay as ``samples`` (index
        ``onset_samples`` is the harmonic IR's own time origin, so it lines up sample for
        sample with the linear IR), at the same scale as ``samples``; lengths differ per
        order (``L ln(k/(k-1))`` minus the pre-delay, see ``calib.deconvolve``).
    snr_db : tuple of float
        Per channel peak-to-noise ratio found from the silent pre-roll (dB), NaN if unknown.
    source_id : str
        Id of the measurement it came from ("" if none).
    meta : mapping
        Anything else (sweep, device, seat name, ...).
    """

    samples: np.ndarray
    fs: int
    channel_names: tuple[str, ...]
    onset_samples: int = 0
    arrival_samples: tuple[float, ...] = ()
    latency_samples: float = 0.0
    harmonics: Mapping[int, np.ndarray] = field(default_factory=dict)
    snr_db: tuple[float, ...] = ()
    source_id: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fs", _check_fs(self.fs))
        s = _as_2d_readonly(self.samples, name="samples")
        if s.shape[1] < 2:
            raise SignalError(f"an impulse response needs at least 2 samples, got {s.shape[1]}")
        if not np.all(np.isfinite(s)):
            raise SignalError("impulse response contains NaN or Inf samples")
        object.__setattr__(self, "samples", s)
        object.__setattr__(self, "channel_names", tuple(self.channel_names))
        if len(self.channel_names) != s.shape[0]:
            raise SignalError(f"{len(self.channel_names)} channel names for {s.shape[0]} IR channels")
        object.__setattr__(self, "arrival_samples", tuple(float(a) for a in self.arrival_samples))
        object.__setattr__(self, "snr_db", tuple(float(a) for a in self.snr_db))
        h = {int(k): _as_2d_readonly(v, name=f"harmonic {k}") for k, v in dict(self.harmonics).items()}
        object.__setattr__(self, "harmonics", h)

    @property
    def n_channels(self) -> int:
        return self.samples.shape[0]

    @property
    def n_samples(self) -> int:
        return self.samples.shape[1]

    def channel(self, name_or_index: str | int) -> np.ndarray:
        """One channel's IR (1-D, read-only)."""
        if isinstance(name_or_index, str):
            try:
                idx = self.channel_names.index(name_or_index)
            except ValueError:
                raise SignalError(
                    f"no channel {name_or_index!r}; channels are {', '.join(self.channel_names)}"
                ) from None
        else:
            idx = int(name_or_index)
        return self.samples[idx]


@dataclass(frozen=True)
class FrequencyResponse:
    """Magnitude (and optionally phase) response on a frequency grid.

    Parameters
    ----------
    freqs_hz : ndarray, shape (n_freqs,)
    magnitude_db : ndarray, shape (n_channels, n_freqs)
    phase_rad : ndarray, shape (n_channels, n_freqs), optional (unwrapped)
    channel_names : tuple of str
    smoothing : str
        Label such as ``"none"``, ``"1/6 oct"``, ``"var"``, ``"psy"``, ``"erb"``.
    """

    freqs_hz: np.ndarray
    magnitude_db: np.ndarray
    channel_names: tuple[str, ...]
    phase_rad: np.ndarray | None = None
    smoothing: str = "none"

    def __post_init__(self) -> None:
        f = np.array(self.freqs_hz, dtype=np.float64, copy=True)
        if f.ndim != 1:
            raise SignalError("freqs_hz must be 1-D")
        f.setflags(write=False)
        object.__setattr__(self, "freqs_hz", f)
        m = _as_2d_readonly(self.magnitude_db, name="magnitude_db")
        if m.shape[1] != f.size:
            raise SignalError(f"magnitude has {m.shape[1]} points but there are {f.size} frequencies")
        object.__setattr__(self, "magnitude_db", m)
        object.__setattr__(self, "channel_names", tuple(self.channel_names))
        if len(self.channel_names) != m.shape[0]:
            raise SignalError(f"{len(self.channel_names)} channel names for {m.shape[0]} responses")
        if self.phase_rad is not None:
            p = _as_2d_readonly(self.phase_rad, name="phase_rad")
            if p.shape != m.shape:
                raise SignalError("phase and magnitude shapes differ")
            object.__setattr__(self, "phase_rad", p)
