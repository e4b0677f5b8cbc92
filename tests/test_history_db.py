"""monitor.history: schema, migrations, atomic writes, kill-safety, series for drift plots."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from monitor.history import SCHEMA_VERSION, History, HistoryError

ROOT = Path(__file__).resolve().parent.parent


def _check(name="level", channel="L", value=0.1, limit=0.5, verdict="pass", **kw):
    return dict(name=name, channel=channel, value=value, limit=limit, unit="dB", verdict=verdict, **kw)


def test_new_database_is_wal_with_schema_version(tmp_path):
    db = tmp_path / "ws" / "history.sqlite"
    with History(db) as h:
        assert h.schema_version == SCHEMA_VERSION >= 1
        assert h.integrity_ok()
        assert h.counts() == {"measurements": 0, "verifications": 0, "checks": 0}
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_measurement_round_trip_and_order(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        h.add_measurement(measurement_id="20261101T100000Z-base", fs=48000, channels=("L", "R"),
                          label="base", path="measurements/20261101T100000Z-base",
                          snr_db=(71.5, float("nan")), stamp="2026-11-01T10:00:00Z", meta={"repeats": 3})
        h.add_measurement(measurement_id="20261102T100000Z-v", fs=96000, channels=("L",), label="v",
                          stamp="2026-11-02T10:00:00+00:00", kind="verify")
        rows = h.measurements()
        assert [r.measurement_id for r in rows] == ["20261102T100000Z-v", "20261101T100000Z-base"]
        base = h.measurements(label="base")[0]
        assert base.channels == ("L", "R") and base.fs == 48000
        assert base.snr_db[0] == 71.5 and math.isnan(base.snr_db[1])
        assert base.min_snr_db == 71.5  # NaN channels are ignored in the minimum
        assert base.meta == {"repeats": 3}
        assert base.stamp == "2026-11-01T10:00:00Z"
        assert [r.kind for r in h.measurements(kind="verify")] == ["verify"]
        with pytest.raises(HistoryError, match="already in the history"):
            h.add_measurement(measurement_id="20261101T100000Z-base", fs=48000)
        h.add_measurement(measurement_id="20261101T100000Z-base", fs=44100, replace=True,
                          stamp="2026-11-01T10:00:00Z")
        assert h.measurements(limit=5)[-1].fs == 44100


def test_measurement_errors(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        with pytest.raises(HistoryError, match="non-empty measurement_id"):
            h.add_measurement(measurement_id="  ", fs=48000)
        with pytest.raises(HistoryError, match="not ISO 8601"):
            h.add_measurement(measurement_id="x", fs=48000, stamp="last tuesday")
        with pytest.raises(HistoryError, match="whole number of Hz"):
            h.add_measurement(measurement_id="x", fs="fast")
        assert h.counts()["measurements"] == 0


def test_verification_with_checks_and_failed_mark(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        v1 = h.add_verification(profile_name="main", profile_hash="a" * 64, verdict="pass",
                                checks=[_check(uncertainty=0.03)], time_utc="2026-11-01T10:00:00Z")
        v2 = h.add_verification(profile_name="main", profile_hash="a" * 64, verdict="fail",
                                checks=[_check(value=0.6, verdict="fail"),
                                        _check(name="band_deviation", value=2.1, limit=1.5, verdict="fail",
                                               band_hz=1000.0)],
                                report_path="reports/verify.json", time_utc="2026-11-08T10:00:00Z",
                                message="level changed")
        rows = h.verifications()
        assert [r.id for r in rows] == [v2, v1]  # newest first
        assert rows[0].failed and not rows[1].failed
        assert rows[0].report_path == "reports/verify.json"
        assert len(rows[0].checks) == 2 and rows[0].checks[1].band_hz == 1000.0
        assert math.isnan(rows[0].checks[0].uncertainty) and rows[1].checks[0].uncertainty == 0.03
        assert [r.id for r in h.verifications(failed_only=True)] == [v2]
        assert [r.id for r in h.verifications(since="2026-11-05T00:00:00Z")] == [v2]
        assert h.verifications(with_checks=False)[0].checks == ()
        s = h.series("level", channel="L")
        assert [(p.value, p.verdict) for p in s] == [(0.1, "pass"), (0.6, "fail")]  # oldest first
        assert [p.value for p in h.series("band_deviation", band_hz=1000.0)] == [2.1]
        assert h.series("band_deviation", band_hz=1250.0) == []
        assert ("level", "L") in h.check_names()
        h.set_report_path(v1, "reports/r1.json")
        assert h.verifications(limit=1, since="2026-10-01T00:00:00Z")[-1].id == v2
        with pytest.raises(HistoryError, match="no verification with id 999"):
            h.set_report_path(999, "x")


def test_bad_verdicts_write_nothing(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        with pytest.raises(HistoryError, match="verdict 'maybe' is not one of"):
            h.add_verification(profile_name="p", profile_hash="h", verdict="maybe")
        with pytest.raises(HistoryError, match="has verdict 'ok'"):
            h.add_verification(profile_name="p", profile_hash="h", verdict="pass",
                               checks=[_check(), _check(verdict="ok")])
        assert h.counts() == {"measurements": 0, "verifications": 0, "checks": 0}


def test_failure_inside_transaction_rolls_back(tmp_path):
    """A verification whose checks cannot be written leaves no orphan verification row."""

    class Exploding:
        name = "level"
        channel = "L"
        unit = "dB"
        verdict = "pass"
        limit = 1.0
        uncertainty = None
        band_hz = None
        message = ""

        @property
        def value(self):
            raise RuntimeError("boom")

    with History(tmp_path / "h.sqlite") as h:
        h.add_verification(profile_name="p", profile_hash="h", verdict="pass", checks=[_check()])
        with pytest.raises(RuntimeError, match="boom"):
            h.add_verification(profile_name="p", profile_hash="h", verdict="pass", checks=[_check(), Exploding()])
        assert h.counts() == {"measurements": 0, "verifications": 1, "checks": 1}
        assert h.integrity_ok()


def test_migration_from_version_0_and_refusals(tmp_path):
    old = tmp_path / "old.sqlite"
    sqlite3.connect(old).close()  # an empty database: user_version 0
    with History(old) as h:
        assert h.schema_version == SCHEMA_VERSION
        h.add_measurement(measurement_id="m", fs=48000)
    newer = tmp_path / "newer.sqlite"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.close()
    with pytest.raises(HistoryError, match="newer than this roomtruth"):
        History(newer)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(HistoryError, match="not a usable history database"):
        History(junk)
    with pytest.raises(HistoryError, match="is a folder"):
        History(tmp_path)
    with pytest.raises(HistoryError, match="no history database yet"):
        History(tmp_path / "absent.sqlite", readonly=True)
    stale = tmp_path / "stale.sqlite"
    sqlite3.connect(stale).close()
    with pytest.raises(HistoryError, match="schema version 0"):
        History(stale, readonly=True)


def test_readonly_reads(tmp_path):
    db = tmp_path / "h.sqlite"
    with History(db) as h:
        h.add_verification(profile_name="p", profile_hash="h", verdict="warn", checks=[_check(verdict="warn")])
    with History(db, readonly=True) as h:
        assert h.verifications()[0].verdict == "warn"
        with pytest.raises(HistoryError, match="cannot write"):
            h.add_measurement(measurement_id="x", fs=48000)


WRITER = textwrap.dedent(
    """
    import os, sys
    from monitor.history import History
    h = History(sys.argv[1])
    i = 0
    while True:
        i += 1
        checks = [dict(name="band_deviation", channel="L", value=0.01 * k, limit=1.5, unit="dB",
                       verdict="pass", band_hz=20.0 * k, message="x" * 200) for k in range(1, 41)]
        h.add_verification(profile_name="p", profile_hash=str(i), verdict="pass", checks=checks)
        h.add_measurement(measurement_id=f"m{os.getpid()}-{i}", fs=48000, channels=("L", "R"), meta={"blob": "y" * 2000})
    """
)


def test_sigkill_during_writes_never_corrupts(tmp_path):
    """A writer SIGKILL'd mid-loop: integrity holds, every committed verification has all its checks."""
    db = tmp_path / "history.sqlite"
    with History(db) as h:  # rows written before the writer starts must survive untouched
        first = h.add_verification(profile_name="before", profile_hash="0", verdict="fail",
                                   checks=[_check(verdict="fail", value=0.7)])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _round in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                con = sqlite3.connect(db, timeout=30)
                n = con.execute("SELECT COUNT(*) FROM verifications").fetchone()[0]
                con.close()
                if n >= 5 + 10 * _round:
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            time.sleep(0.013 * (_round + 1))  # land the kill at different points of a write
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
        with History(db) as h:
            assert h.integrity_ok()
            rows = h.verifications()
            assert rows[-1].id == first and rows[-1].profile_name == "before" and rows[-1].failed
            assert rows[-1].checks[0].value == 0.7
            for r in rows[:-1]:
                assert len(r.checks) == 40, f"verification {r.id} has {len(r.checks)} of 40 checks"
            assert len(rows) >= 5 + 10 * _round


def test_forward_migration_keeps_rows(tmp_path, monkeypatch):
    """A future schema step (v1 -> v2) runs once, in a transaction, and keeps every earlier row."""
    import monitor.history as mh

    db = tmp_path / "h.sqlite"
    with History(db) as h:
        h.add_verification(profile_name="p", profile_hash="h", verdict="pass", checks=[_check()])
        h.add_measurement(measurement_id="m1", fs=48000)

    def to_2(con):
        con.execute("ALTER TABLE verifications ADD COLUMN operator TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(mh, "MIGRATIONS", mh.MIGRATIONS + (to_2,))
    monkeypatch.setattr(mh, "SCHEMA_VERSION", len(mh.MIGRATIONS))
    with mh.History(db) as h:
        assert h.schema_version == 2
        assert h.counts() == {"measurements": 1, "verifications": 1, "checks": 1}
        cols = [r[1] for r in h._con.execute("PRAGMA table_info(verifications)")]
        assert "operator" in cols
        assert h.integrity_ok()
    with mh.History(db) as h:  # already migrated: nothing runs twice
        assert h.schema_version == 2

    def broken(con):
        con.execute("ALTER TABLE checks ADD COLUMN x REAL")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(mh, "MIGRATIONS", mh.MIGRATIONS + (broken,))
    monkeypatch.setattr(mh, "SCHEMA_VERSION", len(mh.MIGRATIONS))
    with pytest.raises(RuntimeError, match="migration bug"):
        mh.History(db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2  # rolled back, version unchanged
    assert "x" not in [r[1] for r in con.execute("PRAGMA table_info(checks)")]
    con.close()
