"""The real-time duplex stream of :class:`hardware.portaudio.PortAudioBackend`.

The callback wrapper counts PortAudio's status flags and xruns and never lets an exception out
of the audio thread; ``start`` lowers Python's GIL switch interval while the stream runs.  If
the JACK server behind the stream dies, ``stop``/``close`` touch nothing of PortAudio again
(:func:`hardware.portaudio.abandon_portaudio`).  sounddevice itself is imported only in
:mod:`hardware.portaudio`; this module only holds the stream object that module opened.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from hardware.audio_flags import _LOSS_MASK, StatusCounter, _flags_int
from hardware.backend import DuplexCallback, StreamStats

__all__ = ["AUDIO_SWITCH_INTERVAL_S", "PortAudioDuplexStream"]

# Python's GIL switch interval while an audio callback runs (s); see PortAudioBackend.play_record.
AUDIO_SWITCH_INTERVAL_S = 0.0005


class PortAudioDuplexStream:
    """A duplex stream created by :meth:`PortAudioBackend.open_duplex`.

    ``stats`` is refreshed (cpu load, latency) each time it is read; ``errors`` counts
    callbacks whose exception was caught, ``last_error`` holds the last one's text.
    """

    def __init__(self, callback: DuplexCallback, *, lost: Callable[[], bool] | None = None) -> None:
        self._user_cb = callback
        self._lost = lost or (lambda: False)
        self.server_lost = False
        self._saved_switch_s: float | None = None
        self._stats = StreamStats()
        self._stream: Any = None
        self.counter = StatusCounter()
        self.errors = 0
        self.last_error = ""

    def _cb(self, indata, outdata, frames, time_info, status) -> None:  # audio thread
        flags = _flags_int(status)
        self.counter.add(flags)
        if flags & _LOSS_MASK:
            self._stats.xruns += 1
        self._stats.callbacks += 1
        try:
            self._user_cb(indata, outdata, frames, flags)
        except BaseException as exc:  # noqa: BLE001 - nothing may escape the audio thread
            outdata.fill(0.0)
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"

    @property
    def stats(self) -> StreamStats:
        s = self._stream
        if s is not None and not s.closed and not self.server_lost:
            try:
                self._stats.cpu_load = float(s.cpu_load)
                lat = s.latency
                self._stats.latency_s = (float(lat[0]), float(lat[1]))
            except Exception:  # noqa: BLE001 - a closing stream may refuse; keep last values
                pass
        return self._stats

    @property
    def active(self) -> bool:
        return self._stream is not None and not self._stream.closed and bool(self._stream.active)

    def start(self) -> None:
        """Start the stream; while it runs the GIL switch interval is 0.5 ms (see play_record)."""
        if self._saved_switch_s is None:
            self._saved_switch_s = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_switch_s, AUDIO_SWITCH_INTERVAL_S))
        self._stream.start()

    def _restore_switch(self) -> None:
        if self._saved_switch_s is not None:
            sys.setswitchinterval(self._saved_switch_s)
            self._saved_switch_s = None

    def _check_lost(self) -> bool:
        if not self.server_lost and self._stream is not None and self._lost():
            self.server_lost = True
            from hardware.portaudio import abandon_portaudio   # (imported late: that module imports this)

            abandon_portaudio(self._stream)
        return self.server_lost

    def stop(self) -> None:
        """Stop the stream (returns at once, touching nothing, if the server died)."""
        self._restore_switch()
        if self._check_lost():
            return
        if self._stream is not None and not self._stream.closed:
            self._stream.stop()

    def close(self) -> None:
        self._restore_switch()
        if self._check_lost():
            return
        if self._stream is not None and not self._stream.closed:
            self._stream.close()

    def __enter__(self) -> "PortAudioDuplexStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.close()
