"""Schema, migrations and row types of the history database (see :mod:`monitor.history`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# ---------------------------------------------------------------------------- schema
def _migrate_to_1(con: sqlite3.Connection) -> None:
    con.execute(
        """
        CREATE TABLE measurements (
            id              INTEGER PRIMARY KEY,
            measurement_id  TEXT NOT NULL UNIQUE,
            stamp           TEXT NOT NULL,
            label           TEXT NOT NULL DEFAULT '',
            path            TEXT NOT NULL DEFAULT '',
            channels        TEXT NOT NULL DEFAULT '[]',
            fs              INTEGER NOT NULL,
            snr_db          TEXT NOT NULL DEFAULT '[]',
            min_snr_db      REAL,
            kind            TEXT NOT NULL DEFAULT 'measure',
            meta            TEXT NOT NULL DEFAULT '{}',
            created_utc     TEXT NOT NULL
        )"""
    )
    con.execute("CREATE INDEX measurements_stamp ON measurements(stamp)")
    con.execute(
        """
        CREATE TABLE verifications (
            id              INTEGER PRIMARY KEY,
            time_utc        TEXT NOT NULL,
            profile_name    TEXT NOT NULL,
            profile_hash    TEXT NOT NULL,
            verdict         TEXT NOT NULL CHECK (verdict IN ('pass','warn','fail','refused')),
            failed          INTEGER NOT NULL CHECK (failed IN (0, 1)),
            report_path     TEXT NOT NULL DEFAULT '',
            measurement_id  TEXT NOT NULL DEFAULT '',
            message         TEXT NOT NULL DEFAULT '',
            meta            TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    con.execute("CREATE INDEX verifications_time ON verifications(time_utc)")
    con.execute(
        """
        CREATE TABLE checks (
            id              INTEGER PRIMARY KEY,
            verification_id INTEGER NOT NULL REFERENCES verifications(id) ON DELETE CASCADE,
            name            TEXT NOT NULL,
            channel         TEXT NOT NULL DEFAULT '',
            value           REAL,
            limit_value     REAL,
            unit            TEXT NOT NULL DEFAULT '',
            verdict         TEXT NOT NULL CHECK (verdict IN ('pass','warn','fail','skip')),
            uncertainty     REAL,
            band_hz         REAL,
            message         TEXT NOT NULL DEFAULT ''
        )"""
    )
    con.execute("CREATE INDEX checks_verification ON checks(verification_id)")
    con.execute("CREATE INDEX checks_name ON checks(name, channel)")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_to_1,)
"""``MIGRATIONS[i]`` brings a database from schema version ``i`` to ``i + 1``.  Append only."""

SCHEMA_VERSION = len(MIGRATIONS)


# ---------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class MeasurementRow:
    """One indexed measurement folder."""

    id: int
    measurement_id: str
    stamp: str
    label: str
    path: str
    channels: tuple[str, ...]
    fs: int
    snr_db: tuple[float, ...]
    min_snr_db: float
    kind: str
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class CheckRow:
    """One stored check of a verification (units in ``unit``; NaN where unknown)."""

    name: str
    channel: str
    value: float
    limit: float
    unit: str
    verdict: str
    uncertainty: float
    band_hz: float
    message: str


@dataclass(frozen=True)
class VerificationRow:
    """One stored verification, newest first when listed."""

    id: int
    time_utc: str
    profile_name: str
    profile_hash: str
    verdict: str
    failed: bool
    report_path: str
    measurement_id: str
    message: str
    meta: Mapping[str, Any]
    checks: tuple[CheckRow, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a drift series: the value of one check at one verification."""

    time_utc: str
    verification_id: int
    value: float
    limit: float
    uncertainty: float
    verdict: str
    unit: str
    profile_hash: str
