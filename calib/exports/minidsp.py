"""miniDSP-style biquad coefficient text (the "advanced biquad programming" paste format).

Each biquad is written as ::

    biquad1,
    b0=1.0012345678,
    b1=-1.99...,
    b2=0.99...,
    a1=1.99...,
    a2=-0.99...,

miniDSP's convention differs from the RBJ/SciPy one in the *sign of the feedback
coefficients*: it writes ``a1 = −a1_rbj`` and ``a2 = −a2_rbj`` (the difference equation
``y = b0 x + b1 x1 + b2 x2 + a1 y1 + a2 y2``).  Coefficients are for one sample rate (48 kHz for
most units, 96 kHz for the 2x4 HD's …), so the rate is an explicit argument.  The last value
has no trailing comma.  Unused slots are filled with pass-through sections.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from calib.errors import ConfigError
from calib.profile import Biquad

__all__ = ["format_minidsp", "parse_minidsp"]


def format_minidsp(peq: Sequence[Biquad], *, fs: int, n_slots: int | None = None) -> str:
    """Coefficient text for a biquad cascade at ``fs`` (Hz); ``n_slots`` pads with unity sections."""
    rows = [b.sos(fs=fs) for b in peq]
    if n_slots is not None:
        if len(rows) > n_slots:
            raise ConfigError(f"{len(rows)} filters do not fit {n_slots} miniDSP biquad slots")
        rows += [np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])] * (n_slots - len(rows))
    parts = []
    for i, s in enumerate(rows, start=1):
        parts.append(f"biquad{i},\nb0={s[0]:.16g},\nb1={s[1]:.16g},\nb2={s[2]:.16g},\na1={-s[4]:.16g},\na2={-s[5]:.16g}")
    return ",\n".join(parts) + "\n"


def parse_minidsp(text: str) -> np.ndarray:
    """SOS array ``(n, 6)`` in the SciPy convention from miniDSP coefficient text."""
    vals: dict[str, float] = {}
    out = []
    for tok in text.replace("\n", "").split(","):
        tok = tok.strip()
        if not tok:
            continue
        if tok.startswith("biquad"):
            if vals:
                out.append(vals)
            vals = {}
            continue
        try:
            k, v = tok.split("=")
            vals[k.strip()] = float(v)
        except ValueError:
            raise ConfigError(f"miniDSP coefficient {tok!r} is not 'name=value'") from None
    if vals:
        out.append(vals)
    try:
        return np.array([[d["b0"], d["b1"], d["b2"], 1.0, -d["a1"], -d["a2"]] for d in out])
    except KeyError as exc:
        raise ConfigError(f"miniDSP biquad lacks coefficient {exc.args[0]}") from None
