"""Speaker and channel names: one rule for every command that takes them.

A name is used in file names (``fir_<speaker>.wav``), TOML keys and JACK port lists, so it
starts with a letter and holds only letters, digits, ``_`` and ``-``, at most 16 characters.
``roomtruth measure --channels`` and ``roomtruth rig start --channels`` check their names
here; each passes its own words (what the names are and how the user gave them), so the
message speaks the command's language.
"""

from __future__ import annotations

import re
from typing import Iterable

from calib.errors import ConfigError

__all__ = ["NAME_RE", "NAME_RULE", "check_names"]

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,15}$")
NAME_RULE = "start with a letter, then letters, digits, _ or - (at most 16 characters)"


def check_names(names: Iterable[object], *, noun: str, given: str) -> tuple[str, ...]:
    """The names, stripped, after checking each is usable and none repeats.

    Parameters
    ----------
    names : iterable
        The names as given (converted with ``str`` and stripped).
    noun : str
        What they name, singular (``"channel"``, ``"speaker"``), for the message.
    given : str
        How the user gave them, for the message (e.g. ``"--channels 'L,L'"``).

    Returns
    -------
    tuple of str

    Raises
    ------
    ConfigError
        A name breaks the rule (:data:`NAME_RE`), or a name stands twice.
    """
    out = tuple(str(n).strip() for n in names)
    bad = [n for n in out if not NAME_RE.match(n)]
    if bad:
        raise ConfigError(f"{given}: {', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not usable as "
                          f"{noun} name{'s' if len(bad) > 1 else ''}; a name must {NAME_RULE}")
    twice = sorted({n for n in out if out.count(n) > 1})
    if twice:
        raise ConfigError(f"{given} repeats {noun} name{'s' if len(twice) > 1 else ''} {', '.join(twice)}; "
                          f"give each {noun} its own name")
    return out
