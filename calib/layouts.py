"""Loudspeaker layouts: the standard channel sets (2.0 ... 9.1.6) and rooms of up to 16 mains
plus 4 subwoofers.

The names and nominal angles live in ``calib/data/layouts.toml`` with their source: the 2.0,
2.1, 5.1, 7.1 and 7.1.4 angles are those of Rec. ITU-R BS.2051 systems 0+2+0, 0+5+0, 0+7+0 and
4+7+0 as encoded by the EBU ADM Renderer (cross-checked there, not read in the Recommendation);
9.1.6 (a Dolby layout) is marked ``unverified`` ([U], METHODS.md §3).

Angle convention (BS.2051): azimuth positive to the listener's left, 0 = straight ahead;
elevation positive up.  Room coordinates (``room.toml``): x from the front wall (the listener
faces it, so "ahead" is -x), y from the left wall (so "left" is -y), z up.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Sequence

from calib.errors import ConfigError

__all__ = ["LayoutSpeaker", "Layout", "layout", "layout_names", "MAX_MAINS", "MAX_SUBS",
           "direction_deg", "check_positions"]

MAX_MAINS = 16
MAX_SUBS = 4
DEFAULT_TOLERANCE_DEG = 10.0


@dataclass(frozen=True)
class LayoutSpeaker:
    """One channel of a layout: name, BS.2051 label, nominal angles (deg), LFE flag and the
    accepted angle ranges (deg, ``None``: nominal +- :data:`DEFAULT_TOLERANCE_DEG`)."""

    name: str
    label: str
    azimuth_deg: float | None
    elevation_deg: float | None
    lfe: bool = False
    azimuth_range_deg: tuple[float, float] | None = None
    elevation_range_deg: tuple[float, float] | None = None

    @property
    def is_height(self) -> bool:
        return (self.elevation_deg or 0.0) > 0.0


@dataclass(frozen=True)
class Layout:
    """A named layout: channels in the standard programme order (LFE where it has one)."""

    name: str
    bs2051: str
    status: str            # "ear" (cross-checked against the EAR table) or "unverified"
    speakers: tuple[LayoutSpeaker, ...]

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Programme channels in order, LFE included."""
        return tuple(s.name for s in self.speakers)

    @property
    def main_names(self) -> tuple[str, ...]:
        """The speakers (every channel but the LFE), in programme order."""
        return tuple(s.name for s in self.speakers if not s.lfe)

    @property
    def has_lfe(self) -> bool:
        return any(s.lfe for s in self.speakers)

    def speaker(self, name: str) -> LayoutSpeaker:
        for s in self.speakers:
            if s.name == name:
                return s
        raise ConfigError(f"layout {self.name} has no channel {name!r}; its channels are "
                          f"{', '.join(self.channel_names)}")


@lru_cache(maxsize=1)
def _table() -> dict:
    text = resources.files("calib").joinpath("data/layouts.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["layouts"]


def layout_names() -> tuple[str, ...]:
    """The standard layouts known (``"2.0"``, ``"2.1"``, ``"5.1"``, ``"7.1"``, ``"7.1.4"``, ``"9.1.6"``)."""
    return tuple(_table())


def layout(name: str) -> Layout:
    """The standard layout ``name``.

    Raises
    ------
    ConfigError
        Unknown layout name (the message lists the known ones).
    """
    t = _table()
    if name not in t:
        raise ConfigError(f"layout {name!r} is unknown; known layouts are {', '.join(t)}, or list the speakers "
                          "in room.toml without a layout")
    d = t[name]
    spk = []
    for s in d["speakers"]:
        ar, er = s.get("azimuth_range_deg"), s.get("elevation_range_deg")
        spk.append(LayoutSpeaker(s["name"], s.get("label", ""), s.get("azimuth_deg"), s.get("elevation_deg"),
                                 bool(s.get("lfe", False)), tuple(ar) if ar else None, tuple(er) if er else None))
    return Layout(name, d.get("bs2051", ""), d.get("status", "unverified"), tuple(spk))


def direction_deg(speaker_m: Sequence[float], listener_m: Sequence[float]) -> tuple[float, float, float]:
    """Azimuth (deg, + left), elevation (deg, + up) and distance (m) of a speaker seen from the
    listener, in room coordinates (x from the front wall, y from the left wall, z up)."""
    dx, dy, dz = (float(a) - float(b) for a, b in zip(speaker_m, listener_m))
    fwd, left = -dx, -dy
    horiz = math.hypot(fwd, left)
    return (math.degrees(math.atan2(left, fwd)), math.degrees(math.atan2(dz, horiz)),
            math.sqrt(dx * dx + dy * dy + dz * dz))


def _wrap(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


def _off_range(v: float, nominal: float, rng: tuple[float, float] | None, *, wrap: bool) -> float:
    """Degrees outside the accepted range (0 inside)."""
    lo, hi = rng if rng else (nominal - DEFAULT_TOLERANCE_DEG, nominal + DEFAULT_TOLERANCE_DEG)
    lo, hi = min(lo, hi), max(lo, hi)
    # ranges given exactly at the nominal edge get the default tolerance on the open side
    lo = min(lo, nominal - DEFAULT_TOLERANCE_DEG / 2)
    hi = max(hi, nominal + DEFAULT_TOLERANCE_DEG / 2)
    d = (lambda a, b: _wrap(a - b)) if wrap else (lambda a, b: a - b)
    if d(v, lo) < 0:
        return -d(v, lo)
    if d(v, hi) > 0:
        return d(v, hi)
    return 0.0


def check_positions(lay: Layout, positions_m: dict[str, Sequence[float]],
                    listener_m: Sequence[float]) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Angles and distances of the placed speakers against the layout.

    Parameters
    ----------
    lay : Layout
    positions_m : dict name -> (x, y, z) m
        Speakers with a position (others are skipped); subs and names outside the layout are ignored.
    listener_m : (x, y, z) m
        The main seat.

    Returns
    -------
    (per speaker dict, warnings)
        Per speaker: ``azimuth_deg``, ``elevation_deg``, ``distance_m``, ``nominal_azimuth_deg``,
        ``nominal_elevation_deg``, ``off_deg`` (how far outside the accepted range, 0 inside).
        A warning names every speaker outside its range.
    """
    out: dict[str, dict[str, float]] = {}
    warnings: list[str] = []
    for s in lay.speakers:
        if s.lfe or s.name not in positions_m or s.azimuth_deg is None:
            continue
        az, el, dist = direction_deg(positions_m[s.name], listener_m)
        off_az = _off_range(az, s.azimuth_deg, s.azimuth_range_deg, wrap=True)
        off_el = _off_range(el, s.elevation_deg or 0.0, s.elevation_range_deg, wrap=False)
        off = max(off_az, off_el)
        out[s.name] = {"azimuth_deg": az, "elevation_deg": el, "distance_m": dist,
                       "nominal_azimuth_deg": s.azimuth_deg, "nominal_elevation_deg": s.elevation_deg or 0.0,
                       "off_deg": off}
        if off > 0:
            warnings.append(f"speaker {s.name} sits at azimuth {az:.0f} deg, elevation {el:.0f} deg; layout {lay.name} "
                            f"puts it at {s.azimuth_deg:.0f}/{s.elevation_deg or 0.0:.0f} deg ({off:.0f} deg outside "
                            "the accepted range): move it or check its position in room.toml")
    return out, warnings
