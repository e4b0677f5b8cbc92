"""Batch analysis: a folder of mixes (an album) in parallel over the cores, as JSON or CSV.

Files are analysed in a process pool (one file per task, ``jobs`` workers); results come back
in the order given.  Each worker analyses its file with ``cores // jobs`` threads (at least
one): with a worker per core, each file runs on one thread (the two-thread pipeline of
:func:`mixes.analysis.analyze_file` in every worker put four busy threads on two cores).
On Linux the workers are forked from this process (they start with everything it has imported:
no second interpreter importing numpy, scipy and the analysis, which cost ~1.2 s of CPU before
the first file could start); each worker opens its own stdout/stderr objects, so a lock held
by another thread of the parent at the fork (a progress bar writing) cannot block it.
Elsewhere a fork server (``PRELOAD``) as before.
A single file runs in-process (no pool start-up cost).  ``progress(done, total, name)`` is
called after each file, for a progress bar.

One damaged file does not stop an album: :func:`analyze_each` analyses every file and returns
the failures (file, one-line reason) beside the good results; :func:`analyze_many` is the
strict form that raises the first failure (in input order) after trying them all.  Only
roomtruth's own errors (:class:`calib.errors.RoomtruthError`: unreadable, truncated, NaN, too
short, ...) count as a failed file; anything else (a crashed worker, an internal error) still
stops the batch.
"""

from __future__ import annotations

import csv
import io
import multiprocessing as mp
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from calib.errors import RoomtruthError, SignalError
from mixes.analysis import analyze_file, broken_link
from mixes.types import MixAnalysis

__all__ = ["AUDIO_SUFFIXES", "expand_inputs", "analyze_many", "analyze_each", "FileFailure", "to_csv",
           "CSV_COLUMNS", "mix_dict"]

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".w64", ".rf64", ".caf")

CSV_COLUMNS = (
    "file", "duration_s", "integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "lra_lu",
    "true_peak_dbtp", "sample_peak_dbfs", "n_clicks", "n_dropouts", "n_overs", "first_click_s",
    "spotify_gain_db", "apple_music_gain_db", "youtube_gain_db", "ebu_r128_gain_db",
    "n_artifacts", "bass_db", "vocal_db", "plr_db", "lr_balance_db", "stereo_problems", "error",
)


@dataclass(frozen=True)
class FileFailure:
    """A file of a batch that could not be analysed.

    Attributes
    ----------
    file : str
        The path as given.
    error : str
        One line saying what is wrong with it (names the file).
    """

    file: str
    error: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "error": self.error}


def _failure(path: Path, exc: BaseException) -> FileFailure:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if str(path) not in msg:
        msg = f"{path}: {msg}"
    return FileFailure(str(path), msg)


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; a folder contributes its audio files (sorted by name, not recursive).

    Raises
    ------
    SignalError
        A path that does not exist, or a folder with no audio files.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            try:
                found = sorted(q for q in p.iterdir() if _album_entry(q))
            except OSError as exc:
                raise SignalError(f"{p}: the folder cannot be listed ({exc.strerror or exc})") from None
            if not found:
                raise SignalError(f"{p} is a folder without audio files ({', '.join(AUDIO_SUFFIXES)})")
            out.extend(found)
        elif p.exists():
            out.append(p)
        elif p.is_symlink():
            raise SignalError(broken_link(p))
        else:
            raise SignalError(f"{p}: no such file or folder")
    if not out:
        raise SignalError("no mixes given; pass audio files or a folder of them")
    return out


def _album_entry(q: Path) -> bool:
    """Whether a folder entry is one of the album's tracks.

    Hidden files are not (``._01.wav``: the AppleDouble resource fork a Mac leaves beside
    every file it copies to a FAT/exFAT disk or a network share, 4 KB of metadata with the
    track's name; each used to fail the album as "not a readable audio file").  A broken or
    looping symbolic link, or an entry that cannot be examined, named like audio is one, and
    fails with its reason instead of being left out without a word.
    """
    if q.name.startswith(".") or q.suffix.lower() not in AUDIO_SUFFIXES:
        return False
    try:
        return not q.is_dir()
    except OSError:
        return True


# what a worker needs, imported by the fork server before it forks the workers; "__main__":
# the program's main script too (a worker would import it again, e.g. the whole CLI)
PRELOAD = ("__main__", "mixes.batch", "mixes.balance", "mixes.dynamics")


def _one(path: str, kwargs: dict) -> MixAnalysis:
    return analyze_file(path, **kwargs)


def _start_method() -> str:
    """``fork`` where it is safe with this process's libraries (Linux), else ``forkserver``
    (or spawn where that is all there is).  ``ROOMTRUTH_POOL_START`` overrides (benchmarks)."""
    methods = mp.get_all_start_methods()
    want = os.environ.get("ROOMTRUTH_POOL_START", "")
    if want in methods:
        return want
    if sys.platform.startswith("linux") and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def threads_per_file(jobs: int, cores: int | None = None) -> int:
    """Analysis threads of each file when ``jobs`` files run at once: the cores shared out,
    at least one, at most two (the pipeline's two threads)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(2, cores // max(jobs, 1)))


def analyze_many(paths: list[Path], *, jobs: int | None = None,
                 progress: Callable[[int, int, str], None] | None = None, **kwargs) -> list[MixAnalysis]:
    """Analyse many files, all or nothing; results in input order.

    Parameters
    ----------
    paths : list of Path
    jobs : int, optional
        Worker processes (default: the number of cores, at most the number of files).
    progress : callable, optional
        ``progress(done, total, file_name)`` after each file.
    **kwargs
        Passed to :func:`mixes.analysis.analyze_file`.

    Raises
    ------
    SignalError
        The first file (in input order) that cannot be analysed, named in the message.
    """
    results, failed = analyze_each(paths, jobs=jobs, progress=progress, **kwargs)
    if failed:
        raise SignalError(failed[0].error)
    return results


def analyze_each(paths: list[Path], *, jobs: int | None = None,
                 progress: Callable[[int, int, str], None] | None = None,
                 **kwargs) -> tuple[list[MixAnalysis], list[FileFailure]]:
    """Analyse every file; a file that cannot be analysed is reported, not fatal.

    Parameters
    ----------
    paths : list of Path
    jobs : int, optional
        Worker processes (default: the number of cores, at most the number of files).
    progress : callable, optional
        ``progress(done, total, file_name)`` after each file (failed ones included).
    **kwargs
        Passed to :func:`mixes.analysis.analyze_file`.

    Returns
    -------
    results : list of MixAnalysis
        The files that were analysed, in input order.
    failed : list of FileFailure
        The files that raised a :class:`calib.errors.RoomtruthError`, in input order.

    Raises
    ------
    Exception
        Anything that is not a :class:`~calib.errors.RoomtruthError` (a crashed worker,
        an internal error, Ctrl-C) stops the batch as before.
    """
    n = len(paths)
    jobs = max(1, min(jobs or os.cpu_count() or 1, n))
    kwargs.setdefault("threads", threads_per_file(jobs))
    results: list[MixAnalysis | FileFailure | None] = [None] * n
    if jobs == 1:
        for i, p in enumerate(paths):
            try:
                results[i] = _one(str(p), kwargs)
            except RoomtruthError as exc:
                results[i] = _failure(p, exc)
            if progress:
                progress(i + 1, n, p.name)
        return _split(results)
    method = _start_method()
    ctx = mp.get_context(method)
    if method == "forkserver":
        # the fork server imports the analysis once and every worker is forked from it with
        # those modules loaded (each worker importing numpy, scipy and mixes itself costs ~1 s)
        ctx.set_forkserver_preload(list(PRELOAD))
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_start,
                               initargs=(method == "fork",))
    # Ctrl-C reaches the whole foreground process group: the workers (and the fork server,
    # which passes an ignored SIGINT on to them: SIG_IGN survives fork and exec) must leave it
    # to this process, or each prints its own KeyboardInterrupt traceback
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        futs = {pool.submit(_one, str(p), kwargs): i for i, p in enumerate(paths)}
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    done = 0
    try:
        for fut in as_completed(futs):
            i = futs[fut]
            try:
                results[i] = fut.result()
            except RoomtruthError as exc:       # this file is bad; the others go on
                results[i] = _failure(paths[i], exc)
            done += 1
            if progress:
                progress(done, n, paths[i].name)
    except BaseException:
        # stop now: pending files are cancelled, running ones are not waited for
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        raise
    pool.shutdown(wait=True)
    return _split(results)


def _split(results: list) -> tuple[list[MixAnalysis], list[FileFailure]]:
    good = [r for r in results if isinstance(r, MixAnalysis)]
    bad = [r for r in results if isinstance(r, FileFailure)]
    return good, bad


def _worker_start(forked: bool) -> None:
    """Worker initializer: Ctrl-C is handled by the parent alone; a forked worker gets its
    own stdout/stderr objects (their locks may have been held by another thread of the parent
    at the fork)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if forked:
        for name, fd in (("stdout", 1), ("stderr", 2)):
            try:
                setattr(sys, name, open(fd, "w", closefd=False, errors="backslashreplace"))
            except OSError:
                pass


def _gain(a: MixAnalysis, startswith: str) -> float | None:
    for p in a.platforms:
        if p.name.lower().startswith(startswith):
            return None if p.target_lufs is None else round(p.gain_db, 2)
    return None


def to_csv(analyses: list[MixAnalysis], failed: Iterable[FileFailure] = ()) -> str:
    """One row per file with the headline figures (empty cell for none/-inf).

    The last column, ``error``, is empty for analysed files; each file of ``failed`` follows
    as a row with its name, empty figures and the reason in ``error``.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def num(v, nd=2):
        return "" if v is None or v != v or v in (float("inf"), float("-inf")) else round(float(v), nd)

    for a in analyses:
        bal, dyn, st = a.balance, a.dynamics, a.stereo
        w.writerow([
            a.file, num(a.duration_s, 3), num(a.integrated_lufs), num(a.momentary_max_lufs),
            num(a.short_term_max_lufs), num(a.lra_lu), num(a.true_peak_dbtp), num(a.sample_peak_dbfs),
            len(a.clicks), len(a.dropouts), len(a.overs), num(a.clicks[0].time_s, 4) if a.clicks else "",
            num(_gain(a, "spotify (normal)")), num(_gain(a, "apple")), num(_gain(a, "youtube")),
            num(_gain(a, "ebu")), len(a.artifacts),
            num(bal.bass_db) if bal is not None else "",
            num(bal.vocal_db) if bal is not None and bal.vocal_found else "",
            num(getattr(dyn, "plr_db", None)) if dyn is not None else "",
            num(st.lr_balance_db) if st is not None else "",
            " ".join(sorted({p.kind for p in st.problems})) if st is not None else "", "",
        ])
    for f in failed:
        w.writerow([f.file] + [""] * (len(CSV_COLUMNS) - 2) + [f.error])
    return buf.getvalue()


def mix_dict(result: MixAnalysis, refs: list[MixAnalysis] = (), *, ltas_vs_reference: dict | None = None) -> dict:
    """One entry of ``mix analyze --json``'s ``"mixes"``: the analysis with its comparisons.

    ``balance`` gets ``bass_vs_reference_db`` / ``vocal_vs_reference_db`` against ``refs``
    (:func:`mixes.balance.compare_balance`; null without references); ``dynamics`` gets
    :func:`mixes.dynamics.compare_dynamics`'s figures merged in (e.g. ``plr_vs_reference_db``).
    """
    d = result.to_dict()
    d["ltas_vs_reference"] = ltas_vs_reference
    ref_bal = [r.balance for r in refs if r.balance is not None]
    if result.balance is not None and ref_bal:
        # a same-song reference is compared by the null test (mixes.balance_null; the audio is
        # read again only when the frame records say it may be the same song)
        from mixes.analysis import read_mix
        from mixes.balance_null_refs import compare_balance_null

        rb = [r for r in refs if r.balance is not None]
        bass_vs, vocal_vs, by_null, null_notes = compare_balance_null(
            result.balance, ref_bal, lambda: read_mix(result.file), [lambda p=r.file: read_mix(p) for r in rb],
            [Path(r.file).name for r in rb])
        d["balance"] = result.balance.to_dict(bass_vs_reference_db=bass_vs, vocal_vs_reference_db=vocal_vs)
        if by_null:
            d["balance"]["vocal_found"] = True
            d["balance"]["notes"] = [n for n in d["balance"]["notes"] if not n.startswith(("no vocal found", "the vocal was found through"))]
        d["balance"]["notes"] += null_notes
    ref_dyn = [r.dynamics for r in refs if r.dynamics is not None]
    if result.dynamics is not None and d.get("dynamics") is not None:
        cmp = None
        if ref_dyn:
            from mixes.dynamics import compare_dynamics

            cmp = compare_dynamics(result.dynamics, ref_dyn)
        if hasattr(cmp, "to_dict"):
            cmp = cmp.to_dict()
        if isinstance(cmp, dict):
            d["dynamics"].update(cmp)
        elif cmp is not None:                         # a bare PLR difference (dB)
            d["dynamics"]["plr_vs_reference_db"] = cmp
        d["dynamics"].setdefault("plr_vs_reference_db", None)
    return d
