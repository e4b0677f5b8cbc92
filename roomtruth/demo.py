"""``roomtruth demo``: the whole pipeline on the built-in simulated room, ending with the
room's HTML report.

Steps (each timed and shown with rich):

1. a room workspace in DIR (``room.toml``, ``measurements/``, ``profiles/``, ``reports/``);
2. measure L and R through the simulated room (default sweep, loopback latency removed);
3. analyze the room (modes, reflections, decay, noise, compliance);
4. design the correction (PEQ + alignment) into a CalibrationProfile, saved in the workspace;
5. render a test impulse through the monitor engine offline → the corrected response;
6. verify the room against the profile (three simulated weekly checks, the last one with a
   0.8 dB level drop on R), each stored in ``history.sqlite``;
7. analyze three synthesized mixes from a studio whose room has a bass build-up, and learn
   the studio's room fingerprint from them;
8. write ``DIR/report.html``.

A stage whose module is not available (or fails) is reported as "not available: <why>" in
its report section and the demo goes on; the summary at the end lists them.  Everything is
built in a temporary sibling folder and moved into DIR at the end, so DIR never holds a
half-finished demo.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from calib.errors import ConfigError, RoomtruthError

__all__ = ["run_demo", "DemoResult", "DEMO_MARKER", "synth_mix"]

DEMO_MARKER = ".roomtruth-demo"
FS = 48_000
STUDIO = "Studio Nord"
#: The demo studio's room: a bass build-up around 63 Hz and a presence dip around 3.15 kHz
#: (its mixes come out thin at 63 Hz and forward at 3.15 kHz).  Peaking (freq_hz, gain_db,
#: q), applied with the opposite sign to the synthesized mixes.
STUDIO_ROOM_PEQ = ((63.0, 6.0, 1.4), (3150.0, -3.0, 1.4))


class _Unavailable(Exception):
    """A stage cannot run (its module is missing or failed)."""


@dataclass
class DemoResult:
    out_dir: Path
    report_path: Path
    timings_s: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    n_figures: int = 0
    findings: list[Any] = field(default_factory=list)


def _module(name: str, *attrs: str) -> Any:
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:
        raise _Unavailable(f"{name} is not available yet ({exc})") from None
    for a in attrs:
        if not hasattr(mod, a):
            raise _Unavailable(f"{name}.{a} is not available yet")
    return mod


# ---------------------------------------------------------------------------- stages
def _workspace(tmp: Path) -> dict[str, Any]:
    """``roomtruth.workspace.Workspace.init`` (room.toml of the built-in room), or the bare
    folder layout when the workspace module is not there."""
    from hardware.simulated import DEFAULT_ROOM_FACTS as facts

    info: dict[str, Any] = {"dims_m": facts.dims_m, "mic_m": facts.mic_m, "speakers_m": dict(facts.speakers_m)}
    try:
        ws_mod = _module("roomtruth.workspace", "Workspace")
        info["workspace"] = ws_mod.Workspace.init(tmp, name="roomtruth demo room")
    except _Unavailable as exc:
        info["workspace_note"] = str(exc)
    for sub in ("measurements", "profiles", "reports", "mixes"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    return info


def _measure(*, seed: int, noise_db: float = -80.0, ir: Any = None, repeats: int = 1,
             with_measurement: bool = False) -> Any:
    """L and R through the simulated room → ImpulseResponse (and the Measurement when
    ``with_measurement``), through ``hardware.session`` when present."""
    from calib.types import SweepSpec
    from hardware.simulated import SimulatedRoom

    room = SimulatedRoom(ir, noise_db=noise_db, seed=seed)
    sweep = SweepSpec(fs=FS)
    try:
        session = _module("hardware.session", "measure")
    except _Unavailable:
        session = None
    if session is not None:
        meas, imp = session.measure(room, sweep=sweep, speakers=[("L", 0), ("R", 1)], mic_input=0,
                                    loopback_input=1, repeats=repeats)
        return (meas, imp) if with_measurement else imp
    # hardware.session not there yet: the same capture done directly (one sweep per speaker,
    # loopback reference), deconvolved by calib.deconvolve
    from calib.deconvolve import deconvolve
    from calib.sweep import build_stimulus
    from calib.types import Measurement

    stim = build_stimulus(sweep).astype(np.float32)[np.newaxis, :]
    mic, ref = [], []
    for out in (0, 1):
        cap = room.play_record(stim, fs=FS, output_channels=(out,), input_channels=(0, 1))
        mic.append(cap.recording[0])
        ref.append(cap.recording[1])
    m = Measurement(np.vstack(mic), FS, sweep, ("L", "R"), reference=np.vstack(ref),
                    meta={"backend": room.name, "note": "captured directly (hardware.session not available)"})
    return (m, deconvolve(m)) if with_measurement else deconvolve(m)


def _analyze(ir: Any, info: dict[str, Any], noise: Any) -> Any:
    room = _module("calib.analysis.room", "analyze_room")
    return room.analyze_room(ir, dims_m=info["dims_m"], source_m=dict(info["speakers_m"]), mic_m=info["mic_m"],
                             noise_recording=noise)


def _correct(ir: Any, tmp: Path) -> tuple[Any, Any]:
    design = _module("calib.correction.design", "design_correction", "CorrectionSettings")
    profile, report = design.design_correction([ir], design.CorrectionSettings(name="demo"),
                                               seat_names=["main"], sources=["demo baseline"])
    profile.save(tmp / "profiles" / "demo")
    return profile, report


def _correction_irs(profile: Any, n_samples: int, *, fs: int = FS) -> np.ndarray:
    """The correction chain's impulse response per speaker (row order = profile speakers),
    rendered offline by the monitor engine (``monitor.engine.Engine`` + ``render_chunks``).

    The test impulse is −20 dBFS (the engine's limiter guards −1 dBFS; the correction's
    boosts are capped well below 19 dB) and the output is scaled back by 20 dB."""
    eng = _module("monitor.engine", "Engine", "render_chunks")
    outs = [s.output_channel for s in profile.speakers]
    n_ch = max(outs) + 1
    block = 1024
    engine = eng.Engine(fs=fs, n_channels=n_ch, block=block, max_block=block * 16)
    engine.load(profile, "A")
    amp = 0.1
    x = np.zeros((n_ch, n_samples), dtype=np.float32)
    x[:, 0] = amp
    chunk = engine.max_block
    chunks = (x[:, i:i + chunk] for i in range(0, n_samples, chunk))
    y = np.concatenate(list(eng.render_chunks(engine, chunks, n_samples)), axis=1).astype(np.float64) / amp
    status = engine.status()
    if status["limiter"]["limited_samples"] or status["limiter"]["clipped_samples"]:
        raise _Unavailable("the engine's limiter acted on the −20 dBFS test impulse; the rendered response "
                           "would not be the correction's")
    return y[outs]


def _corrected_ir(ir: Any, profile: Any) -> Any:
    from scipy.signal import fftconvolve

    from calib.types import ImpulseResponse

    corr = _correction_irs(profile, ir.fs // 2, fs=ir.fs)
    if corr.shape[0] != ir.n_channels:
        raise _Unavailable(f"the engine rendered {corr.shape[0]} channels for {ir.n_channels} speakers")
    y = np.vstack([fftconvolve(ir.samples[i], corr[i])[: ir.n_samples] for i in range(ir.n_channels)])
    delays = [profile.speaker(n).delay_s * ir.fs for n in ir.channel_names]
    arrivals = tuple(a + d for a, d in zip(ir.arrival_samples, delays)) if ir.arrival_samples else ()
    return ImpulseResponse(y, ir.fs, ir.channel_names, onset_samples=ir.onset_samples, arrival_samples=arrivals,
                           source_id="demo: baseline through the monitor engine")


def _verify(profile: Any, tmp: Path, baseline: Any) -> tuple[Any, dict[str, list[Any]], list[Any]]:
    """Three simulated weekly verifications; the third with R 0.8 dB quieter."""
    from datetime import datetime, timedelta, timezone

    from calib.types import ImpulseResponse
    from hardware.simulated import default_room

    ver = _module("monitor.verify", "verify_profile")
    hist = _module("monitor.history", "History")
    truth = default_room(FS)
    drifted = ImpulseResponse(truth.samples * np.array([[1.0], [10 ** (-0.8 / 20)]]), FS, truth.channel_names,
                              source_id="demo: R 0.8 dB quieter")
    start = datetime.now(timezone.utc) - timedelta(days=14)
    result = None
    with hist.History(tmp / "history.sqlite") as h:
        for week, room_ir in enumerate((None, None, drifted)):
            # one sweep per check keeps the demo inside its time budget; the verdicts then use
            # the configured uncertainty floors instead of a measured repeatability
            repeats = [_measure(seed=100 + 10 * week, ir=room_ir)]
            stamp = (start + timedelta(days=7 * week)).strftime("%Y-%m-%dT%H:%M:%SZ")
            result = ver.verify_profile(profile, repeats, time_utc=stamp, measurement_id=f"demo-week{week + 1}")
            h.add_result(result, report_path="report.html")
        series: dict[str, list[Any]] = {}
        for name in ("level", "arrival"):
            for ch in ("L", "R"):
                pts = h.series(name, channel=ch)
                if pts:
                    series[f"{name} {ch}"] = pts
        rows = h.verifications(limit=10)
    return result, series, rows


def synth_mix(seed: int, *, duration_s: float = 8.0, fs: int = FS) -> np.ndarray:
    """A synthesized stereo "mix" (2, n) from a studio whose room has :data:`STUDIO_ROOM_PEQ`.

    Random-phase noise whose third-octave spectrum follows the built-in broad LTAS target of
    ``mixes`` (band power ∝ PSD·f, so PSD = 10^(L/10)/f), with a smooth per-mix deviation of
    up to ±1 dB (songs differ), a beat envelope, then the inverse of the studio's room — what
    an engineer balancing by ear in that room delivers: 6 dB too little around 63 Hz and 3 dB
    too much around 3.15 kHz.  Peak-normalised to −1 dBFS."""
    from scipy import signal

    from calib.profile import Biquad

    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    fpos = np.maximum(f, 10.0)
    try:
        from mixes.ltas import builtin_target

        grid = np.geomspace(20.0, 20_000.0, 31)
        tgt = builtin_target(grid)
        level = np.interp(np.log(fpos), np.log(grid), tgt.level_db)
    except ImportError:  # the mixes package is part of the project; this only guards a partial install
        level = -3.0 * np.log2(fpos / 1000.0)
    wobble = 1.0 * np.sin(2 * np.pi * np.log2(fpos / 20.0) / rng.uniform(3.0, 6.0) + rng.uniform(0, 2 * np.pi))
    sos = np.vstack([Biquad("peaking", fc, -g, q).sos(fs=fs) for fc, g, q in STUDIO_ROOM_PEQ])
    _, h = signal.sosfreqz(sos, worN=f, fs=fs)
    mag = np.sqrt(10 ** ((level + wobble) / 10.0) / fpos) * np.abs(h)
    mag[(f < 20.0) | (f > 20_000.0)] = 0.0
    chans = []
    for _ in range(2):
        spec = mag * np.exp(2j * np.pi * rng.random(f.size))
        chans.append(np.fft.irfft(spec, n))
    common = chans[0]
    x = np.vstack([common + 0.3 * chans[1], common - 0.3 * chans[1]])
    t = np.arange(n) / fs
    beat = 60.0 / (96 + 8 * seed)
    x *= 0.75 + 0.25 * np.cos(2 * np.pi * t / beat) ** 2  # gentle pulse: programme-like loudness
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    x *= fade
    return x * (10 ** (-1 / 20) / np.max(np.abs(x)))


def _analyze_mix(path: Path) -> Any:
    """One mix: ``mixes.analysis.analyze_file`` (what ``roomtruth mix analyze`` reports), or,
    in a tree without it, loudness, true peak, render checks and the LTAS from the mixes
    package's own meters, as a :class:`mixes.types.MixAnalysis`."""
    try:
        return _module("mixes.analysis", "analyze_file").analyze_file(path)
    except _Unavailable:
        pass
    from calib.audio_io import read_audio
    from mixes.loudness import loudness
    from mixes.ltas import ltas
    from mixes.renderchecks import render_checks
    from mixes.truepeak import sample_peak_dbfs, true_peak
    from mixes.types import MixAnalysis

    x, fs = read_audio(path)
    loud = loudness(x, fs=fs)
    tp = true_peak(x, fs=fs)
    rc = render_checks(x, fs=fs)
    integrated = float(loud.integrated_lufs)
    return MixAnalysis(
        file=path.name, fs=fs, n_channels=x.shape[0], duration_s=x.shape[1] / fs, integrated_lufs=integrated,
        momentary_max_lufs=float(getattr(loud, "momentary_max_lufs", math.nan)),
        short_term_max_lufs=float(getattr(loud, "short_term_max_lufs", math.nan)),
        lra_lu=float(getattr(loud, "lra_lu", math.nan)), true_peak_dbtp=float(tp.true_peak_dbtp),
        true_peak_per_channel_dbtp=tuple(float(v) for v in getattr(tp, "per_channel_dbtp", ())),
        sample_peak_dbfs=float(sample_peak_dbfs(x)), oversample=int(getattr(tp, "oversample", 0)),
        dc_offset_dbfs=tuple(getattr(rc, "dc_offset_dbfs", ())), clicks=tuple(getattr(rc, "clicks", ())),
        dropouts=tuple(getattr(rc, "dropouts", ())), overs=tuple(getattr(rc, "overs", ())),
        ltas=ltas(x, fs=fs, integrated_lufs=integrated))


def _mixes(tmp: Path) -> tuple[list[Any], Any, Any]:
    """Write three mixes, analyze them, learn the studio's fingerprint against the built-in
    broad target; returns (analyses, fingerprint, per-mix deviation n_mixes × n_bands)."""
    from calib.audio_io import write_wav_atomic

    paths = []
    for i in range(3):
        p = tmp / "mixes" / f"studio-nord-track{i + 1}.wav"
        write_wav_atomic(p, synth_mix(i + 1), fs=FS, subtype="PCM_24")
        paths.append(p)
    analyses = [_analyze_mix(p) for p in paths]
    fpm = _module("mixes.fingerprint", "fingerprint_from_mixes", "save_fingerprint")
    lt = _module("mixes.ltas", "builtin_target", "compare")
    spectra = [a.ltas for a in analyses]
    ref = lt.builtin_target(spectra[0].freqs_hz)
    fingerprint = fpm.fingerprint_from_mixes(STUDIO.replace(" ", "-"), spectra, ref,
                                             files=tuple(p.name for p in paths))
    fpm.save_fingerprint(fingerprint, tmp)
    per_mix = np.vstack([np.asarray(lt.compare(s, ref)["deviation_db"], dtype=np.float64) for s in spectra])
    return analyses, fingerprint, per_mix


# ---------------------------------------------------------------------------- driver
def run_demo(out_dir: str | Path, *, console: Any = None, pdf: bool = False) -> DemoResult:
    """Run the demo into ``out_dir``; returns what was made and what was not available."""
    from calib.audio_io import atomic_directory
    from reports.build import build_document
    from reports.document import ReportInputs
    from reports.html import write_html

    dest = Path(out_dir)
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest} exists and is not a folder; choose a new folder for the demo")
    if dest.exists() and any(dest.iterdir()) and not (dest / DEMO_MARKER).exists():
        raise ConfigError(f"{dest} exists and holds other files; choose a new or empty folder for the demo "
                          "(an earlier demo folder is replaced)")
    say: Callable[[str], None] = (lambda m: console.print(m)) if console is not None else (lambda m: None)
    timings: dict[str, float] = {}
    notes: dict[str, str] = {}
    t_all = time.perf_counter()

    def stage(key: str, label: str, fn: Callable[[], Any], section: str | None = None) -> Any:
        t0 = time.perf_counter()
        try:
            value = fn()
        except _Unavailable as exc:
            notes[section or key] = f"not available: {exc}"
            say(f"[yellow]–[/] {label}: [yellow]not available[/] ({exc})")
            return None
        except RoomtruthError as exc:
            notes[section or key] = f"not available: {label} failed: {exc}"
            say(f"[red]✗[/] {label}: {exc}")
            return None
        except Exception as exc:  # noqa: BLE001 - another stage's bug must not sink the demo; it is shown
            notes[section or key] = f"not available: {label} failed with an internal error ({type(exc).__name__}: {exc})"
            say(f"[red]✗[/] {label}: internal error {type(exc).__name__}: {exc}")
            return None
        timings[key] = time.perf_counter() - t0
        say(f"[green]✓[/] {label} [dim]({timings[key]:.1f} s)[/]")
        return value

    with atomic_directory(dest, replace=True) as tmp:
        (tmp / DEMO_MARKER).write_text("made by roomtruth demo; `roomtruth demo` may replace this folder\n",
                                       encoding="utf-8")
        info = stage("workspace", "workspace created", lambda: _workspace(tmp)) or {}
        if not info:
            raise RoomtruthError("the demo could not create its workspace; see the message above")
        got = stage("measure", "measured L and R through the simulated room",
                    lambda: _measure(seed=1, with_measurement=True), section="measurements")
        if got is None:
            raise RoomtruthError("the demo could not measure the simulated room; see the messages above")
        meas, ir = got
        # the silent pre-roll before the first sweep (minus a margin for the latency) is the
        # background-noise recording
        noise = np.asarray(meas.recording[0, : int(0.8 * meas.sweep.preroll_s * FS)])
        stage("save", "saved the baseline measurement in the workspace", lambda: _save_measurement(ir, tmp, info, meas))
        analysis = stage("analyze", "analyzed the room", lambda: _analyze(ir, info, noise), section="compliance")
        corr = stage("correct", "designed the correction", lambda: _correct(ir, tmp), section="correction")
        profile, creport = corr if corr else (None, None)
        corrected = None
        if profile is not None:
            corrected = stage("engine", "rendered the correction through the monitor engine",
                              lambda: _corrected_ir(ir, profile), section="engine")
        verification, series, rows = None, {}, []
        if profile is not None:
            v = stage("verify", "verified the room three times (simulated weeks; R drifts −0.8 dB)",
                      lambda: _verify(profile, tmp, ir), section="verification")
            if v:
                verification, series, rows = v
        else:
            notes["verification"] = "not available: no correction profile to verify against"
        mixes_out = stage("mixes", "analyzed three mixes from Studio Nord", lambda: _mixes(tmp), section="mixes")
        mixes, fingerprint, per_mix = [], None, None
        if mixes_out:
            mixes, fingerprint, per_mix = mixes_out
        if "engine" in notes:
            notes["correction"] = notes.pop("engine").replace("not available:", "corrected response not available:")
        inputs = ReportInputs("roomtruth demo room (simulated)", ir=ir, analysis=analysis, dims_m=info["dims_m"],
                              mic_m=info["mic_m"], profile=profile, corrected_ir=corrected,
                              verification=verification, history_series=series, history_rows=rows, mixes=mixes,
                              fingerprint=fingerprint, notes=notes,
                              correction_report=creport,
                              meta={"source": "roomtruth demo (simulated room, known truth in "
                                              "hardware.simulated.DEFAULT_ROOM_FACTS)"})
        if per_mix is not None:
            inputs.per_mix_excess_db = per_mix
        t0 = time.perf_counter()
        doc = build_document(inputs)
        report = tmp / "report.html"
        write_html(doc, report)
        if pdf:
            from reports.pdf import write_pdf

            write_pdf(doc, report, tmp / "report.pdf")
        timings["report"] = time.perf_counter() - t0
        say(f"[green]✓[/] wrote the report: {len(doc.figures)} figures, {len(doc.findings)} findings "
            f"[dim]({timings['report']:.1f} s)[/]")
    timings["total"] = time.perf_counter() - t_all
    return DemoResult(dest, dest / "report.html", timings, {**notes, **doc.unavailable}, len(doc.figures),
                      doc.findings)


def _save_measurement(ir: Any, tmp: Path, info: dict[str, Any], meas: Any = None) -> None:
    """The baseline measurement folder, in the workspace format (``measurement.json`` +
    ``<ch>.ir.wav``), indexed in the history."""
    ws = info.get("workspace") if info else None
    try:
        wsm = _module("roomtruth.workspace", "write_measurement_dir", "index_measurement")
    except _Unavailable:
        wsm = None
    if ws is not None and wsm is not None:
        folder = wsm.write_measurement_dir(ws.new_measurement_dir("baseline"), ir, measurement=meas,
                                           backend="simulated room", label="baseline")
        wsm.index_measurement(ws, folder, ir, label="baseline")
        return
    from calib.audio_io import atomic_write_json, write_wav_atomic

    d = tmp / "measurements" / "demo-baseline"
    d.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(ir.channel_names):
        write_wav_atomic(d / f"{n}.ir.wav", ir.samples[i], fs=ir.fs)
    atomic_write_json(d / "measurement.json", {
        "fs": ir.fs, "channel_names": list(ir.channel_names), "onset_samples": ir.onset_samples,
        "arrival_samples": list(ir.arrival_samples), "latency_samples": ir.latency_samples,
        "snr_db": list(ir.snr_db), "source": "roomtruth demo (simulated room)"})
