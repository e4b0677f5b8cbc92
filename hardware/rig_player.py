"""Programme for the JACK virtual room: a JACK client that plays a signal into other ports.

``monitor run --input rig --watch-mic N`` puts the room's mic on input N and leaves its
programme inputs free (:class:`hardware.rig_backend.RigBackend` with ``mic_input``); on a real
interface a DAW feeds them.  :class:`RigPlayer` is that DAW on the rig: it plays a
``(n_channels, n)`` signal in a loop, from its own output ports, into the ports it is connected
to (JACK sums connections, so it adds to whatever else feeds them).

It can also sit *between* two ports as an insert with a gain per channel that can be changed
while it plays (:meth:`RigPlayer.set_gain_db`): the rig's "amplifier", so a level drift of one
speaker can be made while ``monitor run`` plays.

The process callback runs in JACK's thread: it copies preallocated float32 arrays, nothing else.
"""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import numpy as np

from calib.errors import ConfigError, DeviceError
from hardware.jackproc import _connect_client, _silence_jack
from hardware.jackrig import ROOM_CLIENT, rig_server_name

__all__ = ["RigPlayer", "monitor_ports"]


class RigPlayer:
    """A JACK client on the rig's server that plays a signal in a loop (and/or passes its inputs
    through with a gain per channel).

    Parameters
    ----------
    programme : ndarray, shape (n_channels, n), optional
        The signal to play, float (full scale 1.0), at the rig's rate; looped.  None: silence
        (an insert only).
    n_channels : int, optional
        Channels when ``programme`` is None.
    inserts : int
        Insert channels (input ``ins_k`` passed to output ``thru_k`` with gain ``k``).
    server : str, optional
        The rig's JACK server (default :func:`hardware.jackrig.rig_server_name`).
    name : str, optional
        JACK client name (default ``roomtruth-player-<pid>``).

    Raises
    ------
    ConfigError
        The programme is not a finite 2-D array.
    DeviceError
        The rig's server does not answer.
    """

    def __init__(self, programme: np.ndarray | None = None, *, n_channels: int = 0, inserts: int = 0,
                 server: str | None = None, name: str | None = None) -> None:
        if programme is not None:
            x = np.asarray(programme, dtype=np.float32)
            if x.ndim != 2 or x.shape[1] == 0 or not np.all(np.isfinite(x)):
                raise ConfigError("the player's programme must be a finite (n_channels, n) array")
            self.programme = np.ascontiguousarray(x)
        else:
            self.programme = np.zeros((int(n_channels), 1), np.float32)
        self.n_channels = self.programme.shape[0]
        self.n_inserts = int(inserts)
        self.server = server or rig_server_name()
        self.name = name or f"roomtruth-player-{os.getpid()}"
        self.gain = np.ones(max(self.n_inserts, 1), np.float32)   # linear, read by the callback
        self.pos = 0                      # samples played (programme time)
        self.playing = programme is not None
        self._client: Any = None
        self._router: Any = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "RigPlayer":
        """Register the client and its ports and start playing (nothing is connected yet)."""
        _silence_jack()
        client = _connect_client(self.server, self.name)
        if client is None:
            raise DeviceError(f"the rig's JACK server '{self.server}' does not answer; start it with 'roomtruth rig start'")
        self._client = client
        self.fs = int(client.samplerate)
        self._outs = [client.outports.register(f"out_{k + 1}") for k in range(self.n_channels)]
        self._ins = [client.inports.register(f"ins_{k + 1}") for k in range(self.n_inserts)]
        self._thru = [client.outports.register(f"thru_{k + 1}") for k in range(self.n_inserts)]
        client.set_process_callback(self._process)
        client.activate()
        # the rig's server ignores a client's connections of its own ports (jackd -a a): a
        # second client makes them, as RigBackend's routing client does
        self._router = _connect_client(self.server, f"{self.name}-route")
        if self._router is None:
            self.close()
            raise DeviceError(f"the rig's JACK server '{self.server}' stopped answering")
        self._router.activate()
        return self

    def _process(self, frames: int) -> None:
        # JACK's thread: slice copies of preallocated arrays only
        x = self.programme
        n = x.shape[1]
        if self.playing:
            i = self.pos % n
            k = min(frames, n - i)
            for c, port in enumerate(self._outs):
                buf = port.get_array()
                buf[:k] = x[c, i:i + k]
                if k < frames:
                    buf[k:frames] = x[c, :frames - k]   # the loop wraps (programme >= one period)
            self.pos += frames
        else:
            for port in self._outs:
                port.get_array().fill(0.0)
        for c, (pi, po) in enumerate(zip(self._ins, self._thru)):
            np.multiply(pi.get_array(), self.gain[c], out=po.get_array())

    def set_gain_db(self, channel: int, gain_db: float) -> None:
        """Gain of insert ``channel`` (0-based), in dB, from the next period on."""
        self.gain[int(channel)] = np.float32(10.0 ** (float(gain_db) / 20.0))

    def connect(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Connect JACK ports (source, destination); ``out_k``/``ins_k``/``thru_k`` may be given
        without the client name."""
        jack = _silence_jack()

        def full(p: str) -> str:
            return p if ":" in p else f"{self.name}:{p}"

        for src, dst in pairs:
            try:
                self._router.connect(full(src), full(dst))
            except jack.JackError as exc:
                raise DeviceError(f"cannot connect JACK port {full(src)} to {full(dst)} ({exc})") from None

    def disconnect(self, src: str, dst: str) -> None:
        """Undo one connection (any client's)."""
        jack = _silence_jack()
        try:
            self._router.disconnect(src, dst)
        except jack.JackError as exc:
            raise DeviceError(f"cannot disconnect JACK port {src} from {dst} ({exc})") from None

    def close(self) -> None:
        for attr in ("_router",):
            r = getattr(self, attr, None)
            if r is not None:
                try:
                    r.deactivate()
                    r.close()
                except Exception:  # noqa: BLE001 - the server may be gone already
                    pass
                setattr(self, attr, None)
        if self._client is not None:
            try:
                self._client.deactivate()
                self._client.close()
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass
            self._client = None

    def __enter__(self) -> "RigPlayer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def client(self) -> Any:
        return self._client


def monitor_ports(player: RigPlayer, *, timeout_s: float = 60.0) -> dict[str, list[str]]:
    """The JACK ports of the ``monitor run`` playing on the rig: the PortAudio client whose input
    the room's mic feeds (``--watch-mic``).  Waits until its stream is routed.

    Returns
    -------
    dict
        ``{"client": name, "inputs": [...in_0, in_1, ...], "outputs": [...out_0, ...],
        "mic": the input the room's mic feeds, "speakers": {output port: [room ports]}}``.

    Raises
    ------
    DeviceError
        No client took the room's mic within ``timeout_s``.
    """
    c = player.client
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        conns = [p.name for p in c.get_all_connections(f"{ROOM_CLIENT}:mic")]
        if conns:
            mic = conns[0]
            client = mic.split(":", 1)[0]
            ins = sorted((p.name for p in c.get_ports(f"^{client}:in_", is_audio=True)),
                         key=lambda s: int(s.rsplit("_", 1)[1]))
            outs = sorted((p.name for p in c.get_ports(f"^{client}:out_", is_audio=True)),
                          key=lambda s: int(s.rsplit("_", 1)[1]))
            spk = {o: [p.name for p in c.get_all_connections(o)] for o in outs}
            return {"client": client, "inputs": ins, "outputs": outs, "mic": mic, "speakers": spk}
        time.sleep(0.1)
    raise DeviceError(f"no monitor took the room's mic ({ROOM_CLIENT}:mic) within {timeout_s:.0f} s")
