"""``roomtruth history``: past verifications (newest first) and the trend of every check.

Registered by :func:`roomtruth.cmd_verify.register`.  Only typer and the standard library are
imported at module level; everything else inside the command so ``roomtruth --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

__all__ = ["history_cmd", "history_trends"]


def _sparkline(values: list[float]) -> str:
    blocks = "▁▂▃▄▅▆▇█"
    vals = [v for v in values if v == v]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = hi - lo
    return "".join(" " if v != v else blocks[0 if span == 0 else min(int((v - lo) / span * 7.999), 7)] for v in values)


def history_trends(h: Any, *, profile_name: Optional[str] = None) -> list[dict[str, Any]]:
    """Per (check, speaker): points, first/last value, change and slope per 30 days."""
    from datetime import datetime

    out = []
    for name, ch in h.check_names():
        if name in ("monitor_hash", "monitor_bypass", "mic_position"):
            continue
        pts = [p for p in h.series(name, channel=ch, profile_name=profile_name) if p.value == p.value]
        if not pts:
            continue
        t = [datetime.fromisoformat(p.time_utc.replace("Z", "+00:00")).timestamp() / 86400.0 for p in pts]
        v = [p.value for p in pts]
        slope = float("nan")
        if len(pts) >= 2 and max(t) - min(t) >= 1.0:  # a slope per month needs at least a day of history
            mt, mv = sum(t) / len(t), sum(v) / len(v)
            den = sum((a - mt) ** 2 for a in t)
            slope = sum((a - mt) * (b - mv) for a, b in zip(t, v)) / den * 30.0
        out.append({"check": name, "channel": ch, "unit": pts[-1].unit, "n": len(pts), "first": v[0], "last": v[-1],
                    "change": v[-1] - v[0], "slope_per_30d": slope, "limit": pts[-1].limit,
                    "fails": sum(p.verdict == "fail" for p in pts), "values": v})
    return out


def history_cmd(
    room: Optional[Path] = typer.Option(None, "--room", help="Room workspace holding history.sqlite."),
    db: Optional[Path] = typer.Option(None, "--db", help="The history database file itself."),
    limit: int = typer.Option(20, "--limit", min=1, help="Newest verifications to list."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Only verifications of this profile name."),
    measurements: bool = typer.Option(False, "--measurements", help="List the indexed measurements instead."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show past verifications (newest first) and the trend of every check over time."""
    from calib.audio_io import to_json
    from calib.errors import ConfigError
    from monitor.history import History

    if db is None:
        if room is None:
            raise ConfigError("pass --room DIR (a workspace) or --db FILE (a history database)")
        db = room / "history.sqlite"
    with History(db, readonly=True) as h:
        if measurements:
            rows = h.measurements(limit=limit)
            if as_json:
                sys.stdout.write(to_json([r.__dict__ for r in rows]) + "\n")
                return
            from rich.console import Console
            from rich.table import Table

            t = Table(title=f"Measurements in {db}", title_justify="left")
            for col in ("time (UTC)", "id", "label", "kind", "speakers", "fs", "min SNR"):
                t.add_column(col)
            for r in rows:
                t.add_row(r.stamp, r.measurement_id, r.label, r.kind, ",".join(r.channels), str(r.fs),
                          "—" if r.min_snr_db != r.min_snr_db else f"{r.min_snr_db:.1f} dB")
            Console(highlight=False).print(t)
            return
        rows = h.verifications(limit=limit, profile_name=profile)
        trends = history_trends(h, profile_name=profile)
    if as_json:
        sys.stdout.write(to_json({
            "verifications": [{**{k: v for k, v in r.__dict__.items() if k != "checks"},
                               "checks": [c.__dict__ for c in r.checks]} for r in rows],
            "trends": trends}) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console(highlight=False)
    if not rows:
        con.print(f"no verifications in {escape(str(db))} yet; run 'roomtruth verify'")
        return
    colour = {"pass": "green", "warn": "yellow", "fail": "red", "refused": "magenta"}
    t = Table(title=f"Verifications ({len(rows)} newest) in {db}", title_justify="left")
    for col in ("time (UTC)", "profile", "hash", "verdict", "failed checks", "report"):
        t.add_column(col)
    for r in rows:
        bad = [c for c in r.checks if c.verdict == "fail"]
        names = ", ".join(f"{c.name}{' ' + c.channel if c.channel else ''}{' %.0f Hz' % c.band_hz if c.band_hz == c.band_hz and c.name == 'band_deviation' else ''}"
                          for c in bad[:4]) + (" …" if len(bad) > 4 else "")
        mark = "✗ " if r.failed else ""
        src = " (from programme)" if (r.meta or {}).get("source") == "programme" else ""   # roomtruth watch
        t.add_row(r.time_utc, r.profile_name, r.profile_hash[:8], f"[{colour.get(r.verdict, 'white')}]{mark}{r.verdict}[/]{src}",
                  names, r.report_path)
    con.print(t)
    if trends:
        tt = Table(title="Trends (all stored verifications, oldest → newest)", title_justify="left")
        for col in ("check", "speaker", "n", "last", "change", "per 30 days", "limit", "fails", "trend"):
            tt.add_column(col, justify="right" if col in ("n", "last", "change", "per 30 days", "limit", "fails") else "left")
        for tr in trends:
            u = tr["unit"]
            tt.add_row(tr["check"], tr["channel"], str(tr["n"]), f"{tr['last']:+.3f} {u}", f"{tr['change']:+.3f}",
                       "—" if tr["slope_per_30d"] != tr["slope_per_30d"] else f"{tr['slope_per_30d']:+.3f}",
                       "—" if tr["limit"] != tr["limit"] else f"{tr['limit']:g}", str(tr["fails"]), _sparkline(tr["values"][-24:]))
        con.print(tt)
