"""Test helper: re-stamp a hand-edited ``profile.json`` with the content hash its edits imply.

Only tests use it (to make an edited profile *valid* again, e.g. to test tolerance checking
past the hash check); the hash itself is :func:`calib.profile._hash_document`.
"""

from __future__ import annotations

import json
from pathlib import Path

from calib.audio_io import read_audio
from calib.profile import _hash_document


def restamp(pdir: Path) -> str:
    """Recompute and store ``content_hash`` of ``pdir/profile.json`` from its JSON and files."""
    pj = Path(pdir) / "profile.json"
    doc = json.loads(pj.read_text(encoding="utf-8"))
    arrays = []
    for s in doc["speakers"]:
        for fs_s, fname in sorted((s.get("fir") or {}).items(), key=lambda kv: int(kv[0])):
            arrays.append((f"fir:{s['name']}", int(fs_s), read_audio(Path(pdir) / fname)[0][0]))
    ref = doc.get("reference")
    if ref:
        data, fs = read_audio(Path(pdir) / ref["file"])
        arrays.append(("reference", fs, data))
    doc["content_hash"] = _hash_document(doc, arrays)
    pj.write_text(json.dumps(doc), encoding="utf-8")
    return doc["content_hash"]
