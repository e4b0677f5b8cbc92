"""What the web app knows about the room: the workspace, cached results, the one measurement
job, and the live monitor.

The slow things (room analysis, the report's figures and findings: seconds) are computed off
the request path in one background thread and cached against a key made of the workspace's
state (latest measurement, active profile, history, studios), so a page renders in
milliseconds and is never stale for longer than the recomputation takes.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from calib.errors import RoomtruthError

__all__ = ["WebState", "MeasureJob", "run_cli", "error_line"]


_CLI_LOCK = threading.Lock()


def run_cli(argv: list[str], *, progress: Callable[[str], None] | None = None) -> tuple[int, str, str]:
    """Run a ``roomtruth`` command in this process, exactly as on the command line, and return
    ``(exit code, stdout, stderr)``.  One at a time (stdout/stderr are redirected while it
    runs); ``progress`` hears the measure command's progress lines."""
    from roomtruth import cmd_measure
    from roomtruth.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _CLI_LOCK:
        token = cmd_measure.PROGRESS.set(progress)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(a) for a in argv])
        finally:
            cmd_measure.PROGRESS.reset(token)
    return code, out.getvalue(), err.getvalue()


def error_line(stderr: str) -> str:
    """The CLI's ``error: ...`` sentence (without the prefix), or the last line of stderr."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("error:"):
            return ln[len("error:"):].strip()
    return lines[-1] if lines else "the command failed without a message"


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


@dataclass
class MeasureJob:
    """One guided measurement (there is never more than one at a time)."""

    id: str
    options: dict[str, Any]
    started_unix: float = field(default_factory=time.time)
    messages: list[str] = field(default_factory=list)
    state: str = "running"          # running | done | refused | failed
    error: str = ""                 # the CLI's sentence (without 'error: ')
    folder: str = ""                # measurement folder name when done
    summary: str = ""               # what the CLI printed

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "messages": self.messages[-20:], "error": self.error,
                "folder": self.folder, "elapsed_s": round(time.time() - self.started_unix, 1)}


class WebState:
    """The workspace behind the app.

    Parameters
    ----------
    room : Path
        Room workspace (``room.toml``); a folder without one is shown with what is missing.
    """

    def __init__(self, room: Path) -> None:
        self.room = Path(room).resolve()
        self._lock = threading.Lock()
        self._doc: Any = None
        self._doc_key: tuple | None = None
        self._doc_error = ""
        self._doc_thread: threading.Thread | None = None
        self.job: MeasureJob | None = None
        self._job_lock = threading.Lock()
        self.mix_results: dict[str, dict] = {}

    # ------------------------------------------------------------------ workspace facts
    @property
    def name(self) -> str:
        try:
            import tomllib

            doc = tomllib.loads((self.room / "room.toml").read_text(encoding="utf-8"))
            return str(doc.get("room", {}).get("name") or doc.get("name") or self.room.name)
        except (OSError, ValueError):
            return self.room.name

    def config(self) -> Any:
        """The validated room.toml (``RoomtruthError`` with the CLI's sentence when not valid)."""
        from roomtruth.workspace import Workspace

        return Workspace(self.room).load_config()

    def measurements(self) -> list[dict[str, Any]]:
        """Measurement folders, newest first, with their measurement.json essentials."""
        out = []
        mdir = self.room / "measurements"
        for d in sorted(mdir.iterdir() if mdir.is_dir() else [], reverse=True):
            if not d.is_dir() or d.name.startswith("."):
                continue
            info: dict[str, Any] = {"name": d.name}
            try:
                m = json.loads((d / "measurement.json").read_text(encoding="utf-8"))
                info.update(channels=m.get("channel_names") or m.get("channels"), fs=m.get("fs"),
                            label=m.get("label", ""), time_utc=m.get("time_utc") or m.get("created", ""))
            except (OSError, ValueError):
                info["problem"] = "measurement.json missing or unreadable"
            out.append(info)
        return out

    def profiles(self) -> list[dict[str, Any]]:
        """Profiles in the workspace (not rollback copies or temporary folders), active first."""
        from roomtruth.workspace import is_profile_candidate

        active = self.active_profile_dir()
        out = []
        pdir = self.room / "profiles"
        for d in sorted(pdir.iterdir() if pdir.is_dir() else []):
            if not (d / "profile.json").is_file() or not is_profile_candidate(d.name):
                continue
            out.append(self.profile_info(d, active=(active is not None and d.resolve() == active.resolve())))
        out.sort(key=lambda p: (not p["active"], p["name"]))
        return out

    def profile_info(self, d: Path, *, active: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = {"name": d.name, "active": active, "hash": "", "created": "", "speakers": [],
                                "problem": ""}
        try:
            doc = json.loads((d / "profile.json").read_text(encoding="utf-8"))
            info["hash"] = str(doc.get("content_hash", ""))
            prov = doc.get("provenance") or {}
            info["created"] = str(prov.get("created_utc") or prov.get("created") or doc.get("created", ""))
            for s in doc.get("speakers", []):
                info["speakers"].append({
                    "name": s.get("name"), "trim_db": s.get("trim_db"),
                    "delay_ms": s.get("delay_ms", (s["delay_s"] * 1000.0) if isinstance(s.get("delay_s"), (int, float))
                                      else None),
                    "n_peq": len(s.get("peq", []) or []), "fir": bool(s.get("fir_files") or s.get("fir")),
                    "peq": s.get("peq", []) or []})
        except (OSError, ValueError) as exc:
            info["problem"] = f"profile.json unreadable: {exc}"
        return info

    def active_profile_dir(self) -> Path | None:
        from roomtruth.workspace import active_profile_dir

        try:
            return active_profile_dir(self.room)
        except RoomtruthError:
            return None

    def activate(self, name: str) -> Path:
        """Make ``profiles/name`` the active profile: ``profiles/active`` names it (written
        atomically).  Returns its folder."""
        import os
        import tempfile

        from roomtruth.web.security import inside

        target = inside(self.room / "profiles", name)
        if not (target / "profile.json").is_file():
            raise RoomtruthError(f"{name} is not a profile of this room")
        from calib.profile import CalibrationProfile

        CalibrationProfile.load(target)      # refused (tampered, unreadable) before it becomes active
        pdir = self.room / "profiles"
        active = pdir / "active"
        if active.is_dir() and not active.is_symlink():
            raise RoomtruthError(f"{active} is a folder; move it aside to let the app choose the active profile")
        fd, tmp = tempfile.mkstemp(prefix=".active-", suffix=".tmp", dir=pdir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(name + "\n")
        os.replace(tmp, active)
        return target

    def history(self, *, limit: int = 200) -> list[Any]:
        from monitor.history import History

        h = self.room / "history.sqlite"
        if not h.is_file():
            return []
        with History(h, readonly=True) as hist:
            return hist.verifications(limit=limit)

    def series(self) -> dict[str, list[Any]]:
        """Trend series of the per-speaker checks (level, arrival, channel match, ...)."""
        from monitor.history import History

        h = self.room / "history.sqlite"
        if not h.is_file():
            return {}
        out: dict[str, list[Any]] = {}
        with History(h, readonly=True) as hist:
            for name, ch in hist.check_names():
                pts = hist.series(name, channel=ch or None)
                if pts and any(p.value == p.value for p in pts):      # not all NaN
                    out[f"{name} {ch}".strip()] = pts
        return out

    def live(self) -> dict[str, Any] | None:
        from roomtruth.monitor_live import read_live_status

        return read_live_status()

    def report_file(self) -> Path | None:
        """The newest HTML report of the workspace (``report.html`` or ``reports/*.html``)."""
        cands = [p for p in [self.room / "report.html", *sorted((self.room / "reports").glob("*.html"))]
                 if p.is_file()] if self.room.is_dir() else []
        return max(cands, key=_mtime) if cands else None

    def studios(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted((self.room / "studios").glob("*/fingerprint.json")) if (self.room / "studios").is_dir() else []:
            try:
                out.append({"folder": f.parent.name, "fingerprint": json.loads(f.read_text(encoding="utf-8"))})
            except (OSError, ValueError) as exc:
                out.append({"folder": f.parent.name, "problem": str(exc)})
        return out

    # ------------------------------------------------------------------ the report document (cached)
    def state_key(self) -> tuple:
        ms = self.measurements()
        act = self.active_profile_dir()
        studios = self.room / "studios"
        return (ms[0]["name"] if ms else "", str(act) if act else "",
                _mtime(act / "profile.json") if act else 0.0, _mtime(self.room / "history.sqlite"),
                max([_mtime(p) for p in studios.glob("*/fingerprint.json")], default=0.0) if studios.is_dir() else 0.0)

    def document(self, *, wait: bool = False) -> tuple[Any, str]:
        """``(ReportDocument or None, note)``: the cached document for the workspace's state;
        starts (re)building it in the background when the state changed."""
        key = self.state_key()
        with self._lock:
            fresh = self._doc_key == key
            building = self._doc_thread is not None and self._doc_thread.is_alive()
            if not fresh and not building:
                self._doc_thread = threading.Thread(target=self._build, args=(key,), daemon=True,
                                                    name="roomtruth-web-report")
                self._doc_thread.start()
            th = self._doc_thread
        if wait and th is not None and not fresh:
            th.join(120.0)
        with self._lock:
            if self._doc is None and self._doc_error:
                return None, self._doc_error
            if self._doc_key != key:
                return self._doc, "updating the analysis for the latest changes…"
            return self._doc, ""

    def _build(self, key: tuple) -> None:
        try:
            if not key[0]:
                raise RoomtruthError("no measurement yet: measure the room first (Measure)")
            from reports.build import build_document
            from roomtruth.report_load import load_report_inputs

            doc = build_document(load_report_inputs(self.room))
            err = ""
        except RoomtruthError as exc:
            doc, err = None, str(exc)
        except Exception as exc:  # noqa: BLE001 - shown on the page, the server goes on
            doc, err = None, f"the analysis failed: {type(exc).__name__}: {exc}"
        with self._lock:
            self._doc, self._doc_key, self._doc_error = doc, key, err

    # ------------------------------------------------------------------ the measurement job
    def start_measurement(self, options: dict[str, Any]) -> MeasureJob:
        """Start a guided measurement in a thread; ``RoomtruthError`` if one is running."""
        with self._job_lock:
            if self.job is not None and self.job.state == "running":
                started = datetime.fromtimestamp(self.job.started_unix, timezone.utc).strftime("%H:%M:%S")
                raise RoomtruthError(f"a measurement is already running (started {started} UTC, perhaps in "
                                     "another tab); wait for it to finish")
            job = MeasureJob(id=datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f"), options=dict(options))
            self.job = job
        threading.Thread(target=self._run_measurement, args=(job,), daemon=True, name="roomtruth-web-measure").start()
        return job

    def _run_measurement(self, job: MeasureJob) -> None:
        before = {m["name"] for m in self.measurements()}
        job.messages.append("checking room.toml and the interface…")
        argv = ["measure", "--room", str(self.room)]
        for k, v in job.options.items():
            if v is None or v is False or v == "":
                continue
            argv += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
        try:
            code, out, err = run_cli(argv, progress=job.messages.append)
        except Exception as exc:  # noqa: BLE001 - the page says it; the server goes on
            job.error, job.state, job.summary = f"internal error ({type(exc).__name__}: {exc})", "failed", \
                traceback.format_exc()
            return
        job.summary = out
        if code == 0:
            new = [m["name"] for m in self.measurements() if m["name"] not in before]
            job.folder = new[0] if new else ""
            job.messages.append("measured")
            job.state = "done"
        else:
            job.error, job.state = error_line(err), ("refused" if code == 2 else "failed")
