"""PortAudio through ``sounddevice``: device listing, play-and-record, real-time duplex streams.

This is the ONLY module of roomtruth that imports :mod:`sounddevice`, and it does so lazily
(inside :func:`_sd`), so importing :mod:`hardware` never loads PortAudio.

Channel numbers
---------------
Users count channels from 1 (``--channels 1,2``, ``room.toml``); PortAudio and the
:class:`~hardware.backend.AudioBackend` protocol count from 0.  :func:`channels_from_user`
is the one place that converts, and it refuses 0, negative and repeated numbers.

Status flags
------------
PortAudio reports, per callback, five flags (``paInputUnderflow`` 1, ``paInputOverflow`` 2,
``paOutputUnderflow`` 4, ``paOutputOverflow`` 8, ``paPrimingOutput`` 16; PortAudio
``portaudio.h``).  Every flag seen during a capture is collected and counted.  The first four
each mean that samples were dropped or zeros inserted, so the capture is marked
``lost_samples=True`` and the session layer must refuse it; priming output is harmless.

JACK
----
PortAudio enumerates JACK once, when it is initialised, and uses the server named by the
``JACK_DEFAULT_SERVER`` environment variable.  :func:`reinitialize` re-reads both (a server
started after ``sounddevice`` was imported is invisible until then) and sets a per-process
JACK client name, so several roomtruth processes on one server never share port names.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any, Callable, Sequence

import numpy as np

from calib.errors import ConfigError, DeviceError, SignalError
from hardware.audio_flags import (  # noqa: F401  (re-exported: the public names of this module)
    _LOSS_MASK,
    FLAG_NAMES,
    LOSS_FLAGS,
    DeviceInfo,
    StatusCounter,
    _flags_int,
    channels_from_user,
)
from hardware.backend import CaptureResult, DuplexCallback, StreamStats  # noqa: F401
# the duplex stream object lives in its own module (this one stays near 500 lines)
from hardware.portaudio_stream import AUDIO_SWITCH_INTERVAL_S, PortAudioDuplexStream  # noqa: F401

__all__ = [
    "DeviceInfo",
    "abandon_portaudio",
    "FLAG_NAMES",
    "LOSS_FLAGS",
    "PortAudioBackend",
    "PortAudioDuplexStream",
    "StatusCounter",
    "attach_jack",
    "channels_from_user",
    "detach_jack",
    "jack_client_name",
    "list_devices",
    "reinitialize",
    "resolve_device",
]

_lock = threading.Lock()
_client_name_buf: ctypes.Array | None = None   # PortAudio keeps the pointer: keep it alive
_jack_client_name: str | None = None


def _sd() -> Any:
    """Import sounddevice lazily, turning a missing PortAudio library into a DeviceError."""
    try:
        import sounddevice
    except OSError as exc:  # libportaudio2 missing
        raise DeviceError(
            f"the PortAudio library could not be loaded ({exc}); install it with "
            "'apt-get install libportaudio2'"
        ) from None
    return sounddevice


_attached_server: str | None = None          # JACK server PortAudio is pointed at by us
_saved_env: tuple[bool, str] | None = None   # JACK_DEFAULT_SERVER before attach_jack
_exit_guard_registered = False
_poisoned = False   # PortAudio holds a client of a dead JACK server: it cannot re-initialise
_abandoned: list[Any] = []


def _exit_guard() -> None:
    """At interpreter exit: never let PortAudio close a JACK client on a dead server.

    PortAudio's JACK host API asserts (and aborts the process) in ``Pa_Terminate`` when the
    server has gone away.  If we are attached to a server that no longer answers, tell
    sounddevice there is nothing to terminate.
    """
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is None or _attached_server is None:
        return
    if not _jack_server_alive(_attached_server):
        abandon_portaudio()


def abandon_portaudio(stream: Any = None) -> None:
    """Give up on PortAudio in this process after its JACK server died.

    PortAudio's JACK host API then blocks for ten minutes in ``Pa_StopStream`` and asserts
    in ``Pa_Terminate``, so nothing of it may be called again: the open ``stream`` (if any)
    is left as it is, sounddevice's exit handler is told there is nothing to stop or
    terminate, and :func:`reinitialize` refuses from now on (restart the program).
    """
    global _poisoned, _attached_server, _saved_env
    import sys

    sd = sys.modules.get("sounddevice")
    _poisoned = True
    _attached_server = None
    if _saved_env is not None:
        had, value = _saved_env
        if had:
            os.environ["JACK_DEFAULT_SERVER"] = value
        else:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        _saved_env = None
    if sd is not None:
        _abandoned.append(stream)      # keep the Python object alive: its __del__ would close it
        sd._last_callback = None
        sd._initialized = 0


def _jack_server_alive(server: str) -> bool:
    try:
        import jack
    except (ImportError, OSError):
        return False
    jack.set_error_function(lambda m: None)
    jack.set_info_function(lambda m: None)
    try:
        c = jack.Client(f"roomtruth-probe-{os.getpid()}", servername=server, no_start_server=True)
    except jack.JackError:
        return False
    c.close()
    return True


def attach_jack(server: str) -> None:
    """Point this process's PortAudio at JACK server ``server`` (re-initialising it).

    Remembers the previous ``JACK_DEFAULT_SERVER`` so :func:`detach_jack` can restore it.
    Must not be called while a stream of this process is open.
    """
    global _attached_server, _saved_env, _exit_guard_registered
    if not _exit_guard_registered:
        import atexit

        _sd()
        atexit.register(_exit_guard)   # runs before sounddevice's own exit handler
        _exit_guard_registered = True
    if _saved_env is None:
        _saved_env = ("JACK_DEFAULT_SERVER" in os.environ, os.environ.get("JACK_DEFAULT_SERVER", ""))
    reinitialize(jack_server=server)
    _attached_server = server


def detach_jack(server: str | None = None) -> None:
    """Undo :func:`attach_jack` (only if attached to ``server``, when given).

    Call it before the server stops: PortAudio then closes its JACK client cleanly.
    """
    global _attached_server, _saved_env
    if _attached_server is None or (server is not None and server != _attached_server):
        return
    had, value = _saved_env or (False, "")
    if had:
        os.environ["JACK_DEFAULT_SERVER"] = value
    else:
        os.environ.pop("JACK_DEFAULT_SERVER", None)
    _saved_env = None
    attached, _attached_server = _attached_server, None
    if _jack_server_alive(attached):
        reinitialize()
    else:   # closing a client of a dead server would abort the process: never terminate
        abandon_portaudio()


def jack_client_name() -> str:
    """The JACK client name this process's PortAudio uses (``PortAudio`` unless reinitialised)."""
    return _jack_client_name or "PortAudio"


def reinitialize(*, jack_server: str | None = None, client_name: str | None = None) -> None:
    """Re-initialise PortAudio so it sees the current audio servers.

    Parameters
    ----------
    jack_server : str, optional
        JACK server name to use (sets ``JACK_DEFAULT_SERVER`` for this process).
    client_name : str, optional
        JACK client name for PortAudio's ports (``<client_name>:in_0``, ``out_0``...).
        Default ``roomtruth-pa-<pid>``, unique per process.

    Notes
    -----
    Must not be called while a stream of this process is open.
    """
    global _client_name_buf, _jack_client_name
    sd = _sd()
    if _poisoned:
        raise DeviceError(
            "PortAudio in this process still holds a connection to a JACK server that died; "
            "start the program again")
    name = client_name or f"roomtruth-pa-{os.getpid()}"
    with _lock:
        if jack_server is not None:
            os.environ["JACK_DEFAULT_SERVER"] = jack_server
        sd._terminate()
        try:
            lib = ctypes.CDLL(sd._libname)
            set_name = getattr(lib, "PaJack_SetClientName", None)
            if set_name is not None:
                buf = ctypes.create_string_buffer(name.encode("ascii", "replace"))
                set_name.argtypes = [ctypes.c_char_p]
                if set_name(buf) == 0:
                    _client_name_buf = buf
                    _jack_client_name = name
        finally:
            sd._initialize()


def list_devices() -> list[DeviceInfo]:
    """All PortAudio devices, in PortAudio's index order."""
    sd = _sd()
    apis = sd.query_hostapis()
    try:
        default_in, default_out = (int(x) for x in sd.default.device)
    except (TypeError, ValueError):  # pragma: no cover - sounddevice always gives a pair
        default_in = default_out = -1
    out = []
    for d in sd.query_devices():
        out.append(DeviceInfo(
            index=int(d["index"]),
            name=str(d["name"]),
            hostapi=str(apis[d["hostapi"]]["name"]),
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate_hz=float(d["default_samplerate"]),
            default_input=int(d["index"]) == default_in,
            default_output=int(d["index"]) == default_out,
        ))
    return out


def _describe(devices: Sequence[DeviceInfo]) -> str:
    if not devices:
        return ("PortAudio sees no devices at all (no sound card and no JACK server; "
                "'roomtruth rig start' starts a virtual one)")
    return "devices are: " + "; ".join(
        f"{d.index} '{d.name}' ({d.hostapi}, {d.max_input_channels} in/{d.max_output_channels} out)"
        for d in devices)


def resolve_device(spec: str | int | None, *, kind: str = "duplex",
                   hostapi: str | None = None) -> DeviceInfo:
    """Find a device by index or by a case-insensitive name substring.

    Parameters
    ----------
    spec : str or int or None
        Index (``3`` or ``"3"``), a name substring (``"umc"``), or None for the default.
    kind : {"input", "output", "duplex", "any"}
        The direction the device must support.
    hostapi : str, optional
        Only consider devices of host APIs whose name contains this substring.

    Raises
    ------
    DeviceError
        No device, or several equally good matches; the message lists the devices.
    """
    devices = list_devices()
    pool = [d for d in devices if hostapi is None or hostapi.lower() in d.hostapi.lower()]

    def fits(d: DeviceInfo) -> bool:
        if kind == "any":
            return True
        return ((kind == "output" or d.max_input_channels > 0)
                and (kind == "input" or d.max_output_channels > 0))

    if spec is None or (isinstance(spec, str) and not spec.strip()):
        cands = [d for d in pool if (d.default_input if kind == "input" else d.default_output)]
        cands = [d for d in cands if fits(d)] or [d for d in pool if fits(d)]
        if not cands:
            raise DeviceError(f"no default {kind} audio device; {_describe(devices)}")
        return cands[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().lstrip("-").isdigit()):
        idx = int(spec)
        match = [d for d in pool if d.index == idx]
        if not match:
            raise DeviceError(f"no audio device with index {idx}; {_describe(devices)}")
        d = match[0]
    else:
        want = str(spec).strip().lower()
        exact = [d for d in pool if d.name.lower() == want]
        subs = exact or [d for d in pool if want in d.name.lower()]
        if not subs:
            raise DeviceError(f"no audio device matches {str(spec)!r}; {_describe(devices)}")
        fitting = [d for d in subs if fits(d)]
        if len(fitting) > 1:
            raise DeviceError(
                f"device name {str(spec)!r} is ambiguous, it matches {len(fitting)} devices; "
                f"give the index or a longer name; {_describe(fitting)}")
        d = fitting[0] if fitting else subs[0]
    if not fits(d):
        raise DeviceError(
            f"audio device {d.index} '{d.name}' has {d.max_input_channels} inputs and "
            f"{d.max_output_channels} outputs, but {kind} use needs "
            f"{'inputs' if kind == 'input' else 'outputs' if kind == 'output' else 'both'}; "
            f"choose another device; {_describe(devices)}")
    return d


class PortAudioBackend:
    """Simultaneous play and record through one PortAudio callback stream.

    Parameters
    ----------
    device : str or int, optional
        Device for both directions: index or case-insensitive name substring; None = default.
    input_device, output_device : str or int, optional
        Separate devices per direction (override ``device``).
    hostapi : str, optional
        Restrict name matching to host APIs containing this text (e.g. ``"JACK"``).
    block_size : int
        Frames per callback; 0 lets the host choose (best for capture).
    latency : str or float
        PortAudio suggested latency, ``"high"`` (safe for measurement), ``"low"`` or seconds.
    timeout_margin_s : float
        Extra time allowed beyond the stimulus before a run is declared stalled.
    """

    def __init__(self, device: str | int | None = None, *, input_device: str | int | None = None,
                 output_device: str | int | None = None, hostapi: str | None = None,
                 block_size: int = 0, latency: str | float = "high",
                 timeout_margin_s: float = 5.0) -> None:
        self._hostapi = hostapi
        in_spec = input_device if input_device is not None else device
        out_spec = output_device if output_device is not None else device
        self.input_device = resolve_device(in_spec, kind="input", hostapi=hostapi)
        self.output_device = resolve_device(out_spec, kind="output", hostapi=hostapi)
        self.block_size = int(block_size)
        self.latency = latency
        self.timeout_margin_s = float(timeout_margin_s)
        if self.input_device.index == self.output_device.index:
            self.name = f"{self.input_device.name} ({self.input_device.hostapi})"
        else:
            self.name = (f"in: {self.input_device.name}, out: {self.output_device.name} "
                         f"({self.output_device.hostapi})")

    # Subclasses (the JACK rig) route ports here: the stream exists, nothing runs yet.
    def _after_open(self, stream: Any, *, n_inputs: int, n_outputs: int) -> None:
        """Hook called after the stream is created and before it starts."""

    def _wait(self, done: threading.Event, *, timeout_s: float) -> bool:
        """Wait for the capture to finish (subclasses may poll their server meanwhile)."""
        return done.wait(timeout=timeout_s)

    def _stream_lost(self) -> bool:
        """True when the audio server is gone and the stream must not be touched again."""
        return False

    def _lost_message(self) -> str:
        return f"the audio server behind '{self.name}' went away during the capture"

    def _check_channels(self, channels: Sequence[int], *, n_max: int, what: str) -> None:
        for ch in channels:
            if not 0 <= int(ch) < n_max:
                dev = self.input_device if what == "input" else self.output_device
                raise DeviceError(
                    f"{what} channel {int(ch) + 1} does not exist on '{dev.name}', which has "
                    f"{n_max} {what}s; choose channels 1..{n_max}")
        if len(set(channels)) != len(channels):
            raise ConfigError(f"{what} channels {[c + 1 for c in channels]} repeat a channel")

    def play_record(self, stimulus: np.ndarray, *, fs: int, output_channels: tuple[int, ...],
                    input_channels: tuple[int, ...]) -> CaptureResult:
        """Play ``stimulus`` on ``output_channels`` while recording ``input_channels``.

        Parameters
        ----------
        stimulus : ndarray, shape (n_outputs, n_samples)
            Full scale 1.0; converted to float32 at the device boundary.  Row ``i`` goes
            to 0-based output channel ``output_channels[i]``.
        fs : int
            Sample rate (Hz), keyword-only.
        output_channels, input_channels : tuple of int
            0-based channel indices (convert user maps with :func:`channels_from_user`).

        Returns
        -------
        CaptureResult
            ``recording`` (len(input_channels), n_samples) float64; every status flag seen,
            ``lost_samples`` when any flag meant dropped/inserted samples.

        Raises
        ------
        SignalError
            Malformed stimulus (shape, NaN/Inf, beyond full scale).
        DeviceError
            Channel out of range, the device refusing the rate, or the stream stalling.
        """
        sd = _sd()
        stim = np.asarray(stimulus)
        if stim.ndim == 1:
            stim = stim[np.newaxis, :]
        out_ch = tuple(int(c) for c in output_channels)
        in_ch = tuple(int(c) for c in input_channels)
        if stim.ndim != 2 or stim.shape[0] != len(out_ch):
            raise SignalError(
                f"stimulus has shape {stim.shape} but {len(out_ch)} output channels were given; "
                "pass one row per output channel")
        if stim.shape[1] == 0:
            raise SignalError("stimulus is empty")
        if not np.all(np.isfinite(stim)):
            raise SignalError("stimulus contains NaN or Inf samples; refusing to play it")
        peak = float(np.max(np.abs(stim))) if stim.size else 0.0
        if peak > 1.0:
            raise SignalError(f"stimulus peaks at {peak:.3f} (above full scale 1.0); lower its level")
        if not in_ch:
            raise ConfigError("no input channels to record; give at least one")
        self._check_channels(out_ch, n_max=self.output_device.max_output_channels, what="output")
        self._check_channels(in_ch, n_max=self.input_device.max_input_channels, what="input")
        n_out_open = max(out_ch) + 1 if out_ch else 1
        n_in_open = max(in_ch) + 1
        n = stim.shape[1]

        # Preallocated buffers: the device layout is (frames, channels), float32.
        play = np.zeros((n, n_out_open), dtype=np.float32)
        for row, ch in enumerate(out_ch):
            play[:, ch] = stim[row]
        rec = np.zeros((n, n_in_open), dtype=np.float32)
        counter = StatusCounter()
        pos = [0]
        done = threading.Event()

        def callback(indata, outdata, frames, time_info, status):  # audio thread
            counter.add(_flags_int(status))
            i = pos[0]
            k = min(frames, n - i) if i < n else 0
            if k > 0:
                outdata[:k] = play[i:i + k]
                rec[i:i + k] = indata[:k]
            if k < frames:
                outdata[k:] = 0.0
            pos[0] = i + frames
            if pos[0] >= n:
                done.set()

        stream = self._open(sd, fs=fs, callback=callback, n_in=n_in_open, n_out=n_out_open,
                            block_size=self.block_size)
        lost = False
        switch_s = sys.getswitchinterval()
        try:
            self._after_open(stream, n_inputs=n_in_open, n_outputs=n_out_open)
            # The callback runs Python on the audio thread: let it take the GIL within
            # 0.5 ms instead of Python's default 5 ms (a whole 256-frame period at 48 kHz).
            sys.setswitchinterval(min(switch_s, AUDIO_SWITCH_INTERVAL_S))
            stream.start()
            finished = self._wait(done, timeout_s=n / fs + self.timeout_margin_s)
            lost = not finished and self._stream_lost()
            if not lost:
                stream.stop()
        finally:
            sys.setswitchinterval(switch_s)
            if lost:
                abandon_portaudio(stream)
            else:
                stream.close()
        if lost:
            raise DeviceError(self._lost_message())
        if not finished:
            raise DeviceError(
                f"the audio stream on '{self.name}' stalled: {min(pos[0], n)} of {n} samples "
                f"after {n / fs + self.timeout_margin_s:.1f} s; check that the device (or the "
                "JACK server) is running")
        recording = rec[:, list(in_ch)].T.astype(np.float64)
        flags = counter.as_dict()
        return CaptureResult(
            recording=recording, fs=int(fs), status_flags=tuple(flags),
            lost_samples=counter.lost_samples, device=self.name,
            meta={"status_flag_counts": flags, "callbacks": counter.callbacks,
                  "input_device": self.input_device.to_dict(),
                  "output_device": self.output_device.to_dict()})

    def _open(self, sd: Any, *, fs: int, callback: Callable, n_in: int, n_out: int,
              block_size: int, latency: str | float | None = None) -> Any:
        try:
            return sd.Stream(
                samplerate=int(fs), blocksize=int(block_size),
                device=(self.input_device.index, self.output_device.index),
                channels=(n_in, n_out), dtype="float32",
                latency=self.latency if latency is None else latency, callback=callback)
        except sd.PortAudioError as exc:
            raise DeviceError(
                f"cannot open '{self.name}' at {int(fs)} Hz with {n_in} inputs and {n_out} "
                f"outputs: {exc}; check the rate and channel count the device supports") from None

    def open_duplex(self, callback: DuplexCallback, *, fs: int, block_size: int,
                    n_inputs: int, n_outputs: int) -> "PortAudioDuplexStream":
        """Open (not start) a real-time duplex stream for the monitor engine.

        ``callback(indata, outdata, frames, status_flags)`` gets float32 arrays shaped
        ``(frames, n_channels)`` and must fill ``outdata``.  An exception escaping it is
        caught, the block is silenced (safe for speakers) and counted in ``errors``.
        """
        sd = _sd()
        if n_inputs < 1 or n_outputs < 1:
            raise ConfigError(f"a duplex stream needs inputs and outputs, got {n_inputs} in/{n_outputs} out")
        if n_inputs > self.input_device.max_input_channels or n_outputs > self.output_device.max_output_channels:
            raise DeviceError(
                f"'{self.name}' has {self.input_device.max_input_channels} inputs and "
                f"{self.output_device.max_output_channels} outputs; {n_inputs} in/{n_outputs} out "
                "were asked for")
        if block_size < 1:
            raise ConfigError(f"block size must be at least 1 frame, got {block_size}")
        ds = PortAudioDuplexStream(callback, lost=self._stream_lost)
        ds._stream = self._open(sd, fs=fs, callback=ds._cb, n_in=n_inputs, n_out=n_outputs,
                                block_size=block_size, latency="low")
        self._after_open(ds._stream, n_inputs=n_inputs, n_outputs=n_outputs)
        return ds

    def close(self) -> None:
        """Nothing persistent is held between runs."""
