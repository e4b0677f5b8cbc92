"""The room's history: an SQLite database in the workspace (``history.sqlite``).

It indexes every measurement folder and keeps every verification with all its figures, so
``roomtruth history`` can show trends and ``reports`` can plot drift over time.

Safety
------
* WAL journal mode with ``synchronous=FULL``: a reader never blocks a writer, and a process
  killed at any point (SIGKILL, power loss after fsync) leaves the database consistent:
  either the whole transaction is there or none of it.
* Every public write is **one** transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a
  verification and all its checks appear together or not at all.
* ``PRAGMA user_version`` holds the schema version; opening an older database runs the
  forward migrations in :data:`MIGRATIONS` (each in its own transaction); a database written
  by a newer roomtruth is refused with a sentence rather than damaged.

Stable API (used by ``roomtruth measure``, ``roomtruth verify``, ``roomtruth history`` and
``reports``)::

    from monitor.history import History

    with History(workspace / "history.sqlite") as h:
        h.add_measurement(measurement_id="20261125T184000Z-baseline", label="baseline",
                          path="measurements/20261125T184000Z-baseline",
                          channels=("L", "R"), fs=48000, snr_db=(72.1, 71.8),
                          stamp="2026-11-25T18:40:00Z", meta={"repeats": 3})
        vid = h.add_verification(profile_name="main", profile_hash="ab12...",
                                 verdict="fail", checks=[...],   # CheckResult or dicts
                                 report_path="reports/verify-....json")
        h.add_result(result, report_path=...)   # a calib.verification_types.VerificationResult
        rows = h.verifications(limit=20)          # newest first, each with .checks
        ms = h.measurements(label="baseline")
        series = h.series("level", channel="L")   # drift series for plots, oldest first
        assert h.integrity_ok()

Times are stored as ISO 8601 UTC text (``2026-11-25T18:40:00Z``), which sorts correctly.
A check row is ``(name, channel, value, limit, unit, verdict, uncertainty, band_hz, message)``;
``value``/``limit``/``uncertainty`` are REAL (NULL for not-a-number).
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import quote

from monitor.history_schema import (  # re-exported: the stable API lives here
    MIGRATIONS,
    SCHEMA_VERSION,
    CheckRow,
    MeasurementRow,
    SeriesPoint,
    VerificationRow,
)
# how values are stored (times, NULL for not-a-number, JSON) lives in monitor.history_values
from monitor.history_values import (  # noqa: F401  (HistoryError, utc_now_iso re-exported)
    HistoryError,
    _get,
    _json,
    _nan,
    _norm_time,
    _real,
    utc_now_iso,
)

__all__ = [
    "History",
    "HistoryError",
    "MeasurementRow",
    "VerificationRow",
    "CheckRow",
    "SeriesPoint",
    "SCHEMA_VERSION",
    "VERDICTS",
    "utc_now_iso",
]

VERDICTS = ("pass", "warn", "fail", "refused")
"""Overall verdicts stored in the history (``refused``: the run could not judge the room,
e.g. the mic was not back at the baseline position)."""

CHECK_VERDICTS = ("pass", "warn", "fail", "skip")


# ---------------------------------------------------------------------------- the database
class History:
    """The workspace history database.

    Parameters
    ----------
    path : path-like
        The SQLite file (``<workspace>/history.sqlite``); created with its folder if absent.
    readonly : bool
        Open without creating or migrating (``roomtruth history`` on a database it must not
        touch).  A missing file is then an error.

    Raises
    ------
    HistoryError
        The file is not an SQLite database, is damaged, was written by a newer roomtruth, or
        cannot be created.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise HistoryError(f"{self.path} is a folder; expected the history database file")
        if readonly and not self.path.is_file():
            raise HistoryError(f"{self.path}: no history database yet; run 'roomtruth measure' or 'roomtruth verify' first")
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"cannot create the folder of {self.path}: {exc.strerror}") from None
        # side files a refused database must not leave behind (those that were not there before)
        side = [self.path.with_name(self.path.name + sfx) for sfx in ("-wal", "-shm", "-journal")]
        existed = {p for p in side if p.exists()}
        writable = self._writable()
        if not readonly and not writable:
            raise HistoryError(
                f"{self.path} is read-only (no permission to write the file or its folder), so nothing can be "
                "recorded in it; make it writable, or record elsewhere (--history FILE)")
        try:
            if readonly:
                # a read-only history is read read-only: in a folder or file we may not write, SQLite
                # could neither make its WAL index (-shm) nor remove it again, so the file is read
                # as it stands (immutable: no locks, no side files)
                uri = f"file:{quote(str(self.path.resolve()), safe='/')}?mode=ro" + ("" if writable else "&immutable=1")
                self._con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
            else:
                self._con = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
            self._con.execute("PRAGMA busy_timeout = 30000")
            self._con.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                mode = self._con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":  # pragma: no cover - e.g. a network filesystem
                    raise HistoryError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); put the workspace on a local disk")
                self._con.execute("PRAGMA synchronous = FULL")
            self._migrate(readonly=readonly)
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            self._remove_new_side_files(side, existed)
            if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc).replace("-", "").lower():
                raise HistoryError(
                    f"{self.path} cannot be written ({exc}); make the file and its folder writable") from None
            raise HistoryError(
                f"{self.path} is not a usable history database ({exc}); move it aside and run again to start a new one"
            ) from None
        except BaseException:
            self._close_quietly()
            self._remove_new_side_files(side, existed)
            raise

    def _writable(self) -> bool:
        """Whether this process may write the database file (when it exists) and its folder."""
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return False
        return os.access(folder, os.W_OK) if folder.exists() else True

    @staticmethod
    def _remove_new_side_files(side: list[Path], existed: set[Path]) -> None:
        """Remove ``-wal``/``-shm``/``-journal`` files a refused open created (never older ones)."""
        for p in side:
            if p not in existed:
                try:
                    p.unlink()
                except OSError:
                    pass

    # -- lifetime
    def close(self) -> None:
        self._con.close()

    def _close_quietly(self) -> None:
        try:
            if hasattr(self, "_con"):
                self._con.close()
        except Exception:  # pragma: no cover
            pass

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- schema
    @property
    def schema_version(self) -> int:
        return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, *, readonly: bool) -> None:
        ver = self.schema_version
        if ver > SCHEMA_VERSION:
            raise HistoryError(
                f"{self.path} has history schema version {ver}, newer than this roomtruth's {SCHEMA_VERSION}; "
                "upgrade roomtruth to read it"
            )
        if ver == SCHEMA_VERSION:
            return
        if readonly:
            raise HistoryError(
                f"{self.path} has history schema version {ver}; open it once with a writing command to migrate it to {SCHEMA_VERSION}"
            )
        for target in range(ver + 1, SCHEMA_VERSION + 1):
            self._con.execute("BEGIN IMMEDIATE")
            try:
                # re-read inside the write lock: another process may have migrated meanwhile
                now = int(self._con.execute("PRAGMA user_version").fetchone()[0])
                if now < target:
                    MIGRATIONS[target - 1](self._con)
                    self._con.execute(f"PRAGMA user_version = {int(target)}")
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` in one IMMEDIATE transaction; everything or nothing is written."""
        try:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._con)
                self._con.execute("COMMIT")
                return out
            except BaseException:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:
            raise HistoryError(f"history write refused by {self.path}: {exc}") from None
        except sqlite3.OperationalError as exc:
            raise HistoryError(f"cannot write {self.path}: {exc}") from None

    # -- measurements
    def add_measurement(
        self,
        *,
        measurement_id: str,
        fs: int,
        channels: Sequence[str] = (),
        label: str = "",
        path: str | os.PathLike[str] = "",
        snr_db: Sequence[float] = (),
        stamp: str | datetime | None = None,
        kind: str = "measure",
        meta: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> int:
        """Index one measurement folder; returns its row id.

        Parameters
        ----------
        measurement_id : str
            Unique id, normally the folder name ``<stamp>-<label>``.
        fs : int
            Sample rate (Hz).
        channels : sequence of str
            Speaker names measured.
        label, path : str
            User label and the folder (relative to the workspace, or absolute).
        snr_db : sequence of float
            Per channel peak-to-noise ratio (dB); NaN allowed.
        stamp : ISO 8601 str or aware datetime, optional
            Time of the measurement (UTC); now when omitted.
        kind : str
            ``"measure"`` (a full measurement) or ``"verify"`` (a verification run's capture).
        meta : mapping, optional
            Anything JSON-serialisable (repeats, device, position...).
        replace : bool
            Replace an existing row with the same id instead of refusing.

        Raises
        ------
        HistoryError
            Duplicate id (without ``replace``), bad time, or a write failure.
        """
        mid = str(measurement_id).strip()
        if not mid:
            raise HistoryError("a measurement needs a non-empty measurement_id (the folder name)")
        try:
            fs_i = int(fs)
        except (TypeError, ValueError):
            raise HistoryError(f"measurement {mid}: sample rate {fs!r} is not a whole number of Hz") from None
        snr = [_real(v) for v in snr_db]
        finite = [v for v in snr if v is not None]
        row = (
            mid,
            _norm_time(stamp),
            str(label),
            str(path),
            _json([str(c) for c in channels]),
            fs_i,
            _json(snr),
            min(finite) if finite else None,
            str(kind),
            _json(dict(meta or {})),
            utc_now_iso(),
        )
        verb = "INSERT OR REPLACE" if replace else "INSERT"

        def do(con: sqlite3.Connection) -> int:
            if not replace and con.execute("SELECT 1 FROM measurements WHERE measurement_id = ?", (mid,)).fetchone():
                raise HistoryError(f"measurement {mid!r} is already in the history; use a new id or replace=True")
            cur = con.execute(
                f"{verb} INTO measurements (measurement_id, stamp, label, path, channels, fs, snr_db, "
                "min_snr_db, kind, meta, created_utc) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            return int(cur.lastrowid)

        return self._write(do)

    def measurements(self, *, label: str | None = None, kind: str | None = None,
                     limit: int | None = None) -> list[MeasurementRow]:
        """Indexed measurements, newest first (optionally one label / kind, at most ``limit``)."""
        sql = "SELECT * FROM measurements"
        where, args = [], []
        if label is not None:
            where.append("label = ?")
            args.append(label)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY stamp DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        out = []
        for r in self._read(sql, args):
            out.append(
                MeasurementRow(
                    id=r["id"], measurement_id=r["measurement_id"], stamp=r["stamp"], label=r["label"],
                    path=r["path"], channels=tuple(json.loads(r["channels"])), fs=int(r["fs"]),
                    snr_db=tuple(_nan(v) for v in json.loads(r["snr_db"])), min_snr_db=_nan(r["min_snr_db"]),
                    kind=r["kind"], meta=json.loads(r["meta"]),
                )
            )
        return out

    # -- verifications
    def add_verification(
        self,
        *,
        profile_name: str,
        profile_hash: str,
        verdict: str,
        checks: Iterable[Any] = (),
        report_path: str | os.PathLike[str] = "",
        measurement_id: str = "",
        message: str = "",
        time_utc: str | datetime | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        """Store one verification and all its checks in one transaction; returns its id.

        ``checks`` items are :class:`calib.verification_types.CheckResult` objects or mappings
        with keys ``name, channel, value, limit, unit, verdict`` and optionally
        ``uncertainty, band_hz, message``.  A ``fail`` verdict sets the ``failed`` mark.

        Raises
        ------
        HistoryError
            Unknown verdict, or a write failure (nothing is written then).
        """
        v = str(verdict)
        if v not in VERDICTS:
            raise HistoryError(f"verdict {v!r} is not one of {', '.join(VERDICTS)}")
        rows = []
        for c in checks:
            cv = str(_get(c, "verdict", ""))
            if cv not in CHECK_VERDICTS:
                raise HistoryError(f"check {_get(c, 'name')!r} has verdict {cv!r}; expected one of {', '.join(CHECK_VERDICTS)}")
            rows.append(
                (
                    str(_get(c, "name", "")),
                    str(_get(c, "channel", "") or ""),
                    _real(_get(c, "value")),
                    _real(_get(c, "limit")),
                    str(_get(c, "unit", "") or ""),
                    cv,
                    _real(_get(c, "uncertainty")),
                    _real(_get(c, "band_hz")),
                    str(_get(c, "message", "") or ""),
                )
            )
        head = (
            _norm_time(time_utc), str(profile_name), str(profile_hash), v, 1 if v == "fail" else 0,
            str(report_path), str(measurement_id), str(message), _json(dict(meta or {})),
        )

        def do(con: sqlite3.Connection) -> int:
            cur = con.execute(
                "INSERT INTO verifications (time_utc, profile_name, profile_hash, verdict, failed, "
                "report_path, measurement_id, message, meta) VALUES (?,?,?,?,?,?,?,?,?)",
                head,
            )
            vid = int(cur.lastrowid)
            con.executemany(
                "INSERT INTO checks (verification_id, name, channel, value, limit_value, unit, verdict, "
                "uncertainty, band_hz, message) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(vid, *r) for r in rows],
            )
            return vid

        return self._write(do)

    def add_result(self, result: Any, *, report_path: str | os.PathLike[str] = "",
                   measurement_id: str = "") -> int:
        """Store a :class:`calib.verification_types.VerificationResult`; returns its id."""
        return self.add_verification(
            profile_name=result.profile_name,
            profile_hash=result.profile_hash,
            verdict=result.verdict,
            checks=result.checks,
            report_path=report_path,
            measurement_id=measurement_id or getattr(result, "measurement_id", ""),
            message=getattr(result, "message", ""),
            time_utc=getattr(result, "time_utc", None) or None,
            meta=getattr(result, "meta", None),
        )

    def set_report_path(self, verification_id: int, report_path: str | os.PathLike[str]) -> None:
        """Attach the report file to a stored verification."""
        def do(con: sqlite3.Connection) -> None:
            cur = con.execute("UPDATE verifications SET report_path = ? WHERE id = ?", (str(report_path), int(verification_id)))
            if cur.rowcount != 1:
                raise HistoryError(f"no verification with id {verification_id} in {self.path}")

        self._write(do)

    def verifications(self, *, limit: int | None = None, profile_name: str | None = None,
                      since: str | datetime | None = None, with_checks: bool = True,
                      failed_only: bool = False) -> list[VerificationRow]:
        """Stored verifications, newest first, each with its checks (unless ``with_checks=False``)."""
        sql = "SELECT * FROM verifications"
        where, args = [], []
        if profile_name is not None:
            where.append("profile_name = ?")
            args.append(profile_name)
        if since is not None:
            where.append("time_utc >= ?")
            args.append(_norm_time(since))
        if failed_only:
            where.append("failed = 1")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time_utc DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        heads = self._read(sql, args)
        checks: dict[int, list[CheckRow]] = {}
        if with_checks and heads:
            ids = [h["id"] for h in heads]
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                q = f"SELECT * FROM checks WHERE verification_id IN ({','.join('?' * len(part))}) ORDER BY id"
                for c in self._read(q, part):
                    checks.setdefault(c["verification_id"], []).append(
                        CheckRow(
                            name=c["name"], channel=c["channel"], value=_nan(c["value"]),
                            limit=_nan(c["limit_value"]), unit=c["unit"], verdict=c["verdict"],
                            uncertainty=_nan(c["uncertainty"]), band_hz=_nan(c["band_hz"]), message=c["message"],
                        )
                    )
        return [
            VerificationRow(
                id=h["id"], time_utc=h["time_utc"], profile_name=h["profile_name"], profile_hash=h["profile_hash"],
                verdict=h["verdict"], failed=bool(h["failed"]), report_path=h["report_path"],
                measurement_id=h["measurement_id"], message=h["message"], meta=json.loads(h["meta"]),
                checks=tuple(checks.get(h["id"], ())),
            )
            for h in heads
        ]

    def series(self, name: str, *, channel: str | None = None, band_hz: float | None = None,
               profile_name: str | None = None, source: str | None = None) -> list[SeriesPoint]:
        """The drift series of one check, oldest first (for trend tables and drift plots).

        Parameters
        ----------
        name : str
            Check name (``"level"``, ``"arrival"``, ``"band_deviation"``, ...).
        channel : str, optional
            Speaker name; all channels when omitted.
        band_hz : float, optional
            Third-octave centre (Hz) for per-band checks (matched to 0.1 Hz).
        profile_name : str, optional
            Only verifications against this profile.
        source : {"sweep", "programme"}, optional
            Only sweep verifications, or only the programme watch's entries (``meta.source`` is
            ``"programme"``, written by ``monitor.watch.record_watch``); both when omitted.
        """
        sql = (
            "SELECT v.time_utc, v.id AS vid, v.profile_hash, c.value, c.limit_value, c.uncertainty, "
            "c.verdict, c.unit FROM checks c JOIN verifications v ON v.id = c.verification_id WHERE c.name = ?"
        )
        args: list[Any] = [name]
        if channel is not None:
            sql += " AND c.channel = ?"
            args.append(channel)
        if band_hz is not None:
            sql += " AND ABS(c.band_hz - ?) < 0.1"
            args.append(float(band_hz))
        if profile_name is not None:
            sql += " AND v.profile_name = ?"
            args.append(profile_name)
        if source is not None:   # the programme watch's entries are marked in meta (issue 13)
            sql += (" AND IFNULL(json_extract(v.meta, '$.source'), '') = 'programme'" if source == "programme"
                    else " AND IFNULL(json_extract(v.meta, '$.source'), '') != 'programme'")
        sql += " ORDER BY v.time_utc ASC, v.id ASC, c.id ASC"
        return [
            SeriesPoint(
                time_utc=r["time_utc"], verification_id=r["vid"], value=_nan(r["value"]),
                limit=_nan(r["limit_value"]), uncertainty=_nan(r["uncertainty"]), verdict=r["verdict"],
                unit=r["unit"], profile_hash=r["profile_hash"],
            )
            for r in self._read(sql, args)
        ]

    def check_names(self) -> list[tuple[str, str]]:
        """Distinct ``(check name, channel)`` pairs present in the history, sorted (the per-band
        ``band_deviation`` checks are left out: use :meth:`series` with ``band_hz``)."""
        return [(r["name"], r["channel"]) for r in self._read(
            "SELECT DISTINCT name, channel FROM checks WHERE name != 'band_deviation' ORDER BY name, channel", [])]

    # -- health
    def integrity_ok(self) -> bool:
        """``PRAGMA integrity_check`` and ``foreign_key_check`` both clean."""
        try:
            ok = self._con.execute("PRAGMA integrity_check").fetchall()
            fk = self._con.execute("PRAGMA foreign_key_check").fetchall()
        except sqlite3.DatabaseError:
            return False
        return len(ok) == 1 and ok[0][0] == "ok" and not fk

    def counts(self) -> dict[str, int]:
        """Row counts per table (``measurements``, ``verifications``, ``checks``)."""
        return {t: int(self._con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in ("measurements", "verifications", "checks")}

    def _read(self, sql: str, args: Sequence[Any]) -> list[sqlite3.Row]:
        self._con.row_factory = sqlite3.Row
        try:
            return list(self._con.execute(sql, tuple(args)).fetchall())
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"cannot read {self.path}: {exc}") from None
        finally:
            self._con.row_factory = None
