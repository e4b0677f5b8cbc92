"""A client's body of work in the workspace: every mix analysed for them, one JSON record each.

``roomtruth mix analyze --client NAME -w WORKSPACE`` stores each analysed mix (with its
comparison to the references of that run) as

    <workspace>/clients/<folder>/client.json          {"schema_version", "client"}
    <workspace>/clients/<folder>/mixes/<slug>-<hash>.json

``<folder>`` is the client's name made folder-safe by the same rule as studio names
(:func:`mixes.fingerprint.studio_folder_name`: ``Mia Black`` -> ``Mia-Black``); the name as
the user wrote it is kept in ``client.json``.  ``<hash>`` is 10 hex digits of the SHA-1 of the
mix's resolved path, so analysing the same file again replaces its record (a revised mix under
a new name is a new track).  Every write is atomic (temp file + rename).

A record keeps what :mod:`mixes.patterns` reads (balance, dynamics, the stereo verdicts, the
spectrum against the references, clicks and artifacts), not the time series.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Mapping

from calib.audio_io import atomic_write_json
from calib.errors import ProfileError

__all__ = ["CLIENT_SCHEMA", "valid_client_name", "client_dir", "mix_record", "store_mix", "load_client"]

CLIENT_SCHEMA = 1
_STEREO_KEYS = ("bands_hz", "correlation", "mono_loss_db", "width", "lr_balance_db", "polarity_inverted",
                "low_end_wide", "low_end_out_of_phase", "low_end_correlation", "lr_imbalanced", "channel_offset_ms", "lr_balance_low_end_db",
                "problems")


def valid_client_name(name: str) -> str:
    """The client's name as written (outer blanks stripped).

    Raises
    ------
    ProfileError
        Empty, longer than 100 characters, or holding control characters.
    """
    from mixes.fingerprint import valid_studio_name

    try:
        return valid_studio_name(name)
    except ProfileError:
        raise ProfileError(f"client name {name!r} is not usable; give 1-100 printable characters, "
                           "e.g. --client \"Mia Black\"") from None


def _name_key(name: str) -> str:
    from mixes.fingerprint import _name_key as key

    return key(name)


def client_dir(workspace: str | Path, client: str) -> Path:
    """``<workspace>/clients/<folder-safe client name>``."""
    from mixes.fingerprint import studio_folder_name

    valid_client_name(client)
    return Path(workspace) / "clients" / studio_folder_name(client)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def mix_record(mix: Mapping[str, Any], *, references: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The stored record of one analysed mix.

    Parameters
    ----------
    mix : mapping
        One entry of ``mix analyze --json``'s ``"mixes"`` (with ``ltas_vs_reference`` and the
        balance/dynamics comparisons filled in when references were given).
    references : sequence of str
        The reference files of that run (empty: none, compared with the built-in target).
    """
    stereo = mix.get("stereo")
    clicks = list(mix.get("clicks") or [])
    aud = [c.get("audibility_db") for c in clicks if isinstance(c, Mapping) and c.get("audibility_db") is not None]
    return {
        "schema_version": CLIENT_SCHEMA,
        "file": str(mix.get("file", "")),
        "name": Path(str(mix.get("file", ""))).name,
        "analysed": _now(),
        "references": [str(r) for r in references],
        "duration_s": mix.get("duration_s"),
        "integrated_lufs": mix.get("integrated_lufs"),
        "true_peak_dbtp": mix.get("true_peak_dbtp"),
        "lra_lu": mix.get("lra_lu"),
        "balance": mix.get("balance"),
        "dynamics": mix.get("dynamics"),
        "stereo": {k: stereo.get(k) for k in _STEREO_KEYS} if isinstance(stereo, Mapping) else None,
        "ltas_vs_reference": mix.get("ltas_vs_reference"),
        "n_clicks": len(clicks),
        "max_click_audibility_db": max(aud) if aud else None,
        "artifacts": sorted({str(a.get("kind")) for a in (mix.get("artifacts") or []) if isinstance(a, Mapping)}),
    }


def _ensure_client(workspace: str | Path, client: str) -> Path:
    shown = valid_client_name(client)
    d = client_dir(workspace, shown)
    meta = d / "client.json"
    if meta.is_file():
        try:
            other = str(json.loads(meta.read_text(encoding="utf-8")).get("client", ""))
        except (OSError, ValueError, AttributeError):
            other = ""
        if other and _name_key(other) != _name_key(shown):
            raise ProfileError(f"{d} holds the mixes of client {other!r}, whose folder name is the same as "
                               f"{shown!r}'s; give this client a distinct name or move that folder aside")
        return d
    atomic_write_json(meta, {"schema_version": CLIENT_SCHEMA, "client": shown})
    return d


def _slug(stem: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:40]
    return s or "mix"


def store_mix(workspace: str | Path, client: str, record: Mapping[str, Any]) -> Path:
    """Write one mix record for the client (atomically); returns its path.

    Raises
    ------
    ProfileError
        Bad client name, or the folder belongs to another client with the same folder name.
    """
    d = _ensure_client(workspace, client)
    src = Path(str(record.get("file", "mix")))
    try:
        key = str(src.resolve())
    except OSError:
        key = str(src)
    h = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    path = d / "mixes" / f"{_slug(src.stem)}-{h}.json"
    atomic_write_json(path, dict(record))
    return path


def load_client(workspace: str | Path, client: str) -> tuple[str, list[dict[str, Any]], list[str]]:
    """The client's stored mixes.

    Returns
    -------
    (name, records, skipped)
        The client's name as stored, the records sorted by file name, and one sentence per
        record file that could not be read (it is left out, not fatal).

    Raises
    ------
    ProfileError
        Bad name, or no mixes stored for that client.
    """
    import shlex

    shown = valid_client_name(client)
    d = client_dir(workspace, shown)
    files = sorted((d / "mixes").glob("*.json")) if (d / "mixes").is_dir() else []
    if not files:
        raise ProfileError(
            f"no mixes stored for client {shown!r} in {Path(workspace) / 'clients'}; analyse them with "
            f"'roomtruth mix analyze --client {shlex.quote(shown)} -w {shlex.quote(str(workspace))} MIX... "
            "--reference REF...'")
    name = shown
    try:
        name = str(json.loads((d / "client.json").read_text(encoding="utf-8")).get("client") or shown)
    except (OSError, ValueError, AttributeError):
        pass
    records, skipped = [], []
    for f in files:
        try:
            r = json.loads(f.read_text(encoding="utf-8"))
            if not isinstance(r, dict) or "file" not in r:
                raise ValueError("not a mix record")
            if int(r.get("schema_version", CLIENT_SCHEMA)) > CLIENT_SCHEMA:
                raise ValueError(f"schema version {r['schema_version']} is newer than this roomtruth's")
        except (OSError, ValueError, TypeError) as exc:
            skipped.append(f"{f} could not be read ({exc}); it is left out")
            continue
        records.append(r)
    records.sort(key=lambda r: (str(r.get("name", "")), str(r.get("file", ""))))
    return name, records, skipped
