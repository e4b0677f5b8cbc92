"""Platform preview: what each streaming service or broadcaster does to a track's level.

The targets and behaviours live in a dated table, ``mixes/data/platforms.toml`` (STANDARDS.md
§5.4), never in code.  For each platform the gain is ``target - L_I`` (negative: turned down);
a platform that does not raise quiet tracks applies 0 dB instead; one that raises them only
as far as the true-peak headroom allows stops there (Spotify: resulting peak <= -1 dBTP);
one with a limiter (Spotify loud) applies the full gain and the limiter holds the peaks.
Pandora does not normalise by BS.1770 loudness: the preview says so instead of guessing.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from calib.errors import ConfigError
from mixes.types import PlatformPreview

__all__ = ["Platform", "PlatformTable", "load_platforms", "preview", "DEFAULT_TABLE"]

DEFAULT_TABLE = Path(__file__).with_name("data") / "platforms.toml"

_KEYS = {
    "name": str, "target_lufs": float, "turns_up": bool, "up_cap_dbtp": float,
    "limiter_dbfs": float, "max_true_peak_dbtp": float, "behaviour": str, "source": str, "tag": str,
}
_REQUIRED = ("name", "behaviour", "source", "tag")


@dataclass(frozen=True)
class Platform:
    key: str
    name: str
    target_lufs: float | None
    turns_up: bool
    up_cap_dbtp: float | None
    limiter_dbfs: float | None
    max_true_peak_dbtp: float | None
    behaviour: str
    source: str
    tag: str


@dataclass(frozen=True)
class PlatformTable:
    as_of: str
    platforms: tuple[Platform, ...]


def load_platforms(path: str | Path | None = None) -> PlatformTable:
    """Read and validate a platform table (all problems reported at once).

    Raises
    ------
    ConfigError
        Unreadable TOML, unknown or missing keys, wrong types.
    """
    p = Path(path) if path is not None else DEFAULT_TABLE
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such platform table") from None
    except IsADirectoryError:
        raise ConfigError(f"{p} is a folder; give the platform table's TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not a text file; give a platform table in TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML ({exc}); fix the file") from None
    problems: list[str] = []
    for k in doc:
        if k not in ("as_of", "compiled_from", "platform"):
            problems.append(f"unknown top-level key {k!r}")
    if "as_of" not in doc:
        problems.append("missing 'as_of' date")
    out = []
    entries = doc.get("platform") or {}
    if not isinstance(entries, dict):
        problems.append("'platform' must hold tables [platform.KEY] (one per platform), "
                        f"got {type(entries).__name__}")
        entries = {}
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            problems.append(f"platform.{key} is not a table")
            continue
        for k, v in entry.items():
            if k not in _KEYS:
                problems.append(f"platform.{key}: unknown key {k!r}")
            elif _KEYS[k] is float and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                            and math.isfinite(v)):
                problems.append(f"platform.{key}.{k} must be a finite number, got {v!r}")
            elif _KEYS[k] is not float and not isinstance(v, _KEYS[k]):
                problems.append(f"platform.{key}.{k} must be {_KEYS[k].__name__}, got {v!r}")
        for k in _REQUIRED:
            if k not in entry:
                problems.append(f"platform.{key}: missing {k!r}")
        if problems:
            continue
        out.append(Platform(
            key=key, name=entry["name"],
            target_lufs=float(entry["target_lufs"]) if "target_lufs" in entry else None,
            turns_up=bool(entry.get("turns_up", False)),
            up_cap_dbtp=float(entry["up_cap_dbtp"]) if "up_cap_dbtp" in entry else None,
            limiter_dbfs=float(entry["limiter_dbfs"]) if "limiter_dbfs" in entry else None,
            max_true_peak_dbtp=float(entry["max_true_peak_dbtp"]) if "max_true_peak_dbtp" in entry else None,
            behaviour=entry["behaviour"], source=entry["source"], tag=entry["tag"],
        ))
    if not out and not problems:
        problems.append("no [platform.*] entries")
    if problems:
        raise ConfigError(f"{p}: " + "; ".join(problems))
    return PlatformTable(as_of=str(doc["as_of"]), platforms=tuple(out))


def preview(integrated_lufs: float, true_peak_dbtp: float,
            table: PlatformTable | None = None) -> tuple[PlatformPreview, ...]:
    """Gain, resulting true peak and behaviour of every platform for one track.

    Parameters
    ----------
    integrated_lufs : float
        BS.1770 integrated loudness of the track.
    true_peak_dbtp : float
        Its true peak.
    table : PlatformTable, optional
        Default: the bundled dated table.
    """
    tbl = table or load_platforms()
    out = []
    for pf in tbl.platforms:
        if pf.target_lufs is None:
            out.append(PlatformPreview(pf.name, None, 0.0, true_peak_dbtp, "unknown",
                                       f"not LUFS-based: {pf.behaviour}"))
            continue
        if not math.isfinite(integrated_lufs):
            out.append(PlatformPreview(pf.name, pf.target_lufs, math.nan, math.nan, "unknown",
                                       "the track has no measurable loudness (silence?)"))
            continue
        want = pf.target_lufs - integrated_lufs
        notes = []
        if abs(want) < 0.05:
            gain, action = 0.0, "none"
        elif want < 0:
            gain, action = want, "down"
            notes.append(f"turned down {-want:.1f} dB to {pf.target_lufs:g} LUFS")
        elif not pf.turns_up:
            gain, action = 0.0, "none"
            notes.append(f"{want:.1f} dB below target; this platform does not raise quiet tracks")
        elif pf.up_cap_dbtp is not None and true_peak_dbtp + want > pf.up_cap_dbtp:
            gain = max(0.0, pf.up_cap_dbtp - true_peak_dbtp)
            action = "up (capped)"
            notes.append(f"raised only {gain:.1f} of {want:.1f} dB: the true peak may not exceed "
                         f"{pf.up_cap_dbtp:g} dBTP, so it plays at {integrated_lufs + gain:.1f} LUFS")
        else:
            gain, action = want, "up"
            notes.append(f"raised {want:.1f} dB to {pf.target_lufs:g} LUFS")
        tp_after = true_peak_dbtp + gain
        if pf.limiter_dbfs is not None and gain > 0 and tp_after > pf.limiter_dbfs:
            action = "up (limited)"
            notes.append(f"its limiter takes about {tp_after - pf.limiter_dbfs:.1f} dB off the peaks")
        if pf.max_true_peak_dbtp is not None and true_peak_dbtp > pf.max_true_peak_dbtp:
            notes.append(f"the master's true peak {true_peak_dbtp:.1f} dBTP exceeds the "
                         f"{pf.max_true_peak_dbtp:g} dBTP delivery limit")
        elif pf.max_true_peak_dbtp is not None and tp_after > pf.max_true_peak_dbtp and action == "up":
            notes.append(f"after the gain the true peak is {tp_after:.1f} dBTP, above "
                         f"{pf.max_true_peak_dbtp:g} dBTP")
        out.append(PlatformPreview(pf.name, pf.target_lufs, gain, tp_after, action,
                                   "; ".join(notes) if notes else "plays as delivered"))
    return tuple(out)
