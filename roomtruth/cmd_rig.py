"""CLI commands (placeholder module: its owner adds commands in register())."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
