"""``roomtruth analyze``: room analysis of an IR file or a measurement folder.

Only typer and the standard library at module top (``roomtruth --help`` stays fast); numpy,
the analysis and rich are imported inside the command.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, List, Optional

import typer


def _parse_triplet(text: str, what: str, sep: str) -> tuple[float, float, float]:
    from calib.errors import ConfigError

    parts = [p for p in text.replace("×", "x").replace(sep, ",").split(",") if p.strip()]
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        vals = ()
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        example = "5.2x3.65x2.6" if sep == "x" else "0.9,1.0,1.2"
        raise ConfigError(f"{what} {text!r} is not three numbers in metres; write it like {example}")
    return vals  # type: ignore[return-value]


def _default_names(n: int) -> tuple[str, ...]:
    if n == 2:
        return ("L", "R")
    return tuple(f"ch{i + 1}" for i in range(n))


def _load(path: Path, raw_fs: Optional[int], names: Optional[str]) -> tuple[Any, Any, str]:
    """(ImpulseResponse, noise recording or None, description)."""
    import numpy as np

    from calib.audio_io import read_audio
    from calib.errors import ConfigError, SignalError
    from calib.types import ImpulseResponse

    if path.is_dir():
        if raw_fs is not None:
            raise ConfigError("--raw-fs applies to a raw PCM file, not to a measurement folder")
        from roomtruth.workspace import load_measurement_dir, read_measurement_json

        ir = load_measurement_dir(path)
        noise = None
        doc = read_measurement_json(path)
        raw = doc.get("raw_file")
        sweep = doc.get("sweep") or {}
        pre_s = float(sweep.get("preroll_s") or 0.0)
        if raw and (path / raw).is_file() and pre_s > 0:
            data, fs_raw = read_audio(path / raw)
            if fs_raw == ir.fs:
                n_pre = int(pre_s * fs_raw)
                # every row is the mic while one speaker played: join their silent pre-rolls
                noise = np.concatenate([row[:n_pre] for row in data])
        if names:
            raise ConfigError("--names applies to an IR file; a measurement folder names its channels")
        return ir, noise, f"measurement {doc.get('id', path.name)}"
    if not path.exists():
        raise SignalError(f"{path}: no such file or measurement folder")
    if raw_fs is not None and path.is_file():
        import soundfile as sf

        try:
            from calib.audio_io import sf_name

            info = sf.info(sf_name(path))   # bytes: the name need not be UTF-8
        except Exception:   # not a sound file soundfile knows: headerless PCM, as --raw-fs expects
            info = None
        if info is not None:
            raise ConfigError(f"{path.name} is a {info.format} file with its own rate ({info.samplerate} Hz); "
                              "--raw-fs is for headerless float32 PCM only, so drop --raw-fs")
    data, fs = read_audio(path, raw_fs=raw_fs)
    from calib.quality import check_impulse_response

    check_impulse_response(data, what=path.name)
    chan = tuple(n.strip() for n in names.split(",")) if names else _default_names(data.shape[0])
    if len(chan) != data.shape[0] or any(not c for c in chan):
        raise ConfigError(f"--names gives {len(chan)} names but {path.name} has {data.shape[0]} channel(s)")
    return ImpulseResponse(samples=data, fs=fs, channel_names=chan, source_id=path.name), None, path.name


def _fmt(v: Any, nd: int = 2, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{nd}f}{unit}"


def _check_text(c: Any) -> tuple[str, str]:
    """Readable value and limit of a compliance check."""
    unit = f" {c.unit}" if c.unit and c.unit not in ("violations", "ratio to height") else ""
    v, lim = c.value, c.limit
    if c.check == "proportions" and isinstance(v, list):
        val = " : ".join(f"{x:g}" for x in v)
    elif isinstance(v, (list, dict)):
        val = "per band (see --json)"
    elif v is None:
        val = ""
    elif c.unit == "violations":
        val = f"{v} violation(s)"
    elif c.unit == "NR":
        val = f"NR {v:g}"
    else:
        val = f"{v}{unit}"
    if isinstance(lim, list) and len(lim) == 2 and all(isinstance(x, (int, float)) for x in lim):
        lim_s = f"{lim[0]:g}…{lim[1]:g}{unit}"
    elif isinstance(lim, dict) and "max_diff_s" in lim:
        lim_s = (f"≤ {lim['max_diff_s']:g} s between neighbours above {lim['split_hz']:g} Hz, "
                 f"≤ {100 * lim['max_ratio']:g} % below")
    elif c.unit == "NR" and isinstance(lim, (int, float)):
        lim_s = f"NR {lim:g}"
    elif isinstance(lim, dict) and "any_pair_db" in lim:
        lim_s = f"≤ {lim['any_pair_db']:g} dB any pair, ≤ {lim['front_pair_db']:g} dB L/R"
    elif isinstance(lim, dict):
        lim_s = "tolerance mask"
    elif lim is None:
        lim_s = ""
    else:
        lim_s = f"{lim}{unit if isinstance(lim, (int, float)) else ''}"
    return val, lim_s


def _print_human(ra: Any, what: str) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    d = ra.to_dict()
    head = f"[bold]{what}[/]  ·  {ra.fs} Hz  ·  channels {', '.join(ra.channel_names)}"
    if math.isfinite(ra.volume_m3):
        head += f"  ·  V = {ra.volume_m3:.1f} m³  ·  Schroeder ≈ {_fmt(ra.schroeder_hz, 0)} Hz"
    con.print(head)

    dec = d["decay"]
    t = Table(title="Decay per octave (mean over channels; — = not enough range)", title_justify="left")
    for col in ("band Hz", "EDT s", "T20 s", "T30 s", "C50 dB", "C80 dB", "D50", "Ts ms", "range dB"):
        t.add_column(col, justify="right")
    for i, lab in enumerate(dec["labels"]):
        t.add_row(lab, _fmt(dec["edt_s"][i]), _fmt(dec["t20_s"][i]), _fmt(dec["t30_s"][i]),
                  _fmt(dec["c50_db"][i], 1), _fmt(dec["c80_db"][i], 1), _fmt(dec["d50"][i]),
                  _fmt(None if dec["ts_s"][i] is None else dec["ts_s"][i] * 1000, 0),
                  _fmt(dec["decay_range_db"][i], 0))
    con.print(t)

    if ra.modes:
        t = Table(title="Modes (strongest first)", title_justify="left")
        for col in ("ch", "f Hz", "above avg dB", "Q", "T60 s", "predicted"):
            t.add_column(col, justify="right")
        for m in sorted(ra.modes, key=lambda m: -m.level_db)[:12]:
            pred = "—" if m.predicted is None else f"{m.predicted.kind} {m.predicted.indices} {m.predicted.freq_hz:.1f} Hz"
            t.add_row(m.channel, _fmt(m.freq_hz, 1), _fmt(m.level_db, 1), _fmt(m.q, 1), _fmt(m.t60_s), pred)
        con.print(t)

    if ra.reflections:
        t = Table(title="Early reflections (strongest 10)", title_justify="left")
        for col in ("ch", "delay ms", "level dB", "path m", "surface"):
            t.add_column(col, justify="right")
        for r in sorted(ra.reflections, key=lambda r: -r.level_db)[:10]:
            t.add_row(r.channel, _fmt(r.delay_ms), _fmt(r.level_db, 1), _fmt(r.path_m), r.surface or "—")
        con.print(t)

    for p in ra.matching:
        if getattr(p, "band_limited", False):
            con.print(f"[bold]{p.a}/{p.b}[/]: band-limited (a subwoofer): level, arrival and polarity not "
                      "compared outside its band (bass management aligns it at the crossover)")
            continue
        con.print(f"[bold]{p.a}/{p.b}[/]: level {p.level_diff_db:+.2f} dB, arrival {p.arrival_diff_ms:+.3f} ms, "
                  f"polarity {'same' if p.same_polarity else '[red]inverted[/]'}")
    if ra.noise is not None:
        unit = "dB SPL" if ra.noise.calibrated else "dBFS"
        nr = f"NR {ra.noise.nr:.1f}" if math.isfinite(ra.noise.nr) else "NR not rated (uncalibrated)"
        con.print("Background noise (" + unit + "): " + ", ".join(
            f"{b:g} Hz {v:.1f}" for b, v in zip(ra.noise.bands_hz, ra.noise.level_db)) + f"  ·  {nr}")

    con.print("[bold]Compliance[/] (EBU Tech 3276 / ITU-R BS.1116; limits from the table in config)")
    for c in ra.compliance:
        mark = "[green]✓ pass[/]" if c.passed is True else "[red]✗ FAIL[/]" if c.passed is False else "[dim]– n/a [/]"
        val, lim = _check_text(c)
        line = f"  {mark}  [bold]{c.check}[/]"
        if val:
            line += f": {val}"
        if lim:
            line += f"  (limit {lim})"
        if c.detail:
            line += f" — {c.detail}"
        con.print(line)
    for w in ra.warnings:
        con.print(f"[yellow]warning:[/] {w}")


def register(app: typer.Typer) -> None:
    """Add ``analyze`` to the app."""

    @app.command("analyze")
    def analyze(
        source_path: Path = typer.Argument(..., metavar="IR.wav|MEASUREMENT_DIR",
                                           help="Impulse-response file (WAV/FLAC, or raw float32 with --raw-fs) "
                                                "or a measurement folder."),
        dims: Optional[str] = typer.Option(None, "--dims", help="Room length x width x height in metres, e.g. 5.2x3.65x2.6."),
        source: Optional[List[str]] = typer.Option(None, "--source", help="Speaker position X,Y,Z (m) from the "
                                                   "front-left floor corner; repeat once per channel, or give one for all."),
        mic: Optional[str] = typer.Option(None, "--mic", help="Mic position X,Y,Z (m)."),
        raw_fs: Optional[int] = typer.Option(None, "--raw-fs", help="Read headerless float32 little-endian PCM at this rate (Hz)."),
        names: Optional[str] = typer.Option(None, "--names", help="Channel names for an IR file, comma-separated (default L,R for stereo)."),
        temperature: float = typer.Option(20.0, "--temperature", help="Room temperature (°C) for the speed of sound."),
        spl_offset: Optional[float] = typer.Option(None, "--spl-offset", help="dB SPL that an RMS of 1.0 corresponds to (mic calibration); rates noise in NR."),
        limits: Optional[Path] = typer.Option(None, "--limits", help="Compliance limit table (TOML); default: the built-in one."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the summary."),
    ) -> None:
        """Analyse a room: decay (ISO 3382), modes, reflections, distortion, noise, matching, compliance."""
        from calib.analysis.room import analyze_room
        from calib.audio_io import to_json
        from calib.errors import ConfigError

        if spl_offset is not None and not 0.0 <= spl_offset <= 200.0:  # also NaN
            raise ConfigError(f"--spl-offset {spl_offset} is outside 0..200 dB SPL (the level an RMS of 1.0 "
                              "reads; about 120-140 dB SPL for a measurement mic)")
        dims_m = _parse_triplet(dims, "--dims", "x") if dims else None
        mic_m = _parse_triplet(mic, "--mic", ",") if mic else None
        ir, noise, what = _load(source_path, raw_fs, names)
        src: Any = None
        if source:
            pos = [_parse_triplet(s, "--source", ",") for s in source]
            if len(pos) == 1:
                src = pos[0]
            elif len(pos) == ir.n_channels:
                src = dict(zip(ir.channel_names, pos))
            else:
                raise ConfigError(f"{len(pos)} --source positions for {ir.n_channels} channels; "
                                  "give one for all or one per channel")
        ra = analyze_room(ir, dims_m=dims_m, source_m=src, mic_m=mic_m, temperature_c=temperature,
                          noise_recording=noise, spl_offset_db=spl_offset,
                          limits_path=str(limits) if limits else None)
        if as_json:
            typer.echo(to_json(ra.to_dict()))
        else:
            _print_human(ra, what)
