"""Where studio fingerprints live: the studio's name, its folder and the stored file.

Fingerprints are stored per studio, ``<workspace>/studios/<folder>/fingerprint.json``, atomically;
``<folder>`` is the studio's name made folder-safe (``Studio Nord`` -> ``Studio-Nord``, see
:func:`studio_folder_name`), the file keeps the name as the user wrote it.  How a fingerprint is
learnt is :mod:`mixes.fingerprint` (which re-exports these names).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

from calib.audio_io import atomic_write_json
from calib.errors import ProfileError
from mixes.types import RoomFingerprint

__all__ = ["valid_studio_name", "studio_folder_name", "studio_dir", "save_fingerprint", "load_fingerprint"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def valid_studio_name(name: str) -> str:
    """The studio's name as the user wrote it (``"Studio Nord"``), stripped of outer blanks.

    Any printable name of 1-100 characters is accepted; the folder it is stored in is
    :func:`studio_folder_name`.

    Raises
    ------
    ProfileError
        Empty, longer than 100 characters, or holding control characters (tabs, line breaks).
    """
    shown = name.strip() if isinstance(name, str) else ""
    if not shown or len(shown) > 100 or any(unicodedata.category(c).startswith("C") for c in shown):
        raise ProfileError(
            f"studio name {name!r} is not usable; give 1-100 printable characters, "
            "e.g. --studio \"Studio Nord\""
        )
    return shown


def studio_folder_name(name: str) -> str:
    """The folder-safe name of a studio: letters, digits, ``.``, ``_``, ``-`` (at most 64).

    A name that already is one is kept as is; otherwise accents are dropped (NFKD), every run
    of other characters becomes ``-`` and the ends are trimmed (``"Studio Nord"`` ->
    ``"Studio-Nord"``, ``"../x"`` -> ``"x"``).  A name with no such character at all
    (``"スタジオ"``) gets ``studio-`` and 10 hex digits of its SHA-1.
    """
    shown = valid_studio_name(name)
    if _NAME.match(shown):
        return shown
    ascii_ = unicodedata.normalize("NFKD", shown).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_).strip("-._")[:64].rstrip("-._")
    if not slug:
        slug = "studio-" + hashlib.sha1(shown.encode("utf-8")).hexdigest()[:10]
    return slug


def _name_key(name: str) -> str:
    """Letters and digits only (any script), case-folded, accents dropped:
    ``Studio Nord`` = ``studio_nord`` = ``Studio-Nörd``, but ``Студия A`` != ``A``."""
    return "".join(c for c in unicodedata.normalize("NFKD", name).casefold() if c.isalnum())


def studio_dir(workspace: str | Path, studio: str) -> Path:
    """``<workspace>/studios/<studio_folder_name(studio)>``."""
    return Path(workspace) / "studios" / studio_folder_name(studio)


def save_fingerprint(fp: RoomFingerprint, workspace: str | Path) -> Path:
    """Write ``studios/<folder>/fingerprint.json`` atomically; returns its path.

    Raises
    ------
    ProfileError
        The folder already holds the fingerprint of another studio whose name maps to the
        same folder (``Ton+Art`` and ``Ton Art``); nothing is overwritten.  Spellings of one
        name (``Studio Nord``, ``studio_nord``) are the same studio and replace it.
    """
    path = studio_dir(workspace, fp.studio) / "fingerprint.json"
    if path.is_file():
        try:
            other = str(json.loads(path.read_text(encoding="utf-8")).get("studio", ""))
        except (OSError, ValueError, AttributeError):
            other = ""
        if other and _name_key(other) != _name_key(fp.studio):
            raise ProfileError(
                f"{path} holds the fingerprint of studio {other!r}, whose folder name is the same as "
                f"{fp.studio!r}'s; give this studio a distinct name or move that folder aside")
    atomic_write_json(path, fp.to_dict())
    return path


def load_fingerprint(workspace: str | Path, studio: str) -> RoomFingerprint:
    """Read a studio's fingerprint.

    Raises
    ------
    ProfileError
        No fingerprint for that studio, or a malformed file.
    """
    import shlex

    path = studio_dir(workspace, studio) / "fingerprint.json"
    if not path.exists():
        raise ProfileError(
            f"no fingerprint for studio {studio!r} in {Path(workspace) / 'studios'}; "
            f"make one with 'roomtruth mix fingerprint --studio {shlex.quote(studio.strip())} MIX...'"
        )
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(f"{path} is not valid JSON ({exc}); rebuild the fingerprint") from None
    return RoomFingerprint.from_dict(d, origin=str(path))
