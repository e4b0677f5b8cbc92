"""Equalizer APO configuration text (``config.txt`` include): export and a reader for checks.

Written commands (Equalizer APO configuration reference): ``Preamp: <dB> dB``,
``Channel: <names>`` (selects the channels the following lines act on),
``Filter <n>: ON PK Fc <Hz> Hz Gain <dB> dB Q <Q>`` (also LSC/HSC/LPQ/HPQ/NO/AP),
``Delay: <ms> ms``, ``Copy: L=-1*L`` (polarity) and ``Convolution: <file.wav>``.
The same line syntax as AutoEq's sample (``../shared/data/autoeq/hd650_parametric_eq.txt``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from calib.errors import ConfigError
from calib.profile import Biquad, CalibrationProfile

__all__ = ["format_eqapo", "parse_eqapo"]

_CODE = {"peaking": "PK", "lowshelf": "LSC", "highshelf": "HSC", "lowpass": "LPQ", "highpass": "HPQ",
         "notch": "NO", "allpass": "AP"}
_KIND = {v: k for k, v in _CODE.items()} | {"LS": "lowshelf", "HS": "highshelf", "LP": "lowpass", "HP": "highpass"}


def _filter_line(i: int, b: Biquad) -> str:
    gain = f" Gain {b.gain_db:.2f} dB" if b.kind in ("peaking", "lowshelf", "highshelf") else ""
    return f"Filter {i}: ON {_CODE[b.kind]} Fc {b.freq_hz:.2f} Hz{gain} Q {b.q:.3f}"


def format_eqapo(profile: CalibrationProfile, *, use_fir: bool = True, fs: int | None = None) -> str:
    """Equalizer APO text for a profile.

    With ``use_fir`` and an FIR at ``fs`` (default the design rate), each speaker gets a
    ``Convolution:`` line naming ``fir_<speaker>_<fs>.wav`` (the complete correction) instead of
    its PEQ lines.
    """
    rate = fs or profile.design_fs
    lines = [f"# roomtruth profile {profile.name} (content hash {profile.content_hash()[:16]})",
             f"Preamp: {profile.preamp_db:.2f} dB"]
    n = 1
    routed = _routing_lines(profile)
    lines += routed[0]
    for s in profile.speakers:
        lines.append(f"Channel: {s.name}")
        for b in routed[1].get(s.name, ()):
            lines.append(_filter_line(n, b))
            n += 1
        if s.trim_db:
            lines.append(f"Preamp: {s.trim_db:.2f} dB")
        if s.polarity < 0:
            lines.append(f"Copy: {s.name}=-1*{s.name}")
        if s.delay_s:
            lines.append(f"Delay: {1e3 * s.delay_s:.4f} ms")
        if use_fir and rate in s.fir:
            lines.append(f"Convolution: fir_{s.name}_{rate}.wav")
        else:
            for b in s.peq:
                lines.append(_filter_line(n, b))
                n += 1
    lines.append("Channel: all")
    return "\n".join(lines) + "\n"


def _routing_lines(profile: CalibrationProfile) -> tuple[list[str], dict[str, list[Biquad]]]:
    """Bass management in Equalizer APO terms: ``Copy:`` lines building each sub's feed from
    the programme channels (LFE at its +10 dB), and per channel the crossover filters of its
    own path (mains: high-pass and all-pass; subs: the low-pass of the mains' bass).

    Equalizer APO filters a channel, not a path, so the LFE shares the subs' crossover
    low-pass here (CamillaDSP's export keeps its own 120 Hz low-pass); channel names must be
    the names Windows gives the outputs (rename the speakers or edit the lines)."""
    r = getattr(profile, "routing", None)
    if not r:
        return [], {}
    ins, outs, M = list(r["inputs"]), list(r["outputs"]), r["matrix"]
    subs = set(r.get("subs") or ())
    lines = ["# bass management: programme channels " + ", ".join(ins) + " -> speakers " + ", ".join(outs)]
    filt: dict[str, list[Biquad]] = {}
    for o, out in enumerate(outs):
        terms = [f"{float(M[o][i]):.6g}*{inp}" for i, inp in enumerate(ins) if float(M[o][i]) != 0.0]
        if out in subs:
            lines.append(f"Copy: {out}=" + "+".join(terms))
            first = next((inp for inp in ins if inp in (r.get("filters") or {}).get(out, {}) and inp != r.get("lfe")),
                         None)
        else:
            first = out
        filt[out] = [Biquad.from_dict(b) for b in ((r.get("filters") or {}).get(out, {}) or {}).get(first, [])]
    return lines, filt


_NUM = r"([+-]?\d+(?:\.\d+)?)"
_FILTER = re.compile(r"^Filter(?:\s+\d+)?\s*:\s*(ON|OFF)\s+(\w+)\s+Fc\s+" + _NUM + r"\s*Hz"
                     r"(?:\s+Gain\s+" + _NUM + r"\s*dB)?(?:\s+Q\s+" + _NUM + r")?\s*$", re.IGNORECASE)


def parse_eqapo(text: str, *, source: str = "<text>") -> dict[str, Any]:
    """Read the subset of Equalizer APO syntax that :func:`format_eqapo` writes.

    Returns ``{"preamp_db": float, "channels": {name: {"preamp_db", "delay_ms", "peq",
    "convolution", "inverted"}}}``; lines before any ``Channel:`` belong to channel ``"all"``.

    Raises
    ------
    ConfigError
        A line that is not a known command or a malformed filter line.
    """
    chans: dict[str, dict[str, Any]] = {}
    cur = "all"
    preamp = 0.0

    def ch() -> dict[str, Any]:
        return chans.setdefault(cur, {"preamp_db": 0.0, "delay_ms": 0.0, "peq": [], "convolution": None,
                                      "inverted": False})

    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, val = line.partition(":")
        key = key.strip().lower()
        val = val.strip()
        if key == "preamp":
            m = re.match(_NUM + r"\s*dB$", val)
            if not m:
                raise ConfigError(f"{source} line {n}: bad Preamp {val!r}; expected '<number> dB'")
            if cur == "all":
                preamp += float(m.group(1))
            else:
                ch()["preamp_db"] += float(m.group(1))
        elif key == "channel":
            cur = val
        elif key.startswith("filter"):
            m = _FILTER.match(line)
            if not m:
                raise ConfigError(f"{source} line {n}: malformed filter line {line[:70]!r}")
            if m.group(1).upper() == "OFF":
                continue
            code = m.group(2).upper()
            if code not in _KIND:
                raise ConfigError(f"{source} line {n}: filter type {code} is not supported")
            ch()["peq"].append(Biquad(_KIND[code], float(m.group(3)), float(m.group(4) or 0.0),
                                      float(m.group(5)) if m.group(5) else math.sqrt(0.5)))
        elif key == "delay":
            m = re.match(_NUM + r"\s*ms$", val)
            if not m:
                raise ConfigError(f"{source} line {n}: bad Delay {val!r}; expected '<number> ms'")
            ch()["delay_ms"] = float(m.group(1))
        elif key == "convolution":
            ch()["convolution"] = val
        elif key == "copy":
            ch()["inverted"] = "-1*" in val.replace(" ", "")
        else:
            raise ConfigError(f"{source} line {n}: unknown Equalizer APO command {key!r}")
    return {"preamp_db": preamp, "channels": chans}
