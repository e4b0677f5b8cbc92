"""Gather a workspace's results for ``roomtruth report``: the latest measurement, the room's
dimensions, the analysis, the active profile, the corrected response through the monitor
engine, the verification history and the studios' fingerprints.

Every piece is optional except a measurement; a missing piece becomes a "not available"
note in its report section.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from calib.errors import ConfigError, MeasurementError, RoomtruthError

__all__ = ["load_report_inputs", "latest_measurement_dir", "load_measurement"]


def latest_measurement_dir(room: Path) -> Path:
    """The newest folder under ``room/measurements`` holding a ``measurement.json``."""
    mdir = room / "measurements"
    cands = [p.parent for p in mdir.glob("*/measurement.json")] if mdir.is_dir() else []
    if not cands:
        raise MeasurementError(f"no measurement in {mdir}; run 'roomtruth measure --room {room} --out ...' first "
                               "(or 'roomtruth demo' to see a complete report)")
    # folder names start with a UTC stamp; fall back to modification time
    return sorted(cands, key=lambda p: (p.name, p.stat().st_mtime))[-1]


def load_measurement(folder: Path) -> Any:
    """``roomtruth.workspace.load_measurement_dir`` when present, else the folder format of
    issue 2 read directly (``measurement.json`` + ``<channel>.ir.wav``)."""
    try:
        from roomtruth.workspace import load_measurement_dir
    except ImportError:
        load_measurement_dir = None
    if load_measurement_dir is not None:
        return load_measurement_dir(folder)
    import numpy as np

    from calib.audio_io import read_audio
    from calib.types import ImpulseResponse

    try:
        meta = json.loads((folder / "measurement.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MeasurementError(f"{folder / 'measurement.json'} is not readable JSON ({exc})") from None
    names = meta.get("channel_names") or meta.get("channels")
    if not names:
        raise MeasurementError(f"{folder / 'measurement.json'} names no channels")
    rows, fs = [], None
    for n in names:
        x, f = read_audio(folder / f"{n}.ir.wav")
        if fs is not None and f != fs:
            raise MeasurementError(f"{folder}: {n}.ir.wav is at {f} Hz, the others at {fs} Hz")
        fs = f
        rows.append(x[0])
    length = max(r.size for r in rows)
    samples = np.vstack([np.pad(r, (0, length - r.size)) for r in rows])
    return ImpulseResponse(samples, int(fs), tuple(names), onset_samples=int(meta.get("onset_samples", 0) or 0),
                           arrival_samples=tuple(meta.get("arrival_samples") or ()),
                           latency_samples=float(meta.get("latency_samples", 0.0) or 0.0),
                           snr_db=tuple(math.nan if v is None else v for v in (meta.get("snr_db") or ())),
                           source_id=folder.name)


def _room_dims(room: Path) -> tuple[tuple[float, float, float] | None, Any, Any]:
    """(dimensions, speaker positions {name: xyz}, mic position) from ``room.toml``."""
    toml = room / "room.toml"
    if not toml.is_file():
        return None, None, None
    from roomtruth.config import load_room_config

    cfg = load_room_config(toml)
    dims = cfg.dimensions_m
    speakers = {s.name: s.position_m for s in cfg.speakers if s.position_m is not None}
    return (tuple(float(d) for d in dims) if dims else None), (speakers or None), cfg.mic_position_m


def _preroll_noise(folder: Path) -> Any:
    """The silent pre-roll of the raw capture (first speaker's row), or None.

    80 % of ``sweep.preroll_s`` is used: the rest leaves room for the interface latency,
    after which the sweep may already be heard."""
    try:
        meta = json.loads((folder / "measurement.json").read_text(encoding="utf-8"))
        raw = meta.get("raw_file")
        preroll_s = float((meta.get("sweep") or {}).get("preroll_s") or 0.0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if not raw or preroll_s <= 0 or not (folder / raw).is_file():
        return None
    from calib.audio_io import read_audio

    x, fs = read_audio(folder / raw)
    n = int(0.8 * preroll_s * fs)
    return x[0, :n] if n >= 1024 else None


def _active_profile(room: Path) -> Path | None:
    from calib.errors import ProfileError
    from roomtruth.workspace import active_profile_dir

    try:
        return active_profile_dir(room)
    except ProfileError:
        return None


def _client_patterns(room: Path, notes: dict[str, str]) -> list[dict]:
    """``mix patterns`` of every client stored in the workspace (``clients/*/``)."""
    out = []
    for d in sorted((room / "clients").glob("*/client.json")) if (room / "clients").is_dir() else []:
        try:
            from mixes.patterns import patterns_for_client

            name = json.loads(d.read_text(encoding="utf-8")).get("client") or d.parent.name
            out.append(patterns_for_client(room, str(name)))
        except (OSError, ValueError, AttributeError, RoomtruthError) as exc:
            notes.setdefault("mixes", f"the mixes of client folder {d.parent.name} are not readable ({exc})")
    return out


def _fingerprint_mixes(room: Path, fingerprint: Any, notes: dict[str, str], *, limit: int = 12) -> list[Any]:
    """Loudness, true peak and clicks of the mixes a fingerprint was learnt from, for the
    report's mix table: each file as recorded (absolute, or relative to the workspace) or
    by name under ``ROOM/mixes``.  Files that are gone are said so, not guessed."""
    files = [str(f) for f in (fingerprint.get("files") or [])] if isinstance(fingerprint, dict) else []
    found, missing = [], []
    for f in files[:limit]:
        p = Path(f)
        cands = [p] if p.is_absolute() else [room / p, room / "mixes" / p.name]
        hit = next((c for c in cands if c.is_file()), None)
        (found if hit else missing).append(hit or p)
    if not files:
        return []
    try:
        from mixes.analysis import analyze_file
    except ImportError:
        notes["mixes"] = "mix loudness figures not available: the mixes package is not installed"
        return []
    out = []
    for p in found:
        try:
            out.append(analyze_file(p))
        except RoomtruthError as exc:
            missing.append(p)
            notes["mixes"] = f"{p.name} could not be analysed ({exc})"
    if missing and "mixes" not in notes:
        names = ", ".join(Path(m).name for m in missing[:3]) + (" …" if len(missing) > 3 else "")
        notes["mixes"] = (f"loudness figures not available for {len(missing)} of the fingerprint's mixes ({names}): "
                          "the files are no longer in the workspace or where they were read")
    return out


def load_report_inputs(room: Path, *, analyze: bool = True) -> Any:
    """A :class:`reports.document.ReportInputs` for the workspace ``room``."""
    from reports.document import ReportInputs

    if room.exists() and not room.is_dir():
        raise ConfigError(f"--room {room} is a file; pass the workspace folder made by 'roomtruth init' "
                          "(the folder that holds room.toml)")
    if not room.is_dir():
        raise ConfigError(f"room folder {room} does not exist; pass the workspace made by 'roomtruth init' "
                          "with --room DIR")
    notes: dict[str, str] = {}
    mdir = latest_measurement_dir(room)
    ir = load_measurement(mdir)
    dims, speakers, mic = _room_dims(room)
    noise = _preroll_noise(mdir)
    analysis = None
    if analyze:
        try:
            from calib.analysis.room import analyze_room

            src = None
            if speakers and all(n in speakers for n in ir.channel_names):
                src = {n: speakers[n] for n in ir.channel_names}
            analysis = analyze_room(ir, dims_m=dims, source_m=src if dims else None, mic_m=mic if dims else None,
                                    noise_recording=noise)
        except ImportError:
            notes["compliance"] = "not available: the room analysis (calib.analysis.room) is not installed"
        except RoomtruthError as exc:
            notes["compliance"] = f"not available: the analysis failed: {exc}"
    profile, corrected = None, None
    pdir = _active_profile(room)
    if pdir is not None:
        from calib.profile import CalibrationProfile

        profile = CalibrationProfile.load(pdir)
        try:
            from roomtruth.demo import _corrected_ir, _Unavailable

            try:
                corrected = _corrected_ir(ir, profile)
            except _Unavailable as exc:
                notes["correction"] = f"corrected response not available: {exc}"
        except RoomtruthError as exc:
            notes["correction"] = f"corrected response not available: {exc}"
    verification, series, rows = None, {}, []
    hpath = room / "history.sqlite"
    if hpath.is_file():
        from monitor.history import History

        with History(hpath, readonly=True) as h:
            rows = h.verifications(limit=20)
            # the latest *sweep* verification; the programme watch's entries (issue 13) are a
            # trend of their own, labelled "(from programme)"
            sweeps = [r for r in rows if (r.meta or {}).get("source") != "programme"]
            if sweeps:
                verification = sweeps[0]
            for name, ch in h.check_names():
                if name in ("level", "arrival", "channel_match") and ch:
                    pts = h.series(name, channel=ch, source="sweep")
                    if pts:
                        series[f"{name} {ch}"] = pts
                    if name in ("level", "arrival"):
                        pts = h.series(name, channel=ch, source="programme")
                        if pts:
                            series[f"{name} {ch} (from programme)"] = pts
    fingerprint = None
    studios = sorted((room / "studios").glob("*/fingerprint.json")) if (room / "studios").is_dir() else []
    if studios:
        try:
            fingerprint = json.loads(studios[-1].read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            notes["mixes"] = f"fingerprint {studios[-1]} is not readable ({exc})"
    mixes = _fingerprint_mixes(room, fingerprint, notes) if fingerprint is not None else []
    client_patterns = _client_patterns(room, notes)
    return ReportInputs(room.resolve().name, ir=ir, analysis=analysis, dims_m=dims, mic_m=mic, profile=profile,
                        corrected_ir=corrected, verification=verification, history_series=series,
                        history_rows=rows, mixes=mixes, fingerprint=fingerprint, notes=notes,
                        meta={"measurement": mdir.name, "profile": pdir.name if pdir else "none",
                              "client_patterns": client_patterns})
