"""The ``roomtruth`` command line.

Start-up must stay fast (``roomtruth --help`` well under 0.3 s): this module imports only
typer and the standard library; every command imports what it needs inside its body.

Error boundary: every :class:`calib.errors.RoomtruthError` (and the usual file-system
errors, and click's usage errors: a bad number, a missing argument, an unknown option)
becomes one ``error: <sentence>`` line on stderr and exit code 2, never a traceback and
never the usage box (that is for ``--help``).
``roomtruth --debug ...`` shows the traceback.  A failed verification is a result, exit 3.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="roomtruth",
    help="Make a mastering room tell the truth, and prove week after week that it still does.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each module exposes ``register(app)`` and owns its commands.
COMMAND_MODULES = (
    "roomtruth.cmd_measure",
    "roomtruth.cmd_rig",
    "roomtruth.cmd_analyze",
    "roomtruth.cmd_correct",
    "roomtruth.cmd_monitor",
    "roomtruth.cmd_verify",
    "roomtruth.cmd_watch",
    "roomtruth.cmd_mix",
    "roomtruth.cmd_report",
    "roomtruth.cmd_serve",
)


def _print_version(value: bool) -> None:
    if value:
        from roomtruth import __version__

        typer.echo(f"roomtruth {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 callback=_print_version, is_eager=True),
) -> None:
    """Global options (``--debug`` is read by :func:`main`)."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _click_exception_type() -> type | None:
    """Click's usage-error base class (typer >= 0.20 vendors click as ``typer._click``)."""
    try:
        from typer._click.exceptions import ClickException  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - older typer with a separate click
        try:
            from click.exceptions import ClickException  # type: ignore[no-redef]
        except ImportError:
            return None
    return ClickException


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _usage_error_line(exc: BaseException) -> str:
    """A click usage error (bad number, missing argument, unknown option, unreadable path) as
    the same one ``error:`` line as every other error; the usage box stays for ``--help``."""
    try:
        msg = exc.format_message()  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - defensive
        msg = str(exc)
    msg = _one_line(msg).rstrip(".") or "invalid command line"
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "roomtruth"
    return f"error: {msg}; see '{path} --help'"


def _tolerate_undecodable_names() -> None:
    """File names are bytes on Linux; one that is not UTF-8 reaches Python with surrogate
    escapes and would make every message that names it fail to print.  Such characters are
    printed as backslash escapes instead (e.g. ``seat\\udce9.wav``).  Under a C/POSIX or
    C.UTF-8 locale Python's streams use ``surrogateescape``, which would write the raw byte
    (invalid UTF-8 in a table, CSV or log): those are escaped too."""
    for stream in (sys.stdout, sys.stderr):
        reconf = getattr(stream, "reconfigure", None)
        if reconf is not None and getattr(stream, "errors", "") in ("strict", "surrogateescape"):
            try:
                reconf(errors="backslashreplace")
            except (ValueError, OSError):  # pragma: no cover - a stream that cannot change
                pass


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _tolerate_undecodable_names()
    try:
        rv = app(args=args, prog_name="roomtruth", standalone_mode=False)
        if rv == 130:  # typer turns Ctrl-C into exit code 130 without a word
            sys.stderr.write("error: interrupted\n")
        return rv if isinstance(rv, int) else 0
    except SystemExit as exc:  # typer.Exit / click exits
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code
    except BaseException as exc:  # the error boundary
        ClickException = _click_exception_type()
        if isinstance(exc, typer.Exit):
            return int(getattr(exc, "exit_code", 0) or 0)
        if isinstance(exc, (typer.Abort, KeyboardInterrupt)):
            sys.stderr.write("error: interrupted\n")
            return 130
        if ClickException is not None and isinstance(exc, ClickException):
            if type(exc).__name__ == "NoArgsIsHelpError":   # a bare command: its help, as asked
                exc.show()
                return int(getattr(exc, "exit_code", 2) or 2)
            sys.stderr.write(_usage_error_line(exc) + "\n")
            return 2
        if debug:
            import traceback

            traceback.print_exc()
        from calib.errors import RoomtruthError

        if isinstance(exc, RoomtruthError):
            sys.stderr.write(f"error: {_one_line(str(exc))}\n")
            return 2
        if isinstance(exc, FileNotFoundError):
            sys.stderr.write(f"error: {exc.filename or ''}: no such file or folder\n")
            return 2
        if isinstance(exc, PermissionError):
            sys.stderr.write(f"error: {exc.filename or ''}: permission denied\n")
            return 2
        if isinstance(exc, IsADirectoryError | NotADirectoryError):
            sys.stderr.write(f"error: {_one_line(str(exc))}\n")
            return 2
        sys.stderr.write(
            f"error: internal error ({type(exc).__name__}: {_one_line(str(exc))}); "
            "run again with --debug and report it\n"
        )
        return 1


def run() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
