"""The rig's start survives a crash of jconvolver or jackd at start (seen in CI: jconvolver
exited -11 while other rigs started beside it): what was started is stopped, and the start is
tried again, at most three times in all; then one clear line.

The crashes are real: stand-in programs (shell scripts found first on PATH, or jackd's test
prefix) die by SIGSEGV on their first calls and then run the real program."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from rig_fixture import rig_env  # noqa: F401  (fixture)

pytestmark = pytest.mark.jack


def _crash_first(folder: Path, name: str, n_crashes: int, real: list[str], *, kill_after_s: float = 0.0) -> Path:
    """A script ``folder/name`` that dies by SIGSEGV on its first ``n_crashes`` calls and else
    runs ``real`` (``exec``, so the process is the real program).  With ``kill_after_s``, a
    crashing call runs the real program and is killed by SIGSEGV that long after it started
    (a crash just after its ports appeared)."""
    folder.mkdir(exist_ok=True)
    count = folder / f"{name}.calls"
    crash = (f'( sleep {kill_after_s}; kill -SEGV $$ ) & exec {" ".join(real)} "$@"' if kill_after_s
             else "kill -SEGV $$")
    script = folder / name
    script.write_text(f"""#!/bin/sh
n=$(cat '{count}' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '{count}'
if [ $n -le {n_crashes} ]; then {crash}; fi
exec {" ".join(real)} "$@"
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return count


def _calls(count: Path) -> int:
    return int(count.read_text()) if count.exists() else 0


def _nothing_left(server: str) -> None:
    from hardware.jackrig import _server_reachable, _state_path, registry_entries

    assert not _state_path(server).exists()
    assert not _server_reachable(server)
    assert server not in {name for _pid, name, _alive in registry_entries()}
    me = str(os.getpid())
    for pid in os.listdir("/proc"):           # no process of that server survives
        if pid.isdigit() and pid != me:
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            assert server.encode() not in args, args


@pytest.mark.parametrize("kill_after_s", [0.0, 0.4], ids=["at-exec", "after-its-ports"])
def test_a_jconvolver_crash_at_start_is_retried(rig_env, tmp_path, monkeypatch, kill_after_s):  # noqa: F811
    from hardware import jackrig

    count = _crash_first(tmp_path / "bin", "jconvolver", 1, [shutil.which("jconvolver")], kill_after_s=kill_after_s)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    # the crash 0.4 s after exec must fall inside the settle window after the ports appear
    # (they may appear 0.1-0.3 s after exec: with the shipped 0.2 s the kill could come after
    # start_rig had returned — seen once in a CI rehearsal); if the ports come later than the
    # kill, the crash is caught as "jconvolver gone" and retried all the same
    monkeypatch.setattr(jackrig, "_SETTLE_S", max(jackrig._SETTLE_S, 1.0))
    st = jackrig.start_rig(None, fs=48000, period=256)
    try:
        assert _calls(count) == 2                             # crashed once, started again
        status = jackrig.rig_status()
        assert status.running and not status.problems, status.to_dict()
        assert st.jconvolver_cmd[0] == str(tmp_path / "bin" / "jconvolver")
        # the rig works: its ports are there and the room answers
        client = jackrig._connect_client(rig_env, "chores5-probe")
        try:
            assert {p.name for p in client.get_ports("roomtruth-room:")} == {
                "roomtruth-room:spk1", "roomtruth-room:spk2", "roomtruth-room:mic"}
        finally:
            client.close()
    finally:
        assert jackrig.stop_rig() == [f"jackd (pid {st.jackd_pid})", f"jconvolver (pid {st.jconvolver_pid})"]
    _nothing_left(rig_env)


def test_a_jackd_crash_at_start_is_retried(rig_env, tmp_path, monkeypatch):  # noqa: F811
    from hardware import jackrig

    count = _crash_first(tmp_path / "bin", "jackd-wrap", 1, [])
    monkeypatch.setattr(jackrig, "_JACKD_PREFIX", ("sh", str(tmp_path / "bin" / "jackd-wrap")))
    st = jackrig.start_rig(None, fs=48000, period=256)
    try:
        assert _calls(count) == 2 and jackrig.rig_status().running
        assert "crash" not in Path(st.folder, "jconvolver.log").read_text()
    finally:
        jackrig.stop_rig()
    _nothing_left(rig_env)


def test_a_rig_that_keeps_crashing_gives_one_line_and_leaves_nothing(rig_env, tmp_path, monkeypatch, run_cli):  # noqa: F811
    from hardware import jackrig

    count = _crash_first(tmp_path / "bin", "jconvolver", 99, [shutil.which("jconvolver")])
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, out, err = run_cli("rig", "start")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("error: the virtual room did not start (3 attempts, the last: jconvolver crashed "
                          "(SIGSEGV, exit -11)"), err
    assert "jconvolver.log" in err and "Traceback" not in err
    assert _calls(count) == jackrig._START_ATTEMPTS == 3
    _nothing_left(rig_env)
