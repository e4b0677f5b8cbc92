"""Scheduled verification: systemd user timer + service, or a crontab line where systemd is absent.

``install`` writes the files atomically (temp file + rename) and then asks the scheduler to
load them; ``status`` reads them back; ``remove`` deletes them.  The command that runs is an
argument vector (``[python, "-m", "roomtruth", "verify", ...]``) so the scheduled run needs no
PATH, no shell and no terminal: the service has ``StandardInput=null`` and the cron line
redirects stdin from ``/dev/null``.

Files (systemd, ``~/.config/systemd/user/``)::

    <name>.service    Type=oneshot, ExecStart=<the verify command>
    <name>.timer      OnCalendar=*-*-* HH:MM:00 (daily) / Mon *-*-* HH:MM:00 (weekly), Persistent=true

Cron: one line ``MM HH * * DOW <command> </dev/null >>LOG 2>&1 # roomtruth:<name>`` in the user's
crontab (replaced on re-install, removed by ``remove``).

A failed verification exits 3, so systemd marks the service failed (``systemctl --user
status`` shows it) and the history holds the mark and the report path.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from calib.audio_io import atomic_write_text
from calib.errors import ConfigError, RoomtruthError

__all__ = [
    "ScheduleError",
    "ScheduleSpec",
    "parse_at",
    "on_calendar",
    "render_service",
    "render_timer",
    "render_cron_line",
    "systemd_quote",
    "default_unit_dir",
    "systemd_user_available",
    "install",
    "status",
    "remove",
]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CRON_DOW = {d: i for i, d in enumerate(("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"))}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CRON_MARK = "# roomtruth:"


class ScheduleError(RoomtruthError):
    """The scheduler could not be installed, queried or removed."""


def parse_at(at: str) -> tuple[int, int]:
    """``"HH:MM"`` (24 h) → ``(hour, minute)``.

    Raises
    ------
    ConfigError
        Anything else, e.g. ``"25:00"`` or ``"9am"``.
    """
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", at.strip())
    if not m or not (0 <= int(m.group(1)) <= 23 and 0 <= int(m.group(2)) <= 59):
        raise ConfigError(f"--at {at!r} is not a time of day; expected HH:MM in 24-hour form, e.g. 09:30")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class ScheduleSpec:
    """When and what to run.

    Parameters
    ----------
    every : str
        ``"daily"`` or ``"weekly"``.
    at : str
        Time of day ``HH:MM`` (local time of the machine).
    command : sequence of str
        The argument vector to run (absolute paths).
    weekday : str
        For weekly runs: ``Mon`` .. ``Sun``.
    name : str
        Unit / marker name (letters, digits, ``_.-``).
    description : str
        Human description written into the unit.
    log_path : str
        Cron only: file that receives the run's output.
    """

    every: str
    at: str
    command: tuple[str, ...]
    weekday: str = "Mon"
    name: str = "roomtruth-verify"
    description: str = "roomtruth: verify the calibrated room against its baseline"
    log_path: str = ""

    def __post_init__(self) -> None:
        if self.every not in ("daily", "weekly"):
            raise ConfigError(f"--every {self.every!r} is not supported; use daily or weekly")
        parse_at(self.at)
        wd = self.weekday[:1].upper() + self.weekday[1:3].lower()
        if wd not in WEEKDAYS:
            raise ConfigError(f"--weekday {self.weekday!r} is not a weekday; use one of {', '.join(WEEKDAYS)}")
        object.__setattr__(self, "weekday", wd)
        if not _NAME_RE.match(self.name):
            raise ConfigError(f"schedule name {self.name!r} must be 1-64 letters, digits, '_', '.' or '-'")
        object.__setattr__(self, "command", tuple(str(c) for c in self.command))
        if not self.command:
            raise ConfigError("the scheduled command is empty")


def on_calendar(spec: ScheduleSpec) -> str:
    """systemd ``OnCalendar=`` expression (systemd.time(7)): ``[DOW] *-*-* HH:MM:00``."""
    h, m = parse_at(spec.at)
    day = f"{spec.weekday} " if spec.every == "weekly" else ""
    return f"{day}*-*-* {h:02d}:{m:02d}:00"


def systemd_quote(arg: str) -> str:
    """Quote one argument for ``ExecStart=`` (systemd.service(5) "Command lines").

    Specifiers (``%``) are doubled and ``$`` is doubled so no environment substitution happens;
    arguments with whitespace, quotes or backslashes are double-quoted with C-style escapes.
    """
    s = arg.replace("%", "%%").replace("$", "$$")
    if s and not re.search(r"[\s\"'\\;]", s):
        return s
    s = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{s}"'


def render_service(spec: ScheduleSpec, *, working_dir: str | None = None) -> str:
    """The ``<name>.service`` unit text."""
    lines = [
        "# Written by roomtruth schedule install; remove with: roomtruth schedule remove",
        "[Unit]",
        f"Description={spec.description}",
        "",
        "[Service]",
        "Type=oneshot",
        "ExecStart=" + " ".join(systemd_quote(a) for a in spec.command),
        "StandardInput=null",
        "StandardOutput=journal",
        "StandardError=journal",
        "Environment=PYTHONUNBUFFERED=1",
        "Nice=5",
    ]
    if working_dir:
        lines.append(f"WorkingDirectory={working_dir.replace('%', '%%')}")  # a path, not a command line
    return "\n".join(lines) + "\n"


def render_timer(spec: ScheduleSpec) -> str:
    """The ``<name>.timer`` unit text (``Persistent=true``: a run missed while off happens at boot)."""
    return "\n".join([
        "# Written by roomtruth schedule install; remove with: roomtruth schedule remove",
        "[Unit]",
        f"Description={spec.description} ({spec.every} at {spec.at})",
        "",
        "[Timer]",
        f"OnCalendar={on_calendar(spec)}",
        "Persistent=true",
        "RandomizedDelaySec=0",
        f"Unit={spec.name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]) + "\n"


def render_cron_line(spec: ScheduleSpec) -> str:
    """One crontab(5) line; ``%`` is escaped (cron turns a bare ``%`` into a newline)."""
    h, m = parse_at(spec.at)
    dow = str(_CRON_DOW[spec.weekday]) if spec.every == "weekly" else "*"
    cmd = " ".join(shlex.quote(a) for a in spec.command)
    log = spec.log_path or "/dev/null"
    body = f"{cmd} </dev/null >>{shlex.quote(log)} 2>&1".replace("%", "\\%")
    return f"{m} {h} * * {dow} {body} {CRON_MARK}{spec.name}"


def default_unit_dir() -> Path:
    """``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def systemd_user_available() -> bool:
    """True when a systemd user manager answers (``systemctl --user`` works)."""
    if not shutil.which("systemctl"):
        return False
    try:
        r = subprocess.run(["systemctl", "--user", "show-environment"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def _systemctl(*args: str) -> tuple[int, str]:
    try:
        r = subprocess.run(["systemctl", "--user", *args], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return r.returncode, (r.stdout + r.stderr).strip()


# ---------------------------------------------------------------------------- crontab I/O
def _read_crontab(crontab_file: Path | None) -> list[str]:
    if crontab_file is not None:
        return crontab_file.read_text(encoding="utf-8").splitlines() if crontab_file.is_file() else []
    if not shutil.which("crontab"):
        raise ScheduleError("neither a systemd user manager nor the crontab command is available; "
                            "install cron (apt-get install cron) or use --backend systemd --no-enable and enable the units yourself")
    r = subprocess.run(["crontab", "-l"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0:
        return []  # "no crontab for user"
    return r.stdout.splitlines()


def _write_crontab(lines: list[str], crontab_file: Path | None) -> None:
    text = "\n".join(lines) + ("\n" if lines else "")
    if crontab_file is not None:
        atomic_write_text(crontab_file, text)
        return
    r = subprocess.run(["crontab", "-"], input=text, capture_output=True, text=True)  # crontab installs atomically
    if r.returncode != 0:
        raise ScheduleError(f"crontab refused the new table: {r.stderr.strip()}")


def _without(lines: list[str], name: str) -> list[str]:
    return [ln for ln in lines if not ln.rstrip().endswith(f"{CRON_MARK}{name}")]


# ---------------------------------------------------------------------------- public operations
@dataclass(frozen=True)
class ScheduleStatus:
    """What is installed."""

    backend: str                    # "systemd", "cron" or "none"
    installed: bool
    files: tuple[str, ...] = ()
    schedule: str = ""              # OnCalendar expression or cron fields
    command: str = ""
    active: bool | None = None      # timer enabled/active (systemd), None when unknown
    detail: str = ""


def _resolve_backend(backend: str, crontab_file: Path | None) -> str:
    if backend not in ("auto", "systemd", "cron"):
        raise ConfigError(f"--backend {backend!r} is not one of auto, systemd, cron")
    if backend != "auto":
        return backend
    if crontab_file is not None:
        return "cron"
    if systemd_user_available():
        return "systemd"
    if shutil.which("crontab"):
        return "cron"
    return "systemd"  # write the units; the caller reports that they could not be enabled


def install(spec: ScheduleSpec, *, backend: str = "auto", unit_dir: Path | None = None,
            crontab_file: Path | None = None, enable: bool = True) -> ScheduleStatus:
    """Write the schedule (replacing an earlier one of the same name) and load it.

    Returns the resulting :class:`ScheduleStatus`; ``detail`` says what was done or why the
    timer could not be enabled.

    Raises
    ------
    ScheduleError
        The scheduler refused the files (``systemctl`` or ``crontab`` error).
    """
    kind = _resolve_backend(backend, crontab_file)
    if kind == "cron":
        lines = _without(_read_crontab(crontab_file), spec.name)
        lines.append(render_cron_line(spec))
        _write_crontab(lines, crontab_file)
        st = status(spec.name, backend="cron", crontab_file=crontab_file)
        return ScheduleStatus(**{**st.__dict__, "detail": "crontab line installed"})
    d = unit_dir or default_unit_dir()
    svc, tmr = d / f"{spec.name}.service", d / f"{spec.name}.timer"
    atomic_write_text(svc, render_service(spec, working_dir=str(Path.home())))
    atomic_write_text(tmr, render_timer(spec))
    detail = "unit files written"
    if enable and unit_dir is None:
        if systemd_user_available():
            rc, out = _systemctl("daemon-reload")
            if rc == 0:
                rc, out = _systemctl("enable", "--now", f"{spec.name}.timer")
            if rc != 0:
                raise ScheduleError(f"systemctl --user could not enable {spec.name}.timer: {out}")
            detail = "timer enabled and started"
        else:
            detail = ("no systemd user manager is running, so the timer is not enabled yet; "
                      f"log in with a systemd session and run: systemctl --user enable --now {spec.name}.timer")
    st = status(spec.name, backend="systemd", unit_dir=d)
    return ScheduleStatus(**{**st.__dict__, "detail": detail})


def _unit_value(text: str, key: str) -> str:
    for ln in text.splitlines():
        if ln.startswith(key + "="):
            return ln[len(key) + 1:]
    return ""


def status(name: str = "roomtruth-verify", *, backend: str = "auto", unit_dir: Path | None = None,
           crontab_file: Path | None = None) -> ScheduleStatus:
    """What is installed under ``name`` (systemd units first, then the crontab)."""
    if backend in ("auto", "systemd"):
        d = unit_dir or default_unit_dir()
        svc, tmr = d / f"{name}.service", d / f"{name}.timer"
        if svc.is_file() or tmr.is_file():
            t_text = tmr.read_text(encoding="utf-8") if tmr.is_file() else ""
            s_text = svc.read_text(encoding="utf-8") if svc.is_file() else ""
            active = None
            if unit_dir is None and systemd_user_available():
                rc, _ = _systemctl("is-active", "--quiet", f"{name}.timer")
                active = rc == 0
            return ScheduleStatus("systemd", svc.is_file() and tmr.is_file(),
                                  tuple(str(p) for p in (svc, tmr) if p.is_file()),
                                  _unit_value(t_text, "OnCalendar"), _unit_value(s_text, "ExecStart"), active)
        if backend == "systemd":
            return ScheduleStatus("systemd", False, detail=f"no {name}.timer in {d}")
    if crontab_file is not None or shutil.which("crontab"):
        for ln in _read_crontab(crontab_file):
            if ln.rstrip().endswith(f"{CRON_MARK}{name}"):
                fields = ln.split(None, 5)
                return ScheduleStatus("cron", True, (str(crontab_file) if crontab_file else "crontab",),
                                      " ".join(fields[:5]), fields[5].rsplit(CRON_MARK, 1)[0].strip(), True)
    return ScheduleStatus("none", False, detail=f"no schedule named {name!r} is installed")


def remove(name: str = "roomtruth-verify", *, unit_dir: Path | None = None,
           crontab_file: Path | None = None) -> list[str]:
    """Disable and delete the schedule; returns what was removed (empty when nothing was there)."""
    removed: list[str] = []
    d = unit_dir or default_unit_dir()
    svc, tmr = d / f"{name}.service", d / f"{name}.timer"
    if (svc.is_file() or tmr.is_file()) and unit_dir is None and systemd_user_available():
        _systemctl("disable", "--now", f"{name}.timer")
    for p in (tmr, svc):
        if p.is_file():
            p.unlink()
            removed.append(str(p))
    if removed and unit_dir is None and systemd_user_available():
        _systemctl("daemon-reload")
    if crontab_file is not None or shutil.which("crontab"):
        lines = _read_crontab(crontab_file)
        kept = _without(lines, name)
        if len(kept) != len(lines):
            _write_crontab(kept, crontab_file)
            removed.append(f"crontab line {CRON_MARK}{name}")
    return removed


def command_from_exec_start(value: str) -> list[str]:
    """Split an ``ExecStart=`` value back into argv (inverse of :func:`systemd_quote` for our output)."""
    argv = shlex.split(value.replace("$$", "$"), posix=True)
    return [a.replace("%%", "%") for a in argv]


def verify_command(python: str, args: Sequence[str]) -> tuple[str, ...]:
    """``python -m roomtruth verify <args>``: runs without PATH or the console script."""
    return (python, "-m", "roomtruth", "verify", *args)
