"""Result types of a room verification (``monitor.verify``), shared with ``reports`` and the CLI.

A verification is a list of checks; each check carries its measured value, the limit it is
judged against, the unit, the verdict and the measurement's expanded uncertainty (k = 2) so
that a report can show both the drift and how sure we are of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

CHECK_VERDICTS = ("pass", "warn", "fail", "skip")
OVERALL_VERDICTS = ("pass", "warn", "fail", "refused")


@dataclass(frozen=True)
class CheckResult:
    """One check of a verification.

    Parameters
    ----------
    name : str
        ``"level"``, ``"band_deviation"``, ``"arrival"``, ``"polarity"``, ``"channel_match"``,
        ``"sub_phase"``, ``"noise_floor"``, ``"distortion"``, ``"mic_position"``,
        ``"monitor_hash"``, ``"monitor_bypass"``.
    channel : str
        Speaker name, a pair ``"L-R"``, or ``""`` for the whole system.
    value : float
        The measured figure (drift from the baseline for drift checks), in ``unit``.
    limit : float
        The fail limit on ``|value|`` (or the bound named in ``message``), in ``unit``.
    unit : str
        ``"dB"``, ``"ms"``, ``"deg"``, ``"corr"``, ``""``.
    verdict : str
        ``pass``, ``warn``, ``fail`` or ``skip`` (could not be evaluated; ``message`` says why).
    uncertainty : float
        Expanded (k = 2) uncertainty of ``value`` from the repeated sweeps, in ``unit``; NaN
        when not applicable.
    band_hz : float
        Third-octave mid-band frequency (Hz) for per-band checks; NaN otherwise.
    message : str
        One sentence for a human.
    warn_limit : float
        The warn threshold on ``|value|`` (NaN when the check has none).
    """

    name: str
    channel: str
    value: float
    limit: float
    unit: str
    verdict: str
    uncertainty: float = math.nan
    band_hz: float = math.nan
    message: str = ""
    warn_limit: float = math.nan

    def __post_init__(self) -> None:
        if self.verdict not in CHECK_VERDICTS:
            raise ValueError(f"check verdict {self.verdict!r} is not one of {CHECK_VERDICTS}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channel": self.channel,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "verdict": self.verdict,
            "uncertainty": self.uncertainty,
            "band_hz": self.band_hz,
            "warn_limit": self.warn_limit,
            "message": self.message,
        }


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of one verification.

    ``verdict`` is ``fail`` if any check failed, else ``warn`` if any warned, else ``pass``;
    ``refused`` when the run could not judge the room (e.g. the mic is not at the baseline
    position), with ``message`` saying why and what to do.
    """

    verdict: str
    checks: tuple[CheckResult, ...]
    profile_name: str
    profile_hash: str
    time_utc: str
    message: str = ""
    measurement_id: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in OVERALL_VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {OVERALL_VERDICTS}")
        object.__setattr__(self, "checks", tuple(self.checks))

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    def by_name(self, name: str, channel: str | None = None) -> list[CheckResult]:
        """The checks with this name (and channel, when given)."""
        return [c for c in self.checks if c.name == name and (channel is None or c.channel == channel)]

    def failing(self) -> list[CheckResult]:
        """Checks that failed or warned, worst first."""
        order = {"fail": 0, "warn": 1}
        return sorted((c for c in self.checks if c.verdict in order), key=lambda c: order[c.verdict])

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "message": self.message,
            "profile": {"name": self.profile_name, "content_hash": self.profile_hash},
            "time_utc": self.time_utc,
            "measurement_id": self.measurement_id,
            "checks": [c.to_dict() for c in self.checks],
            "meta": dict(self.meta),
        }
