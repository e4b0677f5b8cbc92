"""CamillaDSP configuration of a bass-managed profile (profile ``routing``).

Two mixers carry the routing: ``bass_split`` takes the programme channels (layout order, LFE
included) to one intermediate channel per path group (a main's own feed; a sub's summed bass;
a sub's LFE), where the path's crossover filters (and all-pass) run; ``bass_sum`` adds each
sub's groups into its speaker feed.  Then every speaker's own filters run on its output channel
as in :func:`calib.exports.camilladsp.format_camilladsp` (preamp, trim and polarity, delay,
FIR or PEQ).  Mixer gains are in dB with ``inverted`` for a negative gain.
"""

from __future__ import annotations

import math

from calib.exports.camilladsp import biquad_lines, speaker_filter_steps
from calib.profile import Biquad, CalibrationProfile

__all__ = ["format_camilladsp_routed", "routing_groups"]

def routing_groups(routing) -> list[tuple[str, list[tuple[int, float]], list[Biquad]]]:
    """Per output (in order), the path groups: (output name, [(input index, linear gain)], biquads).
    Paths of one output with the same filters form one group (filtered once)."""
    ins, outs = list(routing["inputs"]), list(routing["outputs"])
    M = routing["matrix"]
    filt = routing.get("filters") or {}
    groups = []
    for o, out in enumerate(outs):
        by: dict[tuple, tuple[list, list]] = {}
        for i, inp in enumerate(ins):
            g = float(M[o][i])
            if g == 0.0:
                continue
            bqs = [Biquad.from_dict(b) for b in (filt.get(out, {}) or {}).get(inp, [])]
            key = tuple((b.kind, b.freq_hz, b.gain_db, b.q) for b in bqs)
            by.setdefault(key, ([], bqs))[0].append((i, g))
        for key, (srcs, bqs) in by.items():
            groups.append((out, srcs, bqs))
    return groups


def _biquad(L: list[str], name: str, b: Biquad) -> None:
    L += biquad_lines(name, b, digits=6)


def _source(ch: int, g: float) -> list[str]:
    return [f"          - channel: {ch}", f"            gain: {20 * math.log10(abs(g)):.6f}",
            f"            inverted: {'true' if g < 0 else 'false'}"]


def format_camilladsp_routed(profile: CalibrationProfile, *, fs: int | None = None, use_fir: bool = True,
                             chunksize: int = 1024) -> str:
    """CamillaDSP YAML for a profile with ``routing`` (module docstring)."""
    r = profile.routing
    rate = fs or profile.design_fs
    ins, outs = list(r["inputs"]), list(r["outputs"])
    groups = routing_groups(r)
    out_idx = {n: k for k, n in enumerate(outs)}
    L: list[str] = [
        f"# roomtruth bass-managed profile {profile.name} (content hash {profile.content_hash()[:16]})",
        f"# inputs (programme, in order): {', '.join(ins)}",
        f"# outputs (speakers, subs last): {', '.join(outs)}",
        "# Replace the capture/playback devices with your interface.",
        "---",
        "devices:",
        f"  samplerate: {rate}",
        f"  chunksize: {chunksize}",
        "  capture:",
        "    type: RawFile",
        '    filename: "input.raw"',
        f"    channels: {len(ins)}",
        "    format: S32_LE",
        "  playback:",
        "    type: File",
        '    filename: "output.raw"',
        f"    channels: {len(outs)}",
        "    format: S32_LE",
        "",
        "filters:",
        "  preamp:",
        "    type: Gain",
        "    parameters:",
        f"      gain: {profile.preamp_db:.4f}",
        "      inverted: false",
    ]
    mid_steps: list[tuple[int, list[str]]] = []
    for k, (out, _srcs, bqs) in enumerate(groups):
        names = []
        for j, b in enumerate(bqs, start=1):
            nm = f"xo_{k}_{out}_{j}"
            _biquad(L, nm, b)
            names.append(nm)
        if names:
            mid_steps.append((k, names))
    steps = speaker_filter_steps(L, profile, rate=rate, use_fir=use_fir, digits=6)
    L += ["", "mixers:", "  bass_split:", "    channels:", f"      in: {len(ins)}", f"      out: {len(groups)}",
          "    mapping:"]
    for k, (out, srcs, _b) in enumerate(groups):
        L += [f"      - dest: {k}", "        sources:"]
        for i, g in srcs:
            L += _source(i, g)
    L += ["  bass_sum:", "    channels:", f"      in: {len(groups)}", f"      out: {len(outs)}", "    mapping:"]
    for o, out in enumerate(outs):
        L += [f"      - dest: {o}", "        sources:"]
        for k, (gout, _s, _b) in enumerate(groups):
            if out_idx[gout] == o:
                L += _source(k, 1.0)
    L += ["", "pipeline:", "  - type: Mixer", "    name: bass_split"]
    for ch, names in mid_steps:
        L += ["  - type: Filter", f"    channels: [{ch}]", "    names:"] + [f"      - {n}" for n in names]
    L += ["  - type: Mixer", "    name: bass_sum"]
    for ch, names in steps:
        L += ["  - type: Filter", f"    channels: [{ch}]", "    names:"] + [f"      - {n}" for n in names]
    return "\n".join(L) + "\n"
