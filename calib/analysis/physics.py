"""Small room-acoustics formulas: speed of sound, volume, Schroeder frequency, mode density.

Textbook physics (Kuttruff, *Room Acoustics*; STANDARDS.md §2.6, §4.2, §8.1).
"""

from __future__ import annotations

import math
from typing import Sequence

from calib.errors import ConfigError

__all__ = [
    "speed_of_sound_m_s",
    "check_dims_m",
    "room_volume_m3",
    "schroeder_frequency_hz",
    "mode_count_below",
]


def speed_of_sound_m_s(temperature_c: float = 20.0) -> float:
    """Speed of sound in dry air, ``c = 331.3·√(1 + θ/273.15)`` m/s (STANDARDS.md §8.1).

    Raises
    ------
    ConfigError
        Temperatures outside -40 … 60 °C (certainly a typo).
    """
    if not (-40.0 <= temperature_c <= 60.0):
        raise ConfigError(f"room temperature {temperature_c} °C is outside -40..60 °C; give it in Celsius")
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)


def check_dims_m(dims_m: Sequence[float]) -> tuple[float, float, float]:
    """Validate room dimensions ``(length, width, height)`` in metres.

    Raises
    ------
    ConfigError
        Not three numbers, or any outside 1 … 100 m.
    """
    try:
        d = tuple(float(v) for v in dims_m)
    except (TypeError, ValueError):
        raise ConfigError(f"room dimensions {dims_m!r} must be three numbers in metres (L, W, H)") from None
    if len(d) != 3:
        raise ConfigError(f"room dimensions need 3 values (L, W, H) in metres, got {len(d)}")
    for name, v in zip(("length", "width", "height"), d):
        if not (1.0 <= v <= 100.0) or not math.isfinite(v):
            raise ConfigError(f"room {name} {v} m is outside 1..100 m; give dimensions in metres")
    return d  # type: ignore[return-value]


def room_volume_m3(dims_m: Sequence[float]) -> float:
    """Volume of a rectangular room (m³)."""
    lx, ly, lz = check_dims_m(dims_m)
    return lx * ly * lz


def schroeder_frequency_hz(t60_s: float, volume_m3: float) -> float:
    """Schroeder frequency ``f_S ≈ 2000·√(T60/V)`` Hz (Schroeder 1962; STANDARDS.md §2.6).

    Returns NaN when either input is missing (NaN) or not positive.
    """
    if not (t60_s > 0 and volume_m3 > 0):
        return math.nan
    return 2000.0 * math.sqrt(t60_s / volume_m3)


def mode_count_below(f_hz: float, dims_m: Sequence[float], *, c_m_s: float) -> float:
    """Expected number of modes below ``f_hz`` (STANDARDS.md §4.2)::

        N(f) ≈ 4πV f³/(3c³) + πS f²/(4c²) + L f/(8c)
    """
    lx, ly, lz = check_dims_m(dims_m)
    v = lx * ly * lz
    s = 2.0 * (lx * ly + lx * lz + ly * lz)
    edges = 4.0 * (lx + ly + lz)
    c = c_m_s
    return 4.0 * math.pi * v * f_hz ** 3 / (3.0 * c ** 3) + math.pi * s * f_hz ** 2 / (4.0 * c ** 2) + edges * f_hz / (8.0 * c)
