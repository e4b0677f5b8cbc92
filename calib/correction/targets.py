"""Target curves for room correction: flat, tilted, house curve, or read from a file.

A target is a *shape* in dB over frequency; its absolute level is found automatically from the
measured response (:func:`auto_level_db`), so a target never asks the correction to raise or
lower the whole room.  The correction acts only inside the target's range ``lo_hz..hi_hz``.

House-curve numbers are practice, not a standard (STANDARDS.md §7.4 [U]); they live in the
:data:`HOUSE_CURVE` table and can be overridden.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from calib.errors import ConfigError

__all__ = ["Target", "HOUSE_CURVE", "DEFAULT_RANGE_HZ", "read_target_file", "parse_target_text",
           "auto_level_db", "parse_range", "target_from_option"]

#: Correction range used when none is given (Hz): the modal region and a little above.
DEFAULT_RANGE_HZ: tuple[float, float] = (20.0, 500.0)

#: House curve [U, practice]: a low-frequency rise (shelf) and a gentle high-frequency fall.
#: ``lf_rise_db`` at f -> 0, half of it at ``lf_corner_hz``; ``hf_fall_db_per_octave`` above
#: ``hf_start_hz``.
HOUSE_CURVE: Mapping[str, float] = {
    "lf_rise_db": 4.0,
    "lf_corner_hz": 120.0,
    "hf_fall_db_per_octave": 1.0,
    "hf_start_hz": 1000.0,
}

TARGET_KINDS = ("flat", "tilt", "house", "file")


@dataclass(frozen=True)
class Target:
    """A target curve shape and the correction range.

    Parameters
    ----------
    kind : {"flat", "tilt", "house", "file"}
    lo_hz, hi_hz : float
        Correction range (Hz); outside it the correction returns smoothly to 0 dB.
    tilt_db_per_octave : float
        Slope of a ``"tilt"`` target (dB per octave, re 1 kHz); negative falls with frequency.
    points_hz, points_db : tuple of float
        Breakpoints of a ``"file"`` target (interpolated linearly in dB over log frequency,
        held constant beyond the ends).
    house : mapping
        Parameters of the house curve (see :data:`HOUSE_CURVE`).
    source : str
        File name of a ``"file"`` target ("" otherwise).
    """

    kind: str = "flat"
    lo_hz: float = DEFAULT_RANGE_HZ[0]
    hi_hz: float = DEFAULT_RANGE_HZ[1]
    tilt_db_per_octave: float = 0.0
    points_hz: tuple[float, ...] = ()
    points_db: tuple[float, ...] = ()
    house: Mapping[str, float] = field(default_factory=lambda: dict(HOUSE_CURVE))
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ConfigError(f"unknown target {self.kind!r}; expected one of {', '.join(TARGET_KINDS)} or a file")
        if not (math.isfinite(self.lo_hz) and math.isfinite(self.hi_hz) and 0 < self.lo_hz < self.hi_hz):
            raise ConfigError(f"correction range {self.lo_hz}..{self.hi_hz} Hz is invalid; need 0 < LO < HI")
        if self.hi_hz / self.lo_hz < 2 ** (1 / 3):
            raise ConfigError(f"correction range {self.lo_hz}..{self.hi_hz} Hz is narrower than a third of an octave")
        if self.kind == "file" and len(self.points_hz) < 2:
            raise ConfigError("a file target needs at least two points")
        unknown = set(self.house) - set(HOUSE_CURVE)
        if unknown:
            raise ConfigError(f"unknown house-curve keys {sorted(unknown)}; known: {sorted(HOUSE_CURVE)}")

    def curve_db(self, freqs_hz: np.ndarray) -> np.ndarray:
        """The target shape (dB) at ``freqs_hz`` (Hz, > 0).  Only its shape matters."""
        f = np.maximum(np.asarray(freqs_hz, dtype=np.float64), 1e-3)
        if self.kind == "flat":
            return np.zeros_like(f)
        if self.kind == "tilt":
            return self.tilt_db_per_octave * np.log2(f / 1000.0)
        if self.kind == "house":
            h = {**HOUSE_CURVE, **self.house}
            lf = h["lf_rise_db"] / (1.0 + (f / h["lf_corner_hz"]) ** 2)
            hf = -h["hf_fall_db_per_octave"] * np.maximum(np.log2(f / h["hf_start_hz"]), 0.0)
            return lf + hf
        x = np.log(np.asarray(self.points_hz))
        return np.interp(np.log(f), x, np.asarray(self.points_db))

    def with_range(self, lo_hz: float, hi_hz: float) -> "Target":
        from dataclasses import replace

        return replace(self, lo_hz=float(lo_hz), hi_hz=float(hi_hz))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "range_hz": [self.lo_hz, self.hi_hz]}
        if self.kind == "tilt":
            d["tilt_db_per_octave"] = self.tilt_db_per_octave
        if self.kind == "house":
            d["house"] = {**HOUSE_CURVE, **self.house}
        if self.kind == "file":
            d["source"] = self.source
            d["points_hz"] = list(self.points_hz)
            d["points_db"] = list(self.points_db)
        return d


def auto_level_db(response_db: np.ndarray, target_db: np.ndarray) -> float:
    """Target level (dB) that best fits a response: the mean of ``response − target``.

    Both are sampled on the same log-spaced grid inside the correction range, so the mean is
    the log-frequency weighted least-squares level (it minimises the RMS deviation).
    """
    d = np.asarray(response_db, dtype=np.float64) - np.asarray(target_db, dtype=np.float64)
    return float(np.mean(d, axis=-1))


_NUM = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def _fields(line: str) -> list[str]:
    """Split a data line into numeric fields; decimal commas are accepted (REW in e.g. Spanish
    locale writes ``46,4``)."""
    if ";" in line or "\t" in line:
        parts = [p.strip() for p in re.split(r"[;\t]", line) if p.strip()]
        return [p.replace(",", ".") for p in parts]
    parts = line.split()
    if len(parts) >= 2:
        return [p.replace(",", ".") for p in parts]
    return [p.strip() for p in line.split(",") if p.strip()]


def parse_target_text(text: str, *, source: str = "<text>") -> tuple[np.ndarray, np.ndarray]:
    """Read ``frequency dB [phase]`` rows (REW target / measurement export, CSV, DRC target).

    Comment lines start with ``*``, ``#``, ``;`` or ``//``; text header lines before the first
    data row are skipped; points at 0 Hz or below are ignored.

    Raises
    ------
    ConfigError
        No data, a malformed row after the data started, non-increasing frequencies,
        non-finite or implausible (|dB| > 60) values.
    """
    freqs: list[float] = []
    dbs: list[float] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "*#;" or line.startswith("//"):
            continue
        parts = _fields(line)
        numeric = len(parts) >= 2 and all(_NUM.match(p) for p in parts[:2])
        if not numeric:
            if not freqs:
                continue  # header line
            raise ConfigError(f"{source} line {n} is not 'frequency dB' data: {line[:60]!r}; fix or remove that line")
        f_hz, db = float(parts[0]), float(parts[1])
        if not (math.isfinite(f_hz) and math.isfinite(db)) or abs(db) > 60:
            raise ConfigError(f"{source} line {n} has an implausible value ({f_hz} Hz, {db} dB); expected |dB| <= 60")
        if f_hz <= 0:
            continue
        if freqs and f_hz <= freqs[-1]:
            raise ConfigError(f"{source} line {n}: frequency {f_hz} Hz does not increase (previous {freqs[-1]} Hz)")
        freqs.append(f_hz)
        dbs.append(db)
    if len(freqs) < 2:
        raise ConfigError(f"{source} holds {len(freqs)} 'frequency dB' rows; a target needs at least 2")
    return np.array(freqs), np.array(dbs)


def read_target_file(path: str | Path, *, lo_hz: float = DEFAULT_RANGE_HZ[0],
                     hi_hz: float = DEFAULT_RANGE_HZ[1]) -> Target:
    """A ``"file"`` target from a REW/CSV/DRC-style text file (see :func:`parse_target_text`).

    Raises
    ------
    ConfigError
        Missing, unreadable or malformed file.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"target file {p} does not exist; give flat, house, tilt:<dB/oct> or an existing file")
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        try:
            text = p.read_text(encoding="latin-1")
        except OSError as exc:  # pragma: no cover
            raise ConfigError(f"cannot read target file {p}: {exc}") from None
    f_hz, db = parse_target_text(text, source=str(p))
    return Target(kind="file", lo_hz=lo_hz, hi_hz=hi_hz, points_hz=tuple(f_hz), points_db=tuple(db),
                  source=p.name)


def parse_range(text: str) -> tuple[float, float]:
    """``"LO,HI"`` (Hz) -> (lo, hi).  Raises ConfigError with the expected form."""
    try:
        lo_s, hi_s = text.replace(" ", "").split(",")
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise ConfigError(f"--range {text!r} is not LO,HI in Hz (e.g. 20,500)") from None
    if not (0 < lo < hi):
        raise ConfigError(f"--range {text!r}: need 0 < LO < HI (Hz)")
    return lo, hi


def target_from_option(option: str, *, lo_hz: float, hi_hz: float) -> Target:
    """Target from a CLI word: ``flat``, ``house``, ``tilt:<dB/oct>`` or a file path."""
    if option == "flat":
        return Target("flat", lo_hz, hi_hz)
    if option == "house":
        return Target("house", lo_hz, hi_hz)
    if option.startswith("tilt:"):
        try:
            slope = float(option[5:])
        except ValueError:
            raise ConfigError(f"--target {option!r}: expected tilt:<dB per octave>, e.g. tilt:-0.5") from None
        if abs(slope) > 6:
            raise ConfigError(f"--target {option!r}: tilt {slope} dB/oct is outside +-6 dB/oct")
        return Target("tilt", lo_hz, hi_hz, tilt_db_per_octave=slope)
    return read_target_file(option, lo_hz=lo_hz, hi_hz=hi_hz)
