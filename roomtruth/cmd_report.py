"""``roomtruth report`` and ``roomtruth demo``.

Only typer and the standard library are imported at module level (``roomtruth --help``
stays fast); numpy, matplotlib and the packages are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``demo``."""
    app.command("report")(report_cmd)
    app.command("demo")(demo_cmd)


def _check_writable_parent(path: Path, what: str) -> None:
    """Refuse, before any work is done, an output whose folder cannot be made or written:
    an ancestor that is a file, or a folder without write permission."""
    import os

    from calib.errors import ConfigError

    parent = path.parent if str(path.parent) else Path(".")
    probe = parent
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"cannot write {what} {path}: {probe} is a file, not a folder; choose another path")
    if probe.is_dir() and not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {what} {path}: the folder {probe} is not writable; choose another path "
                          "or fix its permissions")


def _check_output(out: Path, suffixes: tuple[str, ...], what: str) -> None:
    from calib.errors import ConfigError

    if out.exists() and out.is_dir():
        raise ConfigError(f"output {out} is a folder; give a file name ending in {suffixes[0]} (e.g. -o report.html)")
    if out.suffix.lower() not in suffixes:
        raise ConfigError(f"output {out} should end in {' or '.join(suffixes)} for {what}; "
                          f"e.g. -o {out.with_suffix(suffixes[0]).name}")
    _check_writable_parent(out, what)


def report_cmd(
    room: Path = typer.Option(Path("."), "--room", help="Room workspace folder (made by 'roomtruth init')."),
    out: Path = typer.Option(..., "-o", "--out", help="HTML file to write (self-contained: plots embedded)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also write a PDF next to the HTML (same name, .pdf)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings and what was written as JSON."),
) -> None:
    """Write the room's report: summary, findings, compliance, measurements, correction,
    verification history and mixes, as one self-contained HTML file (and a PDF)."""
    _check_output(out, (".html", ".htm"), "an HTML report")
    if pdf and out.with_suffix(".pdf").is_dir():
        from calib.errors import ConfigError

        raise ConfigError(f"the PDF would go to {out.with_suffix('.pdf')}, which is a folder; choose another -o name "
                          "or move that folder")
    from rich.console import Console

    from calib.audio_io import to_json
    from reports.build import build_document
    from reports.html import write_html
    from roomtruth.report_load import load_report_inputs

    console = Console(stderr=as_json)
    with console.status("reading the workspace and analysing the latest measurement ..."):
        inputs = load_report_inputs(room)
    with console.status("drawing the figures ...") as status:
        doc = build_document(inputs, progress=lambda m: status.update(m))
    write_html(doc, out)
    pdf_path, engine = None, None
    if pdf:
        from reports.pdf import write_pdf

        with console.status("printing the PDF ..."):
            pdf_path, engine = write_pdf(doc, out, out.with_suffix(".pdf"))
    if as_json:
        typer.echo(to_json({"html": str(out), "pdf": None if pdf_path is None else str(pdf_path),
                            "pdf_engine": engine, "figures": len(doc.figures),
                            "findings": [f.to_dict() for f in doc.findings], "unavailable": doc.unavailable,
                            "problems": doc.problems}))
        return
    _print_findings(console, doc)
    console.print(f"[bold]wrote[/] {out} ({len(doc.figures)} figures)" +
                  (f" and {pdf_path} (via {engine})" if pdf_path else ""))


def _print_findings(console, doc) -> None:
    from rich.table import Table

    t = Table(title="Findings", show_lines=False, expand=False)
    t.add_column("", no_wrap=True)
    t.add_column("Finding")
    t.add_column("Action", style="dim")
    style = {"attention": "[bold red]attention[/]", "note": "[yellow]note[/]", "good": "[green]good[/]"}
    for f in doc.findings[:12]:
        t.add_row(style.get(f.level, f.level), f.sentence, f.action)
    console.print(t)
    for sec, why in doc.unavailable.items():
        console.print(f"[dim]{sec}: {why}[/]")
    for p in doc.problems:
        console.print(f"[yellow]note:[/] {p}")


def demo_cmd(
    out: Path = typer.Option(Path("roomtruth-demo"), "-o", "--out",
                             help="Folder for the demo workspace and its report (replaced if it holds an earlier demo)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the report to PDF."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary instead of the rich progress."),
) -> None:
    """Run the whole pipeline on the built-in simulated room — measure, analyze, correct,
    render through the monitor engine, verify, analyze mixes — and write its HTML report."""
    import os
    import sys

    if "numpy" not in sys.modules:
        # The demo's linear algebra is small (PEQ fits, 2x2..60x60 solves): on a shared 2-core
        # machine multi-threaded BLAS only contends with itself (measured: correction design
        # 11.2 s with default threads vs 5.0 s with one, under load).  Set before numpy loads.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    from rich.console import Console

    from calib.audio_io import to_json
    from roomtruth.demo import run_demo

    if not (out.exists() and out.is_dir()):
        _check_writable_parent(out, "the demo folder")
    console = Console(stderr=as_json, quiet=as_json)
    console.rule("[bold]roomtruth demo[/]: the built-in simulated control room")
    res = run_demo(out, console=console, pdf=pdf)
    if as_json:
        typer.echo(to_json({"out_dir": str(res.out_dir), "report": str(res.report_path), "figures": res.n_figures,
                            "timings_s": res.timings_s, "unavailable": res.unavailable,
                            "findings": [f.to_dict() for f in res.findings]}))
        return
    console.print()
    for f in [f for f in res.findings if f.level != "good"][:5]:
        console.print(f"  • {f.sentence}")
    if res.unavailable:
        console.print("[dim]not available in this build: " + "; ".join(sorted(res.unavailable)) + "[/]")
    console.print(f"\n[bold green]done[/] in {res.timings_s.get('total', 0):.1f} s — open {res.report_path}")
    console.print(f"browse the demo room in the web app: roomtruth serve --room {res.out_dir}  "
                  "(then open http://127.0.0.1:8765/)", markup=False)
