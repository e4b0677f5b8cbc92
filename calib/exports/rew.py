"""REW "Filter Settings file" text: export and import (decimal commas accepted).

Format (as REW writes it, e.g. ``../shared/data/rsantct-drc/rew_R.txt``)::

    Filter Settings file

    Room EQ V5,17
    Dated: 02-abr-2017 12:40:10

    Notes:R

    Equaliser: Generic
    Average R
    Filter  1: ON  PK       Fc    46,4 Hz  Gain  -3,0 dB  Q 12,60
    Filter  5: ON  None

Numbers use the writer's locale: ``46,4`` and ``46.4`` are the same value.  Types read: PK
(peaking), LSC/HSC/LS/HS (shelves with Q; LS/HS at Q = 0.7071), LP/HP/LPQ/HPQ, NO (notch),
AP (all-pass); ``None`` and ``OFF`` slots are skipped.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

from calib.errors import ConfigError
from calib.profile import Biquad

__all__ = ["format_rew_filters", "parse_rew_filters", "read_rew_filters"]

_TO_REW = {"peaking": "PK", "lowshelf": "LSC", "highshelf": "HSC", "lowpass": "LPQ", "highpass": "HPQ",
           "notch": "NO", "allpass": "AP"}
_FROM_REW = {"PK": "peaking", "PEQ": "peaking", "LSC": "lowshelf", "HSC": "highshelf", "LS": "lowshelf",
             "HS": "highshelf", "LPQ": "lowpass", "HPQ": "highpass", "LP": "lowpass", "HP": "highpass",
             "NO": "notch", "AP": "allpass"}
_NUM = r"([+-]?\d+(?:[.,]\d+)?)"
_LINE = re.compile(r"^Filter\s+(\d+)\s*:\s*(ON|OFF)\s+(\S+)(.*)$", re.IGNORECASE)
_FC = re.compile(r"Fc\s+" + _NUM + r"\s*(k?Hz)", re.IGNORECASE)
_GAIN = re.compile(r"Gain\s+" + _NUM + r"\s*dB", re.IGNORECASE)
_Q = re.compile(r"\bQ\s+" + _NUM)


def _fmt(v: float, nd: int, decimal: str) -> str:
    s = f"{v:.{nd}f}"
    return s.replace(".", decimal) if decimal != "." else s


def format_rew_filters(peq: Sequence[Biquad], *, notes: str = "roomtruth", equaliser: str = "Generic",
                       n_slots: int = 20, decimal: str = ".") -> str:
    """REW filter-settings text for a biquad list (one speaker).

    Values are written with 2 decimals (Hz, dB) and 3 for Q, enough that a round trip
    changes a peaking filter's response by < 0.01 dB.  ``decimal=","`` writes a comma locale.
    """
    if len(peq) > n_slots:
        raise ConfigError(f"{len(peq)} filters do not fit REW's {n_slots} slots; use --peq {n_slots} or fewer")
    lines = ["Filter Settings file", "", "Room EQ V5.20 (written by roomtruth)", "", f"Notes:{notes}", "",
             f"Equaliser: {equaliser}", notes]
    for i in range(n_slots):
        if i < len(peq):
            b = peq[i]
            code = _TO_REW[b.kind]
            gain = f"  Gain {_fmt(b.gain_db, 2, decimal):>6} dB" if b.kind in ("peaking", "lowshelf", "highshelf") else ""
            lines.append(f"Filter {i + 1:2d}: ON  {code:<8} Fc {_fmt(b.freq_hz, 2, decimal):>8} Hz{gain}"
                         f"  Q {_fmt(b.q, 3, decimal):>6}")
        else:
            lines.append(f"Filter {i + 1:2d}: ON  None")
    return "\n".join(lines) + "\n"


def _num(s: str) -> float:
    return float(s.replace(",", "."))


def parse_rew_filters(text: str, *, source: str = "<text>") -> list[Biquad]:
    """Biquads from REW filter-settings text.

    Raises
    ------
    ConfigError
        No ``Filter N:`` lines, a filter line that cannot be read, an unsupported type.
    """
    out: list[Biquad] = []
    seen = False
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line.lower().startswith("filter") or line.lower().startswith("filter settings"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ConfigError(f"{source} line {n} is not a REW filter line: {line[:70]!r}")
        seen = True
        state, code, rest = m.group(2).upper(), m.group(3).upper(), m.group(4)
        if code == "NONE" or state == "OFF":
            continue
        if code not in _FROM_REW:
            raise ConfigError(f"{source} line {n}: filter type {m.group(3)!r} is not supported; "
                              f"supported: {', '.join(sorted(_FROM_REW))}")
        fc = _FC.search(rest)
        if not fc:
            raise ConfigError(f"{source} line {n}: no 'Fc <number> Hz' in {line[:70]!r}")
        f_hz = _num(fc.group(1)) * (1000.0 if fc.group(2).lower() == "khz" else 1.0)
        g = _GAIN.search(rest)
        q = _Q.search(rest)
        kind = _FROM_REW[code]
        if kind in ("peaking", "lowshelf", "highshelf") and not g:
            raise ConfigError(f"{source} line {n}: {code} filter without 'Gain <number> dB'")
        if kind == "peaking" and not q:
            raise ConfigError(f"{source} line {n}: PK filter without 'Q <number>'")
        try:
            out.append(Biquad(kind, f_hz, _num(g.group(1)) if g else 0.0, _num(q.group(1)) if q else math.sqrt(0.5)))
        except Exception as exc:  # ProfileError: out-of-range values
            raise ConfigError(f"{source} line {n}: {exc}") from None
    if not seen:
        raise ConfigError(f"{source} holds no 'Filter N:' lines; it is not a REW filter-settings file")
    return out


def read_rew_filters(path: str | Path) -> list[Biquad]:
    """Read a REW filter-settings file (UTF-8 or Latin-1, e.g. Spanish month names)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"REW filter file {p} does not exist")
    return parse_rew_filters(read_filter_text(p), source=str(p))


def read_filter_text(path: str | Path) -> str:
    """Text of a filter/target file exported by REW or Equalizer APO: UTF-8, else Latin-1
    (REW writes the system code page, e.g. Spanish month names in its date line)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
