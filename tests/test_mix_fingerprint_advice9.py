"""The fingerprint's advice (few sure bands) reaches the user in the terminal, not only the JSON."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from mixes.types import RoomFingerprint
from roomtruth.cmd_mix import _print_fingerprint


def _fp(advice: str, source: str = "mixes") -> RoomFingerprint:
    f = np.array([63.0, 125.0, 250.0, 1000.0])
    return RoomFingerprint(studio="Nord", freqs_hz=f, deviation_db=np.array([-3.0, 1.0, 0.5, 0.0]),
                           confidence=np.full(4, 0.5), spread_db=np.full(4, 2.0), n_mixes=8, source=source,
                           reference="8 references", meta={"advice": advice},
                           interval_db=np.array([[-6.0, 0.5], [-1.0, 3.0], [-1.0, 2.0], [-0.5, 0.5]]))


def _out(fp) -> str:
    buf = io.StringIO()
    _print_fingerprint(Console(file=buf, width=200, highlight=False), fp, "studios/Nord/fingerprint.json")
    return buf.getvalue()


def test_advice_is_printed_when_bands_are_unsure():
    text = "only 25% of the bands are sure (interval <= 3 dB; 3 unsure between 63 and 250 Hz)"
    out = _out(_fp(text))
    assert text in out
    assert out.index(text) < out.index("written:")


def test_no_advice_line_when_sure():
    out = _out(_fp(""))
    assert "only" not in out and "written:" in out
