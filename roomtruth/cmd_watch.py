"""``roomtruth watch``: the programme watch rehearsed offline (no hardware, no sweep).

The programme plays through the profile's correction (the monitor engine, offline) into a
simulated room (``--simulate-ir``, default the profile's own baseline room); from
``--drift-at`` seconds the room is the drifted one (``--drift`` specs of ``roomtruth verify``);
the mic hears the room plus ``--noise-db`` of room noise.  The same estimator as the live
watch of ``monitor run`` (:class:`monitor.watch.Watch`) judges it, with verify's tolerances
and words.  Exit codes as ``verify``: 0 pass (a warning prints a message), 3 fail, 2 error.

Only typer and the standard library at module level (``roomtruth --help`` stays fast).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add ``watch``."""
    app.command("watch")(watch_cmd)


def _room_irs(prof: Any, pdir: Path, simulate_ir: Optional[Path], fs: int):
    """The simulated room's IRs (speakers, n), sample 0 = emission, and a label."""
    import numpy as np

    from calib.audio_io import read_audio
    from calib.errors import ConfigError

    names = [s.name for s in prof.speakers]
    ref = prof.reference
    if simulate_ir is None:
        idx = [ref.channel_names.index(n) for n in names]
        return np.asarray(ref.samples[idx, ref.onset_samples:], dtype=np.float64), "the profile's baseline room"
    data, fs_ir = read_audio(simulate_ir, min_samples=64)
    if fs_ir != fs:
        raise ConfigError(f"--simulate-ir {simulate_ir} is at {fs_ir} Hz but the programme is at {fs} Hz; "
                          "give both at the same rate (nothing is resampled)")
    if data.shape[0] != len(names):
        raise ConfigError(f"{simulate_ir} has {data.shape[0]} channel(s) but profile {prof.name!r} has {len(names)} "
                          f"speakers ({', '.join(names)}); give one IR channel per speaker, in that order")
    if (pdir / "reference.ir.wav").resolve() == Path(simulate_ir).resolve() and fs == ref.fs:
        data = data[:, ref.onset_samples:]   # roomtruth's own IR file keeps a pre-delay
    return data, str(simulate_ir)


def watch_cmd(
    profile: str = typer.Option(..., "--profile", help="Profile folder (or a profile name with --room)."),
    programme: Path = typer.Option(..., "--programme", help="Programme WAV/FLAC played through the correction (one channel per output, or mono)."),
    simulate_ir: Optional[Path] = typer.Option(None, "--simulate-ir", help="Room as IR.wav, one channel per speaker, sample 0 = emission (default: the profile's own baseline room)."),
    drift_at: Optional[float] = typer.Option(None, "--drift-at", help="Programme time (s) at which the room changes to the drifted one."),
    drift: List[str] = typer.Option([], "--drift", help="Change of the room from --drift-at, as verify: level:L:+0.5 (dB), delay:R:0.1 (ms), polarity:R, band:L:1000:+2 (Hz, dB). Repeatable."),
    noise_db: float = typer.Option(-70.0, "--noise-db", help="Room noise at the mic (dBFS RMS, pink)."),
    seed: int = typer.Option(0, "--seed", help="Noise seed."),
    tau_s: float = typer.Option(60.0, "--tau-s", help="Averaging time constant (s of usable programme)."),
    eval_s: float = typer.Option(5.0, "--eval-s", help="Programme time between two judgements (s)."),
    confirm_with_sweep: bool = typer.Option(False, "--confirm-with-sweep", help="Live (monitor run): a drift found from programme asks for a sweep verification at the next pause. Rehearsal: recorded in meta only."),
    room: Optional[Path] = typer.Option(None, "--room", help="Room workspace (resolves --profile NAME)."),
    history_db: Optional[Path] = typer.Option(None, "--history", help="Record the outcome in this history database (marked as from programme)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Rehearse the programme watch: detect a room drift from music alone, as `monitor run` does live.
    Exit 0 pass/warn, 3 fail, 2 error."""
    import math

    from calib.audio_io import read_audio, to_json
    from calib.errors import ConfigError, VerificationError
    from calib.profile import CalibrationProfile
    from monitor.verify_parts import apply_drifts, parse_drift
    from roomtruth.cmd_verify import _resolve_profile_dir

    drifts = tuple(parse_drift(d) for d in drift)
    if drifts and drift_at is None:
        raise ConfigError("--drift needs --drift-at SECONDS (the programme time at which the room changes)")
    if drift_at is not None and not drifts:
        raise ConfigError("--drift-at needs at least one --drift SPEC (e.g. level:L:+1)")
    if drift_at is not None and not (math.isfinite(drift_at) and drift_at >= 0):
        raise ConfigError(f"--drift-at {drift_at} s must be a time >= 0 within the programme")
    if not (-200.0 <= noise_db <= -10.0):
        raise ConfigError(f"--noise-db {noise_db} is outside -200..-10 dBFS")
    pdir = _resolve_profile_dir(room, profile)
    prof = CalibrationProfile.load(pdir)
    if prof.reference is None:
        raise VerificationError(f"profile {pdir} holds no reference measurement to watch against; "
                                "re-create it with 'roomtruth correct'")
    x, fs = read_audio(programme, min_samples=1)
    n = x.shape[1]
    if fs != prof.reference.fs:
        raise ConfigError(f"the programme is at {fs} Hz but the profile's baseline is at {prof.reference.fs} Hz; "
                          f"give the programme at {prof.reference.fs} Hz (nothing is resampled)")
    if n < 30 * fs:
        raise ConfigError(f"the programme {programme} lasts {n / fs:.1f} s; the watch needs at least 30 s of programme")
    if drift_at is not None and drift_at >= n / fs:
        raise ConfigError(f"--drift-at {drift_at} s is beyond the programme's end ({n / fs:.1f} s)")
    names = [s.name for s in prof.speakers]
    room_ir, room_label = _room_irs(prof, pdir, simulate_ir, fs)
    drifted = apply_drifts(room_ir, names, drifts, fs=fs) if drifts else None

    from monitor.watch import Watch
    from monitor.watch_rehearsal import render_feeds, run_watch, simulate_mic

    tol = prof.tolerances or None
    xo = (prof.target or {}).get("crossover_hz")
    watch = Watch(prof.reference, fs=fs, speakers=names, tolerances=tol, tau_s=tau_s, eval_period_s=eval_s,
                  crossover_hz=float(xo) if xo else None)
    feeds = render_feeds(prof, x, fs=fs)
    mic = simulate_mic(feeds, room_ir, fs=fs, drifted=drifted, drift_at_s=drift_at, noise_dbfs=noise_db, seed=seed)
    res = run_watch(watch, feeds, mic)
    res["meta"].update({
        "profile": prof.name, "profile_hash": prof.content_hash(), "profile_dir": str(pdir),
        "programme": str(programme), "programme_channels": int(x.shape[0]),
        "room": room_label, "drifts": list(drift), "drift_at_s": drift_at, "noise_db": noise_db,
        "monitor_path": "offline monitor engine running the profile (rehearsal)",
        "confirm_with_sweep": ("live only: a drift asks for a sweep verification at the next pause"
                               if confirm_with_sweep else False),
    })
    if history_db is not None:
        from monitor.history import History
        from monitor.watch import record_watch

        with History(history_db) as h:
            record_watch(h, watch, profile_name=prof.name, profile_hash=prof.content_hash(),
                         meta={"rehearsal": True, "programme": str(programme), "drifts": list(drift)})
    if as_json:
        sys.stdout.write(to_json(res) + "\n")
    else:
        _print(res)
    if res["verdict"] == "fail":
        raise typer.Exit(3)
    if res["verdict"] == "warn" and as_json:
        sys.stderr.write(f"warning: {res['meta']['message']}\n")


def _print(res: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console(highlight=False)
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}
    m = res["meta"]
    con.print(f"watched {m['programme_s']:.0f} s of programme ({escape(str(m.get('programme', '')))}), "
              f"room: {escape(str(m.get('room', '')))}" + (f", drifted at {m['drift_at_s']:g} s: {', '.join(m['drifts'])}"
                                                           if m.get("drifts") else ""))
    if res["events"]:
        t = Table(title="what the watch reported", title_justify="left")
        for col in ("time", "speaker", "check", "verdict", "message"):
            t.add_column(col)
        for e in res["events"]:
            t.add_row(f"{e['time_s']:.0f} s", e["speaker"], e["check"],
                      f"[{colour.get(e['verdict'], 'white')}]{e['verdict']}[/]", escape(e["message"]))
        con.print(t)
    for spk, c in res["coverage"].items():
        ns = c.get("not_separable_hz") or []
        con.print(f"{spk}: {len(c['bands_hz'])} bands judged, {c['seconds_usable']:.0f} s usable"
                  + (f", {len(ns)} bands not separable" if ns else "") + f"; now: {escape(m['now'].get(spk, ''))}")
    for note in m.get("notes", []):
        con.print(f"[yellow]{escape(note)}[/]")
    con.print(f"[{colour[res['verdict']]}]{res['verdict'].upper()}[/]: {escape(m['message'])}")
