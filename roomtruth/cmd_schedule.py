"""``roomtruth schedule install|status|remove``: run ``roomtruth verify`` unattended on a timer.

Only typer and the standard library are imported at module level (``roomtruth --help`` stays fast).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

schedule_app = typer.Typer(
    name="schedule",
    help="Run 'roomtruth verify' on a timer: a systemd user timer, or a crontab line without systemd.",
    no_args_is_help=True,
    add_completion=False,
)


def _resolve_profile_dir(room: Optional[Path], profile: Optional[str]) -> Path:
    from roomtruth.cmd_verify import _resolve_profile_dir as resolve

    return resolve(room, profile)


# ============================================================================ schedule
def _verify_args(room: Optional[Path], profile: Optional[str], simulate: Optional[str], simulate_ir: Optional[Path],
                 noise_db: Optional[float], repeats: Optional[int], history_db: Optional[Path],
                 sweep_s: Optional[float] = None) -> list[str]:
    from calib.errors import ConfigError

    args: list[str] = []
    if room is not None:
        if not room.is_dir():
            raise ConfigError(f"--room {room} is not a folder; create the workspace first")
        args += ["--room", str(room.resolve())]
    if profile is not None:
        p = Path(profile)  # a profile folder becomes absolute (the timer runs elsewhere); a name stays a name
        args += ["--profile", str(p.resolve()) if (p / "profile.json").is_file() else profile]
    if simulate is not None:
        args += ["--simulate", simulate]
    if simulate_ir is not None:
        args += ["--simulate-ir", str(simulate_ir.resolve())]
    if noise_db is not None:
        args += ["--noise-db", repr(float(noise_db))]
    if repeats is not None:
        args += ["--repeats", str(int(repeats))]
    if sweep_s is not None:
        args += ["--sweep-s", repr(float(sweep_s))]
    if history_db is not None:
        args += ["--history", str(history_db.resolve())]
    if room is None and profile is None:
        raise ConfigError("a scheduled verification needs --room DIR (or --profile PROFILE_DIR with --history FILE)")
    if room is None and history_db is None:
        raise ConfigError("without --room the scheduled runs would leave no history; pass --history FILE")
    # what 'roomtruth verify' would refuse must be refused now, not at 3 a.m. every night
    if repeats is not None and not 1 <= repeats <= 16:
        raise ConfigError(f"--repeats {repeats} is outside 1..16")
    if sweep_s is not None and not (0.5 <= sweep_s <= 30):
        raise ConfigError(f"--sweep-s {sweep_s} is outside 0.5..30 s; verification sweeps are short")
    if noise_db is not None and not (noise_db <= 0.0):  # also NaN
        raise ConfigError(f"--noise-db {noise_db} must be a finite level at or below 0 dBFS")
    if simulate is not None and simulate not in ("default", "reference"):
        raise ConfigError(f"--simulate {simulate!r} is not known; use default or reference")
    if simulate is not None and simulate_ir is not None:
        raise ConfigError("give either --simulate or --simulate-ir, not both")
    if simulate_ir is not None and not simulate_ir.is_file():
        raise ConfigError(f"--simulate-ir {simulate_ir} is not a file")
    _resolve_profile_dir(room, profile)  # the profile must exist today
    return args


@schedule_app.command("install")
def schedule_install(
    every: str = typer.Option(..., "--every", help="daily or weekly."),
    at: str = typer.Option("09:00", "--at", help="Time of day HH:MM (24 h, local time)."),
    weekday: str = typer.Option("Mon", "--weekday", help="Day of a weekly run (Mon..Sun)."),
    room: Optional[Path] = typer.Option(None, "--room", help="Room workspace to verify."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Profile name or folder (default: the workspace's active one)."),
    simulate: Optional[str] = typer.Option(None, "--simulate", help="Scheduled rehearsal on the simulated room."),
    simulate_ir: Optional[Path] = typer.Option(None, "--simulate-ir", help="Scheduled rehearsal on an IR file."),
    noise_db: Optional[float] = typer.Option(None, "--noise-db", help="Simulated noise (dBFS)."),
    repeats: Optional[int] = typer.Option(None, "--repeats", help="Repeated sweeps per run."),
    sweep_s: Optional[float] = typer.Option(None, "--sweep-s", help="Sweep duration per speaker and repeat (s)."),
    history_db: Optional[Path] = typer.Option(None, "--history", help="History database (default: <room>/history.sqlite)."),
    name: str = typer.Option("roomtruth-verify", "--name", help="Unit / crontab marker name."),
    backend: str = typer.Option("auto", "--backend", help="auto, systemd or cron."),
    unit_dir: Optional[Path] = typer.Option(None, "--unit-dir", help="Write the systemd units here instead (not enabled).", hidden=True),
    crontab_file: Optional[Path] = typer.Option(None, "--crontab-file", help="Edit this file instead of the user's crontab.", hidden=True),
    no_enable: bool = typer.Option(False, "--no-enable", help="Write the files but do not enable the timer."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Install a systemd user timer + service (or a crontab line) that runs 'roomtruth verify'."""
    from monitor import schedule as sch

    from calib.errors import ConfigError

    sch.ScheduleSpec(every=every, at=at, weekday=weekday, name=name, command=("check",))  # validate first
    if backend not in ("auto", "systemd", "cron"):
        raise ConfigError(f"--backend {backend!r} is not one of auto, systemd, cron")
    args = _verify_args(room, profile, simulate, simulate_ir, noise_db, repeats, history_db, sweep_s)
    log = str((room.resolve() / "reports" / "scheduled-verify.log") if room is not None else Path.home() / "roomtruth-verify.log")
    spec = sch.ScheduleSpec(every=every, at=at, weekday=weekday, name=name, log_path=log,
                            command=sch.verify_command(sys.executable, args))
    st = sch.install(spec, backend=backend, unit_dir=unit_dir, crontab_file=crontab_file, enable=not no_enable)
    _print_status(st, as_json=as_json)


def _print_status(st: Any, *, as_json: bool) -> None:
    from calib.audio_io import to_json

    if as_json:
        sys.stdout.write(to_json(st.__dict__) + "\n")
        return
    from rich.console import Console

    con = Console(highlight=False)
    if not st.installed:
        con.print(st.detail or "no schedule installed")
        return
    con.print(f"[green]installed[/] ({st.backend}): {st.schedule}")
    con.print(f"runs: {st.command}")
    for f in st.files:
        con.print(f"file: {f}")
    if st.active is not None:
        con.print("timer active" if st.active else "[yellow]timer not active[/]")
    if st.detail:
        con.print(st.detail)


@schedule_app.command("status")
def schedule_status(
    name: str = typer.Option("roomtruth-verify", "--name", help="Unit / crontab marker name."),
    room: Optional[Path] = typer.Option(None, "--room", help="Also show the last verification of this workspace."),
    unit_dir: Optional[Path] = typer.Option(None, "--unit-dir", hidden=True),
    crontab_file: Optional[Path] = typer.Option(None, "--crontab-file", hidden=True),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show the installed schedule (and the workspace's last verification)."""
    from monitor import schedule as sch

    st = sch.status(name, unit_dir=unit_dir, crontab_file=crontab_file)
    last = None
    if room is not None and (room / "history.sqlite").is_file():
        from monitor.history import History

        with History(room / "history.sqlite", readonly=True) as h:
            rows = h.verifications(limit=1, with_checks=False)
            last = rows[0] if rows else None
    if as_json:
        from calib.audio_io import to_json

        d = dict(st.__dict__)
        d["last_verification"] = None if last is None else {k: v for k, v in last.__dict__.items() if k != "checks"}
        sys.stdout.write(to_json(d) + "\n")
        return
    _print_status(st, as_json=False)
    if last is not None:
        typer.echo(f"last verification: {last.time_utc} {last.verdict}{' (FAILED)' if last.failed else ''} {last.report_path}")


@schedule_app.command("remove")
def schedule_remove(
    name: str = typer.Option("roomtruth-verify", "--name", help="Unit / crontab marker name."),
    unit_dir: Optional[Path] = typer.Option(None, "--unit-dir", hidden=True),
    crontab_file: Optional[Path] = typer.Option(None, "--crontab-file", hidden=True),
) -> None:
    """Disable and delete the scheduled verification."""
    from monitor import schedule as sch

    removed = sch.remove(name, unit_dir=unit_dir, crontab_file=crontab_file)
    if removed:
        for r in removed:
            typer.echo(f"removed {r}")
    else:
        typer.echo(f"no schedule named {name!r} was installed")
