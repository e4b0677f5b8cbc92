"""``roomtruth mix patterns``: what is consistent across a client's mixes.

    roomtruth mix patterns --client NAME -w WORKSPACE [--json] [--letter]

Reads the mix records ``roomtruth mix analyze --client NAME -w WORKSPACE`` stored and applies
the rule of :mod:`mixes.patterns` (at least 70 % of the tracks beyond a minimum effect, and a
one-sided binomial test).  Registered on the ``mix`` sub-app by ``roomtruth.cmd_mix.register``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from roomtruth.cmd_mix import _console, mix_app


@mix_app.command("patterns")
def patterns(
    client: str = typer.Option(..., "--client", help="Client whose stored mixes to read (as given to 'mix analyze --client')."),
    workspace: Path = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder holding clients/NAME/."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {\"client\", \"n_mixes\", \"patterns\": [{\"what\", \"value_db\", \"tracks_with\", \"tracks_total\", \"evidence\"}]}."),
    letter: bool = typer.Option(False, "--letter", help="Print the letter to the mix engineer instead of the table."),
) -> None:
    """What is consistent across a client's mixes (vocal and low end against the references, compression, spectrum, stereo, clicks), with the evidence per track.

    A pattern is reported only when it holds on at least 70 % of the tracks (beyond a minimum effect: 1 dB for the vocal, 1.5 dB for the low end and PLR, 2 dB or the references' own spread for a spectral range) and a one-sided binomial test at chance rate 0.25 gives p <= 0.01.
    """
    from calib.audio_io import to_json

    from mixes.patterns import patterns_for_client

    res = patterns_for_client(workspace, client)
    if as_json:
        typer.echo(to_json(res))
        return
    if letter:
        from reports.letter import write_patterns_letter

        typer.echo(write_patterns_letter(res))
        return
    from roomtruth.cmd_mix_show import print_patterns

    print_patterns(_console(), res)
