"""monitor.schedule and `roomtruth schedule`: unit files and crontab lines parsed back, and a
scheduled run executed exactly as the scheduler would (no terminal, stdin closed, own session)."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import verify_synth as S
from calib.audio_io import write_wav_atomic
from calib.errors import ConfigError
from calib.profile import CalibrationProfile, SpeakerCorrection
from monitor import schedule as sch

ROOT = Path(__file__).resolve().parent.parent


def _ini(text: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # systemd keys are case-sensitive
    cp.read_string(text)
    return cp


def test_systemd_units_parse_back():
    cmd = ("/opt/my venv/bin/python", "-m", "roomtruth", "verify", "--room", "/srv/rooms/studio A 100%",
           "--profile", 'it\'s "main"', "--noise-db", "-65.0")
    spec = sch.ScheduleSpec(every="weekly", at="21:05", weekday="fri", command=cmd)
    svc, tmr = _ini(sch.render_service(spec, working_dir="/home/u")), _ini(sch.render_timer(spec))
    assert svc["Service"]["Type"] == "oneshot"
    assert svc["Service"]["StandardInput"] == "null"  # never waits for a terminal
    assert sch.command_from_exec_start(svc["Service"]["ExecStart"]) == list(cmd)
    assert "%%" in svc["Service"]["ExecStart"]  # a bare % would be a systemd specifier
    assert tmr["Timer"]["OnCalendar"] == "Fri *-*-* 21:05:00"
    assert tmr["Timer"]["Persistent"] == "true"
    assert tmr["Timer"]["Unit"] == "roomtruth-verify.service"
    assert tmr["Install"]["WantedBy"] == "timers.target"
    daily = sch.ScheduleSpec(every="daily", at="7:00", command=("x",))
    assert sch.on_calendar(daily) == "*-*-* 07:00:00"


def test_cron_line_fields():
    cmd = ("/usr/bin/python3", "-m", "roomtruth", "verify", "--room", "/r/100% A")
    weekly = sch.render_cron_line(sch.ScheduleSpec(every="weekly", at="09:30", weekday="Sun", command=cmd,
                                                   log_path="/r/log.txt"))
    f = weekly.split(None, 5)
    assert f[:5] == ["30", "9", "*", "*", "0"]  # crontab(5): minute hour dom month dow, Sunday = 0
    assert f[5].endswith("# roomtruth:roomtruth-verify")
    assert "</dev/null" in f[5] and ">>/r/log.txt 2>&1" in f[5]
    assert "100\\% A" in f[5]  # cron turns a bare % into a newline
    body = f[5].rsplit("</dev/null", 1)[0].replace("\\%", "%")
    assert shlex.split(body) == list(cmd)
    daily = sch.render_cron_line(sch.ScheduleSpec(every="daily", at="23:59", command=("x",)))
    assert daily.split()[:5] == ["59", "23", "*", "*", "*"]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"every": "monthly"}, "--every 'monthly' is not supported"),
        ({"at": "25:00"}, "--at '25:00' is not a time of day"),
        ({"at": "9am"}, "expected HH:MM"),
        ({"weekday": "Someday"}, "is not a weekday"),
        ({"name": "bad name/x"}, "schedule name"),
        ({"command": ()}, "command is empty"),
    ],
)
def test_spec_errors(kw, message):
    args = {"every": "daily", "at": "09:00", "command": ("x",), **kw}
    with pytest.raises(ConfigError, match=message):
        sch.ScheduleSpec(**args)


def test_install_status_remove_crontab_file_keeps_other_lines(tmp_path):
    ct = tmp_path / "crontab"
    ct.write_text("0 1 * * * /usr/bin/backup # mine\n")
    spec = sch.ScheduleSpec(every="daily", at="03:15", command=("/p", "-m", "roomtruth", "verify"))
    st = sch.install(spec, crontab_file=ct)
    assert st.backend == "cron" and st.installed and st.schedule == "15 3 * * *"
    sch.install(sch.ScheduleSpec(every="weekly", at="04:00", command=spec.command), crontab_file=ct)
    lines = ct.read_text().splitlines()
    assert lines[0] == "0 1 * * * /usr/bin/backup # mine"
    assert len(lines) == 2 and lines[1].startswith("0 4 * * 1 ")  # re-install replaced, not added
    assert sch.remove(crontab_file=ct) == ["crontab line # roomtruth:roomtruth-verify"]
    assert ct.read_text().splitlines() == ["0 1 * * * /usr/bin/backup # mine"]
    assert sch.status(crontab_file=ct, backend="cron").installed is False
    assert sch.remove(crontab_file=ct) == []


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from calib.types import ImpulseResponse

    pytest.importorskip("hardware.simulated")
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    d = tmp_path_factory.mktemp("sched")
    room, names = S.base_room()
    sim = SimulatedRoom(ImpulseResponse(samples=room, fs=S.FS, channel_names=names), noise_db=-65.0, seed=7)
    ref = _measure_repeats(sim, [("L", 0), ("R", 1)], fs=S.FS, sweep_s=1.0, repeats=1, ir_length_s=0.5,
                           level_dbfs=-12.0)[0]
    ws = d / "my room"  # a space in the path: quoting must hold in both schedulers
    CalibrationProfile(name="main", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1)),
                       reference=ref).save(ws / "profiles" / "main")
    write_wav_atomic(d / "same.wav", room, fs=S.FS, subtype="DOUBLE")
    flipped = room.copy()
    flipped[1] = -flipped[1]
    write_wav_atomic(d / "flipped.wav", flipped, fs=S.FS, subtype="DOUBLE")
    return d, ws


def _run_detached(argv: list[str]) -> subprocess.CompletedProcess:
    """Run as a scheduler does: new session (no controlling terminal), stdin closed, no TTY out."""
    env = {k: v for k, v in os.environ.items() if k not in ("TERM", "COLUMNS")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          start_new_session=True, timeout=120)


def _history(ws: Path) -> list[dict]:
    from monitor.history import History

    if not (ws / "history.sqlite").exists():
        return []
    with History(ws / "history.sqlite", readonly=True) as h:
        return [r.__dict__ for r in h.verifications()]


def test_cli_systemd_install_then_scheduled_run_without_terminal(run_cli, workspace, tmp_path):
    d, ws = workspace
    units = tmp_path / "units"
    code, out, err = run_cli("schedule", "install", "--every", "daily", "--at", "06:45", "--room", ws,
                             "--profile", "main", "--simulate-ir", d / "same.wav", "--noise-db", "-65",
                             "--repeats", "2", "--sweep-s", "0.5", "--backend", "systemd", "--unit-dir", units, "--json")
    assert code == 0, err
    st = json.loads(out)
    assert st["backend"] == "systemd" and st["installed"] and st["schedule"] == "*-*-* 06:45:00"
    svc = _ini((units / "roomtruth-verify.service").read_text())
    argv = sch.command_from_exec_start(svc["Service"]["ExecStart"])
    assert argv[:4] == [sys.executable, "-m", "roomtruth", "verify"] and str(ws.resolve()) in argv
    before = len(_history(ws))
    r = _run_detached(argv)
    assert r.returncode == 0, r.stderr
    rows = _history(ws)
    assert len(rows) == before + 1 and rows[0]["verdict"] == "pass" and not rows[0]["failed"]
    assert Path(rows[0]["report_path"]).is_file()
    code, out, err = run_cli("schedule", "status", "--unit-dir", units, "--room", ws)
    assert code == 0 and "*-*-* 06:45:00" in out and "last verification" in out
    code, out, err = run_cli("schedule", "remove", "--unit-dir", units)
    assert code == 0 and "removed" in out and not list(units.glob("roomtruth-verify.*"))
    code, out, err = run_cli("schedule", "status", "--unit-dir", units, "--json")
    assert code == 0 and json.loads(out)["installed"] is False


def test_cron_scheduled_failed_run_writes_report_and_mark(run_cli, workspace, tmp_path):
    d, ws = workspace
    ct = tmp_path / "crontab"
    code, out, err = run_cli("schedule", "install", "--every", "weekly", "--at", "02:00", "--weekday", "Wed",
                             "--room", ws, "--simulate-ir", d / "flipped.wav", "--noise-db", "-65", "--repeats", "2",
                             "--sweep-s", "0.5", "--backend", "cron", "--crontab-file", ct)
    assert code == 0, err
    line = ct.read_text().strip()
    assert line.split()[:5] == ["0", "2", "*", "*", "3"]
    command = line.split(None, 5)[5].rsplit(" # roomtruth:", 1)[0]
    r = _run_detached(["/bin/sh", "-c", command])  # cron runs the line with /bin/sh
    assert r.returncode == 3  # a failed verification is a result, exit 3
    log = (ws / "reports" / "scheduled-verify.log").read_text()
    assert "FAIL" in log and "polarity" in log
    last = _history(ws)[0]
    assert last["verdict"] == "fail" and last["failed"] is True
    assert json.loads(Path(last["report_path"]).read_text())["verdict"] == "fail"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--every", "hourly"), "--every 'hourly' is not supported"),
        (("--every", "daily", "--at", "24:10"), "not a time of day"),
        (("--every", "daily"), "needs --room DIR"),
        (("--every", "daily", "--profile", "/x"), "pass --history FILE"),
        (("--every", "daily", "--room", "/nonexistent/room"), "is not a folder"),
        (("--every", "daily", "--room", ".", "--backend", "launchd"), "--backend 'launchd'"),
    ],
)
def test_install_errors(run_cli, tmp_path, args, message):
    code, out, err = run_cli("schedule", "install", *args, "--crontab-file", tmp_path / "ct")
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "ct").exists()  # nothing half-installed


@pytest.mark.parametrize("every, at, weekday", [("daily", "00:00", "Mon"), ("weekly", "23:59", "sun"),
                                                 ("weekly", "7:05", "Wed")])
def test_on_calendar_accepted_by_systemd(every, at, weekday):
    """systemd's own parser (systemd-analyze calendar) accepts and normalises our expressions."""
    import shutil

    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    expr = sch.on_calendar(sch.ScheduleSpec(every=every, at=at, weekday=weekday, command=("x",)))
    r = subprocess.run(["systemd-analyze", "calendar", expr], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"Normalized form: {expr}" in r.stdout  # already in systemd's normal form


def test_units_pass_systemd_analyze_verify(tmp_path):
    """systemd's unit-file checker accepts the service and the timer (quoting, keys, paths)."""
    import shutil

    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    cmd = ("/bin/true", "--room", str(tmp_path / "a room 100%"), 'say "hi"')
    spec = sch.ScheduleSpec(every="weekly", at="06:00", weekday="Tue", command=cmd, name="rt-verify-test")
    svc, tmr = tmp_path / "rt-verify-test.service", tmp_path / "rt-verify-test.timer"
    svc.write_text(sch.render_service(spec, working_dir=str(tmp_path)))
    tmr.write_text(sch.render_timer(spec))
    r = subprocess.run(["systemd-analyze", "verify", str(svc), str(tmr)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bad" not in (r.stdout + r.stderr).lower()


def test_profile_name_stays_a_name_even_if_the_cwd_has_such_a_folder(tmp_path, monkeypatch):
    """`--profile main` in a folder that happens to hold an unrelated `main/` must not become
    that folder's absolute path (the timer would verify against nothing)."""
    from roomtruth.cmd_schedule import _verify_args

    ws = tmp_path / "ws"
    (ws / "profiles" / "main").mkdir(parents=True)
    (ws / "profiles" / "main" / "profile.json").write_text("{}")
    (tmp_path / "main").mkdir()                     # e.g. a git branch checkout, no profile.json
    monkeypatch.chdir(tmp_path)
    args = _verify_args(ws, "main", None, None, None, None, None)
    assert args[args.index("--profile") + 1] == "main"
    (tmp_path / "main" / "profile.json").write_text("{}")  # a real profile folder: made absolute
    args = _verify_args(ws, "main", None, None, None, None, None)
    assert args[args.index("--profile") + 1] == str((tmp_path / "main").resolve())


@pytest.mark.parametrize(
    "args, message",
    [
        (("--repeats", "0"), "--repeats 0 is outside 1..16"),
        (("--sweep-s", "1000"), "--sweep-s 1000.0 is outside 0.5..30 s"),
        (("--simulate", "default", "--noise-db", "nan"), "--noise-db nan must be a finite level"),
        (("--simulate", "moon"), "--simulate 'moon' is not known"),
        (("--simulate-ir", "{tmp}/none.wav"), "is not a file"),
        (("--profile", "nope"), "profile 'nope' not found"),
    ],
)
def test_install_refuses_what_verify_would_refuse(run_cli, tmp_path, args, message):
    """A timer whose every run fails on its options is worse than no timer: refused at install."""
    ws = tmp_path / "ws"
    (ws / "profiles" / "main").mkdir(parents=True)
    (ws / "profiles" / "main" / "profile.json").write_text("{}")
    units = tmp_path / "units"
    code, out, err = run_cli("schedule", "install", "--every", "daily", "--room", ws, "--unit-dir", units,
                             *[a.format(tmp=tmp_path) for a in args])
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not units.exists()
