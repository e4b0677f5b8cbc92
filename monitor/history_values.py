"""How :mod:`monitor.history` stores values: ISO 8601 UTC times, NULL for not-a-number, JSON.

``HistoryError`` (re-exported by :mod:`monitor.history`) and ``utc_now_iso`` live here so the
value helpers can raise and stamp without importing the database module.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from calib.errors import RoomtruthError

__all__ = ["HistoryError", "utc_now_iso"]


class HistoryError(RoomtruthError):
    """The history database cannot be opened, read or written."""


def utc_now_iso() -> str:
    """The current time as ISO 8601 UTC with a ``Z`` suffix, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _real(x: Any) -> float | None:
    """A finite float, or None (stored as NULL)."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _json(obj: Any) -> str:
    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        return str(o)

    def clean(o: Any) -> Any:
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, Mapping):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), default=default, allow_nan=False, sort_keys=True)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """Read a field from a mapping or an object (CheckResult or dict both work)."""
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _norm_time(t: str | datetime | None) -> str:
    if t is None:
        return utc_now_iso()
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise HistoryError(f"time {t!r} has no time zone; pass an aware datetime (UTC)")
        return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    s = str(t)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError(f"time {s!r} is not ISO 8601 (expected e.g. 2026-11-25T18:40:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
