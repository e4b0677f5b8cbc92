"""``roomtruth init``, ``roomtruth measure``, ``roomtruth ir`` and ``roomtruth sweep``.

Only typer and the standard library at module level; numpy/scipy and the packages are
imported inside the commands so ``roomtruth --help`` stays instant.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _names(spec: str | None) -> list[str] | None:
    if spec is None:
        return None
    from calib.errors import ConfigError
    from roomtruth.config import NAME_RE

    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise ConfigError(f"--channels {spec!r} names no channel; give names such as L,R")
    bad = [n for n in names if not NAME_RE.match(n)]
    if bad:
        raise ConfigError(f"--channels: {', '.join(map(repr, bad))} is not a usable channel name; "
                          "use letters, digits, _ or - (at most 16, starting with a letter)")
    if len(set(names)) != len(names):
        raise ConfigError(f"--channels {spec!r} names a channel twice")
    return names


# ------------------------------------------------------------------------------------- init
def init_cmd(
    folder: Path = typer.Argument(..., help="Room folder to create (room.toml, measurements/, profiles/, reports/)."),
    name: Optional[str] = typer.Option(None, "--name", help="Room name (default: the folder name)."),
    device: str = typer.Option("simulated", "--device", help='Interface: a device name/index, "simulated" or "rig".'),
    fs: int = typer.Option(48000, "--fs", help="Sample rate (Hz)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing room.toml."),
) -> None:
    """Create a room workspace with a commented room.toml to edit."""
    from roomtruth.workspace import Workspace

    if not 8000 <= fs <= 384000:
        from calib.errors import ConfigError

        raise ConfigError(f"--fs {fs} Hz is outside 8000..384000 Hz")
    ws = Workspace.init(folder, name=name, device=device, fs=fs, force=force)
    c = _console()
    c.print(f"Created room workspace [bold]{ws.root}[/bold]")
    c.print(f"  edit {ws.room_toml} (dimensions, speakers, channels, mic), then run")
    c.print(f"  roomtruth measure --room {ws.root}")


# ---------------------------------------------------------------------------------- measure
def _backend_for(source: str, *, fs: int, noise_db: float, latency_samples: int,
                 simulate_ir: Path | None, names: list[str] | None, cfg: Any,
                 chan: dict[str, Any] | None = None) -> tuple[Any, list[tuple[str, int]], int, int | None, int | None]:
    """Backend, speakers [(name, 0-based output)], mic input, loopback input, loopback output.

    ``chan``: 1-based overrides from the command line (``outputs``, ``mic_input``,
    ``loopback_input``), for real interfaces only.
    """
    from calib.errors import ConfigError, DeviceError

    chan = {k: v for k, v in (chan or {}).items() if v is not None}
    if chan and source in ("simulated", "rig"):
        raise ConfigError(
            f"--{next(iter(chan)).replace('_', '-')} applies to a real interface; the {'simulated' if source == 'simulated' else 'virtual'} "
            "room's layout is fixed (speakers on outputs 1.., mic on input 1, loopback on input 2)"
        )

    if source == "simulated":
        from calib.types import ImpulseResponse
        from hardware.simulated import SimulatedRoom

        ir = None
        if simulate_ir is not None:
            from calib.audio_io import read_audio

            data, fs_ir = read_audio(simulate_ir, min_samples=2)
            if fs_ir != fs:
                raise ConfigError(f"{simulate_ir} is at {fs_ir} Hz but the measurement runs at {fs} Hz; "
                                  f"use --fs {fs_ir} or resample the IR file")
            if names is None:
                cfg_names = list(cfg.speaker_names) if cfg is not None else []
                if len(cfg_names) == data.shape[0]:
                    names = cfg_names
                elif data.shape[0] == 2:
                    names = ["L", "R"]
                elif data.shape[0] == 1:
                    names = ["M"]
                else:
                    names = [f"S{i + 1}" for i in range(data.shape[0])]
            if len(names) != data.shape[0]:
                raise ConfigError(
                    f"{simulate_ir} holds {data.shape[0]} IR channel{'s' if data.shape[0] != 1 else ''} but "
                    f"{len(names)} speakers ({','.join(names)}) are to be measured; give a file with one IR "
                    "per speaker, in the order of --channels, or name that many --channels"
                )
            ir = ImpulseResponse(samples=data, fs=fs_ir, channel_names=tuple(names), source_id=simulate_ir.name)
            available = names
        else:
            available = ["L", "R"]
            if names is None:
                names = list(cfg.speaker_names) if cfg is not None else available
                extra = [n for n in names if n not in available]
                if extra:
                    raise ConfigError(
                        f"room.toml lists speakers {', '.join(names)} but the built-in simulated room has only "
                        "L and R; pass --channels L,R, or --simulate-ir FILE.wav with one IR per speaker"
                    )
            unknown = [n for n in names if n not in available]
            if unknown:
                raise ConfigError(f"the built-in simulated room has speakers L and R, not {', '.join(unknown)}; "
                                  "use --channels L,R or --simulate-ir FILE.wav for other speakers")
        room = SimulatedRoom(ir, latency_samples=latency_samples, noise_db=noise_db)
        speakers = [(n, available.index(n)) for n in names]
        return room, speakers, SimulatedRoom.MIC_INPUT, SimulatedRoom.LOOPBACK_INPUT, None
    if source == "rig":
        try:
            from hardware.jackrig import RigBackend
        except ImportError as exc:
            raise DeviceError(f"the JACK virtual room backend is not available ({exc}); "
                              "use --simulate default instead") from None
        be = RigBackend()
        outs = list(be.speaker_outputs)
        default_names = list(cfg.speaker_names) if cfg is not None and len(cfg.speakers) == len(outs) else (
            ["L", "R"] if len(outs) == 2 else [f"S{i + 1}" for i in range(len(outs))])
        names = names or default_names
        unknown = [n for n in names if n not in default_names]
        if unknown:
            raise ConfigError(f"the virtual room has speakers {', '.join(default_names)}, not {', '.join(unknown)}")
        speakers = [(n, outs[default_names.index(n)]) for n in names]
        return be, speakers, be.mic_input, be.loopback_input, be.loopback_output
    # a real interface
    try:
        from hardware.portaudio import PortAudioBackend
    except ImportError as exc:
        raise DeviceError(f"the PortAudio backend is not available ({exc}); use --simulate default") from None
    outs = chan.get("outputs")
    if outs is not None:
        try:
            outs = [int(x) for x in str(outs).split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"--outputs {chan['outputs']!r} is not a list of channel numbers such as 1,2") from None
        if not outs or min(outs) < 1 or len(set(outs)) != len(outs):
            raise ConfigError(f"--outputs {chan['outputs']!r}: give distinct channel numbers counting from 1, e.g. 1,2")
    for k in ("mic_input", "loopback_input"):
        if k in chan and not (chan[k] >= 1 or (k == "loopback_input" and chan[k] == 0)):
            raise ConfigError(f"--{k.replace('_', '-')} {chan[k]}: channels count from 1"
                              + (" (0 = no loopback)" if k == "loopback_input" else ""))
    if cfg is not None:
        spk = {s.name: s.output_index for s in cfg.speakers}
        mic, loop_in, loop_out = cfg.mic_input_index, cfg.loopback_input_index, cfg.loopback_output_index
    else:
        spk = {n: i for i, n in enumerate(names or ["L", "R"])}
        mic, loop_in, loop_out = 0, None, None
    if outs is not None:
        names = names or list(spk)[: len(outs)] or [f"S{i + 1}" for i in range(len(outs))]
        if len(outs) != len(names):
            raise ConfigError(f"--outputs names {len(outs)} channels for {len(names)} speakers ({','.join(names)}); "
                              "give one output per speaker, in the order of --channels")
        spk = {n: o - 1 for n, o in zip(names, outs)}
    if "mic_input" in chan:
        mic = chan["mic_input"] - 1
    if "loopback_input" in chan:
        loop_in = chan["loopback_input"] - 1 if chan["loopback_input"] else None
    names = names or list(spk)
    unknown = [n for n in names if n not in spk]
    if unknown:
        raise ConfigError(f"no speaker {', '.join(unknown)} in room.toml; speakers are {', '.join(spk)}")
    if loop_in is not None and loop_in == mic:
        raise ConfigError(f"the mic and the loopback are both on input {mic + 1}; the loopback needs its own input")
    dev: Any = int(source) if source.isdigit() else source
    be = PortAudioBackend(device=None if source == "default" else dev)
    return be, [(n, spk[n]) for n in names], mic, loop_in, loop_out


def measure_cmd(
    room: Optional[Path] = typer.Option(None, "--room", help="Room workspace (room.toml); the measurement is stored and indexed there."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Measurement folder to write (default: ROOM/measurements/<stamp>-<label>)."),
    label: str = typer.Option("measurement", "--label", help="Label of the measurement folder."),
    simulate: Optional[str] = typer.Option(None, "--simulate", help='"default": the built-in simulated room.'),
    simulate_ir: Optional[Path] = typer.Option(None, "--simulate-ir", help="Simulate a room from this IR WAV (one channel per speaker)."),
    device: Optional[str] = typer.Option(None, "--device", help='Audio device name or index, or "rig" (the JACK virtual room).'),
    noise_db: Optional[float] = typer.Option(None, "--noise-db", help="Simulated background noise (dBFS RMS)."),
    sweep_s: Optional[float] = typer.Option(None, "--sweep-s", help="Sweep duration (s)."),
    fs: Optional[int] = typer.Option(None, "--fs", help="Sample rate (Hz)."),
    channels: Optional[str] = typer.Option(None, "--channels", help="Speakers to measure, e.g. L,R."),
    outputs: Optional[str] = typer.Option(None, "--outputs", help="Real interface: 1-based output per speaker, e.g. 1,2 (overrides room.toml)."),
    mic_input: Optional[int] = typer.Option(None, "--mic-input", help="Real interface: 1-based mic input (overrides room.toml)."),
    loopback_input: Optional[int] = typer.Option(None, "--loopback-input", help="Real interface: 1-based loopback input, 0 for none."),
    repeats: Optional[int] = typer.Option(None, "--repeats", help="Sweeps per speaker, averaged."),
    level_dbfs: Optional[float] = typer.Option(None, "--level-dbfs", help="Requested sweep peak level (dBFS)."),
    latency_samples: int = typer.Option(512, "--latency-samples", help="Simulated interface latency (samples)."),
    no_probe: bool = typer.Option(False, "--no-probe", help="Skip the low-level check before the first sweep."),
    retries: int = typer.Option(2, "--retries", help="Extra attempts for a capture that lost samples (xruns)."),
    no_raw: bool = typer.Option(False, "--no-raw", help="Do not store the raw captures."),
    json_out: bool = typer.Option(False, "--json", help="Print measurement.json instead of the summary."),
) -> None:
    """Measure impulse responses (sweeps through a device, the JACK rig or a simulated room)."""
    from calib.errors import ConfigError

    chosen = [x for x in (simulate is not None, simulate_ir is not None, device is not None) if x]
    if len(chosen) > 1:
        raise ConfigError("choose one of --simulate, --simulate-ir and --device")
    if simulate is not None and simulate != "default":
        raise ConfigError(f"--simulate {simulate!r} is unknown; the built-in room is --simulate default "
                          "(or use --simulate-ir FILE.wav)")
    if repeats is not None and not 1 <= repeats <= 64:
        raise ConfigError(f"--repeats {repeats} is outside 1..64")
    if fs is not None and not 8000 <= fs <= 384000:
        raise ConfigError(f"--fs {fs} Hz is outside 8000..384000 Hz")
    if latency_samples < 0:
        raise ConfigError(f"--latency-samples {latency_samples} must be >= 0")
    if not 0 <= retries <= 10:
        raise ConfigError(f"--retries {retries} is outside 0..10")
    if simulate_ir is not None and not simulate_ir.exists():
        raise ConfigError(f"{simulate_ir}: no such file (--simulate-ir)")

    from roomtruth.workspace import Workspace

    ws = cfg = None
    if room is not None:
        ws = Workspace(room)
        cfg = ws.load_config()            # validated in full before any stream opens
    names = _names(channels)
    if simulate is not None or simulate_ir is not None:
        source = "simulated"
    elif device is not None:
        source = device.strip() or "default"
    elif cfg is not None:
        source = cfg.device
    else:
        source = "simulated"
    if out is None:
        if ws is None:
            raise ConfigError("say where to write the measurement: --out DIR, or --room DIR to store it in a room workspace")
        out = ws.new_measurement_dir(label)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not an empty folder; choose a new --out folder")

    if fs is None and simulate_ir is not None and cfg is None:
        import soundfile as sf

        try:
            fs = int(sf.info(str(simulate_ir)).samplerate)
        except Exception:
            from calib.audio_io import read_audio

            read_audio(simulate_ir)  # raises the clear error
    fs_run = int(fs or (cfg.fs if cfg is not None else 48000))
    from calib.types import SweepSpec

    if cfg is not None:
        spec = cfg.sweep_spec(fs=fs_run, duration_s=sweep_s, level_dbfs=level_dbfs)
    else:
        kw = {} if level_dbfs is None else {"level_dbfs": level_dbfs}
        spec = SweepSpec(fs=fs_run, duration_s=sweep_s or 5.0, f_stop_hz=min(22000.0, fs_run / 2), **kw)
    noise = noise_db if noise_db is not None else (cfg.simulate_noise_db if cfg is not None else -80.0)
    mic_cal = None
    if cfg is not None and cfg.mic_calibration_file is not None:
        from calib.miccal import read_mic_calibration

        mic_cal = read_mic_calibration(cfg.mic_calibration_file)   # checked before any sound plays
    backend, speakers, mic_in, loop_in, loop_out = _backend_for(
        source, fs=fs_run, noise_db=noise, latency_samples=latency_samples, simulate_ir=simulate_ir,
        names=names, cfg=cfg, chan={"outputs": outputs, "mic_input": mic_input, "loopback_input": loopback_input})
    from hardware.session import measure
    from roomtruth.workspace import index_measurement, write_measurement_dir

    err = _console(stderr=True)
    try:
        with err.status("measuring…") as status:
            measurement, ir = measure(
                backend, sweep=spec, speakers=speakers, mic_input=mic_in, loopback_input=loop_in,
                loopback_output=loop_out,
                repeats=repeats or (cfg.repeats if cfg is not None else 1),
                max_level_dbfs=cfg.max_level_dbfs if cfg is not None else -6.0,
                min_snr_db=cfg.min_snr_db if cfg is not None else 30.0,
                probe=not no_probe, retries=retries,
                meta={"room": str(ws.root) if ws else None, "label": label, "source": source},
                progress=lambda msg: status.update(msg),
            )
    finally:
        backend.close()
    if mic_cal is not None:
        from calib.miccal import apply_to_ir

        ir = apply_to_ir(ir, mic_cal)
    folder = write_measurement_dir(out, ir, measurement=measurement, backend=getattr(backend, "name", source),
                                   label=label, save_raw=not no_raw)
    if ws is not None:
        index_measurement(ws, folder, ir, label=label, meta={"repeats": measurement.meta.get("repeats"),
                                                             "device": getattr(backend, "name", source),
                                                             "level_dbfs": measurement.meta.get("level_dbfs")})
    if json_out:
        typer.echo((folder / "measurement.json").read_text(encoding="utf-8"), nl=False)
        return
    _print_summary(folder, ir, measurement.meta)


def _print_summary(folder: Path, ir: Any, meta: dict) -> None:
    from rich.table import Table

    c = _console()
    t = Table(title=f"Measured {', '.join(ir.channel_names)} → {folder}", title_justify="left")
    for col in ("speaker", "arrival (ms)", "distance (m)", "peak-to-noise (dB)", "capture SNR (dB)"):
        t.add_column(col, justify="right" if col != "speaker" else "left")
    def db(v: float) -> str:
        return "> 150" if v == float("inf") or v > 150 else f"{v:.1f}"

    known = bool(ir.latency_samples)
    for i, n in enumerate(ir.channel_names):
        d_ms = (ir.arrival_samples[i] - ir.onset_samples) / ir.fs * 1000
        cap = (meta.get("capture") or {}).get(n, {})
        # distance at 343.2 m/s (20 degC, STANDARDS.md §8.1), only when the latency is known
        t.add_row(n, f"{d_ms:.3f}", f"{d_ms * 0.3432:.2f}" if known else "—", db(ir.snr_db[i]),
                  db(cap.get("snr_db", float("nan"))))
    c.print(t)
    lat = ir.latency_samples
    c.print(f"sweep {meta.get('level_dbfs', 0):.1f} dBFS, {meta.get('repeats', 1)}× per speaker; "
            + (f"latency {lat:.1f} samples ({lat / ir.fs * 1000:.2f} ms) removed via loopback"
               if lat else "no loopback: arrival times include the interface latency"))


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

    import numpy as np

    from calib.audio_io import read_audio, to_json, write_wav_atomic
    from calib.deconvolve import deconvolve_arrays
    from calib.sweep import generate_sweep
    from calib.types import SweepSpec

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
    lin, onset, arrivals = res.linear, res.onset_samples, list(res.arrival_samples)
    trimmed = 0
    if ref is None:
        # no reference: the time origin is only where the file started; cut the IR to begin
        # `onset` samples before the earliest direct sound instead of carrying leading silence
        first = int(np.floor(np.nanmin(arrivals)))
        trimmed = max(first - onset, 0)
        lin = lin[:, trimmed:]
        arrivals = [a - trimmed for a in arrivals]
    write_wav_atomic(output, lin.astype(np.float32), fs=fs)
    info = {
        "output": str(output), "fs": fs, "channels": [i + 1 for i in mic_rows], "n_samples": lin.shape[1],
        "onset_samples": None if ref is None else onset,
        "arrival_samples": arrivals,
        "latency_samples": res.latency_samples, "snr_db": list(res.snr_db),
        "band_hz": [lo_hz, hi_hz], "reference_channel": reference_channel,
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
    room: Optional[Path] = typer.Option(None, "--room", help="Store the sensitivity in this room's room.toml ([mic] sensitivity_dbfs)."),
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
    app.command("init")(init_cmd)
    app.command("measure")(measure_cmd)
    app.command("ir")(ir_cmd)
    app.command("sweep")(sweep_cmd)
    app.command("spl-cal")(spl_cal_cmd)
