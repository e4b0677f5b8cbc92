"""``roomtruth ir``, ``roomtruth sweep`` and ``roomtruth spl-cal``: working with files made
elsewhere (registered by :mod:`roomtruth.cmd_measure`).

Only typer and the standard library at module level; numpy/scipy and the packages are
imported inside the commands so ``roomtruth --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from roomtruth.cmd_measure import _console


# --------------------------------------------------------------------------------------- ir
def _trim_zeros(x):
    import numpy as np

    nz = np.flatnonzero(x)
    if nz.size == 0:
        return x, 0
    return x[nz[0]: nz[-1] + 1], int(nz[0])


def _estimate_band(x, fs: int) -> tuple[float, float]:
    """Swept band of a sweep file: where its pink-compensated spectrum is within 10 dB of its
    median (an exponential sweep has a flat |X|^2 * f inside its band)."""
    import numpy as np

    X = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / fs)
    pc = X * f
    # smooth over 1/6 octave
    c = np.concatenate([[0.0], np.cumsum(pc)])
    lo = np.searchsorted(f, f * 2 ** (-1 / 12))
    hi = np.searchsorted(f, f * 2 ** (1 / 12), side="right")
    sm = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    ref = np.median(sm[sm > sm.max() * 1e-3])
    band = np.flatnonzero(sm >= ref * 0.1)
    return float(max(f[band[0]], 1.0)), float(min(f[band[-1]], fs / 2))


def ir_cmd(
    recording: Path = typer.Argument(..., help="Recording WAV (mic channel(s), optionally a loopback channel)."),
    output: Path = typer.Option(..., "--output", "-o", help="IR WAV to write (float32, one channel per mic channel)."),
    sweep: Optional[Path] = typer.Option(None, "--sweep", help="The sweep WAV that was played (mono)."),
    f1: Optional[float] = typer.Option(None, "--f1", help="Sweep start frequency (Hz) of a roomtruth sweep."),
    f2: Optional[float] = typer.Option(None, "--f2", help="Sweep stop frequency (Hz)."),
    sweep_s: Optional[float] = typer.Option(None, "--sweep-s", help="Sweep duration (s)."),
    level_dbfs: float = typer.Option(-12.0, "--level-dbfs", help="Peak level the sweep was played at (sets the IR's scale without a reference)."),
    no_sync: bool = typer.Option(False, "--no-sync", help="The sweep was Farina's (not synchronized)."),
    reference_channel: Optional[int] = typer.Option(None, "--reference-channel", help="1-based channel holding the loopback reference."),
    channel: Optional[int] = typer.Option(None, "--channel", help="1-based mic channel (default: every non-reference channel)."),
    length_s: Optional[float] = typer.Option(None, "--length-s", help="IR length (s)."),
    raw_fs: Optional[int] = typer.Option(None, "--raw-fs", help="Sample rate of a headerless float32 recording."),
    mic_cal: Optional[Path] = typer.Option(None, "--mic-cal", help="Mic calibration file (UMIK/REW/DRC text) to remove from the IR."),
    json_out: bool = typer.Option(False, "--json", help="Print the IR's timing and SNR as JSON."),
) -> None:
    """Deconvolve a recording made elsewhere into an impulse response."""
    from calib.errors import ConfigError, SignalError

    if sweep is None and None in (f1, f2, sweep_s):
        raise ConfigError("say which sweep was played: --sweep SWEEP.wav, or --f1 HZ --f2 HZ --sweep-s S")
    if sweep is not None and any(v is not None for v in (f1, f2, sweep_s)):
        raise ConfigError("give either --sweep SWEEP.wav or --f1/--f2/--sweep-s, not both")
    if output.exists() and output.is_dir():
        raise ConfigError(f"-o {output} is a folder; give a WAV file name")
    if output.suffix.lower() != ".wav":
        raise ConfigError(f"-o {output}: the IR is written as WAV; use a name ending in .wav")
    if length_s is not None and not 0.01 <= length_s <= 60.0:   # also NaN and inf
        raise ConfigError(f"--length-s {length_s} is outside 0.01..60 s")

    import numpy as np

    from calib.audio_io import read_audio, to_json, write_wav_atomic
    from calib.deconvolve import deconvolve_arrays
    from calib.sweep import generate_sweep
    from calib.types import SweepSpec

    cal = None
    if mic_cal is not None:
        from calib.miccal import read_mic_calibration

        cal = read_mic_calibration(mic_cal)
    rec, fs = read_audio(recording, raw_fs=raw_fs, min_samples=16)
    n_ch = rec.shape[0]
    ref = None
    if reference_channel is not None:
        if not 1 <= reference_channel <= n_ch:
            raise ConfigError(f"--reference-channel {reference_channel} does not exist: {recording} has "
                              f"{n_ch} channel{'s' if n_ch > 1 else ''}")
        if n_ch < 2:
            raise SignalError(f"{recording} is mono, but a loopback reference needs a second channel "
                              "(mic + loopback); record both, or drop --reference-channel")
        ref = rec[reference_channel - 1]
    mic_rows = [i for i in range(n_ch) if i != (reference_channel or 0) - 1]
    if channel is not None:
        if not 1 <= channel <= n_ch or channel == reference_channel:
            raise ConfigError(f"--channel {channel} is not a mic channel of {recording} ({n_ch} channels"
                              + (f", reference {reference_channel}" if reference_channel else "") + ")")
        mic_rows = [channel - 1]
    mics = rec[mic_rows]
    if not np.any(mics):
        raise SignalError(f"{recording} is silent (all samples are zero); nothing to deconvolve")

    rate = None
    if sweep is not None:
        sw, fs_sw = read_audio(sweep, min_samples=16)
        if fs_sw != fs:
            raise SignalError(f"sample rates differ: {recording} is {fs} Hz, {sweep} is {fs_sw} Hz; "
                              "resample one of them first")
        if sw.shape[0] != 1:
            raise SignalError(f"{sweep} has {sw.shape[0]} channels; give the mono sweep that was played")
        x, start = _trim_zeros(sw[0])
        if x.size < 16:
            raise SignalError(f"{sweep} holds no sweep (it is silent)")
        lo_hz, hi_hz = _estimate_band(x, fs)
    else:
        try:
            spec = SweepSpec(f_start_hz=f1, f_stop_hz=f2, duration_s=sweep_s, fs=fs, level_dbfs=level_dbfs,
                             synchronized=not no_sync, preroll_s=0.0, tail_s=0.0)
        except SignalError as exc:
            raise ConfigError(f"sweep parameters: {exc}") from None
        x = generate_sweep(spec)
        start, lo_hz, hi_hz, rate = 0, spec.f_start_hz, spec.f_stop_hz, spec.rate_l_s
    if x.size > rec.shape[1]:
        raise SignalError(f"{recording} lasts {rec.shape[1] / fs:.3f} s but the sweep lasts {x.size / fs:.3f} s; "
                          "the recording must hold the whole sweep and the decay after it")
    refs = None if ref is None else np.tile(ref, (len(mic_rows), 1))
    res = deconvolve_arrays(mics, fs=fs, sweep=x, sweep_start=min(start, rec.shape[1] - x.size),
                            f_lo_hz=lo_hz, f_hi_hz=hi_hz, reference=refs, rate_l_s=rate, n_harmonics=0,
                            ir_length_samples=None if length_s is None else int(round(length_s * fs)))
    from calib.quality import check_impulse_response

    check_impulse_response(res.linear, what=f"the impulse response deconvolved from {recording}",
                           hint="the recording does not seem to hold this sweep; check --sweep, or --f1/--f2/--sweep-s "
                                "against the sweep that was played")
    lin, onset, arrivals = res.linear, res.onset_samples, list(res.arrival_samples)
    trimmed = 0
    if ref is None:
        # no reference: the time origin is only where the file started; cut the IR to begin
        # `onset` samples before the earliest direct sound instead of carrying leading silence
        first = int(np.floor(np.nanmin(arrivals)))
        trimmed = max(first - onset, 0)
        lin = lin[:, trimmed:]
        arrivals = [a - trimmed for a in arrivals]
    if cal is not None:
        from calib.miccal import apply_to_ir
        from calib.types import ImpulseResponse

        lin = apply_to_ir(ImpulseResponse(samples=lin, fs=fs, channel_names=tuple(f"c{i}" for i in range(len(lin)))),
                          cal).samples
    write_wav_atomic(output, lin.astype(np.float32), fs=fs)
    info = {
        "output": str(output), "fs": fs, "channels": [i + 1 for i in mic_rows], "n_samples": lin.shape[1],
        "onset_samples": None if ref is None else onset,
        "arrival_samples": arrivals,
        "latency_samples": res.latency_samples, "snr_db": list(res.snr_db),
        "band_hz": [lo_hz, hi_hz], "reference_channel": reference_channel,
        "mic_calibration": None if cal is None else cal.source,
        "time_origin": "sweep start (loopback)" if ref is not None else "unknown (no reference): IR cut before the direct sound",
    }
    if json_out:
        typer.echo(to_json(info))
        return
    c = _console()
    c.print(f"Wrote {output}: {lin.shape[0]} channel(s), {lin.shape[1] / fs:.3f} s at {fs} Hz, band {lo_hz:.0f}–{hi_hz:.0f} Hz")
    for ch, a, s in zip(info["channels"], arrivals, res.snr_db):
        if ref is not None:
            c.print(f"  channel {ch}: direct sound {(a - onset) / fs * 1000:.3f} ms after the sweep left the output, "
                    f"peak-to-noise {s:.1f} dB")
        else:
            c.print(f"  channel {ch}: direct sound at sample {a:.2f} of the IR, peak-to-noise {s:.1f} dB")
    if ref is not None:
        c.print(f"  latency {res.latency_samples:.2f} samples ({res.latency_samples / fs * 1000:.3f} ms) removed")


# ------------------------------------------------------------------------------------ sweep
def sweep_cmd(
    output: Path = typer.Option(..., "--output", "-o", help="WAV file to write (float32 mono)."),
    f1: float = typer.Option(10.0, "--f1", help="Start frequency (Hz)."),
    f2: float = typer.Option(22000.0, "--f2", help="Stop frequency (Hz)."),
    sweep_s: float = typer.Option(5.0, "--sweep-s", help="Duration (s)."),
    fs: int = typer.Option(48000, "--fs", help="Sample rate (Hz)."),
    level_dbfs: float = typer.Option(-12.0, "--level-dbfs", help="Peak level (dBFS)."),
    preroll_s: float = typer.Option(0.5, "--preroll-s", help="Silence before the sweep (s)."),
    tail_s: float = typer.Option(1.5, "--tail-s", help="Silence after the sweep (s)."),
    no_sync: bool = typer.Option(False, "--no-sync", help="Farina's sweep instead of the synchronized one."),
) -> None:
    """Write a measurement sweep (silence + sweep + silence) to play with another program."""
    from calib.audio_io import write_wav_atomic
    from calib.errors import ConfigError, SignalError
    from calib.sweep import build_stimulus
    from calib.types import SweepSpec

    if output.suffix.lower() != ".wav":
        raise ConfigError(f"-o {output}: use a name ending in .wav")
    for opt, v in (("--preroll-s", preroll_s), ("--tail-s", tail_s)):
        if not 0.0 <= v <= 60.0:   # also NaN and inf
            raise ConfigError(f"{opt} {v} is outside 0..60 s of silence")
    try:
        spec = SweepSpec(f_start_hz=f1, f_stop_hz=f2, duration_s=sweep_s, fs=fs, level_dbfs=level_dbfs,
                         preroll_s=preroll_s, tail_s=tail_s, synchronized=not no_sync)
    except SignalError as exc:
        raise ConfigError(f"sweep parameters: {exc}") from None
    write_wav_atomic(output, build_stimulus(spec).astype("float32"), fs=fs)
    _console().print(f"Wrote {output}: {spec.actual_duration_s:.3f} s sweep {f1:g}–{f2:g} Hz at {level_dbfs:g} dBFS; "
                     f"deconvolve its recording with: roomtruth ir REC.wav --sweep {output} -o IR.wav")


# ---------------------------------------------------------------------------------- spl-cal
def spl_cal_cmd(
    recording: Path = typer.Argument(..., help="Recording of the calibrator on the mic (WAV)."),
    db_spl: float = typer.Option(94.0, "--db-spl", help="The calibrator's level (dB SPL)."),
    tone_hz: float = typer.Option(1000.0, "--tone-hz", help="The calibrator's frequency (Hz)."),
    channel: int = typer.Option(1, "--channel", help="1-based channel of the mic in the recording."),
    room: Optional[Path] = typer.Option(None, "--room", help="Store the sensitivity in this room's room.toml (mic.sensitivity_dbfs)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Mic sensitivity (dBFS at 94 dB SPL) from a recording of an acoustic calibrator."""
    from calib.audio_io import read_audio, to_json
    from calib.errors import ConfigError
    from calib.miccal import spl_calibration

    if not 40.0 <= db_spl <= 140.0:
        raise ConfigError(f"--db-spl {db_spl} is not a calibrator level; use 94 or 114")
    ws = None
    if room is not None:
        from roomtruth.workspace import Workspace

        ws = Workspace(room)
        ws.load_config()
    data, fs = read_audio(recording)
    if not 1 <= channel <= data.shape[0]:
        raise ConfigError(f"--channel {channel} does not exist: {recording} has {data.shape[0]} channel(s)")
    sens = spl_calibration(data[channel - 1], fs=fs, calibrator_db_spl=db_spl, tone_hz=tone_hz)
    if ws is not None:
        _set_mic_sensitivity(ws.room_toml, sens)
        ws.load_config()
    if json_out:
        typer.echo(to_json({"sensitivity_dbfs": sens, "calibrator_db_spl": db_spl, "fs": fs}))
        return
    c = _console()
    c.print(f"Mic sensitivity: {sens:.2f} dBFS at 94 dB SPL (1 kHz); SPL = dBFS {-sens + 94:+.2f} dB")
    if ws is not None:
        c.print(f"stored in {ws.room_toml} ([mic] sensitivity_dbfs)", markup=False)


def _set_mic_sensitivity(path: Path, sens: float) -> None:
    """Set [mic] sensitivity_dbfs in room.toml, keeping every other line (atomic write)."""
    import re

    from calib.audio_io import atomic_write_text

    lines = path.read_text(encoding="utf-8").splitlines()
    value = f"sensitivity_dbfs = {sens:.2f}"
    section = None
    insert_at = None
    for i, ln in enumerate(lines):
        m = re.match(r"\s*\[([^\]]+)\]\s*(#.*)?$", ln)
        if m:
            if section == "mic" and insert_at is None:
                insert_at = i
            section = m.group(1).strip()
            continue
        if section == "mic" and re.match(r"\s*#?\s*sensitivity_dbfs\s*=", ln):
            lines[i] = value
            break
    else:
        if section == "mic" and insert_at is None:
            lines.append(value)
        elif insert_at is not None:
            lines.insert(insert_at, value)
        else:
            lines += ["", "[mic]", value]
    atomic_write_text(path, "\n".join(lines) + "\n")


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
    app.command("ir")(ir_cmd)
    app.command("sweep")(sweep_cmd)
    app.command("spl-cal")(spl_cal_cmd)
