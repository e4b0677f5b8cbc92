"""Console output of ``roomtruth mix analyze`` and ``roomtruth mix patterns`` (rich tables).

Kept apart from the command definitions so ``roomtruth/cmd_mix.py`` stays small; rich is
imported inside the functions (``roomtruth --help`` stays fast).
"""

from __future__ import annotations

from typing import Any, Mapping


def _e(x) -> str:
    """``x`` as text that rich prints literally (file and studio names may hold ``[``)."""
    from rich.markup import escape

    return escape(str(x))


def _fmt(v, spec: str = ".1f", unit: str = "") -> str:
    """A number with its unit, or a dash for None/NaN/inf."""
    if v is None or v != v or v in (float("inf"), float("-inf")):
        return "—"
    return f"{v:{spec}}{(' ' + unit) if unit else ''}"


def _mmss(t: float) -> str:
    m, s = divmod(float(t), 60)
    return f"{int(m)}:{s:06.3f}"


def print_analysis(con, a, d: Mapping[str, Any] | None = None) -> None:
    """One mix: loudness, platforms, render problems and artifacts, stereo image, balance, dynamics.

    ``a`` is the :class:`mixes.types.MixAnalysis`; ``d`` its JSON entry (with the reference
    comparisons), used for the balance and dynamics figures against the references.
    """
    from rich.table import Table

    d = d or a.to_dict()
    con.rule(f"[bold]{_e(a.file)}[/]  ({a.duration_s:.1f} s, {a.fs} Hz, {a.n_channels} ch)")
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_row("Integrated", _fmt(a.integrated_lufs, ".1f", "LUFS"), "LRA", _fmt(a.lra_lu, ".1f", "LU"))
    t.add_row("Max momentary", _fmt(a.momentary_max_lufs, ".1f", "LUFS"),
              "Max short-term", _fmt(a.short_term_max_lufs, ".1f", "LUFS"))
    t.add_row("True peak", _fmt(a.true_peak_dbtp, ".2f", f"dBTP ({a.oversample}x)"),
              "Sample peak", _fmt(a.sample_peak_dbfs, ".2f", "dBFS"))
    con.print(t)
    pt = Table(title="Platforms", title_justify="left")
    for col in ("Platform", "Target", "Gain", "Peak after", "What happens"):
        pt.add_column(col)
    for p in a.platforms:
        pt.add_row(p.name, _fmt(p.target_lufs, "g", "LUFS") if p.target_lufs is not None else "not LUFS",
                   _fmt(p.gain_db, "+.1f", "dB"), _fmt(p.true_peak_after_dbtp, ".1f", "dBTP"), p.note)
    con.print(pt)
    _print_events(con, a)
    _print_stereo(con, a.stereo)
    _print_balance(con, d.get("balance"))
    _print_dynamics(con, d.get("dynamics"))
    for w in a.warnings:
        con.print(f"[yellow]warning:[/] {_e(w)}")


def _print_events(con, a) -> None:
    from rich.table import Table

    events = list(a.clicks) + list(a.dropouts) + list(a.overs) + list(a.artifacts)
    if not events:
        con.print("[green]No clicks, dropouts, overs or digital artifacts found.[/]")
        return
    et = Table(title="Render problems", title_justify="left")
    for col in ("Time", "Kind", "Channel", "Level", "Audible by", "Length / what"):
        et.add_column(col)
    for e in sorted(events, key=lambda e: e.time_s)[:50]:
        aud = getattr(e, "audibility_db", None)
        detail = getattr(e, "detail", "") or (f"{e.duration_s * 1000:.1f} ms" if e.duration_s else "")
        et.add_row(_mmss(e.time_s), e.kind, "all" if e.channel < 0 else str(e.channel + 1),
                   _fmt(e.level_db, ".1f", "dB"), _fmt(aud, "+.1f", "dB") if aud is not None else "", _e(detail))
    con.print(et)
    if len(events) > 50:
        con.print(f"… and {len(events) - 50} more (use --json for all)")


def _print_stereo(con, st) -> None:
    from rich.table import Table

    if st is None:
        return
    from mixes.stereo import nominal_octave_hz

    t = Table(title="Stereo image", title_justify="left", box=None, pad_edge=False)
    t.add_column("")
    for f in st.bands_hz:
        f = nominal_octave_hz(f)
        t.add_column(f"{f / 1000:g}k" if f >= 1000 else f"{f:g}", justify="right")
    t.add_row("corr", *[_fmt(v, "+.2f") for v in st.correlation])
    t.add_row("width", *[_fmt(v, ".2f") for v in st.width])
    t.add_row("mono dB", *[_fmt(v, ".1f") for v in st.mono_loss_db])
    con.print(t)
    con.print(f"L/R balance {_fmt(st.lr_balance_db, '+.1f', 'dB')} (K-weighted, + = left louder); "
              f"low end (30-120 Hz) correlation {_fmt(st.low_end_correlation, '+.2f')}")
    if not st.problems:
        con.print("[green]Stereo image: no inverted polarity, the low end is centred, left and right balanced.[/]")
    for p in st.problems[:12]:
        when = "whole file" if p.kind in ("polarity_inverted", "lr_imbalance") else \
            f"{_mmss(p.time_s)} for {p.duration_s:.0f} s"
        con.print(f"[yellow]stereo:[/] {when}: {_e(p.what)}")
    if len(st.problems) > 12:
        con.print(f"… and {len(st.problems) - 12} more stereo findings (use --json for all)")
    for n in st.notes:
        con.print(f"note: {_e(n)}")


def _print_balance(con, b: Mapping[str, Any] | None) -> None:
    if not b:
        return
    vs_b, vs_v = b.get("bass_vs_reference_db"), b.get("vocal_vs_reference_db")
    bass = f"low end (40-120 Hz) {_fmt(b.get('bass_db'), '+.1f', 'dB')}"
    if vs_b is not None:
        bass += f" ({_fmt(vs_b, '+.1f', 'dB')} vs references)"
    if b.get("vocal_found"):
        vocal = f"vocal {_fmt(b.get('vocal_db'), '+.1f', 'dB')}"
        if vs_v is not None:
            vocal += f" ({_fmt(vs_v, '+.1f', 'dB')} vs references)"
    else:
        vocal = "no vocal found"
    con.print(f"Balance (against the mix's loudness): {bass}; {vocal}")
    for n in b.get("notes") or []:
        con.print(f"note: {_e(n)}")


def _print_dynamics(con, dyn: Mapping[str, Any] | None) -> None:
    if not dyn:
        return
    line = f"Dynamics: PLR {_fmt(dyn.get('plr_db'), '.1f', 'dB')}"
    vs = dyn.get("plr_vs_reference_db")
    if vs is not None and abs(vs) < 1.0:
        line += f" ({vs:+.1f} dB against the references: about as compressed)"
    elif vs is not None:
        line += (f" ({abs(vs):.1f} dB {'less' if vs < 0 else 'more'} than the references: "
                 f"{'more' if vs < 0 else 'less'} compressed)")
    crest = dyn.get("crest_db_bands")
    if isinstance(crest, Mapping) and crest.get("bands_hz"):
        line += "; crest factor " + ", ".join(
            f"{f / 1000:g}k {_fmt(c, '.0f')}" if f >= 1000 else f"{f:g} {_fmt(c, '.0f')}"
            for f, c in zip(crest.get("bands_hz") or [], crest.get("crest_db") or [])) + " dB"
    con.print(line)
    for s in (dyn.get("sections") or [])[:12]:
        if isinstance(s, Mapping) and "start_s" in s:
            con.print(f"  {_mmss(s['start_s'])}-{_mmss(s.get('end_s', s['start_s']))}: "
                      f"{_fmt(s.get('loudness_lufs'), '.1f', 'LUFS')}, short-term range "
                      f"{_fmt(s.get('short_term_range_lu'), '.1f', 'LU')}")


def print_patterns(con, result: Mapping[str, Any]) -> None:
    """``mix patterns`` for a reader: each pattern with its evidence per track."""
    from rich.table import Table

    con.rule(f"[bold]Patterns across {result['n_mixes']} mixes of {_e(result['client'])}[/]")
    if not result["patterns"]:
        con.print("Nothing is consistent across the tracks: every finding is a single mix's own "
                  "(no pattern holds on at least 70 % of the tracks and passes the sign test).")
    for p in result["patterns"]:
        con.print(f"[bold]•[/] {_e(p['what'][0].upper() + p['what'][1:])}")
        t = Table(box=None, show_header=False, pad_edge=False)
        for e in p["evidence"]:
            v = e.get("value_db")
            t.add_row("  ", _e(e["file"]), _fmt(v, "+.1f", "dB") if v is not None else ("yes" if e.get("value") else "no"),
                      "[bold]✓[/]" if e["with"] else "")
        con.print(t)
    for s in result.get("skipped") or []:
        con.print(f"[yellow]warning:[/] {_e(s)}")
