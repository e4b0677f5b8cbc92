"""The room workspace on disk, and the measurement folder format.

Layout (ARCHITECTURE.md)::

    my-room/
      room.toml
      measurements/<stamp>-<label>/   measurement.json, <channel>.ir.wav, <channel>.h<k>.wav,
                                      capture.wav (raw mic, one channel per speaker),
                                      loopback.wav (raw loopback, if recorded)
      profiles/<name>/
      history.sqlite
      reports/

A measurement folder is written atomically (built beside its destination and renamed into
place): it is either complete or absent.  Every ``<channel>.ir.wav`` is float32 mono with the
same time origin: sample ``onset_samples`` is the moment the sweep left the output (latency
removed when a loopback was recorded); ``arrival_samples`` in ``measurement.json`` gives each
channel's direct sound.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from calib.audio_io import atomic_directory, atomic_write_json, atomic_write_text, read_audio, to_json, write_wav_atomic
from calib.errors import ConfigError, ProfileError, SignalError
from calib.types import ImpulseResponse, Measurement

__all__ = [
    "Workspace",
    "write_measurement_dir",
    "load_measurement_dir",
    "read_measurement_json",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "index_measurement",
    "active_profile_dir",
    "profile_write_lock",
    "is_hidden_or_temp",
    "clean_stale_temp_files",
]

FORMAT_NAME = "roomtruth-measurement"
FORMAT_VERSION = 1
_LABEL_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def _software_version() -> str:
    try:
        from roomtruth import __version__

        return f"roomtruth {__version__}"
    except Exception:  # pragma: no cover
        return "roomtruth"


class Workspace:
    """A room folder: ``room.toml`` plus measurements, profiles, history and reports."""

    def __init__(self, path: str | Path) -> None:
        self.root = Path(path).expanduser()

    # paths -----------------------------------------------------------------------------------
    @property
    def room_toml(self) -> Path:
        return self.root / "room.toml"

    @property
    def measurements_dir(self) -> Path:
        return self.root / "measurements"

    @property
    def profiles_dir(self) -> Path:
        return self.root / "profiles"

    @property
    def history_path(self) -> Path:
        return self.root / "history.sqlite"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def profile_dir(self, name: str) -> Path:
        return self.profiles_dir / name

    # life cycle --------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.room_toml.is_file()

    def require(self) -> "Workspace":
        """Raise :class:`ConfigError` unless this is a room workspace."""
        if not self.root.exists():
            raise ConfigError(f"{self.root}: no such room folder; create it with `roomtruth init {self.root}`")
        if not self.exists():
            raise ConfigError(f"{self.root} is not a room workspace (no room.toml); create one with "
                              f"`roomtruth init {self.root}`")
        return self

    @classmethod
    def init(cls, path: str | Path, *, name: str | None = None, device: str = "simulated",
             fs: int = 48000, force: bool = False) -> "Workspace":
        """Create the folders and a commented ``room.toml`` (validated before it is written).

        An existing ``room.toml`` is kept unless ``force``.
        """
        from roomtruth.config import parse_room_config, room_template

        ws = cls(path)
        if ws.root.exists() and not ws.root.is_dir():
            raise ConfigError(f"{ws.root} exists and is not a folder; choose another path")
        if ws.exists() and not force:
            raise ConfigError(f"{ws.room_toml} already exists; keep it, or pass --force to overwrite it")
        text = room_template(name=name or ws.root.resolve().name or "my room", device=device, fs=fs)
        import tomllib

        parse_room_config(tomllib.loads(text))  # the template must validate
        for d in (ws.measurements_dir, ws.profiles_dir, ws.reports_dir):
            d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(ws.room_toml, text)
        return ws

    def load_config(self):
        """The validated :class:`roomtruth.config.RoomConfig`."""
        from roomtruth.config import load_room_config

        self.require()
        return load_room_config(self.room_toml)

    # measurements -----------------------------------------------------------------------------
    def new_measurement_dir(self, label: str = "measurement", *, when: datetime | None = None) -> Path:
        """A fresh ``measurements/<stamp>-<label>`` path (not created)."""
        t = when or datetime.now(timezone.utc)
        clean = _LABEL_RE.sub("-", label).strip("-.") or "measurement"
        base = f"{t.strftime('%Y%m%dT%H%M%SZ')}-{clean}"
        p = self.measurements_dir / base
        i = 2
        while p.exists():
            p = self.measurements_dir / f"{base}-{i}"
            i += 1
        return p

    def measurement_dirs(self) -> list[Path]:
        """Measurement folders, oldest first (by name, i.e. by time stamp)."""
        if not self.measurements_dir.is_dir():
            return []
        return sorted(p for p in self.measurements_dir.iterdir()
                      if p.is_dir() and not is_hidden_or_temp(p.name) and (p / "measurement.json").is_file())

    def latest_measurement(self, label: str | None = None) -> Path:
        """The newest measurement folder (optionally with ``label``)."""
        dirs = [p for p in self.measurement_dirs()
                if label is None or p.name.endswith(f"-{label}") or read_measurement_json(p).get("label") == label]
        if not dirs:
            what = f" labelled {label!r}" if label else ""
            raise ConfigError(f"{self.root} holds no measurement{what} yet; run `roomtruth measure --room {self.root}`")
        return dirs[-1]


def _check_channel_names(names: Iterable[str]) -> None:
    from roomtruth.config import NAME_RE

    for n in names:
        if not NAME_RE.match(n):
            raise ConfigError(f"channel name {n!r} cannot name a file; use letters, digits, _ or - (at most 16)")


def write_measurement_dir(out_dir: str | Path, ir: ImpulseResponse, *, measurement: Measurement | None = None,
                          backend: str = "", label: str = "", save_raw: bool = True,
                          save_harmonics: bool = True, replace: bool = False,
                          extra: dict[str, Any] | None = None) -> Path:
    """Write a measurement folder atomically; returns its path.

    Raises
    ------
    SignalError
        ``out_dir`` exists and is not empty (without ``replace``), or is a file.
    """
    _check_channel_names(ir.channel_names)
    out = Path(out_dir).expanduser()
    fs = ir.fs
    meta = dict(ir.meta)
    sweep = meta.pop("sweep", None)
    if measurement is not None:
        sweep = measurement.sweep.to_dict()
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "id": out.name,
        "label": label,
        "stamp": meta.get("stamp") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": _software_version(),
        "backend": backend or meta.get("device", ""),
        "fs": fs,
        "channels": list(ir.channel_names),
        "n_samples": ir.n_samples,
        "onset_samples": ir.onset_samples,
        "arrival_samples": dict(zip(ir.channel_names, ir.arrival_samples)),
        "arrival_ms": {n: (a - ir.onset_samples) / fs * 1000 for n, a in zip(ir.channel_names, ir.arrival_samples)},
        "latency_samples": ir.latency_samples,
        "snr_db": dict(zip(ir.channel_names, ir.snr_db)),
        "sweep": sweep,
        "files": {n: f"{n}.ir.wav" for n in ir.channel_names},
        "harmonic_files": {},
        "meta": meta,
    }
    if extra:
        doc.update(extra)
    with atomic_directory(out, replace=replace) as tmp:
        for i, n in enumerate(ir.channel_names):
            write_wav_atomic(tmp / f"{n}.ir.wav", ir.samples[i].astype(np.float32), fs=fs)
        if save_harmonics:
            for k, h in sorted(ir.harmonics.items()):
                for i, n in enumerate(ir.channel_names):
                    write_wav_atomic(tmp / f"{n}.h{k}.wav", h[i].astype(np.float32), fs=fs)
                    doc["harmonic_files"].setdefault(n, {})[str(k)] = f"{n}.h{k}.wav"
        if save_raw and measurement is not None:
            write_wav_atomic(tmp / "capture.wav", measurement.recording.astype(np.float32), fs=fs)
            doc["raw_file"] = "capture.wav"
            if measurement.reference is not None:
                write_wav_atomic(tmp / "loopback.wav", measurement.reference.astype(np.float32), fs=fs)
                doc["loopback_file"] = "loopback.wav"
        atomic_write_json(tmp / "measurement.json", doc)
    return out


def read_measurement_json(path: str | Path) -> dict[str, Any]:
    """``measurement.json`` of a folder, checked for format."""
    p = Path(path).expanduser()
    if not p.exists():
        raise SignalError(f"{p}: no such measurement folder")
    if not p.is_dir():
        raise SignalError(f"{p} is not a folder; expected a measurement folder holding measurement.json")
    j = p / "measurement.json"
    if not j.is_file():
        raise SignalError(f"{p} is not a measurement folder (no measurement.json); measure with `roomtruth measure --out {p}`")
    try:
        doc = json.loads(j.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignalError(f"{j} is damaged ({exc}); measure again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise SignalError(f"{j} is not a roomtruth measurement file (format {doc.get('format') if isinstance(doc, dict) else '?'!r})")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise SignalError(f"{j} was written by a newer roomtruth (format {doc.get('format_version')}); upgrade roomtruth")
    return doc


def load_measurement_dir(path: str | Path) -> ImpulseResponse:
    """All channels of a measurement folder as one :class:`ImpulseResponse`, timing included.

    Raises
    ------
    SignalError
        Not a measurement folder, damaged JSON, a missing/unreadable IR file, sample rates or
        lengths that disagree.
    """
    p = Path(path).expanduser()
    doc = read_measurement_json(p)
    try:
        names = [str(n) for n in doc["channels"]]
        fs = int(doc["fs"])
        files = doc["files"]
    except (KeyError, TypeError, ValueError) as exc:
        raise SignalError(f"{p / 'measurement.json'} lacks {exc}; the folder is damaged, measure again") from None
    rows = []
    for n in names:
        f = files.get(n) if isinstance(files, dict) else None
        if not isinstance(f, str) or not f or Path(f).name != f or f in (".", ".."):
            # only plain file names inside the folder: a damaged or hostile JSON reads nothing else
            raise SignalError(f"{p / 'measurement.json'} names no IR file inside the folder for channel {n} "
                              f"(got {f!r}); the folder is damaged, measure again")
        files[n] = f
        data, fs_n = read_audio(p / files[n])
        if fs_n != fs:
            raise SignalError(f"{p / files[n]} is at {fs_n} Hz but measurement.json says {fs} Hz")
        if data.shape[0] != 1:
            raise SignalError(f"{p / files[n]} has {data.shape[0]} channels, expected 1")
        rows.append(data[0])
    if len({r.size for r in rows}) != 1:
        raise SignalError(f"the IR files in {p} have different lengths; the folder is damaged, measure again")
    harmonics: dict[int, np.ndarray] = {}
    hf = doc.get("harmonic_files") or {}
    orders = sorted({int(k) for v in hf.values() for k in v}) if hf else []
    for k in orders:
        hrows = []
        for n in names:
            f = hf.get(n, {}).get(str(k))
            if f is None or not (p / f).is_file():
                hrows = []
                break
            hrows.append(read_audio(p / f)[0][0])
        if hrows and len({r.size for r in hrows}) == 1:
            harmonics[k] = np.vstack(hrows)
    arr = doc.get("arrival_samples") or {}
    snr = doc.get("snr_db") or {}
    meta = dict(doc.get("meta") or {})
    meta["sweep"] = doc.get("sweep")
    meta["path"] = str(p)
    meta["backend"] = doc.get("backend", "")
    meta["label"] = doc.get("label", "")
    return ImpulseResponse(
        samples=np.vstack(rows),
        fs=fs,
        channel_names=tuple(names),
        onset_samples=int(doc.get("onset_samples", 0)),
        arrival_samples=tuple(float(arr.get(n, math.nan)) if arr.get(n) is not None else math.nan for n in names),
        latency_samples=float(doc.get("latency_samples") or 0.0),
        harmonics=harmonics,
        snr_db=tuple(float(snr[n]) if snr.get(n) is not None else math.nan for n in names),
        source_id=str(doc.get("id", p.name)),
        meta=meta,
    )


def index_measurement(ws: Workspace, folder: Path, ir: ImpulseResponse, *, label: str = "",
                      kind: str = "measure", meta: dict[str, Any] | None = None) -> bool:
    """Index a measurement folder in the workspace's ``history.sqlite`` (monitor.history).

    The single call site for the history index; returns False when the history module is not
    available.
    """
    try:
        from monitor.history import History
    except ImportError:  # pragma: no cover - the module exists in this tree
        return False
    try:
        rel = folder.resolve().relative_to(ws.root.resolve())
    except ValueError:
        rel = folder.resolve()
    with History(ws.history_path) as h:
        h.add_measurement(
            measurement_id=folder.name,
            label=label,
            path=str(rel),
            channels=ir.channel_names,
            fs=ir.fs,
            snr_db=ir.snr_db,
            stamp=(ir.meta.get("stamp") or None),
            kind=kind,
            meta=json.loads(to_json(meta or {})),
            replace=True,
        )
    return True


def is_hidden_or_temp(name: str) -> bool:
    """A folder name no lookup may take: hidden (``.``), or a temporary/old copy of an
    interrupted atomic write (``.tmp``, ``.old-``)."""
    return name.startswith(".") or ".tmp" in name or ".old-" in name


def is_profile_candidate(name: str) -> bool:
    """A profile folder name that can be active: not hidden, temporary, old, nor a rollback
    copy ``name@stamp``."""
    return not is_hidden_or_temp(name) and "@" not in name and name != "active"


def active_profile_dir(room: str | Path) -> Path:
    """The workspace's active profile folder.

    ``profiles/active`` may be a folder or link holding ``profile.json``, or a text file naming a
    profile; otherwise the newest profile counts ('name@stamp' folders are the rollback copies
    'roomtruth correct' keeps, never active; hidden, ``.tmp`` and ``.old-`` folders are
    leftovers of an interrupted write, never active).

    Raises
    ------
    ProfileError
        ``active`` names a missing profile, or there is no profile at all.
    """
    pdir = Path(room) / "profiles"
    active = pdir / "active"
    if active.is_symlink() or active.is_dir():
        if (active / "profile.json").is_file():
            target = active.resolve()
            if is_hidden_or_temp(target.name):
                raise ProfileError(f"{active} points at {target}, a temporary folder of an interrupted write; "
                                   "point it at a profile folder")
            return target
    if active.is_file():
        name = active.read_text(encoding="utf-8").strip()
        if name and is_profile_candidate(name) and Path(name).name == name and (pdir / name / "profile.json").is_file():
            return pdir / name
        raise ProfileError(f"{active} names profile {name!r}, but {pdir / name} is not a profile folder")
    cands = sorted((p for p in pdir.glob("*/profile.json") if is_profile_candidate(p.parent.name)),
                   key=lambda p: p.stat().st_mtime) if pdir.is_dir() else []
    if not cands:
        raise ProfileError(f"no profile in {pdir}; run 'roomtruth correct' first or pass --profile PROFILE_DIR")
    return cands[-1].parent


@contextlib.contextmanager
def profile_write_lock(profile_dir: str | Path) -> Iterator[Path]:
    """Hold the write lock of one profile folder (``fcntl.flock`` on ``.<name>.lock`` beside it).

    While held, the debris of earlier interrupted writes of this profile is removed
    (:func:`calib.audio_io.clean_directory_debris`).  The lock file itself stays (removing a
    lock file races with the next locker); it is hidden and never a profile.

    Raises
    ------
    ProfileError
        Another process holds the lock (another ``correct`` is writing this profile).
    StorageError
        The lock file cannot be created.
    """
    import fcntl

    from calib.audio_io import clean_directory_debris
    from calib.errors import StorageError

    d = Path(profile_dir)
    lock = d.with_name(f".{d.name}.lock")
    try:
        d.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        raise StorageError(f"cannot write {d}: no permission to write in {d.parent}") from None
    except (FileExistsError, NotADirectoryError):
        raise StorageError(f"cannot write {d}: {d.parent} is not a folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ProfileError(f"another correct is writing this profile ({d}); wait for it to finish "
                               "and run again") from None
        clean_directory_debris(d)
        yield d
    finally:
        os.close(fd)    # releases the lock


def clean_stale_temp_files(folder: str | Path, *, min_age_s: float = 60.0) -> list[Path]:
    """Remove hidden temporary files and folders (``.<name>.<8 random>.tmp``, ``...tmp.wav``)
    that an atomic write killed mid-way left in ``folder``; returns what was removed.

    Only entries last changed more than ``min_age_s`` ago go: an atomic write touches its
    temporary file or folder continuously while it works, so an older one belongs to no
    running process.
    """
    import time

    d = Path(folder)
    if not d.is_dir():
        return []
    pat = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.wav)?$")
    now = time.time()
    gone = []
    for p in d.iterdir():
        try:
            if not pat.match(p.name) or p.is_symlink() or now - p.stat().st_mtime <= min_age_s:
                continue
            if p.is_file():
                p.unlink()
            elif p.is_dir():   # a measurement folder being built (atomic_directory)
                import shutil

                shutil.rmtree(p)
            else:
                continue
            gone.append(p)
        except OSError:
            continue
    return gone
