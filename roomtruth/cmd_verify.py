"""``roomtruth verify``; it also registers ``roomtruth history`` (:mod:`roomtruth.cmd_history`) and
``schedule`` (:mod:`roomtruth.cmd_schedule`).

Exit codes of ``verify``: 0 pass (a warning prints a message), 3 fail (the report is written
and the history holds the failed mark), 2 errors and refusals (e.g. the mic is not at the
baseline position: recorded in the history as ``refused``, nothing judged).

Only typer and the standard library are imported here at module level; everything else is
imported inside the commands so ``roomtruth --help`` stays fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from roomtruth.cmd_history import history_cmd, history_trends  # noqa: F401  (typer + stdlib only; re-exported)


def register(app: typer.Typer) -> None:
    """Add ``verify``, ``history`` and the ``schedule`` sub-app."""
    app.command("verify")(verify_cmd)
    app.command("history")(history_cmd)
    from roomtruth.cmd_schedule import schedule_app  # typer + stdlib only: stays fast

    app.add_typer(schedule_app, name="schedule")


# ============================================================================ helpers
def _active_profile_dir(room: Path) -> Path:
    from roomtruth.workspace import active_profile_dir

    return active_profile_dir(room)


def _resolve_profile_dir(room: Optional[Path], profile: Optional[str]) -> Path:
    from calib.errors import ConfigError, ProfileError

    if profile:
        p = Path(profile)
        if (p / "profile.json").is_file():
            return p
        if room is not None and (room / "profiles" / profile / "profile.json").is_file():
            return room / "profiles" / profile
        where = f" or {room / 'profiles' / profile}" if room is not None else ""
        raise ProfileError(f"profile {profile!r} not found: {p}{where} holds no profile.json; pass a profile folder or a profile name of the workspace")
    if room is None:
        raise ConfigError("no profile to verify against; pass --profile PROFILE_DIR (or --room DIR to use its active profile)")
    return _active_profile_dir(room)


def _simulated_backend(profile: Any, simulate: Optional[str], simulate_ir: Optional[Path], noise_db: float, seed: int,
                       drifts: tuple = (), profile_dir: Optional[Path] = None):
    """A simulated room for a rehearsal and the (name, output channel) map.

    ``--simulate default`` is the built-in room; ``--simulate reference`` is the profile's own
    baseline IR with its pre-delay removed (sample 0 = the sound leaves the speaker, as a room
    IR must start), i.e. the calibrated room unchanged; ``--simulate-ir`` a file of one IR per
    speaker, taken as starting at that moment (the profile's own ``reference.ir.wav`` is
    recognised and its pre-delay removed).  ``drifts`` (:class:`monitor.verify_parts.Drift`)
    are applied to the room before it is measured.
    """
    from calib.audio_io import read_audio
    from calib.errors import ConfigError
    from calib.types import ImpulseResponse
    from hardware.simulated import SimulatedRoom
    from monitor.verify_parts import apply_drifts

    names = [s.name for s in profile.speakers]
    ref = profile.reference
    if simulate_ir is not None:
        data, fs = read_audio(simulate_ir, min_samples=64)
        if data.shape[0] != len(names):
            raise ConfigError(
                f"{simulate_ir} has {data.shape[0]} channel(s) but profile {profile.name!r} has {len(names)} speakers "
                f"({', '.join(names)}); give one IR channel per speaker, in that order")
        own = profile_dir is not None and (profile_dir / "reference.ir.wav").resolve() == Path(simulate_ir).resolve()
        if own and ref is not None and fs == ref.fs:
            data = data[:, ref.onset_samples:]
        data = apply_drifts(data, names, drifts, fs=fs)
        ir = ImpulseResponse(samples=data, fs=fs, channel_names=tuple(names), source_id=str(simulate_ir))
        room = SimulatedRoom(ir, noise_db=noise_db, seed=seed)
        return room, [(n, i) for i, n in enumerate(names)], fs
    if simulate == "reference":
        if ref is None:
            raise ConfigError("--simulate reference needs the profile's reference measurement, and it holds none")
        idx = [list(ref.channel_names).index(n) if n in ref.channel_names else None for n in names]
        if None in idx:
            raise ConfigError(f"the profile's reference holds {', '.join(ref.channel_names)} but its speakers are "
                              f"{', '.join(names)}; re-create the profile with 'roomtruth correct'")
        data = apply_drifts(ref.samples[idx, ref.onset_samples:], names, drifts, fs=ref.fs)
        ir = ImpulseResponse(samples=data, fs=ref.fs, channel_names=tuple(names), source_id="profile reference")
        return SimulatedRoom(ir, noise_db=noise_db, seed=seed), [(n, i) for i, n in enumerate(names)], ref.fs
    if simulate != "default":
        raise ConfigError(f"--simulate {simulate!r} is not known; use --simulate default, --simulate reference "
                          "or --simulate-ir IR.wav")
    from hardware.simulated import default_room

    fs = ref.fs if ref is not None else profile.design_fs
    room_ir = default_room(fs)
    missing = [n for n in names if n not in room_ir.channel_names]
    if missing:
        raise ConfigError(
            f"the built-in simulated room has speakers {', '.join(room_ir.channel_names)}, but the profile needs "
            f"{', '.join(missing)}; rehearse with --simulate reference or --simulate-ir IR.wav holding one IR per speaker")
    if drifts:
        idx = [room_ir.channel_names.index(n) for n in names]
        data = apply_drifts(room_ir.samples[idx], names, drifts, fs=fs)
        ir = ImpulseResponse(samples=data, fs=fs, channel_names=tuple(names), source_id="built-in room, drifted")
        return SimulatedRoom(ir, noise_db=noise_db, seed=seed), [(n, i) for i, n in enumerate(names)], fs
    room = SimulatedRoom(None, noise_db=noise_db, seed=seed)
    return room, [(n, room_ir.channel_names.index(n)) for n in names], fs


def _with_baseline_sweep(prof: Any) -> Any:
    """The profile with its reference IR's sweep facts (duration, level, repeats) restored.

    ``roomtruth correct`` keeps the baseline IR but not how it was measured; the noise-floor
    check needs it to compare a short verification sweep with a longer baseline sweep (SNR
    grows by 10·lg T).  Read from the source measurement's ``measurement.json`` named in the
    profile's provenance, when it is still there; otherwise the profile is returned unchanged
    (and the check compares raw SNRs).
    """
    import json
    from dataclasses import replace

    ref = prof.reference
    if ref is None or isinstance((ref.meta or {}).get("sweep"), dict):
        return prof
    for m in (prof.provenance or {}).get("measurements", []) or []:
        if not isinstance(m, dict) or m.get("source_id", m.get("seat")) != ref.source_id or not m.get("source"):
            continue
        try:
            mj = json.loads((Path(str(m["source"])) / "measurement.json").read_text(encoding="utf-8"))
            sweep = dict(mj["sweep"])
            meta = dict(mj.get("meta") or {})
            extra = {"sweep": sweep, "level_dbfs": float(meta.get("level_dbfs", sweep["level_dbfs"])),
                     "repeats": int(meta.get("repeats", 1) or 1)}
        except (OSError, ValueError, KeyError, TypeError):
            return prof
        return replace(prof, reference=replace(ref, meta={**dict(ref.meta or {}), **extra}))
    return prof


def _baseline_band_hz(ref: Any, fs: int) -> tuple[float, float]:
    """The sweep band (Hz) the baseline was measured with (``ref.meta["sweep"]``, restored by
    :func:`_with_baseline_sweep`), else ``roomtruth measure``'s default: 10 Hz to min(22 kHz,
    fs/2).  The stop is capped at fs/2."""
    from calib.types import SweepSpec

    lo, hi = SweepSpec().f_start_hz, 22_000.0
    sw = (getattr(ref, "meta", None) or {}).get("sweep") if ref is not None else None
    if isinstance(sw, dict):
        try:
            a, b = float(sw["f_start_hz"]), float(sw["f_stop_hz"])
            if 0.0 < a < b:
                lo, hi = a, b
        except (KeyError, TypeError, ValueError):
            pass
    return lo, min(hi, fs / 2)


def _measure_repeats(backend: Any, speakers: list[tuple[str, int]], *, fs: int, sweep_s: float, repeats: int,
                     ir_length_s: float, level_dbfs: float, mic_input: int = 0, loopback_input: Optional[int] = 1,
                     loopback_output: Optional[int] = None, max_level_dbfs: Optional[float] = None,
                     probe: bool = True, band_hz: Optional[tuple[float, float]] = None):
    """``repeats`` independent short sweep measurements (one ImpulseResponse each), through
    the measurement session (safe level probe on the first, fault checks on every capture).

    The sweep covers ``band_hz`` (the baseline's band, :func:`_baseline_band_hz`), by default
    ``roomtruth measure``'s (10 Hz to min(22 kHz, fs/2)): the deconvolution band-limits every
    IR to its sweep with a causal high-pass at the start frequency, so a different start moves
    a subwoofer's cross-correlated arrival (a 120 Hz sub: 2.6 ms between a 10 Hz and a 20 Hz
    start, read as a fail on an unchanged room) and a different stop bends the top band.

    The silence recorded after each sweep (``tail_s``) is ``ir_length_s`` + 0.1 s (at least
    0.3 s) and the IRs are ``ir_length_s`` long.  A simulated room (a backend with
    ``response_span_samples``) plays its IR as given, lead-in and all, so the same rule as
    ``roomtruth measure`` applies (:func:`roomtruth.cmd_measure._fit_capture_to_ir`): the tail
    is raised to latency + the room's IR length + 10 ms when that is longer, the IRs then hold
    everything recorded after the sweep, and the level check (0.3-0.5 s of recording) is
    skipped when the direct sound comes later than it records (the reason lands in each IR's
    ``meta["probe_skipped"]``).
    """
    from dataclasses import replace

    from calib.types import SweepSpec
    from hardware.session import measure

    ir_length_s = max(ir_length_s, 0.05)
    f_lo, f_hi = band_hz if band_hz is not None else _baseline_band_hz(None, fs)
    spec = SweepSpec(f_start_hz=f_lo, f_stop_hz=min(f_hi, fs / 2), duration_s=sweep_s, fs=fs,
                     level_dbfs=level_dbfs, preroll_s=0.25, tail_s=max(ir_length_s + 0.1, 0.3))
    n_ir_s: Optional[float] = ir_length_s
    probe_note = None
    if callable(getattr(backend, "response_span_samples", None)):  # a simulated room: hold its whole IR
        from roomtruth.cmd_measure import _fit_capture_to_ir

        fitted, probe_note = _fit_capture_to_ir(backend, spec)
        if fitted.tail_s > spec.tail_s:
            spec, n_ir_s = fitted, None   # None: the IR is all that was recorded after the sweep
        probe = probe and probe_note is None
    cap = level_dbfs if max_level_dbfs is None else min(level_dbfs, max_level_dbfs)
    out = []
    for r in range(repeats):
        # the first run makes the session's low-level check; the others repeat its level
        _, ir = measure(backend, sweep=spec, speakers=speakers, mic_input=mic_input,
                        loopback_input=loopback_input, loopback_output=loopback_output, repeats=1,
                        max_level_dbfs=cap, probe=probe and r == 0, n_harmonics=3, ir_length_s=n_ir_s,
                        meta={"probe_skipped": probe_note} if probe_note else None,
                        retries=3)  # a capture that lost samples is never used, only retried
        lv = ir.meta.get("level_dbfs")
        if r == 0 and isinstance(lv, (int, float)):
            spec = replace(spec, level_dbfs=min(float(lv), cap))
        out.append(ir)
    return out


def _live_monitor() -> Optional[dict]:
    """The status of a ``roomtruth monitor run`` running now on this machine, or None.

    Read from its status file (:func:`roomtruth.monitor_live.read_live_status`: fresh, and its
    process alive); None as well when the file names no running hash.
    """
    from roomtruth.monitor_live import read_live_status

    doc = read_live_status()
    if doc is None or not isinstance(doc.get("running_hash"), str) or not doc["running_hash"]:
        return None
    return doc


def _live_note(live: dict, profile_hash: str) -> str:
    """One plain sentence on what the live ``monitor run`` plays, against the certified hash."""
    running = str(live["running_hash"])
    who = f"the live 'roomtruth monitor run' (pid {live.get('pid')})"
    if running == profile_hash:
        return f"{who} plays the certified profile now ({profile_hash[:12]})"
    if running == "bypass":
        return (f"{who} is in bypass: the speakers get no correction at all; put the certified profile back "
                f"on the air (key 'a' plays slot A), then verify again")
    slots = live.get("slots") or {}
    slot = next((k for k, v in slots.items() if v == running and k != "bypass"), None)
    where = f"slot {slot}" if slot else "a profile"
    fix = ("press 'a' in it if slot A holds the certified profile, or restart it with the certified profile"
           if slot == "B" else "restart it with the certified profile")
    folder = f" from {live.get('profile_dir')}" if slot == "A" and live.get("profile_dir") else ""
    return (f"{who} plays {where}{folder} whose filters ({running[:12]}) are not the certified profile "
            f"({profile_hash[:12]}); {fix}, then verify again")


def _probe_monitor(profile: Any, fs: int, live: Optional[dict] = None):
    """Check the monitor path with engineer E's engine (``monitor.engine.Engine``):

    * the filters on the air: with ``live`` (the status of a running ``roomtruth monitor run``,
      :func:`_live_monitor`), its ``running_hash`` -- the filters in the path *now*, ``"bypass"``
      when it is bypassed; without, offline: load the certified profile into an engine and run
      it until the profile is on the air, and take the hash the engine reports.  Either must be
      the profile's ``content_hash`` (judged in ``monitor.verify_parts``);
    * run a fresh engine in bypass on noise (offline in both cases: a live engine cannot be fed
      from here): its output (limiter included) must equal the input bit for bit after the
      engine's fixed latency.

    None when the engine module is not available.
    """
    import numpy as np

    from monitor.verify import MonitorPathState

    try:
        from monitor.engine import Engine
    except ImportError:
        return None
    n_ch = max(s.output_channel for s in profile.speakers) + 1
    block = 256
    try:
        if live is not None:
            running = str(live["running_hash"])
            source = f"live monitor run, pid {live.get('pid')}"
        else:
            eng = Engine(fs=fs, n_channels=n_ch, block=block)
            eng.load(profile, "A", activate=True)
            silence = np.zeros((n_ch, block), np.float32)
            out = np.zeros_like(silence)
            for _ in range(int(4.0 * fs / block)):  # warm-up (FIR length) + crossfade, at most 4 s
                eng.process(silence, out)
                if eng.running_hash != "bypass" and not eng.in_transition:
                    break
            running = str(eng.running_hash)
            source = "monitor engine run offline from the profile"
        byp = Engine(fs=fs, n_channels=n_ch, block=block)
        lat = int(byp.latency_samples)
        x = (np.random.default_rng(1).standard_normal((n_ch, block * 32)) * 0.05).astype(np.float32)
        y = np.zeros_like(x)
        for i in range(0, x.shape[1], block):
            byp.process(x[:, i:i + block], y[:, i:i + block])
    except (AttributeError, TypeError):  # an engine API this build does not know
        return None
    exact = bool(np.array_equal(y[:, lat:], x[:, : x.shape[1] - lat]))
    return MonitorPathState(running_hash=running, bypass_exact=exact, source=source)


def _print_result(res: Any, *, profile_dir: Path, report: Optional[Path]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console(highlight=False)
    colour = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim", "refused": "red"}
    t = Table(title=f"Verification of profile {res.profile_name!r} ({res.profile_hash[:12]})", title_justify="left")
    for col in ("check", "speaker", "value", "± U (k=2)", "limit", "verdict"):
        t.add_column(col, justify="right" if col in ("value", "± U (k=2)", "limit") else "left")
    bands = [c for c in res.checks if c.name == "band_deviation"]

    def fmt(v: float, unit: str) -> str:
        return "—" if v != v else f"{v:+.3f} {unit}".strip() if unit in ("ms",) else f"{v:+.2f} {unit}".strip()

    for c in res.checks:
        if c.name == "band_deviation" and c.verdict == "pass":
            continue
        name = c.name if c.name != "band_deviation" else f"band {c.band_hz:.0f} Hz"
        t.add_row(name, c.channel, fmt(c.value, c.unit), "—" if c.uncertainty != c.uncertainty else f"{c.uncertainty:.3f}",
                  "—" if c.limit != c.limit else f"{c.limit:g}", f"[{colour[c.verdict]}]{c.verdict}[/]")
    if bands:
        worst = max(bands, key=lambda c: abs(c.value) - c.limit)
        n_ok = sum(c.verdict == "pass" for c in bands)
        t.add_row("third-octave bands", "all", f"{n_ok}/{len(bands)} pass", "", f"worst {worst.value:+.2f} dB @ {worst.band_hz:.0f} Hz", "")
    con.print(t)
    con.print(f"[{colour[res.verdict]}]{res.verdict.upper()}[/]: {res.message}")
    if report is not None:
        con.print(f"report: {escape(str(report))}")


# ============================================================================ verify
def verify_cmd(
    room: Optional[Path] = typer.Option(None, "--room", help="Room workspace (profiles/, history.sqlite, reports/)."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Profile name in the workspace, or a profile folder."),
    simulate: Optional[str] = typer.Option(None, "--simulate", help="Rehearse on a simulated room: 'default' (built-in room) or 'reference' (the profile's own baseline room)."),
    simulate_ir: Optional[Path] = typer.Option(None, "--simulate-ir", help="Rehearse on a room given as IR.wav (one channel per speaker, sample 0 = emission)."),
    drift: List[str] = typer.Option([], "--drift", help="Rehearsal only: change the simulated room first, e.g. level:L:+0.5 (dB), delay:R:0.1 (ms), polarity:R, band:L:1000:+2 (Hz, dB; one third-octave). Repeatable; SPEAKER may be 'all'."),
    noise_db: float = typer.Option(-80.0, "--noise-db", help="Simulated background noise (dBFS RMS)."),
    device: Optional[str] = typer.Option(None, "--device", help="Audio device name (real measurement; default from room.toml)."),
    repeats: int = typer.Option(3, "--repeats", min=1, max=16, help="Repeated sweeps per speaker (repeatability, uncertainty)."),
    sweep_s: float = typer.Option(2.0, "--sweep-s", help="Sweep duration per speaker and repeat (s)."),
    level_dbfs: float = typer.Option(-12.0, "--level-dbfs", help="Sweep peak level (dBFS), never above room.toml's max."),
    seed: int = typer.Option(0, "--seed", help="Noise seed of the simulated room."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the JSON report here (default: <room>/reports/)."),
    history_db: Optional[Path] = typer.Option(None, "--history", help="History database (default: <room>/history.sqlite)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Measure briefly and compare with the profile's baseline: level, third-octave response, arrival,
    polarity, matching, sub phase, noise, distortion and the monitor path. Exit 0 pass/warn, 3 fail."""
    from calib.audio_io import atomic_write_json, to_json
    from calib.errors import ConfigError, VerificationError
    from calib.profile import CalibrationProfile
    from monitor.history import History, utc_now_iso
    from monitor.verify import verify_profile

    if simulate is not None and simulate_ir is not None:
        raise ConfigError("give either --simulate default or --simulate-ir IR.wav, not both")
    if not (0.5 <= sweep_s <= 30):
        raise ConfigError(f"--sweep-s {sweep_s} is outside 0.5..30 s; verification sweeps are short")
    if seed < 0:
        raise ConfigError(f"--seed {seed} must be >= 0")
    if level_dbfs > -1.0:
        raise ConfigError(f"--level-dbfs {level_dbfs} is too hot; use -1 dBFS or lower")
    if not (-60.0 <= level_dbfs):  # also NaN
        raise ConfigError(f"--level-dbfs {level_dbfs} is not a usable sweep level; use -60..-1 dBFS")
    from monitor.verify_parts import parse_drift

    drifts = tuple(parse_drift(d) for d in drift)
    if drifts and simulate is None and simulate_ir is None:
        raise ConfigError("--drift changes a simulated room; add --simulate reference (or default, or --simulate-ir IR.wav)")
    if room is not None and not room.is_dir():
        raise ConfigError(f"--room {room} is not a folder; create the workspace with 'roomtruth init {room}'")
    if room is not None:
        from roomtruth.workspace import clean_stale_temp_files

        clean_stale_temp_files(room / "reports")  # half-written reports of a killed run
    if report is not None and report.is_dir():
        raise ConfigError(f"--report {report} is a folder; give the JSON file to write, e.g. {report / 'verify.json'}")
    db_early = history_db or (room / "history.sqlite" if room is not None and not drifts else None)
    if db_early is not None and db_early.exists():
        with History(db_early):  # refuse an unusable database (migrate an old one) before measuring
            pass
    pdir = _resolve_profile_dir(room, profile)
    prof = _with_baseline_sweep(CalibrationProfile.load(pdir))
    if prof.reference is None:
        raise VerificationError(f"profile {pdir} holds no reference measurement to verify against; re-create it with 'roomtruth correct'")
    ref = prof.reference
    ir_len_s = ref.n_samples / ref.fs
    from monitor.verify import load_tolerances

    try:  # a bad tolerance table is refused before a sweep is played
        load_tolerances(prof.tolerances or None)
    except ConfigError as exc:
        raise ConfigError(f"{pdir / 'profile.json'}: {exc}; fix its 'tolerances'") from None

    if simulate is not None or simulate_ir is not None:
        backend, speakers, fs = _simulated_backend(prof, simulate, simulate_ir, noise_db, seed, drifts, pdir)
        source = "simulated room" + (f" ({simulate_ir})" if simulate_ir else f" ({simulate})")
        if drifts:
            source += ", drifted: " + ", ".join(drift)
        mic, loop, loop_out, max_level = 0, 1, None, None
    else:
        if room is None:
            raise ConfigError("nothing to measure: pass --room DIR (its room.toml names the interface) or rehearse with --simulate default")
        backend, speakers, fs, mic, loop, loop_out, max_level, source = _device_backend(room, prof, device)
    if fs != ref.fs:
        raise ConfigError(f"the room measures at {fs} Hz but the profile's reference is at {ref.fs} Hz; measure at {ref.fs} Hz")
    stamp = utc_now_iso()
    # the second-resolution stamp plus milliseconds and 2 random hex digits: ids sort by time,
    # and two runs within one second (a scheduled one and a manual one) each get their own id
    # instead of the second failing with "already in the history"
    import secrets

    ms = (time.time_ns() // 1_000_000) % 1000
    mid = "verify-" + stamp.replace("-", "").replace(":", "") + f"-{ms:03d}{secrets.token_hex(1)}"
    try:
        reps = _measure_repeats(backend, speakers, fs=fs, sweep_s=sweep_s, repeats=repeats, ir_length_s=ir_len_s,
                                level_dbfs=level_dbfs, mic_input=mic, loopback_input=loop,
                                loopback_output=loop_out, max_level_dbfs=max_level,
                                band_hz=_baseline_band_hz(ref, fs))   # sweep as the baseline did
    finally:
        backend.close()
    # A rehearsal measures a simulated room: the monitor path is proven offline.  A measurement
    # of the room takes the filters a live `monitor run` plays now, when one runs.
    live = _live_monitor() if simulate is None and simulate_ir is None else None
    res = verify_profile(prof, reps, monitor=_probe_monitor(prof, fs, live=live), measurement_id=mid, time_utc=stamp)
    res_meta = {**res.meta, "source": source, "profile_dir": str(pdir), "sweep_s": sweep_s,
                "sweep_band_hz": list(_baseline_band_hz(ref, fs))}
    live_note = None
    if live is not None:
        live_note = _live_note(live, res.profile_hash)
        res_meta["monitor_live"] = {"pid": live.get("pid"), "active": live.get("active"),
                                    "running_hash": live.get("running_hash"),
                                    "profile_dir": live.get("profile_dir"), "note": live_note}

    # report (written for every outcome; a failed verification must leave its report)
    # a drifted rehearsal is not the room: it never lands in the room's own history or reports
    # (an explicit --history / --report still records it)
    own = room is not None and not drifts
    if report is None and own:
        report = room / "reports" / f"{mid}.json"
    payload = {**res.to_dict(), "meta": res_meta}
    db = history_db or (room / "history.sqlite" if own else None)
    if db is not None:
        with History(db) as h:
            h.add_measurement(measurement_id=mid, fs=fs, channels=[n for n, _ in speakers], label="verify",
                              path=str(report or ""), snr_db=[float(min(r.snr_db[i] for r in reps)) if reps[0].snr_db else float("nan")
                                                              for i in range(len(speakers))],
                              stamp=stamp, kind="verify", meta={"repeats": repeats, "source": source})
            h.add_verification(profile_name=res.profile_name, profile_hash=res.profile_hash, verdict=res.verdict,
                               checks=res.checks, report_path=str(report or ""), measurement_id=mid,
                               message=res.message, time_utc=stamp, meta=res_meta)
    # the report only after the history commit: a kill in between leaves a history row whose report
    # is missing, never a report the history does not know
    if report is not None:
        atomic_write_json(report, payload)

    if as_json:
        sys.stdout.write(to_json(payload) + "\n")
    else:
        _print_result(res, profile_dir=pdir, report=report)
        if live_note is not None:
            from rich.console import Console
            from rich.markup import escape

            Console(highlight=False).print(f"monitor path: {escape(live_note)}")
    if res.verdict == "refused":
        hint = ""
        if simulate_ir is not None:
            hint = ("; in a rehearsal, sample 0 of the IR file must be the moment the sound leaves the speaker "
                    "(roomtruth's own IR files keep a pre-delay): rehearse the unchanged room with "
                    "--simulate reference and add --drift to change it")
        raise VerificationError(res.message + hint)
    if res.verdict == "fail":
        raise typer.Exit(3)
    if res.verdict == "warn" and as_json:
        sys.stderr.write(f"warning: {res.message}\n")


def _device_backend(room: Path, prof: Any, device: Optional[str]):
    """The room's interface from ``room.toml``: (backend, speakers, fs, mic, loopback in/out, max level, label)."""
    from roomtruth.config import load_room_config

    cfg = load_room_config(room)
    dev = device or cfg.device
    if str(dev).strip().lower() == "simulated":
        from hardware.simulated import SimulatedRoom

        backend = SimulatedRoom(None, noise_db=cfg.simulate_noise_db)
    else:
        from hardware.rig_backend import device_backend

        backend = device_backend(dev)
    outs = {s.name: s.output_index for s in cfg.speakers}
    speakers = [(s.name, outs.get(s.name, s.output_channel)) for s in prof.speakers]
    return (backend, speakers, cfg.fs, cfg.mic_input_index, cfg.loopback_input_index, cfg.loopback_output_index,
            cfg.max_level_dbfs, f"device {dev}")
