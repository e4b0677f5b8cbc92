"""roomtruth's application shell: the typer CLI, configuration and the room workspace.

The composition root: the only package that wires the others together.  Nothing imports it.
"""

__version__ = "0.1.0"
