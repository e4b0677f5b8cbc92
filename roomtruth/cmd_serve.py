"""``roomtruth serve``: the local web app over a room workspace (see :mod:`roomtruth.web`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def serve_cmd(
    room: Path = typer.Option(Path("."), "--room", help="Room workspace (the folder with room.toml)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; any other than loopback needs the printed token."),
    port: int = typer.Option(8765, "--port", help="TCP port, 1..65535 (0: any free port)."),
    token: Optional[str] = typer.Option(None, "--token", help="Access token to require (default: none on loopback, a random one otherwise)."),
) -> None:
    """A local web app: today's room, history, guided measurement, correction and A/B, mixes, reports."""
    import secrets
    import socket

    from calib.errors import ConfigError

    if not (room / "room.toml").is_file():
        raise ConfigError(f"{room} is not a room workspace (no room.toml); pass --room DIR made by 'roomtruth init' "
                          "or 'roomtruth demo'")
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is outside 0..65535")
    if token is not None and len(token) < 16:
        raise ConfigError("--token must be at least 16 characters")
    from roomtruth.web.security import is_loopback

    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(18)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None
    port = sock.getsockname()[1]
    import uvicorn

    from roomtruth.web.app import create_app

    app = create_app(room, host=host, port=port, token=token)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    typer.echo(f"roomtruth serve: {url}  (room {room.resolve()}; Ctrl-C stops)", err=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)   # open event streams end with the server
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
