"""CamillaDSP configuration (YAML) for a profile: devices, filters, mixers, pipeline.

Syntax follows CamillaDSP's own example configs (``../shared/data/camilladsp/``):
``filters: <name>: {type: Biquad, parameters: {type: Peaking, freq, gain, q}}``,
``{type: Conv, parameters: {type: Wav, filename, channel}}``,
``{type: Gain, parameters: {gain, inverted}}``, ``{type: Delay, parameters: {delay, unit: ms,
subsample: true}}``; a routing mixer; ``pipeline`` steps ``{type: Mixer, name}`` and
``{type: Filter, channels: [i], names: [...]}``.  The devices block is a placeholder (raw
files) the user replaces with their interface; everything else is the profile.

The YAML is written by hand (no YAML library at run time); strings are always quoted.
"""

from __future__ import annotations

from calib.profile import CalibrationProfile

__all__ = ["format_camilladsp"]


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_camilladsp(profile: CalibrationProfile, *, fs: int | None = None, use_fir: bool = True,
                      chunksize: int = 1024) -> str:
    """CamillaDSP YAML text for ``profile`` at sample rate ``fs`` (default: the design rate).

    FIRs are referenced as ``fir_<speaker>_<fs>.wav`` beside the config (CamillaDSP resolves
    relative paths against the config file's folder); without an FIR at ``fs`` the speaker's
    PEQ is written as Biquad filters (CamillaDSP computes RBJ coefficients at its own rate).
    """
    if getattr(profile, "routing", None):   # bass management: programme channels -> speakers
        from calib.exports.camilladsp_routing import format_camilladsp_routed

        return format_camilladsp_routed(profile, fs=fs, use_fir=use_fir, chunksize=chunksize)
    rate = fs or profile.design_fs
    n_out = max(s.output_channel for s in profile.speakers) + 1
    L: list[str] = [
        f"# roomtruth profile {profile.name} (content hash {profile.content_hash()[:16]})",
        "# Replace the capture/playback devices with your interface.",
        "---",
        "devices:",
        f"  samplerate: {rate}",
        f"  chunksize: {chunksize}",
        "  capture:",
        "    type: RawFile",
        '    filename: "input.raw"',
        f"    channels: {n_out}",
        "    format: S32_LE",
        "  playback:",
        "    type: File",
        '    filename: "output.raw"',
        f"    channels: {n_out}",
        "    format: S32_LE",
        "",
        "filters:",
        "  preamp:",
        "    type: Gain",
        "    parameters:",
        f"      gain: {profile.preamp_db:.4f}",
        "      inverted: false",
    ]
    steps = speaker_filter_steps(L, profile, rate=rate, use_fir=use_fir)
    L += ["", "mixers:", "  route:", "    channels:", f"      in: {n_out}", f"      out: {n_out}", "    mapping:"]
    for s in profile.speakers:
        L += [f"      - dest: {s.output_channel}", "        sources:",
              f"          - channel: {s.output_channel}", "            gain: 0", "            inverted: false"]
    L += ["", "pipeline:", "  - type: Mixer", "    name: route"]
    for ch, names in steps:
        L += ["  - type: Filter", f"    channels: [{ch}]", "    names:"] + [f"      - {n}" for n in names]
    return "\n".join(L) + "\n"


_PTYPE = {"peaking": "Peaking", "lowshelf": "Lowshelf", "highshelf": "Highshelf", "lowpass": "Lowpass",
          "highpass": "Highpass", "notch": "Notch", "allpass": "Allpass"}


def biquad_lines(name: str, b, *, digits: int = 4) -> list[str]:
    """A CamillaDSP ``Biquad`` filter definition (freq in Hz, gain in dB for shelves/peaking)."""
    L = [f"  {name}:", "    type: Biquad", "    parameters:", f"      type: {_PTYPE[b.kind]}",
         f"      freq: {b.freq_hz:.{digits}f}"]
    if b.kind in ("peaking", "lowshelf", "highshelf"):
        L.append(f"      gain: {b.gain_db:.{digits}f}")
    L.append(f"      q: {b.q:.{digits}f}")
    return L


def speaker_filter_steps(L: list[str], profile, *, rate: int, use_fir: bool,
                         digits: int = 4) -> list[tuple[int, list[str]]]:
    """Append each speaker's filters (preamp, trim/polarity, delay, FIR or PEQ) to ``L`` and
    return the pipeline steps ``(output channel, filter names)``; shared by the plain and the
    bass-managed export."""
    steps: list[tuple[int, list[str]]] = []
    for s in profile.speakers:
        names = ["preamp"]
        if s.trim_db or s.polarity < 0:
            L += [f"  trim_{s.name}:", "    type: Gain", "    parameters:", f"      gain: {s.trim_db:.4f}",
                  f"      inverted: {'true' if s.polarity < 0 else 'false'}"]
            names.append(f"trim_{s.name}")
        if s.delay_s:
            L += [f"  delay_{s.name}:", "    type: Delay", "    parameters:", f"      delay: {1e3 * s.delay_s:.6f}",
                  "      unit: ms", "      subsample: true"]
            names.append(f"delay_{s.name}")
        if use_fir and rate in s.fir:
            L += [f"  fir_{s.name}:", "    type: Conv", "    parameters:", "      type: Wav",
                  f"      filename: {_q(f'fir_{s.name}_{rate}.wav')}", "      channel: 0"]
            names.append(f"fir_{s.name}")
        else:
            for i, b in enumerate(s.peq, start=1):
                nm = f"peq_{s.name}_{i}"
                L += biquad_lines(nm, b, digits=digits)
                names.append(nm)
        steps.append((s.output_channel, names))
    return steps
