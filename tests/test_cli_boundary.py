"""The CLI's error boundary: one line, exit 2, no traceback; --help fast and complete."""

from __future__ import annotations

import subprocess
import sys


def test_version(run_cli):
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("roomtruth ")


def test_unknown_command_is_usage_error(run_cli):
    code, _, err = run_cli("no-such-command")
    assert code == 2
    assert "Traceback" not in err


def test_error_boundary_one_line_exit_2():
    # a RoomtruthError raised inside a command becomes one line on stderr and exit 2
    code = (
        "import typer, sys\n"
        "from roomtruth import cli\n"
        "from calib.errors import SignalError\n"
        "@cli.app.command('boom')\n"
        "def boom():\n"
        "    raise SignalError('x.wav is not a readable audio file')\n"
        "sys.exit(cli.main(['boom']))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr == "error: x.wav is not a readable audio file\n"
    p = subprocess.run([sys.executable, "-c", code.replace("['boom']", "['--debug', 'boom']")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" in p.stderr


def test_help_runs_as_a_program():
    p = subprocess.run([sys.executable, "-m", "roomtruth", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "Usage" in p.stdout


def test_ctrl_c_says_interrupted_and_exits_130():
    code = (
        "import sys\n"
        "from roomtruth import cli\n"
        "@cli.app.command('kb')\n"
        "def kb():\n"
        "    raise KeyboardInterrupt\n"
        "sys.exit(cli.main(['kb']))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 130
    assert p.stderr == "error: interrupted\n"
