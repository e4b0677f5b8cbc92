"""``roomtruth monitor``: the correction engine on files (render), live (run) and its benchmark.

Only typer and the standard library are imported here at module level; numpy, scipy and the
engine are imported inside the commands so ``roomtruth --help`` stays instant.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator, List, Optional

import typer

from roomtruth.render_io import Pipeline, atomic_wav

monitor_app = typer.Typer(
    name="monitor",
    help="Run the correction engine: render files, monitor live, benchmark.",
    no_args_is_help=True,
    add_completion=False,
)

RENDER_CHUNK = 65536   # samples per engine call when rendering files (speed; measured 10-15 % under 32768)


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` sub-app."""
    app.add_typer(monitor_app, name="monitor")


# ---------------------------------------------------------------------------- helpers
def _check_block(block: int) -> None:
    from calib.errors import ConfigError

    if not (32 <= block <= 4096):
        raise ConfigError(f"--block {block} is outside 32..4096 samples; use e.g. 256")


def _check_ceiling(ceiling: float) -> None:
    from calib.errors import ConfigError

    if not (-20.0 <= ceiling <= 0.0):
        raise ConfigError(f"--ceiling {ceiling} dBFS is outside -20..0 dBFS; the default is -1")


def fir_profile(path: Path, *, fs: int, n_channels: int):
    """A :class:`CalibrationProfile` running the FIRs of a WAV file on ``n_channels`` channels.

    Each channel of the WAV is one channel's FIR; a mono WAV applies to every channel.

    Raises
    ------
    SignalError
        Unreadable file, a different sample rate, or a channel count that fits neither.
    """
    from calib.audio_io import read_audio
    from calib.errors import SignalError, require_same_fs
    from calib.profile import CalibrationProfile, SpeakerCorrection

    taps, fir_fs = read_audio(path)
    require_same_fs(fs_a=fir_fs, fs_b=fs, what_a=f"FIR {path}", what_b="the input")
    if taps.shape[0] not in (1, n_channels):
        raise SignalError(
            f"FIR {path} has {taps.shape[0]} channels but the input has {n_channels}; "
            "give one FIR per input channel or a mono FIR for all")
    speakers = tuple(
        SpeakerCorrection(name=f"ch{c + 1}", output_channel=c, fir={fs: taps[c if taps.shape[0] > 1 else 0]})
        for c in range(n_channels))
    return CalibrationProfile(name=f"fir:{path.name}", speakers=speakers, design_fs=fs,
                              provenance={"fir_file": str(path)})


def _rate_notes(profile, fs: int) -> list[str]:
    """Speakers whose FIR exists only at other rates: their PEQ runs instead, or (FIR-only
    speakers) their FIR resampled from the nearest design rate (monitor.chain.build_chain)."""
    import math

    notes = []
    for s in profile.speakers:
        if s.fir and fs not in s.fir:
            rates = ", ".join(str(r) for r in sorted(s.fir))
            if s.peq:
                notes.append(f"speaker {s.name} has an FIR only at {rates} Hz; its PEQ runs at {fs} Hz instead")
            else:
                src = min(s.fir, key=lambda r: (abs(math.log(r / fs)), -r))
                notes.append(f"speaker {s.name} has an FIR only at {rates} Hz; its {src} Hz FIR is "
                             f"resampled to {fs} Hz (same response up to {0.45 * min(src, fs) / 1000:.1f} kHz)")
    return notes


def _open_input(path: Path):
    import soundfile as sf

    from calib.errors import SignalError

    if not path.exists():
        raise SignalError(f"{path}: no such file")
    if path.is_dir():
        raise SignalError(f"{path} is a folder, expected an audio file")
    from calib.audio_io import refuse_mpeg_audio

    refuse_mpeg_audio(path)          # libsndfile's MP3 decoder would print to stderr
    from calib.audio_io import refuse_truncated_wav

    refuse_truncated_wav(path)       # the one reader rule: a WAV cut short is refused
    try:
        f = sf.SoundFile(os.fsencode(path))   # bytes: the name need not be UTF-8
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise SignalError(f"{path} is not a readable audio file: {exc}") from None
    if f.frames == 0:
        f.close()
        raise SignalError(f"{path} holds no audio samples")
    return f


def _print_json(obj: Any) -> None:
    from calib.audio_io import to_json

    typer.echo(to_json(obj))


# ---------------------------------------------------------------------------- render
RENDER_FIR_BLOCK = 16384  # offline head partition of the FIR (samples): no latency to keep


def _offline_fir_block(block: int) -> int:
    """Offline FIR head partition: ``block * 2**e``, the largest not above ``RENDER_FIR_BLOCK``."""
    fb = block
    while fb * 2 <= RENDER_FIR_BLOCK:
        fb *= 2
    return fb


@monitor_app.command("render")
def render(
    paths: List[Path] = typer.Argument(..., metavar="[PROFILE_DIR] IN.wav OUT.wav",
                                       help="Profile folder (omit with --fir), input and output files."),
    fir: Optional[Path] = typer.Option(None, "--fir", help="WAV whose channels are per-channel FIRs (mono: all)."),
    block: int = typer.Option(256, "--block", help="Processing block = head partition (samples), 32..4096."),
    ceiling: float = typer.Option(-1.0, "--ceiling", help="Output ceiling, dBFS true peak."),
    threads: int = typer.Option(0, "--threads", help="Worker threads for the FIR (0: one per core, at most 2)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Run the monitor engine on a file (auditioning, correcting mixes).

    The output has the input's length and channels, aligned with it (the engine's latency is
    removed), as 32-bit float WAV, written atomically.  Gain, delay, biquads and the limiter
    run exactly as live at --block; the FIR, having the whole file, runs on 16384-sample
    partitions (equal to the live path within float32 round-off, about -130 dB).
    """
    from calib.errors import ConfigError, SignalError

    _check_block(block)
    _check_ceiling(ceiling)
    if not (0 <= threads <= 64):
        raise ConfigError(f"--threads {threads} is outside 0..64 (0: one per core, at most 2)")
    if fir is None and len(paths) != 3:
        raise ConfigError(f"render takes PROFILE_DIR IN.wav OUT.wav (or --fir FIR.wav IN.wav OUT.wav); got {len(paths)} paths")
    if fir is not None and len(paths) != 2:
        raise ConfigError(f"with --fir, render takes IN.wav OUT.wav; got {len(paths)} paths")
    in_path, out_path = paths[-2], paths[-1]
    if out_path.resolve() == in_path.resolve():
        raise ConfigError(f"OUT.wav {out_path} is the input file; choose another output name")
    t0 = time.perf_counter()
    import numpy as np

    from calib.profile import CalibrationProfile
    from monitor.convolver import plan_partitions
    from monitor.engine import Engine, render_chunks

    src = _open_input(in_path)
    with src:
        fs, n_ch, n = int(src.samplerate), int(src.channels), int(src.frames)
        if fir is not None:
            profile = fir_profile(fir, fs=fs, n_channels=n_ch)
        else:
            profile = CalibrationProfile.load(paths[0])
        from monitor.routing import check_programme, router_for

        router = router_for(profile, fs=fs)   # bass management: programme channels -> speakers
        n_in, n_ch = n_ch, check_programme(router, n_ch, in_path)
        n_threads = threads if threads > 0 else min(2, os.cpu_count() or 1, n_ch)
        fir_block = _offline_fir_block(block)
        chunk = fir_block * max(1, RENDER_CHUNK // fir_block)
        engine = Engine(fs=fs, n_channels=n_ch, block=block, max_block=chunk, threads=n_threads,
                        limiter={"ceiling_dbfs": ceiling, "jump_duck_db": 0.0}, bypass=False,
                        fir_block=fir_block, max_align_s=0.0)   # one profile: nothing to align
        engine.routing = router
        chain = engine.load(profile, "A")
        covered = {s.output_channel for s in profile.speakers}
        passthrough = [c + 1 for c in range(n_ch) if c not in covered]

        def chunks() -> Iterator[Any]:
            while True:
                data = src.read(chunk, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    return
                yield data.T   # render_chunks copies it into its channels-first buffer

        t1 = time.perf_counter()
        with atomic_wav(out_path, fs=fs, channels=n_ch) as dst:
            # file reading and writing overlap the processing (libsndfile releases the GIL)
            with Pipeline(chunks(), dst.write) as pipe:
                for y in render_chunks(engine, pipe.inputs(), n, copy=False):
                    pipe.put(np.ascontiguousarray(y.T))   # frames-first copy for the writer
        t2 = time.perf_counter()
    lim = engine.limiter
    result = {
        "output": str(out_path), "fs": fs, "channels": n_ch, "samples": n, "duration_s": n / fs,
        **({"input_channels": n_in, "routing": {"inputs": list(router.inputs), "outputs": list(router.outputs)}}
           if router is not None else {}),
        "profile": chain.name, "content_hash": chain.content_hash, "block": block,
        # what ran (offline: large partitions, no latency to keep) and what `monitor run`
        # runs at this block; both give the same output within FFT round-off
        "partitions": [[lv.size, lv.n_parts, lv.offset] for lv in chain.levels],
        "realtime_partitions": ([[lv.size, lv.n_parts, lv.offset]
                                 for lv in plan_partitions(chain.n_taps, block=block)] if chain.n_taps else []),
        "fir_block": fir_block,
        "fir_channels": [c + 1 for c, f in enumerate(chain.uses_fir) if f],
        "passthrough_channels": passthrough,
        "ceiling_dbfs": ceiling, "limited_samples": lim.limited_samples, "clipped_samples": lim.clipped_samples,
        "nonfinite_samples": lim.nonfinite_samples, "level_jumps": lim.jumps,
        "notes": _rate_notes(profile, fs),
        "setup_s": t1 - t0, "process_s": t2 - t1, "x_realtime": (n / fs) / max(t2 - t1, 1e-9),
    }
    if as_json:
        _print_json(result)
        return
    from rich.console import Console

    con = Console(stderr=False)
    con.print(f"[bold]{out_path}[/]: {n / fs:.2f} s, {n_ch} ch, {fs} Hz through [cyan]{chain.name}[/] "
              f"(hash {chain.content_hash[:12]}), block {block}, {result['x_realtime']:.0f}x real time",
              soft_wrap=True)        # a long output path is never broken across lines (copy-paste)
    if passthrough:
        con.print(f"[yellow]channels {passthrough} have no speaker in the profile and pass through uncorrected[/]")
    for note in result["notes"]:
        con.print(f"[yellow]{note}[/]")
    if lim.limited_samples or lim.clipped_samples:
        con.print(f"[yellow]limiter at {ceiling} dBFS acted on {lim.limited_samples} samples "
                  f"(hard guard {lim.clipped_samples})[/]")
    if lim.nonfinite_samples:
        con.print(f"[red]{lim.nonfinite_samples} NaN/Inf input samples were replaced by silence[/]")


# ---------------------------------------------------------------------------- run
KEYS_HELP = "keys: [b] bypass on/off  [a] A  [x] toggle A/B  [r] reload profile A  [q] quit"


def _live_table(st: dict | None, elapsed: float):
    from rich.markup import escape
    from rich.table import Table

    if st is None:
        return Table(title="roomtruth monitor: starting")
    es = st["engine"]
    going = es.get("requested")
    going = f" -> {going}" if going and going != es["active"] else ""
    t = Table(title=escape(f"roomtruth monitor  {elapsed:6.1f} s   [{es['active']}{going}]  "
                           f"hash {es['running_hash'][:12]}  "
                           f"FIR delay {es.get('bulk_latency_samples', 0)} smp (all slots)"),
              expand=False, min_width=100)
    t.add_column("channel")
    t.add_column("in peak dBFS", justify="right")
    t.add_column("out peak dBFS", justify="right")
    t.add_column("meter")
    for c, (i, o) in enumerate(zip(st["in_peak_dbfs"], st["out_peak_dbfs"])):
        bar_n = 0 if o == float("-inf") else max(0, min(30, int((o + 60) / 2)))
        t.add_row(str(c + 1), f"{i:6.1f}", f"{o:6.1f}", "[green]" + "|" * bar_n + "[/]")
    lim = es["limiter"]
    t.caption = (f"DSP load {100 * st['dsp_load']:.1f} % (max {100 * st['dsp_load_max']:.0f} %, "
                 f"own CPU {100 * st['cpu_load']:.1f} %)  "
                 f"xruns {st['xruns']} (processing {st['xruns_processing']})  "
                 f"overloads {st['overloads']}  limiter GR {lim['gain_reduction_db']:.1f} dB  "
                 f"jumps {lim['jumps']}  errors {st['errors']}\n" + escape(KEYS_HELP))  # "[b]" is not bold
    if st.get("watch"):
        from monitor.watch_live import view_line

        t.caption += "\n" + escape(view_line(st["watch"]))
    return t


def _key_command(k: str) -> tuple | None:
    """The audio-process command for key ``k`` (None: not a command).

    Toggles are decided by the audio process against the slot asked for last, not here
    against a status that may be a tenth of a second old (see roomtruth/monitor_live.py).
    """
    return {"b": ("bypass",), "a": ("select", "A"), "x": ("toggle",), "r": ("reload",)}.get(k)


def _live_programme(prof_a: Any, prof_b: Any, fs: int, n_ch: int) -> int:
    """Input channels ``monitor run`` takes: the programme channels of a bass-managed profile
    (layout order, LFE included), else one per speaker output; checked here
    (:func:`monitor.routing.live_router`) so errors come back before any stream opens."""
    from monitor.routing import live_router

    router = live_router(prof_a, prof_b, fs=fs, n_channels=n_ch)
    return n_ch if router is None else router.n_inputs


@monitor_app.command("run")
def run(
    profile_dir: Path = typer.Argument(..., help="Profile folder (slot A)."),
    input_dev: Optional[str] = typer.Option(None, "--input", help="Input device (index, name part, or 'rig')."),
    output_dev: Optional[str] = typer.Option(None, "--output", help="Output device (index, name part, or 'rig')."),
    block: int = typer.Option(256, "--block", help="Block size (samples), 32..4096."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Stop after this many seconds."),
    profile_b: Optional[Path] = typer.Option(None, "--b", help="Second profile for A/B comparison (slot B)."),
    fs: Optional[int] = typer.Option(None, "--fs", help="Sample rate (Hz); default the profile's design rate."),
    ceiling: float = typer.Option(-1.0, "--ceiling", help="Output ceiling, dBFS true peak."),
    bypass: bool = typer.Option(False, "--bypass", help="Start in bypass (loudness-matched)."),
    as_json: bool = typer.Option(False, "--json", help="Print the final statistics as JSON."),
    watch_mic: Optional[int] = typer.Option(None, "--watch-mic", help="Watch the room from the programme with the mic on this 1-based input (default: room.toml's interface.watch_mic with --room)."),
    room: Optional[Path] = typer.Option(None, "--room", help="Room workspace: its watch_mic, and its history for the watch's entries."),
    confirm_with_sweep: bool = typer.Option(False, "--confirm-with-sweep", help="A drift the watch finds asks for a sweep verification; with --room it runs (roomtruth verify) at the next pause of 10 s without programme and is stopped if programme comes back."),
    watch_gain_db: Optional[float] = typer.Option(None, "--watch-gain-db", help="The watch mic's gain against the calibration mic is known (dB; 0: the same mic, input and preamp setting): levels are judged absolutely, so a drift present at the start or common to all speakers is seen. Default: locked at the first judgement."),
) -> None:
    """Monitor live: inputs (DAW or interface) through the correction to the speakers.

    The stream and the engine run in a separate audio process (see roomtruth/monitor_live.py);
    this process draws the live view, takes keys and publishes what is playing for `verify`.
    Keys (on a terminal): b bypass on/off (back to the slot it left), a slot A, x toggle A/B,
    r reload profile A, q quit.  Ctrl-C, SIGTERM and a hang-up stop it in the same order as q
    (audio stopped, terminal restored, status file removed, statistics printed, exit 0);
    ``stopped_by`` says which: duration, key, interrupt, terminate or hangup.
    """
    import logging

    from calib.errors import ConfigError
    from calib.profile import CalibrationProfile
    from roomtruth.monitor_control import ControlSocket
    from roomtruth.monitor_live import Keys, LiveMonitor, LiveSpec, StopSignals, clear_status, publish_status

    _check_block(block)
    _check_ceiling(ceiling)
    if duration is not None and not (duration > 0):
        raise ConfigError(f"--duration {duration} s must be > 0")
    prof_a = CalibrationProfile.load(profile_dir)       # validated here: errors come back at once
    prof_b = CalibrationProfile.load(profile_b) if profile_b is not None else None
    rate = int(fs) if fs is not None else int(prof_a.design_fs)
    n_ch = max(s.output_channel for s in prof_a.speakers) + 1
    n_prog = _live_programme(prof_a, prof_b, rate, n_ch)   # bass management: programme channels in
    spec = LiveSpec(profile_dir=str(profile_dir), profile_b=None if profile_b is None else str(profile_b),
                    input_dev=input_dev, output_dev=output_dev, block=block, fs=rate, n_channels=n_ch,
                    ceiling_dbfs=ceiling, bypass=bypass, n_inputs=n_prog)
    from roomtruth.watch_run import live_watch_for   # the programme watch (issue 13), None without a mic

    lw = live_watch_for(prof_a, fs=rate, watch_mic=watch_mic, room=room, confirm_with_sweep=confirm_with_sweep,
                        watch_gain_db=watch_gain_db, profile_dir=profile_dir, n_programme=n_prog)
    if lw is not None:
        from dataclasses import replace as _replace

        spec = _replace(spec, **lw.spec_fields())
    log = logging.getLogger("roomtruth.monitor")
    from rich.console import Console
    from rich.live import Live

    con = Console(stderr=True)
    for note in _rate_notes(prof_a, rate):
        con.print(f"[yellow]{note}[/]")
    try:
        live_mon = LiveMonitor(spec).start()
    except BaseException:
        if lw is not None:
            lw.ring.close()
        raise
    if lw is not None:
        lw.start()
    t_start = time.monotonic()
    stopped_by = "duration"
    last_pub = 0.0
    pub_dir = str(Path(profile_dir).resolve())
    sigs = StopSignals()
    with sigs:   # also over the stop: a second Ctrl-C must not cut the clean-up short
        try:
            with Keys() as keys, ControlSocket() as remote, Live(_live_table(None, 0.0), console=con,
                                                                  refresh_per_second=4,
                                                                  transient=not con.is_terminal) as live:
                while sigs.stopped_by is None:
                    time.sleep(0.05)
                    el = time.monotonic() - t_start
                    st, logs, events = live_mon.poll()
                    for name, cb, val in events:
                        msg = f"{name} at callback {cb}" + (f" (load {100 * val:.0f} %)" if name == "overload" else "")
                        if log.hasHandlers():
                            log.warning(msg)
                        live.console.log(f"[yellow]{msg}[/]")
                    for line in logs:
                        live.console.log(line)
                    if st is not None and lw is not None:
                        st["watch"] = lw.status()
                    if st is not None and time.monotonic() - last_pub >= 1.0:
                        publish_status(st, profile_dir=pub_dir)
                        last_pub = time.monotonic()
                    live.update(_live_table(st, el))
                    k = keys.read()
                    if k == "q":
                        stopped_by = "key"
                        break
                    cmd = _key_command(k)
                    if cmd is not None:
                        live_mon.send(*cmd)
                    for cmd in remote.read():     # from the web app (roomtruth serve)
                        live_mon.send(*cmd)
                    if duration is not None and el >= duration:
                        break
                if sigs.stopped_by is not None:
                    stopped_by = sigs.stopped_by
        except OSError as exc:
            import errno

            if exc.errno != errno.EIO:
                raise
            # the terminal hung up and a write failed before SIGHUP was handled: same clean stop
            sigs.detach_terminal()
            stopped_by = "hangup"
        finally:
            final = live_mon.stop()
            watch_final = lw.stop() if lw is not None else None
            clear_status()
    st = final
    if not st:
        from calib.errors import DeviceError

        raise DeviceError("the audio process ended without statistics")
    st.pop("events", None)
    res = {"seconds": time.monotonic() - t_start, "stopped_by": stopped_by, "fs": rate, "block": block,
           "channels": n_ch, "input_channels": n_prog, "audio_pid": live_mon.info.get("pid"), **st}
    if watch_final is not None:
        res["watch"] = watch_final
    if as_json:
        _print_json(res)
    else:
        con.print(f"ran {res['seconds']:.1f} s: DSP load {100 * st['dsp_load']:.1f} % (max "
                  f"{100 * st['dsp_load_max']:.0f} %; own CPU {100 * st['cpu_load']:.1f} %, max "
                  f"{100 * st['cpu_load_max']:.0f} %, CPU overloads {st['cpu_overloads']}), "
                  f"xruns {st['xruns']} ({st['xruns_processing']} after an overload, "
                  f"{st['xruns_host']} the host's), overloads {st['overloads']}, "
                  f"errors {st['errors']}, profile hash {st['engine']['running_hash'][:12]}")
        if watch_final is not None:
            con.print(f"watch: {watch_final.get('message', '')}")


# ---------------------------------------------------------------------------- bench
@monitor_app.command("bench")
def bench(
    taps: int = typer.Option(65536, "--taps", help="FIR length (samples)."),
    block: int = typer.Option(256, "--block", help="Period = head partition (samples)."),
    channels: int = typer.Option(2, "--channels", help="Channels (speakers)."),
    seconds: float = typer.Option(60.0, "--seconds", help="Audio to process period by period (s)."),
    fs: int = typer.Option(48000, "--fs", help="Sample rate (Hz)."),
    peer: bool = typer.Option(False, "--peer", help="Also run zita's fconvolver -T on the same job; print the ratio."),
    paced: bool = typer.Option(False, "--paced", help="Space the periods in real time, as a sound card does."),
    rt_priority: Optional[int] = typer.Option(None, "--rt-priority", help="Run the periods at SCHED_FIFO priority N (1..99), as JACK's audio thread; use with --paced."),
    offline: bool = typer.Option(True, "--offline/--no-offline", help="Also time the render path."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Measure what monitor run runs (callback + workers, whole-process CPU) on noise."""
    from calib.errors import ConfigError

    _check_block(block)
    if not (1 <= taps <= 1_048_576):
        raise ConfigError(f"--taps {taps} is outside 1..1048576")
    if not (1 <= channels <= 32):
        raise ConfigError(f"--channels {channels} is outside 1..32")
    if not (0.5 <= seconds <= 3600):
        raise ConfigError(f"--seconds {seconds} is outside 0.5..3600")
    from roomtruth.monitor_bench import run_bench

    if rt_priority is not None and not (1 <= rt_priority <= 99):
        raise ConfigError(f"--rt-priority {rt_priority} is outside 1..99")
    res = run_bench(channels=channels, taps=taps, block=block, seconds=seconds, fs=fs, peer=peer,
                    paced=paced, offline=offline, rt_priority=rt_priority)
    if as_json:
        _print_json(res)
        return
    from rich.console import Console
    from rich.table import Table

    tab = Table(title=f"monitor bench: {channels} ch x {taps} taps, period {block}, {res['seconds']:.0f} s at {fs} Hz "
                      f"({res['engine']} engine{', paced' if paced else ''})")
    tab.add_column("figure")
    tab.add_column("value", justify="right")
    tab.add_row("CPU s per audio s (whole process)", f"{res['cpu_s_per_audio_s']:.4f}")
    if res.get("peer"):
        tab.add_row("fconvolver -T, same job", f"{res['peer_cpu_s_per_audio_s']:.4f}")
        tab.add_row("ratio roomtruth / fconvolver", f"{res['cpu_ratio_vs_fconvolver']:.2f}")
    elif peer:
        tab.add_row("peer", res.get("peer_note", "-"))
    tab.add_row("DSP load mean / p99 / max", f"{100 * res['dsp_load_mean']:.1f} / {100 * res['dsp_load_p99']:.1f} / "
                f"{100 * res['dsp_load_max']:.1f} %")
    tab.add_row("own CPU load mean / p99 / max",
                f"{100 * res['cpu_load_mean']:.1f} / {100 * res['cpu_load_p99']:.1f} / {100 * res['cpu_load_max']:.1f} %")
    tab.add_row("overloads (> period) / > 80 % / own CPU > period",
                f"{res['overloads']} / {res['overloads_80']} / {res['cpu_overloads']}")
    if rt_priority is not None:
        tab.add_row("SCHED_FIFO priority", str(res["rt_priority"]) if res["rt_priority"] else "refused by the system")
    tab.add_row("latency (period) / engine added", f"{block} / {res['engine_added_latency_samples']} samples")
    if "offline_x_realtime" in res:
        tab.add_row("offline path (render), x real time", f"{res['offline_x_realtime']:.0f}")
    tab.add_row("partitions (size x count @ offset)",
                ", ".join(f"{s}x{m}@{o}" for s, m, o in res["partitions"]))
    tab.add_row("load average (1 min) start / end", f"{res['load_average_1min']:.1f} / {res['load_average_1min_end']:.1f} "
                f"on {res['cpu_count']} cores")
    Console().print(tab)
