"""``roomtruth init`` and ``roomtruth measure`` (``ir``, ``sweep`` and ``spl-cal`` live in
:mod:`roomtruth.cmd_measure_files` and are registered from here).

Only typer and the standard library at module level; numpy/scipy and the packages are
imported inside the commands so ``roomtruth --help`` stays instant.
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import Any, Optional

import typer


# Another front end (the web app) running this command in a thread hears its progress here.
PROGRESS: contextvars.ContextVar = contextvars.ContextVar("roomtruth_measure_progress", default=None)


def _report_progress(msg: str) -> None:
    hook = PROGRESS.get()
    if hook is not None:
        hook(msg)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _names(spec: str | None) -> list[str] | None:
    if spec is None:
        return None
    from calib.errors import ConfigError
    from calib.names import check_names

    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise ConfigError(f"--channels {spec!r} names no channel; give names such as L,R")
    return list(check_names(names, noun="channel", given=f"--channels {spec!r}"))


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
def _require_writable(out: Path) -> None:
    """Refuse an output folder that cannot be created or written, before anything plays."""
    import os

    from calib.errors import ConfigError

    p = out.expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise ConfigError(f"cannot write the measurement to {out}: {p} is not a folder; choose another --out")
    if not os.access(p, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write the measurement to {out}: the folder {p} is not writable for you; "
                          "choose another --out or fix its permissions")


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
            from calib.quality import check_impulse_response

            check_impulse_response(data, what=f"{simulate_ir} (--simulate-ir)",
                                   hint="give the room's impulse response (speaker to mic), e.g. from 'roomtruth ir'")
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
        # the names 'rig start --channels' gave (kept in its state), else room.toml's, else L,R / S1..Sn
        rig_names = list(getattr(be.state, "speaker_names", ()) or ())
        default_names = rig_names if len(rig_names) == len(outs) else (
            list(cfg.speaker_names) if cfg is not None and len(cfg.speakers) == len(outs) else (
                ["L", "R"] if len(outs) == 2 else [f"S{i + 1}" for i in range(len(outs))]))
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
    in_dev: Any = chan.get("input_device") or (cfg.input_device if cfg is not None else "") or None
    if isinstance(in_dev, str) and in_dev.isdigit():
        in_dev = int(in_dev)
    be = PortAudioBackend(device=None if source == "default" else dev, input_device=in_dev)
    return be, [(n, spk[n]) for n in names], mic, loop_in, loop_out


PROBE_HEARS_S = 0.3   # hardware.session.probe_level records 0.3-0.5 s after its short sweep


def _fit_capture_to_ir(room: Any, spec: Any) -> tuple[Any, str | None]:
    """Record long enough for a simulated room's IR as given, lead-in and all.

    The silence recorded after the sweep must hold the latency and the whole IR, including
    whatever precedes its direct sound, or the direct sound of a file with a long lead-in
    (DRC's rs.pcm: 2.229 s) falls outside the recording and the reported arrival is noise.
    So ``spec.tail_s`` is raised (never lowered) to the room's response span plus 10 ms.
    The level check records only 0.3-0.5 s after its short sweep; when the direct sound comes
    later it would hear nothing, so it is skipped and the reason returned (the full capture
    is still refused if it clips or is too noisy).

    Returns
    -------
    (SweepSpec, str or None)
        The spec to measure with, and why the level check is skipped (None: run it).
    """
    import math
    from dataclasses import replace

    direct, end = room.response_span_samples(spec.fs)
    need_s = math.ceil(end / spec.fs * 1000 + 10) / 1000        # whole ms, 10 ms spare
    if spec.tail_s < need_s:
        spec = replace(spec, tail_s=need_s)
    note = None
    if direct / spec.fs > PROBE_HEARS_S:
        note = (f"level check skipped: the simulated IR's direct sound comes {direct / spec.fs:.3f} s after "
                f"the sound leaves the output, later than the level check records ({PROBE_HEARS_S:g} s)")
    return spec, note


def measure_cmd(
    room: Optional[Path] = typer.Option(None, "--room", help="Room workspace (room.toml); the measurement is stored and indexed there."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Measurement folder to write (default: ROOM/measurements/<stamp>-<label>)."),
    label: str = typer.Option("measurement", "--label", help="Label of the measurement folder."),
    position: str = typer.Option("", "--position", help="Mic position name (e.g. seat, seat+20cm), kept in the metadata."),
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
    input_device: Optional[str] = typer.Option(None, "--input-device", help="Recording device when it is not --device (e.g. a USB mic)."),
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
    if sweep_s is not None and not 0.1 <= sweep_s <= 120:   # also NaN; 0 is not "the default"
        raise ConfigError(f"--sweep-s {sweep_s} is outside 0.1..120 s")
    if level_dbfs is not None and not -60.0 <= level_dbfs <= 0.0:
        raise ConfigError(f"--level-dbfs {level_dbfs} is outside -60..0 dBFS")
    if noise_db is not None and not -200.0 <= noise_db <= 0.0:
        raise ConfigError(f"--noise-db {noise_db} is outside -200..0 dBFS")
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
        from roomtruth.workspace import clean_stale_temp_files

        clean_stale_temp_files(ws.measurements_dir)   # folders a killed measure left half-built
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
    _require_writable(out)   # before any sound plays, not after the sweeps

    if fs is None and simulate_ir is not None and cfg is None:
        import soundfile as sf

        try:
            from calib.audio_io import sf_name

            fs = int(sf.info(sf_name(simulate_ir)).samplerate)   # bytes: the name need not be UTF-8
        except Exception:
            from calib.audio_io import read_audio

            read_audio(simulate_ir)  # raises the clear error
    if fs is None and source == "rig":
        # the rig runs at one rate only: without --fs, measure at the running rig's rate
        from hardware.jackrig import rig_status

        st = rig_status()
        if st.running and st.state is not None:
            fs = int(st.state.fs)
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
        names=names, cfg=cfg, chan={"outputs": outputs, "mic_input": mic_input, "loopback_input": loopback_input,
              "input_device": input_device})
    probe_note = None
    if simulate_ir is not None:
        spec, probe_note = _fit_capture_to_ir(backend, spec)
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
                probe=not no_probe and probe_note is None, retries=retries,
                meta={"room": str(ws.root) if ws else None, "label": label, "source": source,
                      "position": position,
                      **({"probe_skipped": probe_note} if probe_note and not no_probe else {}),
                      "mic": {"calibration_file": None if mic_cal is None else mic_cal.source,
                              "sensitivity_dbfs": cfg.mic_sensitivity_dbfs if cfg is not None else None}},
                progress=lambda msg: (status.update(msg), _report_progress(msg)),
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
        ptn = db(ir.snr_db[i])
        if n in (ir.meta.get("snr_lower_bound") or ()) and not ptn.startswith(">"):
            ptn = "≥ " + ptn   # noiseless pre-roll (digital path): a lower bound, see calib.deconvolve
        t.add_row(n, f"{d_ms:.3f}", f"{d_ms * 0.3432:.2f}" if known else "—", ptn,
                  db(cap.get("snr_db", float("nan"))))
    c.print(t)
    if meta.get("probe_skipped"):
        c.print(str(meta["probe_skipped"]), markup=False)
    lat = ir.latency_samples
    c.print(f"sweep {meta.get('level_dbfs', 0):.1f} dBFS, {meta.get('repeats', 1)}× per speaker; "
            + (f"latency {lat:.1f} samples ({lat / ir.fs * 1000:.2f} ms) removed via loopback"
               if lat else "no loopback: arrival times include the interface latency"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
    from roomtruth import cmd_measure_files

    app.command("init")(init_cmd)
    app.command("measure")(measure_cmd)
    cmd_measure_files.register(app)
