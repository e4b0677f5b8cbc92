"""The backend that plays and records through the JACK virtual room (:mod:`hardware.jackrig`).

:class:`RigBackend` is a :class:`~hardware.portaudio.PortAudioBackend` on the rig's JACK
server whose streams are routed for the user, between creating the PortAudio stream (its
ports exist from then on) and starting it (RIG-NOTES: routing after the start races the
audio).  :func:`device_backend` turns a user's ``--device`` value into a backend:
``"rig"`` gives a :class:`RigBackend`, anything else a PortAudio device.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any, Iterator

import numpy as np

from calib.errors import ConfigError, DeviceError
from hardware.backend import CaptureResult
from hardware.jackrig import _connect_client, _require_running, _silence_jack
from hardware.portaudio import PortAudioBackend, attach_jack, detach_jack, jack_client_name
from hardware.rig_check import check_render

__all__ = ["RigBackend", "device_backend"]


def device_backend(device: str | int | None, **kwargs: Any) -> PortAudioBackend:
    """The backend for a user's ``--device`` value.

    ``"rig"`` (any case) gives :class:`RigBackend` on the running virtual room (``kwargs``
    go to it: ``routing``, ``loopback``); an index or a name substring gives
    :class:`~hardware.portaudio.PortAudioBackend` (``kwargs`` go to it); None the default
    device.

    Raises
    ------
    DeviceError
        The rig is not running, or no device matches (the message lists the devices).
    """
    if isinstance(device, str) and device.strip().lower() == "rig":
        return RigBackend(**kwargs)
    return PortAudioBackend(device, **kwargs)


class RigBackend(PortAudioBackend):
    """PortAudio through the JACK virtual room, with the routing done for you.

    Parameters
    ----------
    routing : {"room", "speakers", "loopback"}
        ``"room"``: outputs ``0..n-1`` feed the room's speakers, the room's mic feeds input 0,
        and input 1 is the loopback reference.  ``"speakers"``: outputs ``0..n-1`` feed the
        room's speakers and nothing of the rig is wired to any input (``monitor run`` without
        a watch mic: its inputs carry programme from another JACK client only; the mic or the
        loopback there would feed the room's sound back into the monitor).  ``"loopback"``:
        output ``k`` is wired straight to input ``k`` for every ``k`` (a bit-exact wire, one
        period late).
    loopback : {"speakers", "dedicated", "none"}
        What input 1 carries in ``"room"`` routing: ``"speakers"`` (default) the sum of the
        speaker outputs -- the played sweep, exactly as :class:`hardware.simulated.SimulatedRoom`
        models it -- or ``"dedicated"``: output ``n`` only, a separate reference output, or
        ``"none"``: nothing (``monitor run``, whose programme inputs must stay free).
    mic_input : int, optional
        0-based input the room's microphone feeds in ``"room"`` routing (default the rig's,
        input 0).  ``monitor run --watch-mic N`` puts it at ``N - 1``, as a real interface with
        the mic plugged into input N, so inputs ``0..`` stay free for programme that another
        JACK client plays into them (:mod:`hardware.rig_player`).
    server : str, optional
        Rig server name (default :func:`rig_server_name`).

    Attributes
    ----------
    state : RigState
        The rig's parameters; ``state.speaker_outputs``, ``state.loopback_output``,
        ``state.mic_input``, ``state.loopback_input`` give the layout (0-based).
    speaker_outputs, mic_input, loopback_input, loopback_output
        The same layout on the backend (``loopback_output`` None with ``loopback="speakers"``).
    fs : int
        The rig's sample rate (Hz); ``play_record``/``open_duplex`` refuse any other.

    Notes
    -----
    Constructing it points this process's PortAudio at the rig's JACK server (see
    :func:`hardware.portaudio.reinitialize`); do so while no other stream is open.
    """

    def __init__(self, *, routing: str = "room", loopback: str = "speakers", server: str | None = None,
                 timeout_margin_s: float = 5.0, mic_input: int | None = None) -> None:
        if routing not in ("room", "speakers", "loopback"):
            raise ConfigError(f"rig routing {routing!r} is unknown; use 'room', 'speakers' or 'loopback'")
        if loopback not in ("speakers", "dedicated", "none"):
            raise ConfigError(f"rig loopback {loopback!r} is unknown; use 'speakers', 'dedicated' or 'none'")
        if mic_input is not None and not (isinstance(mic_input, int) and 0 <= mic_input < 256):
            raise ConfigError(f"rig mic input {mic_input!r} must be a 0-based input number (0..255)")
        self.state = _require_running(server)
        self.routing = routing
        self.loopback = loopback
        self._ir: np.ndarray | None = None   # the room IR, read once for the render check
        self._ir_key: tuple[int, str] | None = None
        self._route_client: Any = None
        self._jack_xruns = 0
        self._timeout_margin_s = timeout_margin_s
        with self._attached():
            self._resolve()
        self.fs = self.state.fs                  # the only rate the rig runs at (Hz)
        self.speaker_outputs = self.state.speaker_outputs
        # None: the loopback input carries the speaker outputs themselves (like the simulated
        # room); an int: the one output wired to the loopback input.
        self.loopback_output = self.state.loopback_output if loopback == "dedicated" else None
        self.mic_input = self.state.mic_input if mic_input is None else mic_input
        self.loopback_input = None if loopback == "none" else self.state.loopback_input
        if routing == "speakers":   # no input hears the rig (see the class notes)
            if mic_input is not None or loopback not in ("speakers", "none"):
                raise ConfigError("rig routing 'speakers' wires no input; drop mic_input/loopback or use routing 'room'")
            self.mic_input = self.loopback_input = None
        if self.loopback_input is not None and self.loopback_input == self.mic_input:
            raise ConfigError(f"the rig's mic cannot feed input {self.mic_input + 1}: the loopback reference does; "
                              "use loopback='none' or another input")

    def _resolve(self) -> None:
        super().__init__("system", hostapi="JACK", block_size=0, latency="low",
                         timeout_margin_s=self._timeout_margin_s)
        self.name = (f"JACK virtual room ({self.state.ir_source}, {self.state.fs} Hz, "
                     f"period {self.state.period})")

    @contextlib.contextmanager
    def _attached(self) -> Iterator[None]:
        """PortAudio sees the rig's server only while this block runs (see module notes)."""
        attach_jack(self.state.server)
        try:
            yield
        finally:
            detach_jack(self.state.server)

    def _server_alive(self) -> bool:
        from hardware.jackrig import _is_ours

        return _is_ours(self.state.jackd_pid, "jackd", self.state.server)

    def _wait(self, done, *, timeout_s: float) -> bool:
        # poll the server while waiting, so a dead jackd fails the run at once
        deadline = time.monotonic() + timeout_s
        while True:
            if done.wait(timeout=min(0.2, max(deadline - time.monotonic(), 0.0))):
                return True
            if time.monotonic() >= deadline or not self._server_alive():
                return False

    def _stream_lost(self) -> bool:
        return not self._server_alive()

    def _lost_message(self) -> str:
        return (f"the rig's JACK server (jackd pid {self.state.jackd_pid}) died during the capture; "
                f"see {self.state.folder}/jackd.log, run 'roomtruth rig stop' and 'roomtruth rig start', "
                "then run this program again")

    def connections(self, *, n_inputs: int, n_outputs: int) -> list[tuple[str, str]]:
        """The (source, destination) JACK port pairs the routing makes."""
        pa = jack_client_name()
        s = self.state
        pairs: list[tuple[str, str]] = []
        if self.routing == "loopback":
            return [(f"{pa}:out_{k}", f"{pa}:in_{k}") for k in range(min(n_inputs, n_outputs))]
        for i in range(min(s.n_speakers, n_outputs)):
            pairs.append((f"{pa}:out_{i}", f"{s.room_client}:spk{i + 1}"))
        if self.mic_input is not None and n_inputs > self.mic_input:
            pairs.append((f"{s.room_client}:mic", f"{pa}:in_{self.mic_input}"))
        if self.loopback_input is not None and n_inputs > self.loopback_input:
            if self.loopback == "speakers":   # JACK sums every connection into one input
                pairs += [(f"{pa}:out_{i}", f"{pa}:in_{self.loopback_input}")
                          for i in range(min(s.n_speakers, n_outputs))]
            elif n_outputs > s.loopback_output:
                pairs.append((f"{pa}:out_{s.loopback_output}", f"{pa}:in_{self.loopback_input}"))
        return pairs

    def _after_open(self, stream: Any, *, n_inputs: int, n_outputs: int) -> None:
        jack = _silence_jack()
        client = _connect_client(self.state.server, f"roomtruth-route-{os.getpid()}")
        if client is None:
            raise DeviceError(f"the rig's JACK server '{self.state.server}' stopped answering; "
                              "run 'roomtruth rig stop' and 'roomtruth rig start'")
        self._jack_xruns = 0

        def on_xrun(delay_usecs: float) -> None:
            self._jack_xruns += 1

        try:
            client.set_xrun_callback(on_xrun)
            client.activate()
            for src, dst in self.connections(n_inputs=n_inputs, n_outputs=n_outputs):
                try:
                    client.connect(src, dst)
                except jack.JackError as exc:
                    raise DeviceError(f"cannot connect JACK port {src} to {dst} ({exc}); "
                                      "check 'roomtruth rig status'") from None
        except BaseException:
            client.close()
            raise
        self._route_client = client

    def _release(self) -> None:
        if self._route_client is not None:
            with contextlib.suppress(Exception):
                self._route_client.deactivate()
                self._route_client.close()
            self._route_client = None

    def routing_table(self, *, n_outputs: int) -> dict[int, list[tuple[int, Any]]]:
        """What feeds each 0-based input: ``[(output, ir row or None for a wire), ...]``."""
        from calib.audio_io import read_audio

        s = self.state
        if self.routing == "loopback":
            return {k: [(k, None)] for k in range(n_outputs)}
        if self.routing == "speakers":
            return {}
        if self._ir is None or self._ir_key != (s.jackd_pid, s.ir_path):
            self._ir, self._ir_key = read_audio(s.ir_path)[0], (s.jackd_pid, s.ir_path)
        table = {self.mic_input: [(i, self._ir[i]) for i in range(s.n_speakers)]}
        if self.loopback == "speakers":
            table[s.loopback_input] = [(i, None) for i in range(s.n_speakers)]
        elif self.loopback == "dedicated":
            table[s.loopback_input] = [(s.loopback_output, None)]
        return table

    def play_record(self, stimulus: np.ndarray, *, fs: int, output_channels: tuple[int, ...],
                    input_channels: tuple[int, ...]) -> CaptureResult:
        """As :meth:`PortAudioBackend.play_record`, through the rig; ``fs`` must be the rig's.

        Every capture is then checked against what the rig must have produced
        (:func:`hardware.rig_check.check_render`: wires bit-exact, the room within float32
        rounding, one common whole-period delay).  A capture that matches is intact, whatever
        PortAudio's flags said (a short late cycle in sync mode loses nothing, a long stall does):
        ``status_flags`` is then empty and the flags PortAudio raised are kept in
        ``meta["portaudio_status_flags"]``.  A capture that does not match has
        ``lost_samples=True`` and ``"rig_render_mismatch"`` among its flags.  When nothing
        can be compared (silence, unrouted inputs) PortAudio's flags stand as they are.
        JACK xruns seen during the run are counted in ``meta["jack_xruns"]``.
        """
        if int(fs) != self.state.fs:
            raise ConfigError(f"the rig runs at {self.state.fs} Hz but {int(fs)} Hz was asked for; "
                              f"measure at {self.state.fs} Hz or restart the rig with --fs {int(fs)}")
        self.state = _require_running(self.state.server)
        with self._attached():
            self._resolve()   # device indices may differ after re-initialising
            try:
                res = super().play_record(stimulus, fs=fs, output_channels=output_channels,
                                          input_channels=input_channels)
            finally:
                self._release()
        meta = dict(res.meta)
        meta.update(jack_xruns=self._jack_xruns, rig=self.state.to_dict(), routing=self.routing,
                    loopback=self.loopback, portaudio_status_flags=list(res.status_flags))
        stim = np.atleast_2d(np.asarray(stimulus)).astype(np.float32)
        played = {int(ch): stim[row].astype(np.float64) for row, ch in enumerate(output_channels)}
        chk = check_render(res.recording, played=played,
                           routing=self.routing_table(n_outputs=max(output_channels) + 1),
                           input_channels=input_channels, period=self.state.period)
        meta["render_check"] = {"ok": chk.ok, "delay_samples": chk.delay_samples,
                                "max_error_rel": chk.max_error_rel,
                                "checked_inputs": [c + 1 for c in chk.checked_inputs], "reason": chk.reason}
        flags, lost = tuple(res.status_flags), bool(res.lost_samples)
        if chk.checked_inputs:
            if chk.ok:
                flags, lost = (), False
            else:
                flags, lost = tuple(dict.fromkeys((*flags, "rig_render_mismatch"))), True
        return CaptureResult(recording=res.recording, fs=res.fs, status_flags=flags,
                             lost_samples=lost, device=self.name, meta=meta)

    def open_duplex(self, callback, *, fs: int, block_size: int, n_inputs: int, n_outputs: int):
        """As :meth:`PortAudioBackend.open_duplex`, routed through the rig.

        ``block_size`` should equal the rig period (JACK calls back once per period).
        """
        if int(fs) != self.state.fs:
            raise ConfigError(f"the rig runs at {self.state.fs} Hz but {int(fs)} Hz was asked for")
        self.state = _require_running(self.state.server)
        attach_jack(self.state.server)
        try:
            self._resolve()
            ds = super().open_duplex(callback, fs=fs, block_size=block_size, n_inputs=n_inputs,
                                     n_outputs=n_outputs)
        except BaseException:
            self._release()
            detach_jack(self.state.server)
            raise
        orig_close = ds.close

        def close() -> None:
            orig_close()
            self._release()
            detach_jack(self.state.server)

        ds.close = close  # type: ignore[method-assign]
        return ds

    def close(self) -> None:
        self._release()
