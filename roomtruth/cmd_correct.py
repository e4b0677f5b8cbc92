"""``roomtruth correct``: design the room correction and write the profile with its exports.

Heavy imports happen inside the command so ``roomtruth --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def _speaker_names(n: int, given: Optional[str]) -> tuple[str, ...]:
    from calib.errors import ConfigError

    if given:
        names = tuple(x.strip() for x in given.split(",") if x.strip())
        if len(names) != n:
            raise ConfigError(f"--speakers names {len(names)} speakers but the IRs have {n} channels; "
                              "give one name per channel")
        return names
    if n == 1:
        return ("main",)
    if n == 2:
        return ("L", "R")
    return tuple(f"ch{i + 1}" for i in range(n))


def _load_seat(path: Path, *, fs: Optional[int], speakers: Optional[str]):
    """One seat from an IR file (WAV/FLAC, or raw float32 .pcm with --fs) or a measurement folder."""
    from calib.audio_io import read_audio
    from calib.errors import MeasurementError, SignalError
    from calib.types import ImpulseResponse

    if path.is_dir():
        try:
            from roomtruth.workspace import load_measurement_dir  # M1's reader, when present
        except ImportError:
            load_measurement_dir = None
        if load_measurement_dir is not None:
            ir = load_measurement_dir(path)
            if speakers:
                ir = ImpulseResponse(ir.samples, ir.fs, _speaker_names(ir.n_channels, speakers), ir.onset_samples,
                                     ir.arrival_samples, ir.latency_samples, ir.harmonics, ir.snr_db, ir.source_id,
                                     ir.meta)
            return ir
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".wav" and "ir" in p.name.lower())
        if not files:
            raise MeasurementError(f"{path} holds no impulse-response WAV (*ir*.wav); measure first or pass IR files")
        rows, rate = [], None
        for f in files:
            data, r = read_audio(f, min_samples=256)
            from calib.quality import check_impulse_response

            check_impulse_response(data, what=f.name)
            if rate is not None and r != rate:
                raise SignalError(f"{f} is at {r} Hz but {files[0]} at {rate} Hz")
            rate = r
            rows += list(data)
        n = min(len(r) for r in rows)
        import numpy as np

        return ImpulseResponse(np.array([r[:n] for r in rows]), rate, _speaker_names(len(rows), speakers),
                               source_id=path.name)
    suffix = path.suffix.lower()
    if suffix in (".pcm", ".raw", ".f32"):
        if fs is None:
            raise SignalError(f"{path} is headerless float32; pass its sample rate with --fs (e.g. --fs 44100)")
        data, rate = read_audio(path, raw_fs=fs, min_samples=256)
    else:
        data, rate = read_audio(path, min_samples=256)
        if fs is not None and rate != fs:
            raise SignalError(f"{path} is at {rate} Hz but --fs says {fs} Hz; nothing is resampled silently, "
                              "so drop --fs or resample the file")
    from calib.quality import check_impulse_response

    check_impulse_response(data, what=path.name)
    return ImpulseResponse(data, rate, _speaker_names(data.shape[0], speakers), source_id=path.name)


def _read_filter_file(path: Path):
    """Biquads from a REW filter-settings file, or from Equalizer APO text (its first channel
    with filters)."""
    from calib.errors import ConfigError
    from calib.exports.eqapo import parse_eqapo
    from calib.exports.rew import parse_rew_filters, read_filter_text

    if not path.is_file():
        raise ConfigError(f"--peq-file {path} does not exist")
    text = read_filter_text(path)
    if "Filter Settings file" in text or "Room EQ" in text:
        return parse_rew_filters(text, source=str(path))
    if any(line.strip().lower().startswith(("preamp:", "channel:")) for line in text.splitlines()):
        cfg = parse_eqapo(text, source=str(path))
        for ch in cfg["channels"].values():
            if ch["peq"]:
                return list(ch["peq"])
        raise ConfigError(f"--peq-file {path} holds no filters")
    return parse_rew_filters(text, source=str(path))


def _archive_previous(out: Path) -> Optional[Path]:
    """Keep an earlier profile in a workspace's profiles/ for rollback: copy it to
    ``profiles/<name>@<UTC stamp>`` (complete copy first, then rename)."""
    import datetime as dt
    import os
    import shutil
    import tempfile

    if not (out / "profile.json").is_file():
        return None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest = out.with_name(f"{out.name}@{stamp}")
    i = 2
    while dest.exists():  # two runs within one second each keep their own copy
        dest = out.with_name(f"{out.name}@{stamp}-{i}")
        i += 1
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=out.parent))
    shutil.rmtree(tmp)
    try:
        shutil.copytree(out, tmp)
        os.rename(tmp, dest)  # the caller holds the profile's write lock
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a partial copy is never left (a kill's is cleaned next run)
        raise
    return dest


def register(app: typer.Typer) -> None:
    """Add ``correct`` to the app."""

    @app.command("correct")
    def correct(
        inputs: List[Path] = typer.Argument(..., help="IR files (one per seat) or measurement folders.",
                                            metavar="IR.wav...|MEASUREMENT_DIR..."),
        out: Path = typer.Option(..., "--out", help="Profile folder to write (e.g. my-room/profiles/main)."),
        target: str = typer.Option("house", "--target", help="house (default: +4 dB room gain below 120 Hz), flat, "
                                   "tilt:<dB/oct> or a REW/CSV target file."),
        range_: str = typer.Option("20,500", "--range", help="Correction range LO,HI in Hz."),
        peq: int = typer.Option(10, "--peq", help="Most PEQ filters per speaker (0: none)."),
        fir_taps: int = typer.Option(0, "--fir-taps", help="FIR length at the design rate (0: PEQ only)."),
        fir_phase: str = typer.Option("minimum", "--fir-phase", help="minimum or mixed (excess phase below 150 Hz)."),
        max_boost_db: float = typer.Option(3.0, "--max-boost-db", help="Largest boost (dB)."),
        band_limit_hz: Optional[float] = typer.Option(None, "--band-limit-hz", help="Fold a minimum-phase "
                                                      "low-pass at this frequency into the FIR (removes "
                                                      "converter pre-ringing near Nyquist)."),
        fs: Optional[int] = typer.Option(None, "--fs", help="Sample rate of headerless .pcm IRs; checked for WAVs."),
        weights: Optional[str] = typer.Option(None, "--weights", help="Seat weights, e.g. 2,1,1 (first = main seat)."),
        speakers: Optional[str] = typer.Option(None, "--speakers", help="Speaker names per IR channel, e.g. L,R."),
        peq_file: Optional[Path] = typer.Option(None, "--peq-file", help="Use these filters (REW filter-settings "
                                                "file or Equalizer APO text) instead of fitting a PEQ."),
        name: Optional[str] = typer.Option(None, "--name", help="Profile name (default: the folder name)."),
        fix_polarity: bool = typer.Option(False, "--fix-polarity", help="Invert speakers whose polarity is "
                                          "opposite to the first speaker's (else only flagged)."),
        replace: bool = typer.Option(False, "--replace", help="Replace an existing profile outside a workspace."),
        layout: Optional[str] = typer.Option(None, "--layout", help="Speaker layout: 2.0, 2.1, 5.1, 7.1, 7.1.4 or "
                                             "9.1.6 (programme channel order, angle checks)."),
        subs: Optional[str] = typer.Option(None, "--subs", help="Subwoofer channels, e.g. SUB or SUB1,SUB2: bass "
                                           "management (crossover, routing, sub alignment)."),
        crossover_hz: Optional[str] = typer.Option(None, "--crossover-hz", help="Bass-management crossover "
                                                   "(Hz, Linkwitz-Riley 4th order; default 80), or per speaker: "
                                                   "80,C=100,Ltf=120."),
        json_out: bool = typer.Option(False, "--json", help="Print machine-readable results."),
    ) -> None:
        """Design PEQ/FIR room correction from IRs and write PROFILE_DIR with its exports."""
        from calib.audio_io import to_json
        from calib.correction.design import CorrectionSettings, design_correction
        from calib.correction.peq import PeqSettings
        from calib.correction.targets import parse_range, target_from_option
        from calib.errors import ConfigError
        from calib.exports.camilladsp import format_camilladsp
        from calib.exports.eqapo import format_eqapo
        from calib.exports.minidsp import format_minidsp
        from calib.exports.rew import format_rew_filters

        import math

        if target.startswith("tilt:"):
            try:
                slope = float(target[5:])
            except ValueError:
                slope = 0.0  # target_from_option names a word that is not a number
            if not math.isfinite(slope):
                raise ConfigError(f"--target {target!r}: the tilt must be a finite number of dB per octave "
                                  "within +-6, e.g. tilt:-0.5")
        if fs is not None and not (8000 <= fs <= 768_000):
            raise ConfigError(f"--fs {fs} Hz is outside 8000..768000 Hz")
        lo, hi = parse_range(range_)
        tg = target_from_option(target, lo_hz=lo, hi_hz=hi)
        w = None
        if weights:
            try:
                w = tuple(float(x) for x in weights.split(","))
            except ValueError:
                raise ConfigError(f"--weights {weights!r} is not a comma-separated list of numbers") from None
        fixed = tuple(_read_filter_file(Path(peq_file))) if peq_file else None
        if fir_phase not in ("minimum", "mixed"):
            raise ConfigError(f"--fir-phase {fir_phase!r} is not 'minimum' or 'mixed'")
        if band_limit_hz is not None and not (1000 <= band_limit_hz):
            raise ConfigError(f"--band-limit-hz {band_limit_hz} is below 1000 Hz; it is meant for the top octave")
        if fir_taps and not (64 <= fir_taps <= 1 << 20):
            raise ConfigError(f"--fir-taps {fir_taps} is outside 64..1048576 (0 for PEQ only)")
        out = Path(out)
        in_workspace = out.parent.name == "profiles"
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} exists and is not a folder")
        if out.exists() and any(out.iterdir()) and not (in_workspace or replace):
            raise ConfigError(f"--out {out} already exists; pass --replace, or write into a workspace's "
                              "profiles/ folder where earlier profiles are kept for rollback")
        seats = [_load_seat(Path(p), fs=fs, speakers=speakers) for p in inputs]
        for p_in, seat in zip(inputs, seats):
            if fs is not None and seat.fs != fs:  # a measurement folder or IR WAVs: the rate is checked
                raise ConfigError(f"{p_in} is at {seat.fs} Hz but --fs says {fs} Hz; nothing is resampled "
                                  "silently, so drop --fs or resample the IRs")
            if band_limit_hz is not None and not band_limit_hz < 0.5 * seat.fs:
                raise ConfigError(f"--band-limit-hz {band_limit_hz:g} is at or above the Nyquist frequency of "
                                  f"{p_in} ({0.5 * seat.fs:g} Hz); use 1000..{0.5 * seat.fs:g} Hz")
        settings = CorrectionSettings(target=tg, peq=PeqSettings(n_max=peq, max_boost_db=max_boost_db),
                                      fir_taps=fir_taps, fir_phase=fir_phase, seat_weights=w,
                                      name=name or out.name, fixed_peq=fixed, fix_polarity=fix_polarity,
                                      fir_band_limit_hz=band_limit_hz)
        seat_names = [Path(p).stem for p in inputs]
        if len(set(seat_names)) != len(seat_names):
            seat_names = [f"seat{i + 1}" for i in range(len(inputs))]
        bm_json: dict = {}
        if layout or subs or crossover_hz is not None:   # bass management / immersive layouts
            from roomtruth import cmd_correct_bass

            profile, report, bm_json = cmd_correct_bass.design(seats, settings, inputs=inputs, seat_names=seat_names,
                                                               layout=layout, subs=subs, crossover_hz=crossover_hz)
        else:
            profile, report = design_correction(seats, settings, seat_names=seat_names,
                                                sources=[str(Path(p).resolve()) for p in inputs])
        extra: dict[str, str] = {
            "camilladsp.yml": format_camilladsp(profile),
            "equalizer_apo.txt": format_eqapo(profile),
        }
        for rate in sorted({r for s in profile.speakers for r in s.fir} - {profile.design_fs}):
            extra[f"camilladsp_{rate}.yml"] = format_camilladsp(profile, fs=rate)  # one per FIR rate
        for s in profile.speakers:
            rew = format_rew_filters(s.peq, notes=f"roomtruth {profile.name} {s.name}", n_slots=max(20, len(s.peq)))
            if len(profile.speakers) == 1:
                extra["rew_filters.txt"] = rew
            else:
                extra[f"rew_filters_{s.name}.txt"] = rew
            for rate in (48_000, 96_000):
                extra[f"minidsp_{s.name}_{rate}.txt"] = format_minidsp(s.peq, fs=rate)
        if profile.routing is not None:
            from calib.exports.firwav import speaker_fir_files

            extra.update(speaker_fir_files(profile))   # fir/<speaker>.wav: crossover and correction in one FIR
        rep_json = report.to_json_dict() | bm_json
        rep_json["content_hash"] = profile.content_hash()
        extra["correction_report.json"] = to_json(rep_json) + "\n"
        from roomtruth.workspace import profile_write_lock

        with profile_write_lock(out):  # one writer per profile; earlier debris cleaned
            archived = _archive_previous(out) if (in_workspace and out.exists()) else None
            profile.save(out, replace_existing=True, extra_files=extra)

        result = report.to_json_dict() | bm_json
        result["profile"] = str(out)
        result["content_hash"] = profile.content_hash()
        result["previous_profile"] = None if archived is None else str(archived)
        if json_out:
            typer.echo(to_json(result))
            return
        from rich.console import Console
        from rich.table import Table

        con = Console()
        for sp in report.speakers:
            band = (float(sp.freqs_hz[0]), float(sp.freqs_hz[-1])) if len(sp.freqs_hz) else (tg.lo_hz, tg.hi_hz)
            t = Table(title=f"speaker {sp.name}: deviation from target {band[0]:.0f}-{band[1]:.0f} Hz "
                            "(1/6 octave, rms)")     # a sub: its own band (20 Hz..2 fc)
            for col in ("seat", "weight", "before dB", "after dB", "worst band change dB"):
                t.add_column(col, justify="right" if col != "seat" else "left")
            for r in sp.seats:
                t.add_row(r.name, f"{r.weight:.2f}", f"{r.rms_dev_before_db:.2f}", f"{r.rms_dev_after_db:.2f}",
                          f"{r.worst_band_change_db:+.2f} @ {r.worst_band_hz:.0f} Hz")
            con.print(t)
            if sp.peq:
                con.print("PEQ: " + "; ".join(f"{b.freq_hz:.1f} Hz {b.gain_db:+.1f} dB Q {b.q:.2f}" for b in sp.peq))
            if sp.fir:
                con.print(f"FIR: {sp.fir['taps']} taps, {sp.fir['phase']} phase, latency {sp.fir['latency_ms']:.1f} ms, "
                          f"pre-ringing {sp.fir['pre_ringing_db']:.1f} dB, rates {sp.fir['rates_hz']}"
                          + (f", excess phase corrected {tg.lo_hz:g}-{sp.fir['excess_phase_max_hz']:.0f} Hz"
                             if sp.fir["excess_phase_max_hz"] else ""))
        con.print(f"preamp {report.preamp_db:+.1f} dB (headroom for the largest boost)")
        if report.alignment is not None:
            for n, a in report.alignment.to_dict().items():
                if n != "warnings":
                    con.print(f"{n}: delay {a['delay_ms']:.3f} ms, trim {a['trim_db']:+.2f} dB, polarity {a['polarity']:+d}")
        if bm_json:
            from roomtruth.cmd_correct_bass import print_summary

            print_summary(con, bm_json)
        for wmsg in report.warnings:
            con.print(f"[yellow]warning:[/yellow] {wmsg}")
        if archived is not None:
            con.print(f"previous profile kept as {archived}")
        con.print(f"wrote {out} (content hash {profile.content_hash()[:16]})")
