"""Remote control of a running ``monitor run`` by another program of the same user (the web
app): a non-blocking Unix datagram socket beside the live status file, read in the ``monitor
run`` parent's UI loop (never in the audio process's callback).

Standard library only at module level (``roomtruth --help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roomtruth.monitor_live import status_path

__all__ = ["CONTROL_FILE", "CONTROL_COMMANDS", "control_path", "ControlSocket", "send_control"]

CONTROL_FILE = "monitor-control.sock"
CONTROL_COMMANDS = {"bypass": ("bypass",), "A": ("select", "A"), "B": ("select", "B"), "toggle": ("toggle",),
                    "reload": ("reload",)}


def control_path() -> Path:
    """The datagram socket a running ``monitor run`` takes commands on (beside the status file)."""
    return status_path().with_name(CONTROL_FILE)


class ControlSocket:
    """What a running ``monitor run`` listens on for commands from another program of the same
    user (the web app): a non-blocking Unix datagram socket in the private runtime folder
    (mode 0700).  A datagram is one command word (``CONTROL_COMMANDS``) or ``load <profile
    folder>``; anything else is ignored.  Read in the parent's UI loop, never in the audio
    process's callback."""

    def __init__(self, path: Path | None = None) -> None:
        import socket

        self.path = control_path() if path is None else path
        self.sock = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(str(self.path))
            s.setblocking(False)
            self.sock = s
        except OSError:
            self.sock = None     # remote control unavailable; the keys still work

    def read(self) -> list[tuple]:
        """Commands received since the last call, as engine-control tuples."""
        out: list[tuple] = []
        while self.sock is not None:
            try:
                data = self.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            text = data.decode("utf-8", "replace").strip()
            if text in CONTROL_COMMANDS:
                out.append(CONTROL_COMMANDS[text])
            elif text.startswith("load ") and Path(text[5:]).is_dir():
                out.append(("load", "A", text[5:]))
        return out

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            try:
                self.path.unlink()
            except OSError:
                pass

    def __enter__(self) -> "ControlSocket":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def send_control(command: str, path: Path | None = None) -> bool:
    """Send one command to the running ``monitor run``; False when none listens."""
    import socket

    path = control_path() if path is None else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(command.encode("utf-8"), str(path))
        return True
    except OSError:
        return False
