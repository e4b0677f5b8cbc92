"""The programme watch inside ``roomtruth monitor run`` (parent side).

``monitor run --watch-mic N`` (or ``--room DIR`` whose room.toml sets ``interface.watch_mic``)
captures that input in the same duplex stream as the monitor: the audio process's callback
copies the mic and the speaker outputs into a shared-memory ring (:mod:`monitor.watch_live`),
and a thread here feeds :class:`monitor.watch.Watch`.  Its state goes into the live view
("watching: L OK, drift R +1.1 dB at 125 Hz since 11:42"), into the live status file
(``watch``), and, with ``--room``, into the room's history as entries from programme.

Live, the interface latency and the watch mic's gain against the baseline's mic are not known
to the sample and the tenth of a dB: both are taken from the first confident estimate and the
watch then judges changes against them (arrival and level of each speaker relative to that
start; a change common to every speaker is not seen: that is a sweep verification's job).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

__all__ = ["LiveWatch", "RING_S"]

#: Seconds the shared ring holds (the worker reads it every half second).
RING_S = 20.0


class LiveWatch:
    """The watch of one ``monitor run``.

    Raises
    ------
    ConfigError
        The profile has no baseline, its baseline is at another rate, or the mic input is
        not a channel number.
    """

    def __init__(self, profile: Any, *, fs: int, watch_mic: int, confirm_with_sweep: bool = False,
                 history_db: Optional[Path] = None) -> None:
        from calib.errors import ConfigError
        from monitor.watch import Watch
        from monitor.watch_live import WatchRing, WatchWorker

        if not (isinstance(watch_mic, int) and 1 <= watch_mic <= 256):
            raise ConfigError(f"--watch-mic {watch_mic!r} must be a 1-based input channel number (1..256)")
        ref = profile.reference
        if ref is None:
            raise ConfigError(f"profile {profile.name!r} holds no baseline measurement to watch against; "
                              "re-create it with 'roomtruth correct' or run without --watch-mic")
        if ref.fs != fs:
            raise ConfigError(f"the monitor runs at {fs} Hz but the profile's baseline is at {ref.fs} Hz; the watch "
                              f"compares at the baseline's rate: run at --fs {ref.fs} or without --watch-mic")
        self.profile = profile
        self.fs = int(fs)
        self.mic_index = watch_mic - 1
        self.names = [s.name for s in profile.speakers]
        self.outputs = [s.output_channel for s in profile.speakers]
        self.history_db = history_db
        xo = (profile.target or {}).get("crossover_hz")
        self.watch = Watch(ref, fs=fs, speakers=self.names, tolerances=profile.tolerances or None,
                           latency_samples=None, gain_offset_db=None, crossover_hz=float(xo) if xo else None,
                           clock=time.time)
        self.ring = WatchRing.create(1 + len(self.names), int(RING_S * fs))
        self.worker = WatchWorker(self.ring, self.watch, on_events=self._events, confirm_with_sweep=confirm_with_sweep)
        self._last_record = 0.0

    def spec_fields(self) -> dict:
        """Fields of :class:`roomtruth.monitor_live.LiveSpec` for the audio process."""
        return {"watch_ring": self.ring.name, "watch_mic": self.mic_index, "watch_outputs": tuple(self.outputs),
                "watch_capacity": self.ring.capacity}

    def start(self) -> "LiveWatch":
        self.worker.start()
        return self

    def status(self) -> dict:
        return self.worker.status()

    def _events(self, events: list) -> None:
        # a changed verdict is worth a history entry; at most one a minute
        if self.history_db is None or time.monotonic() - self._last_record < 60.0:
            return
        self._record()

    def _record(self) -> None:
        from monitor.history import History
        from monitor.watch import record_watch

        try:
            with History(self.history_db) as h:
                record_watch(h, self.watch, profile_name=self.profile.name, profile_hash=self.profile.content_hash(),
                             meta={"live": True})
            self._last_record = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - the monitor keeps playing; the status says it
            self.worker.errors.append(f"history: {type(exc).__name__}: {exc}")

    def stop(self) -> dict:
        """Stop the worker, record the final judgement (with a history), free the ring."""
        self.worker.stop()
        try:
            self.worker.step()
        except Exception:  # noqa: BLE001
            pass
        if self.history_db is not None and self.watch.n_evals:
            self._record()
        st = self.worker.status()
        st["result"] = self.watch.result()
        self.ring.close()
        return st


def live_watch_for(profile: Any, *, fs: int, watch_mic: Optional[int], room: Optional[Path],
                   confirm_with_sweep: bool) -> Optional[LiveWatch]:
    """The watch ``monitor run`` asked for: ``--watch-mic`` or room.toml's ``interface.watch_mic``
    (``--room``); None when neither names a mic.  With ``--room`` the watch entries go to the
    room's ``history.sqlite``.

    Raises
    ------
    ConfigError
        ``--confirm-with-sweep`` without a watch mic, a bad room.toml, see :class:`LiveWatch`.
    """
    from calib.errors import ConfigError

    mic = watch_mic
    if mic is None and room is not None:
        from roomtruth.config import load_room_config

        mic = load_room_config(room).watch_mic
    if mic is None:
        if confirm_with_sweep:
            raise ConfigError("--confirm-with-sweep needs a watch mic: --watch-mic N or interface.watch_mic in room.toml")
        return None
    return LiveWatch(profile, fs=fs, watch_mic=int(mic), confirm_with_sweep=confirm_with_sweep,
                     history_db=(Path(room) / "history.sqlite") if room is not None else None)
