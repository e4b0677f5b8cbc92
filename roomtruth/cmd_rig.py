"""``roomtruth devices`` and ``roomtruth rig start|status|stop`` (the JACK virtual room).

Only typer and the standard library at module level; everything else is imported inside
the commands so ``roomtruth --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

rig_app = typer.Typer(
    name="rig",
    help="The JACK virtual room: a real audio path (jackd dummy driver + jconvolver) without sound hardware.",
    no_args_is_help=True,
)


def _layout_lines(state) -> list[str]:
    spk = ", ".join(str(c + 1) for c in state.speaker_outputs)
    named = ", ".join(f"{n}={c + 1}" for n, c in zip(state.names, state.speaker_outputs))
    return [
        f"outputs {spk} → room ({state.n_speakers} speaker{'s' if state.n_speakers > 1 else ''}: {named}) "
        f"→ input {state.mic_input + 1} (mic)",
        f"outputs {spk} → input {state.loopback_input + 1} (loopback reference, by wire)",
    ]


def devices(
    query: Optional[str] = typer.Argument(None, help="Show only the device matching this index or name."),
    rig: bool = typer.Option(False, "--rig", help="List the devices PortAudio sees on the running virtual room."),
    json_out: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """List the PortAudio audio devices (host API, channels, default rate)."""
    from calib.audio_io import to_json
    from hardware import jackrig, portaudio

    attached = False
    if rig:
        st = jackrig.rig_status()
        if not st.running:
            from calib.errors import DeviceError

            raise DeviceError("the JACK virtual room is not running; start it with 'roomtruth rig start'")
        portaudio.attach_jack(st.server)
        attached = True
    try:
        if query is not None:
            devs = [portaudio.resolve_device(query, kind="any")]
        else:
            devs = portaudio.list_devices()
    finally:
        if attached:
            portaudio.detach_jack()
    rig_running = jackrig.rig_status().running if not rig else True
    if json_out:
        typer.echo(to_json({"devices": [d.to_dict() for d in devs], "rig_running": rig_running}))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    table = Table(title="PortAudio devices" + (" (virtual room)" if rig else ""))
    for col, kw in (("#", {"justify": "right"}), ("name", {}), ("host API", {}),
                    ("in", {"justify": "right"}), ("out", {"justify": "right"}),
                    ("default rate", {"justify": "right"}), ("default", {})):
        table.add_column(col, **kw)
    for d in devs:
        default = "/".join(x for x, flag in (("in", d.default_input), ("out", d.default_output)) if flag)
        table.add_row(str(d.index), d.name, d.hostapi, str(d.max_input_channels),
                      str(d.max_output_channels), f"{d.default_samplerate_hz:g} Hz", default)
    if devs:
        con.print(table)
    else:
        con.print("PortAudio sees no audio devices (no sound card, no JACK server).")
    if rig_running and not rig:
        con.print("The JACK virtual room is running: measure through it with [bold]--device rig[/bold] "
                  "(its devices: roomtruth devices --rig).")
    elif not devs:
        con.print("Start a virtual interface and room with [bold]roomtruth rig start[/bold].")


def rig_start(
    ir: Optional[Path] = typer.Option(None, "--ir", help="Room IR WAV, one channel per speaker (default: the built-in room)."),
    fs: Optional[int] = typer.Option(None, "--fs", help="Sample rate (Hz); default the --ir file's rate, else 48000."),
    period: int = typer.Option(256, "--period", help="JACK period in frames (power of two, 64..4096)."),
    channels: Optional[str] = typer.Option(None, "--channels", help="Speaker names, one per IR channel, e.g. "
                                           "L,R,C (default L,R for a pair, else S1..Sn); 'measure --device rig' "
                                           "takes the same names."),
    json_out: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Start jackd (dummy driver) and jconvolver loaded with the room IR."""
    from calib.audio_io import to_json
    from hardware import jackrig

    if fs is None:
        fs = 48000
        if ir is not None and ir.is_file():
            import soundfile as sf

            try:
                from calib.audio_io import sf_name

                fs = int(sf.info(sf_name(ir)).samplerate)   # the rig runs at the room IR's own rate
            except Exception:
                pass   # start_rig's reader gives the clear error
    names = None
    if channels is not None:
        names = [x.strip() for x in channels.split(",")]
        if not channels.strip() or any(not x for x in names):
            from calib.errors import ConfigError

            raise ConfigError(f"--channels {channels!r} is not a comma-separated list of speaker names such as L,R")
    state = jackrig.start_rig(ir, fs=fs, period=period, **({"speaker_names": names} if names else {}))
    if json_out:
        typer.echo(to_json(state.to_dict()))
        return
    from rich.console import Console

    con = Console()
    mode = "realtime" if state.realtime else "no-realtime (SCHED_FIFO refused)"
    con.print(f"[bold green]virtual room running[/bold green] on JACK server '{state.server}': "
              f"{state.fs} Hz, period {state.period} ({1000 * state.period / state.fs:.2f} ms), {mode}")
    con.print(f"  jackd pid {state.jackd_pid}, jconvolver pid {state.jconvolver_pid}")
    con.print(f"  room IR: {state.ir_source} ({state.ir_length_samples} samples, "
              f"{state.ir_length_samples / state.fs:.3f} s)")
    for line in _layout_lines(state):
        con.print(f"  {line}")
    con.print("  measure: roomtruth measure --device rig --out DIR    stop: roomtruth rig stop")


def rig_status_cmd(
    json_out: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Say what runs: PIDs, sample rate, period, IR; exit 1 when not running, 2 when broken."""
    from calib.audio_io import to_json
    from calib.errors import DeviceError
    from hardware import jackrig

    st = jackrig.rig_status()
    broken = st.state is not None and not st.running or st.foreign_server
    if json_out:
        typer.echo(to_json(st.to_dict()))
    else:
        from rich.console import Console
        from rich.table import Table

        con = Console()
        if st.state is None and not st.foreign_server:
            con.print(f"the virtual room is not running (server '{st.server}'); start it with 'roomtruth rig start'")
        elif st.state is not None:
            s = st.state
            t = Table(title=f"virtual room ({'running' if st.running else 'BROKEN'})", show_header=False)
            t.add_column("item")
            t.add_column("value")
            t.add_row("JACK server", f"{s.server} ({'answers' if st.server_reachable else 'does not answer'})")
            t.add_row("jackd", f"pid {s.jackd_pid} ({'alive' if st.jackd_alive else 'dead'}), "
                               f"{'realtime' if s.realtime else 'no-realtime'}")
            t.add_row("jconvolver", f"pid {s.jconvolver_pid} ({'alive' if st.jconvolver_alive else 'dead'})")
            t.add_row("sample rate", f"{s.fs} Hz")
            t.add_row("period", f"{s.period} frames ({1000 * s.period / s.fs:.2f} ms)")
            t.add_row("room IR", f"{s.ir_source} ({s.ir_length_samples} samples, {s.n_speakers} speaker(s))")
            t.add_row("routing", "\n".join(_layout_lines(s)))
            if st.cpu_load_percent is not None:
                t.add_row("DSP load", f"{st.cpu_load_percent:.1f} %")
            if st.xruns_logged is not None:
                t.add_row("xruns", f"{st.xruns_logged} late cycles logged (every capture is "
                                   "verified against the rig; one that lost data is refused)")
            t.add_row("started", s.started_utc)
            con.print(t)
    if broken:
        raise DeviceError("; ".join(st.problems))
    if not st.running:
        raise typer.Exit(1)


def rig_stop() -> None:
    """Stop the jackd and jconvolver that 'rig start' started (nothing else)."""
    from hardware import jackrig

    stopped = jackrig.stop_rig()
    if stopped:
        typer.echo("stopped " + ", ".join(stopped))
    else:
        typer.echo("no virtual room was running")


def register(app: typer.Typer) -> None:
    """Add ``devices`` and the ``rig`` group to the app."""
    app.command("devices")(devices)
    rig_app.command("start")(rig_start)
    rig_app.command("status")(rig_status_cmd)
    rig_app.command("stop")(rig_stop)
    app.add_typer(rig_app, name="rig")
