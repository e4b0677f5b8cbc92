"""``roomtruth mix``: the mastering engineer's checks and studio fingerprints.

    roomtruth mix analyze FILE_OR_FOLDER... [--reference REF...] [--client NAME -w WORKSPACE] [--json | --csv] [--out PATH] [--jobs N]
    roomtruth mix patterns --client NAME -w WORKSPACE [--json]
    roomtruth mix fingerprint --studio NAME MIX... [--reference FILE...] [--measured FILE] [--force] [--json]
    roomtruth mix correct --studio NAME IN.wav OUT.wav [--phase linear|minimum] [--force] [--json]
    roomtruth mix translate FILE [--cassette I|II] [--json]

Only typer and the standard library are imported at module level (``roomtruth --help`` stays
fast); numpy, scipy and the ``mixes`` package are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

mix_app = typer.Typer(
    name="mix",
    help="Check mixes (loudness, true peak, clicks, stereo image, balance, platforms, translation), learn studio fingerprints and a client's patterns.",
    no_args_is_help=True,
    add_completion=False,
)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


from roomtruth.cmd_mix_show import _e, _fmt  # noqa: E402  (one spelling of names and numbers)


def _write_out(path: Path, text: str) -> None:
    """Write ``text`` atomically as UTF-8; a file name that is not UTF-8 (surrogate escapes in
    the CSV's file column) is written as a backslash escape, as on the console."""
    from calib.audio_io import atomic_write_bytes

    text = text if text.endswith("\n") else text + "\n"
    atomic_write_bytes(path, text.encode("utf-8", "backslashreplace"))


@mix_app.command("analyze")
def analyze(
    files: List[Path] = typer.Argument(..., help="Mix files, or folders of them (an album)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {\"mixes\": [one object per file], \"failed\": [{\"file\", \"error\"}]}."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV, one row per file (a file that failed: its reason in the last column)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the JSON/CSV to this file (atomically)."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes for several files (0: one per core)."),
    bands: int = typer.Option(3, "--bands-per-octave", help="LTAS resolution: 3, 6, 12, 24 or 48."),
    platforms: Optional[Path] = typer.Option(None, "--platforms", help="Another platform table (TOML)."),
    reference: List[Path] = typer.Option([], "--reference", "-r",
                                         help="Reference tracks for the spectrum, balance and dynamics comparisons (repeatable; default: built-in target)."),
    client: Optional[str] = typer.Option(None, "--client", help="Store each analysed mix for this client (a studio, producer or mix engineer) for 'mix patterns'."),
    workspace: Path = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder holding clients/NAME/ (with --client)."),
) -> None:
    """Loudness (BS.1770), LRA, true peak, platforms, clicks/artifacts, stereo image, balance, dynamics and LTAS per file.

    A file that cannot be analysed (unreadable, truncated, NaN samples, too short) does not stop
    the others: every good file is reported, each bad one gets an ``error:`` line on stderr and
    an entry under ``failed``, and the exit code is 2.  When no file can be analysed it is one
    ``error:`` line and exit 2, nothing written.
    """
    from calib.audio_io import to_json
    from calib.errors import ConfigError, SignalError
    from mixes.batch import analyze_each, analyze_many, expand_inputs, mix_dict, to_csv
    from mixes.platforms import load_platforms

    if as_json and as_csv:
        raise ConfigError("--json and --csv are exclusive; choose one output format")
    if bands not in (3, 6, 12, 24, 48):
        raise ConfigError(f"--bands-per-octave {bands} is not one of 3, 6, 12, 24, 48")
    if jobs < 0:
        raise ConfigError(f"--jobs {jobs} is negative; use 0 for one worker per core")
    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the file to write, e.g. {out / ('mixes.csv' if as_csv else 'mixes.json')}")
    if client is not None:
        from mixes.clients import client_dir

        client_dir(workspace, client)            # the name is checked before any audio is read
        if workspace.exists() and not workspace.is_dir():
            raise ConfigError(f"--workspace {workspace} is a file; give the workspace folder")
        _check_writable(workspace)               # before the album is analysed, not after
    table = load_platforms(platforms)          # validated before any audio is read
    paths = expand_inputs(files)
    ref_paths = expand_inputs(reference) if reference else []
    if out is not None:
        _check_out_is_no_audio(out, paths + ref_paths, "CSV" if as_csv else "JSON")
    # the references first, all or nothing: a bad one would spoil every mix's comparison, so it
    # stops the run before the album is analysed
    refs = analyze_many(ref_paths, jobs=jobs or None, bands_per_octave=bands, checks=False,
                        extras=True) if ref_paths else []
    err = _console(stderr=True)
    if len(paths) > 1:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]analysing"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                      transient=True, disable=not err.is_terminal) as prog:
            task = prog.add_task("", total=len(paths))

            def progress(done: int, total: int, name: str) -> None:
                prog.update(task, completed=done, description=name)

            results, failed = analyze_each(paths, jobs=jobs or None, progress=progress,
                                           bands_per_octave=bands, platforms=table)
    else:
        results, failed = analyze_each(paths, jobs=1, bands_per_octave=bands, platforms=table)
    if not results:                            # nothing to report: one line, as for one file
        more = f"; none of the {len(paths)} files could be analysed" if len(paths) > 1 else ""
        raise SignalError(failed[0].error + more)
    comparisons = _compare_all(results, refs)
    dicts = [mix_dict(r, refs, ltas_vs_reference=cmp) for r, cmp in zip(results, comparisons)]
    stored = []
    if client is not None:
        from mixes.clients import mix_record, store_mix

        stored = [store_mix(workspace, client, mix_record(d, references=[str(p) for p in ref_paths])) for d in dicts]
        stored = list(dict.fromkeys(stored))     # a file given twice is one record
    if as_csv:
        text = to_csv(results, failed)
    else:
        text = to_json({"mixes": dicts, "failed": [f.to_dict() for f in failed]})
    if out is not None:
        _write_out(out, text)
    if as_json or as_csv:
        typer.echo(text.rstrip("\n"))
        if stored:
            typer.echo(f"stored {len(stored)} mix{'es' if len(stored) > 1 else ''} for client {client.strip()} "
                       f"in {stored[0].parent}", err=True)
    else:
        from roomtruth.cmd_mix_show import print_analysis

        con = _console()
        for r, cmp, d in zip(results, comparisons, dicts):
            print_analysis(con, r, d)
            if cmp is not None:
                bad = [f"{f:g} Hz ({dv:+.1f} dB)" for f, dv, t in zip(cmp["freqs_hz"], cmp["deviation_db"], cmp["tolerance_db"])
                       if abs(dv) > t]
                con.print(f"Spectrum vs {_e(cmp['reference'])}: " + ("within tolerance in every band" if not bad
                                                                 else "outside tolerance at " + ", ".join(bad)))
        if out is not None:
            con.print(f"written: {_e(out)}")
        if stored:
            con.print(f"stored {len(stored)} mix{'es' if len(stored) > 1 else ''} for client {_e(client.strip())} "
                      f"in {_e(stored[0].parent)}; 'roomtruth mix patterns --client ...' reads them")
    _fail_files(failed)


def _check_out_is_no_audio(out: Path, inputs, kind: str) -> None:
    """``--out`` must not overwrite audio: one of the mixes or references (also through a link
    or another name of the same file), or any file named like audio (``--out mix.wav`` wrote
    the JSON over the master, exit 0)."""
    import os

    from calib.errors import ConfigError
    from mixes.batch import AUDIO_SUFFIXES

    for p in inputs:
        try:
            same = os.path.samefile(out, p)
        except OSError:
            same = False
        if same:
            raise ConfigError(f"--out {out} is the mix {p}; the {kind} would overwrite it, give a new file "
                              f"name, e.g. {Path(out).with_suffix('.csv' if kind == 'CSV' else '.json')}")
    if Path(out).suffix.lower() in AUDIO_SUFFIXES + (".mp3",):
        raise ConfigError(f"--out {out} is named like an audio file; the {kind} goes to a "
                          f"{'.csv' if kind == 'CSV' else '.json'} file, e.g. {Path(out).with_suffix('.csv' if kind == 'CSV' else '.json')}")


def _check_writable(workspace: Path) -> None:
    """Refuse a workspace this user cannot write in (its nearest existing folder), before any
    audio is read: the mixes are stored only after the whole album is analysed."""
    import os

    from calib.errors import ConfigError

    p = Path(os.path.abspath(workspace))
    while not p.exists() and p != p.parent:
        p = p.parent
    if p.is_dir() and not os.access(p, os.W_OK | os.X_OK):
        raise ConfigError(f"--workspace {workspace}: no permission to write in {p}; "
                          "give a workspace folder you can write to")


def _fail_files(failed) -> None:
    """One ``error:`` line per file that could not be used, then exit code 2 (none: return)."""
    import sys

    if not failed:
        return
    for f in failed:
        sys.stderr.write(_error_line(f.error))
    raise typer.Exit(code=2)


def _error_line(msg: str) -> str:
    """``error: msg`` as ONE line (a file name may hold a newline or tab)."""
    return "error: " + " ".join(str(msg).split()) + "\n"


def _compare_all(results, refs):
    """Per mix, its LTAS against the reference tracks' mean (or the built-in target)."""
    from calib.errors import SignalError
    from mixes.ltas import builtin_target, compare, reference_from_tracks

    out = []
    ref_obj = None
    if refs:
        silent = [r.file for r in refs if r.ltas is None]
        if silent:
            raise SignalError(f"reference {silent[0]} is silent; it cannot serve as a spectral reference")
        ref_obj = reference_from_tracks([r.ltas for r in refs])
    for r in results:
        if r.ltas is None:
            out.append(None)
            continue
        ref = ref_obj if ref_obj is not None else builtin_target(r.ltas.freqs_hz)
        c = compare(r.ltas, ref)
        out.append({"reference": c["reference"], "freqs_hz": [round(float(f), 3) for f in c["freqs_hz"]],
                    "deviation_db": [round(float(v), 2) for v in c["deviation_db"]],
                    "tolerance_db": [round(float(v), 2) for v in c["tolerance_db"]],
                    "outside_hz": [round(float(f), 1) for f in c["outside_hz"]]})
    return out


@mix_app.command("fingerprint")
def fingerprint(
    files: List[Path] = typer.Argument(None, help="Mixes from the studio (files or folders)."),
    studio: str = typer.Option(..., "--studio", help="Studio name as you write it, e.g. \"Studio Nord\" (stored in a folder-safe studios/Studio-Nord/)."),
    reference: List[Path] = typer.Option([], "--reference", "-r", help="Reference tracks (repeatable)."),
    measured: Optional[Path] = typer.Option(None, "--measured",
                                            help="A measured response of the studio's room (IR WAV or freq/dB text) instead of mixes."),
    workspace: Path = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder (fingerprint goes to studios/<folder-safe NAME>/)."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (0: one per core)."),
    force: bool = typer.Option(False, "--force", help="When some files could not be used, replace the studio's existing fingerprint anyway (default: keep it and write the new one beside it as fingerprint.partial.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print the fingerprint as JSON."),
) -> None:
    """Learn a studio's room fingerprint from its mixes (vs reference tracks or the built-in target), or from a room measurement.

    A mix or reference that cannot be used (unreadable, damaged, silent) is left out and named
    on stderr (``failed`` in the JSON); the fingerprint is learnt from the rest and the exit
    code is 2.  If the studio already has a fingerprint, that one is kept and the new one goes
    beside it as ``fingerprint.partial.json`` (one more ``error:`` line says where; ``--force``
    replaces it instead).  Fewer than two usable mixes, or no usable reference of those given:
    one ``error:`` line, nothing written.
    """
    from calib.audio_io import to_json
    from calib.errors import ConfigError, SignalError
    from mixes.batch import analyze_each, expand_inputs
    from mixes.fingerprint import (fingerprint_from_mixes, fingerprint_from_response, read_response_file,
                                   save_fingerprint, valid_studio_name)
    from mixes.ltas import builtin_target

    valid_studio_name(studio)
    if measured is not None and files:
        raise ConfigError("give either mixes or --measured, not both")
    if measured is None and not files:
        raise ConfigError("no mixes given; pass the studio's mixes, or --measured FILE with a room response")
    failed: list = []
    if measured is not None:
        fp = fingerprint_from_response(studio, read_response_file(measured), source_file=str(measured))
    else:
        paths = expand_inputs(files)
        refs = expand_inputs(reference) if reference else []
        seen: dict = {}
        for p in paths + refs:
            key = Path(p).resolve()
            if key in seen:
                raise ConfigError(f"{p} is given twice (also as {seen[key]}); each mix and reference counts once, "
                                  "or the fingerprint's confidence is overstated")
            seen[key] = p
        err = _console(stderr=True)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("[bold]spectra"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.description}"), console=err, transient=True,
                      disable=not err.is_terminal) as prog:
            task = prog.add_task("", total=len(paths) + len(refs))
            res, failed = analyze_each(paths + refs, jobs=jobs or None, checks=False,
                                       progress=lambda d, t, n: prog.update(task, completed=d, description=n))
        mix_res, ref_res, failed = _usable_spectra(res, failed, paths, refs)
        rates = {r.fs for r in mix_res + ref_res}
        if len(rates) > 1:
            raise SignalError(f"the files have different sample rates ({', '.join(map(str, sorted(rates)))} Hz); "
                              "the band grid depends on it, resample them to one rate first")
        mix_spec = [r.ltas for r in mix_res]
        ref_spec = [r.ltas for r in ref_res]
        reference_obj = ref_spec if ref_spec else builtin_target(mix_spec[0].freqs_hz)
        fp = fingerprint_from_mixes(studio, mix_spec, reference_obj, files=tuple(r.file for r in mix_res))
    kept = None
    if failed and not force:
        path, kept = _save_beside_existing(fp, workspace)
    else:
        path = save_fingerprint(fp, workspace)
    if as_json:
        d = fp.to_dict()
        if failed:
            d["failed"] = [f.to_dict() for f in failed]
            d["written"] = str(path)
        typer.echo(to_json(d))
    else:
        _print_fingerprint(_console(), fp, path)
    if kept is not None:  # the bad files, then where the new fingerprint went
        import sys

        for f in failed:
            sys.stderr.write(_error_line(f.error))
        sys.stderr.write(_error_line(kept))
        raise typer.Exit(code=2)
    _fail_files(failed)


PARTIAL_NAME = "fingerprint.partial.json"


def _save_beside_existing(fp, workspace: Path):
    """Save a fingerprint learnt while some files failed, without losing an existing one.

    With no ``fingerprint.json`` for the studio yet, it is saved there as usual.  Otherwise
    the existing file stays untouched and the new fingerprint is written atomically beside it
    as :data:`PARTIAL_NAME` (replacing an earlier partial one).

    Returns
    -------
    (Path, str or None)
        Where the fingerprint was written, and the sentence saying that the existing one was
        kept (None when there was none).

    Raises
    ------
    ProfileError
        The studio folder holds another studio's fingerprint (as :func:`mixes.fingerprint.save_fingerprint`).
    """
    import json

    from calib.audio_io import atomic_write_json
    from mixes.fingerprint import save_fingerprint, studio_dir

    main = studio_dir(workspace, fp.studio) / "fingerprint.json"
    if not main.is_file():
        return save_fingerprint(fp, workspace), None
    try:
        old = json.loads(main.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None                                        # unreadable: kept all the same
    old = old if isinstance(old, dict) else {}
    from mixes.fingerprint import _name_key  # the same-studio rule of save_fingerprint

    other = str(old.get("studio", ""))
    if other and _name_key(other) != _name_key(fp.studio):
        return save_fingerprint(fp, workspace), None      # refuses: another studio's folder
    partial = main.with_name(PARTIAL_NAME)
    atomic_write_json(partial, fp.to_dict())
    n_old = old.get("n_mixes")
    was = ""
    if old.get("source", "mixes") == "mixes" and isinstance(n_old, int) and n_old > 0:
        was = f" (learnt from {n_old} mixes)"
    elif old.get("source") == "measurement":
        was = " (from a measured room response)"
    return partial, (f"some files could not be used, so the existing {main}{was} is kept and the new one "
                     f"({fp.n_mixes} mixes) is written beside it: {partial}; rename it to {main.name} to use it, "
                     "or run again with --force to replace")


def _usable_spectra(res, failed, paths, refs):
    """Split a fingerprint batch into mixes and references with a spectrum.

    A silent file joins the failed ones (it has no spectrum to learn from).  Raises
    :class:`SignalError` (one line, naming the first bad file) when no mix, fewer than the two
    mixes a fingerprint needs, or none of the given references is left.
    """
    from calib.errors import SignalError
    from mixes.batch import FileFailure

    order = {str(p): i for i, p in enumerate(list(paths) + list(refs))}
    failed = list(failed) + [FileFailure(r.file, f"{r.file} is silent: it has no spectrum to learn from")
                             for r in res if r.ltas is None]
    failed.sort(key=lambda f: order.get(f.file, len(order)))
    mix_names = {str(p) for p in paths}
    mix_res = [r for r in res if r.ltas is not None and r.file in mix_names]
    ref_res = [r for r in res if r.ltas is not None and r.file not in mix_names]
    bad_mix = [f for f in failed if f.file in mix_names]
    bad_ref = [f for f in failed if f.file not in mix_names]
    if bad_mix and len(mix_res) < 2:
        raise SignalError(f"{bad_mix[0].error}; a fingerprint needs at least 2 mixes and "
                          f"{'none' if not mix_res else 'only one'} of the {len(paths)} could be used")
    if refs and not ref_res:
        raise SignalError(bad_ref[0].error + (f"; none of the {len(refs)} references could be used" if len(refs) > 1 else ""))
    return mix_res, ref_res, failed


def _print_fingerprint(con, fp, path) -> None:
    from rich.table import Table

    con.rule(f"[bold]Room fingerprint of {_e(fp.studio)}[/]")
    src = f"{fp.n_mixes} mixes vs {fp.reference}" if fp.source == "mixes" else f"measured room response ({fp.reference})"
    con.print(src)
    t = Table()
    iv = fp.interval_db
    for col in ("Band", "Mixes deviate", "90 % interval", "Confidence", "Spread"):
        t.add_column(col, justify="right")
    for i, (f, d, c, s) in enumerate(zip(fp.freqs_hz, fp.deviation_db, fp.confidence, fp.spread_db)):
        sure = iv is None or iv[i, 0] > 0 or iv[i, 1] < 0
        style = "bold" if abs(d) >= 2 and c >= 0.6 and sure else ""
        ivs = "—" if iv is None else f"{iv[i, 0]:+.1f}..{iv[i, 1]:+.1f} dB"
        t.add_row(f"{f:.0f} Hz", f"[{style}]{d:+.1f} dB[/]" if style else f"{d:+.1f} dB", ivs, f"{c:.0%}", f"{s:.1f} dB")
    con.print(t)
    advice = (fp.meta or {}).get("advice") if fp.source == "mixes" else None
    if advice:
        con.print(_e(advice))
    con.print(f"written: {_e(path)}")


@mix_app.command("correct")
def correct(
    inp: Path = typer.Argument(..., help="Mix to correct."),
    out: Path = typer.Argument(..., help="Corrected mix (WAV, written atomically)."),
    studio: str = typer.Option(..., "--studio", help="Studio whose fingerprint to correct."),
    workspace: Path = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder holding studios/NAME/."),
    phase: str = typer.Option("linear", "--phase", help="linear (no phase change, latency removed) or minimum."),
    max_boost_db: float = typer.Option(6.0, "--max-boost-db", help="Largest boost (dB)."),
    max_cut_db: float = typer.Option(12.0, "--max-cut-db", help="Largest cut (dB)."),
    subtype: str = typer.Option("FLOAT", "--subtype", help="Output sample format: FLOAT, PCM_24 or PCM_16."),
    force: bool = typer.Option(False, "--force", help="Replace OUT.wav if it exists."),
    as_json: bool = typer.Option(False, "--json", help="Print what changed as JSON."),
) -> None:
    """Correct a new mix from a studio with its fingerprint: smooth, boost-capped, confidence-weighted EQ.

    Only bands whose 90 % interval excludes 0 dB are corrected; each band's decision and its
    reason are printed (``correction.bands`` in the JSON).
    """
    import numpy as np

    from calib.audio_io import to_json, write_wav_atomic
    from calib.errors import ConfigError
    from mixes.analysis import analyze_array, read_mix
    from mixes.correct import design_correction, fir_response_db
    from mixes.fingerprint import load_fingerprint

    if subtype.upper() not in ("FLOAT", "PCM_24", "PCM_16"):
        raise ConfigError(f"--subtype {subtype} is not FLOAT, PCM_24 or PCM_16")
    if phase not in ("linear", "minimum"):
        raise ConfigError(f"--phase {phase} is not 'linear' or 'minimum'")
    if Path(inp).resolve() == Path(out).resolve() or _same_file(inp, out):
        raise ConfigError(f"output {out} is the input; write the corrected mix to a new file")
    if Path(out).is_dir():
        raise ConfigError(f"output {out} is a folder; give the WAV file to write, e.g. {Path(out) / Path(inp).name}")
    if Path(out).suffix.lower() in (".flac", ".aif", ".aiff", ".ogg", ".w64", ".rf64", ".caf", ".mp3", ".m4a", ".aac", ".opus"):
        raise ConfigError(f"output {out} is named {Path(out).suffix}, but the corrected mix is written as WAV; "
                          f"name it {Path(out).with_suffix('.wav').name} (a WAV under another name misleads every "
                          "program that opens it)")
    if Path(out).exists() and not force:
        raise ConfigError(f"output {out} exists; pass --force to replace it, or give a new file name")
    if not (0 <= max_boost_db <= 24):  # also NaN
        raise ConfigError(f"--max-boost-db {max_boost_db} is outside 0..24 dB; a correction that boosts more "
                          "than that is not a correction")
    if not (0 <= max_cut_db <= 40):
        raise ConfigError(f"--max-cut-db {max_cut_db} is outside 0..40 dB")
    fp = load_fingerprint(workspace, studio)
    x, fs = read_mix(inp)
    corr = design_correction(fp, fs=fs, phase=phase, max_boost_db=max_boost_db, max_cut_db=max_cut_db)
    y, engine, limited = _render(x, corr)
    before = analyze_array(x, fs=fs, name=str(inp), checks=False)
    after = analyze_array(y, fs=fs, name=str(out), checks=False)
    peak_after = after.sample_peak_dbfs
    warnings = []
    if limited:
        warnings.append(f"the monitor engine's safety limiter held {limited} samples at 0 dBFS; "
                        "lower the mix before correcting or use a smaller --max-boost-db")
    if subtype.upper() != "FLOAT" and peak_after > 0:
        warnings.append(f"the corrected mix peaks at {peak_after:+.2f} dBFS and would clip in {subtype}; "
                        "it was written as is, lower it or use --subtype FLOAT")
    write_wav_atomic(out, y, fs=fs, subtype=subtype.upper())
    realised = fir_response_db(corr.fir, corr.freqs_hz, fs=fs)
    report = {
        "input": str(inp), "output": str(out), "studio": studio, "engine": engine, "limited_samples": limited,
        "correction": corr.to_dict(),
        "realised_db": [round(float(v), 3) for v in realised],
        "integrated_lufs_before": before.integrated_lufs, "integrated_lufs_after": after.integrated_lufs,
        "true_peak_before_dbtp": before.true_peak_dbtp, "true_peak_after_dbtp": after.true_peak_dbtp,
        "warnings": warnings,
    }
    if as_json:
        typer.echo(to_json(report))
        return
    from rich.table import Table

    con = _console()
    con.rule(f"[bold]{_e(inp)} → {_e(out)}[/]  ({_e(studio)}, {phase} phase, {engine})")
    t = Table(title="What changed", title_justify="left")
    for col in ("Band", "Wanted", "Applied", "Realised"):
        t.add_column(col, justify="right")
    for f, w, g, r in zip(corr.freqs_hz, corr.wanted_db, corr.gain_db, realised):
        if abs(g) >= 0.3 or abs(w) >= 0.3:
            t.add_row(f"{f:.0f} Hz", f"{w:+.1f} dB", f"{g:+.1f} dB", f"{r:+.1f} dB")
    con.print(t)
    con.print("Per band (mixes' deviation; corrected only where the 90 % interval excludes 0):")
    for b, g in zip(corr.bands, corr.gain_db):
        con.print(f"{b['f_hz']:>6.0f} Hz: {b['deviation_db']:+.1f} dB, {_e(b['why'])}; applied {g:+.1f} dB",
                  soft_wrap=True)
    if corr.capped:
        con.print(f"capped at +{max_boost_db:g}/-{max_cut_db:g} dB: " + ", ".join(f"{f:.0f} Hz" for f in corr.capped))
    con.print(f"loudness {_fmt(before.integrated_lufs)} → {_fmt(after.integrated_lufs)} LUFS, "
              f"true peak {_fmt(before.true_peak_dbtp, '.2f')} → {_fmt(after.true_peak_dbtp, '.2f')} dBTP")
    for w in warnings:
        con.print(f"[yellow]warning:[/] {_e(w)}")



def _same_file(a, b) -> bool:
    """Two names of one file (a hard link too)."""
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _render(x, corr):
    """Filter the mix with the correction FIR through the monitor engine's offline path.

    Returns ``(y, engine_name, limited_samples)``.  The engine (``monitor.engine``: partitioned
    convolution, output safety limiter at 0 dBFS, level-jump ducking off) runs the FIR on every
    channel; its own latency is removed by ``render_chunks`` and the linear-phase FIR's delay
    by skipping ``corr.latency_samples``.  Falls back to ``scipy.signal.oaconvolve`` only when the
    engine is not installed.
    """
    import numpy as np

    n_ch, n = x.shape
    L = corr.latency_samples
    try:
        from monitor.engine import Engine, render_chunks
    except ImportError:  # pragma: no cover - the monitor package ships with roomtruth
        from scipy.signal import oaconvolve

        y = oaconvolve(x.astype(np.float64), corr.fir[np.newaxis, :], mode="full", axes=-1)
        return y[:, L: L + n], "scipy oaconvolve", 0
    from calib.profile import CalibrationProfile, SpeakerCorrection

    speakers = tuple(SpeakerCorrection(name=f"ch{c + 1}", output_channel=c, fir={corr.fs: corr.fir})
                     for c in range(n_ch))
    profile = CalibrationProfile(name=f"mix-correction:{corr.studio}", speakers=speakers, design_fs=corr.fs,
                                 provenance={"studio": corr.studio, "phase": corr.phase})
    block, chunk = 1024, 32768
    engine = Engine(fs=corr.fs, n_channels=n_ch, block=block, max_block=chunk, threads=min(2, n_ch),
                    limiter={"ceiling_dbfs": 0.0, "jump_duck_db": 0.0}, bypass=False, max_align_s=0.0)
    engine.load(profile, "A")
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    parts = list(render_chunks(engine, (x32[:, i:i + chunk] for i in range(0, n, chunk)), n + L))
    y = np.concatenate(parts, axis=1)[:, L: L + n].astype(np.float64)
    return y, "monitor engine (offline)", int(engine.limiter.limited_samples + engine.limiter.clipped_samples)


@mix_app.command("translate")
def translate_cmd(
    file: Path = typer.Argument(..., help="Mix to check."),
    cassette: str = typer.Option("I", "--cassette", help="Cassette type for the duplication check: I or II."),
    azimuth_us: float = typer.Option(20.0, "--azimuth-us", help="Azimuth error to simulate (inter-track delay, µs)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """How the mix translates to laptop, phone, earbuds, car and club, and to cassette (what to change before duplication)."""
    from calib.audio_io import to_json
    from calib.errors import SignalError
    from mixes.analysis import analyze_array, read_mix
    from mixes.cassette import cassette_check
    from mixes.translation import translate

    x, fs = read_mix(file)
    a = analyze_array(x, fs=fs, name=str(file), checks=False)
    if a.ltas is None:
        raise SignalError(f"{file} is silent: nothing to translate")
    from mixes.translation import mono_ltas_db

    systems = translate(a.ltas, fs=fs, mono=mono_ltas_db(x, fs=fs, spec=a.ltas))
    cas = cassette_check(x, fs=fs, tape_type=cassette, azimuth_tau_s=azimuth_us * 1e-6)
    if as_json:
        typer.echo(to_json({"file": str(file), "systems": [t.to_dict() for t in systems], "cassette": cas.to_dict()}))
        return
    from rich.table import Table

    con = _console()
    con.rule(f"[bold]{_e(file)}[/] on everyday systems")
    t = Table()
    t.add_column("System")
    from mixes.translation import REGIONS

    for name, _, _ in REGIONS:
        t.add_column(name, justify="right")
    t.add_column("Loudness", justify="right")
    for r in systems:
        t.add_row(r.system, *[_fmt(r.region_change_db[n], "+.1f") for n, _, _ in REGIONS],
                  _fmt(r.loudness_change_db, "+.1f", "dB"))
    con.print(t)
    for r in systems:
        for n in r.notes:
            con.print(f"[bold]{r.system}:[/] {n}")
    con.rule(f"[bold]Cassette: {cas.tape}[/] (playback EQ {cas.playback_eq})")
    for adv in cas.advice:
        con.print(f"• {adv}")


def register(app: typer.Typer) -> None:
    """Add the ``mix`` sub-app."""
    from roomtruth import cmd_mix_patterns  # noqa: F401 - registers 'mix patterns' on mix_app

    app.add_typer(mix_app, name="mix")

