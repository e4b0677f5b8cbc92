"""Load and validate the limit table ``calib/data/compliance_limits.toml``.

The file holds every pass/fail number of the room analysis (several are unverified in
STANDARDS.md, so they are data, not code).  Validation is complete: unknown sections or keys,
missing keys and wrong types are all listed in one :class:`~calib.errors.ConfigError`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

from calib.errors import ConfigError

__all__ = ["DEFAULT_LIMITS_PATH", "load_limits"]

DEFAULT_LIMITS_PATH = Path(__file__).resolve().parent.parent / "data" / "compliance_limits.toml"

_NUM = (int, float)
_LIST = "list"

# section -> key -> expected type (number or list of numbers)
_SCHEMA: dict[str, dict[str, Any]] = {
    "decay_range": {"edt_db": _NUM, "t20_db": _NUM, "t30_db": _NUM},
    "reverberation": {
        "tm_coeff_s": _NUM, "tm_ref_volume_m3": _NUM, "tm_band_lo_hz": _NUM, "tm_band_hi_hz": _NUM,
        "mask_upper_freqs_hz": _LIST, "mask_upper_s": _LIST, "mask_lower_freqs_hz": _LIST,
        "mask_lower_s": _LIST, "mask_lo_hz": _NUM, "mask_hi_hz": _NUM, "adjacent_split_hz": _NUM,
        "adjacent_max_diff_s": _NUM, "adjacent_max_ratio": _NUM,
    },
    "early_reflections": {"window_ms": _NUM, "min_below_direct_db": _NUM, "band_lo_hz": _NUM,
                          "band_hi_hz": _NUM},
    "room_response": {"mean_lo_hz": _NUM, "mean_hi_hz": _NUM, "mask_freqs_hz": _LIST,
                      "mask_upper_db": _LIST, "mask_lower_db": _LIST, "mask_lo_hz": _NUM,
                      "mask_hi_hz": _NUM},
    "background_noise": {"preferred_nr": _NUM, "max_nr": _NUM},
    "matching": {"level_band_lo_hz": _NUM, "level_band_hi_hz": _NUM, "level_any_pair_db": _NUM,
                 "level_front_pair_db": _NUM, "response_band_lo_hz": _NUM, "response_band_hi_hz": _NUM,
                 "response_pair_db": _NUM, "arrival_pair_ms": _NUM},
    "room": {"floor_area_min_m2": _NUM, "floor_area_max_m2": _NUM, "max_ratio_to_height": _NUM,
             "integer_ratio_margin": _NUM},
}

_PAIRS = (
    ("reverberation", "mask_upper_freqs_hz", "mask_upper_s"),
    ("reverberation", "mask_lower_freqs_hz", "mask_lower_s"),
    ("room_response", "mask_freqs_hz", "mask_upper_db"),
    ("room_response", "mask_freqs_hz", "mask_lower_db"),
)

_CACHE: dict[Path, dict[str, Any]] = {}


def _validate(data: Mapping[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if data.get("schema_version") != 1:
        problems.append(f"schema_version must be 1, got {data.get('schema_version')!r}")
    for sec in data:
        if sec != "schema_version" and sec not in _SCHEMA:
            problems.append(f"unknown section [{sec}]")
    for sec, keys in _SCHEMA.items():
        table = data.get(sec)
        if not isinstance(table, dict):
            problems.append(f"missing section [{sec}]")
            continue
        for k in table:
            if k not in keys:
                problems.append(f"unknown key {sec}.{k}")
        for k, kind in keys.items():
            if k not in table:
                problems.append(f"missing key {sec}.{k}")
                continue
            v = table[k]
            if kind is _LIST:
                if not (isinstance(v, list) and v and all(isinstance(i, _NUM) and not isinstance(i, bool) for i in v)):
                    problems.append(f"{sec}.{k} must be a non-empty list of numbers, got {v!r}")
            elif not isinstance(v, _NUM) or isinstance(v, bool):
                problems.append(f"{sec}.{k} must be a number, got {v!r}")
    if not problems:
        for sec, fk, vk in _PAIRS:
            f, v = data[sec][fk], data[sec][vk]
            if len(f) != len(v):
                problems.append(f"{sec}.{fk} has {len(f)} points but {sec}.{vk} has {len(v)}")
            elif any(b <= a for a, b in zip(f, f[1:])):
                problems.append(f"{sec}.{fk} must be strictly ascending")
    return problems


def load_limits(path: str | Path | None = None) -> dict[str, Any]:
    """Read and validate a limit table (default: the packaged ``compliance_limits.toml``).

    Returns
    -------
    dict
        ``{section: {key: value}}`` exactly as in the file.

    Raises
    ------
    ConfigError
        Missing or unreadable file, TOML syntax error, or schema problems (all listed).
    """
    p = Path(path) if path is not None else DEFAULT_LIMITS_PATH
    p = p.resolve()
    if p in _CACHE:
        return _CACHE[p]
    if not p.exists():
        raise ConfigError(f"limit table {p} does not exist; pass an existing TOML file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"limit table {p} is not valid TOML: {exc}") from None
    problems = _validate(data, str(p))
    if problems:
        raise ConfigError(f"limit table {p} is invalid: " + "; ".join(problems))
    _CACHE[p] = data
    return data
