"""The watch during ``monitor run``: the audio callback copies, a worker in the other process judges.

Audio process (the callback, :class:`WatchTap`)
-----------------------------------------------
After the engine's callback has written the block, the tap copies the watch mic's input column
and every speaker's output column into a ring in shared memory (float32, preallocated by the
parent), then advances a 64-bit write counter in the same shared block.  That is all: two
slice copies per row, no allocation that outlives the call, no lock, no system call, nothing
raised (an error is counted and the block skipped).  The tap is the only writer.

Parent process (:class:`WatchWorker`, a thread)
-----------------------------------------------
Reads what was written since its last look (the counter first, then the samples; a reader that
fell more than the ring behind skips to the newest data and says so), feeds it to
:class:`monitor.watch.Watch` (spectra, judgement) and keeps a small status for the live view
and the status file.  The watch's arithmetic never runs in the audio process, so it cannot
take the GIL from the callback.  Reported events can be stored in the history (from
programme) and, with ``confirm_with_sweep``, mark that a sweep verification is wanted at the
next pause (the status says so; the sweep itself is run by the user or the scheduler).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["WatchRing", "WatchTap", "WatchWorker"]


class WatchRing:
    """A ring of ``n_rows`` float32 rows (row 0: the mic, then one per speaker) in shared memory,
    with a 64-bit write counter (samples written so far) in front."""

    HEADER = 64     # bytes: the counter (int64), padded

    def __init__(self, shm: Any, n_rows: int, capacity: int, *, owner: bool) -> None:
        self.shm = shm
        self.n_rows = int(n_rows)
        self.capacity = int(capacity)
        self.owner = owner
        self.count = np.ndarray((1,), dtype=np.int64, buffer=shm.buf, offset=0)
        self.data = np.ndarray((self.n_rows, self.capacity), dtype=np.float32, buffer=shm.buf, offset=self.HEADER)

    @classmethod
    def create(cls, n_rows: int, capacity: int) -> "WatchRing":
        from multiprocessing import shared_memory

        shm = shared_memory.SharedMemory(create=True, size=cls.HEADER + 4 * n_rows * capacity)
        ring = cls(shm, n_rows, capacity, owner=True)
        ring.count[0] = 0
        return ring

    @classmethod
    def attach(cls, name: str, n_rows: int, capacity: int) -> "WatchRing":
        from multiprocessing import shared_memory

        return cls(shared_memory.SharedMemory(name=name), n_rows, capacity, owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

    def close(self) -> None:
        # drop the numpy views first: the buffer cannot be released while they exist
        self.count = None   # type: ignore[assignment]
        self.data = None    # type: ignore[assignment]
        try:
            self.shm.close()
            if self.owner:
                self.shm.unlink()
        except (OSError, BufferError):
            pass


class WatchTap:
    """Wraps a duplex callback; after it, copies the mic input and the speaker outputs into a
    :class:`WatchRing` (audio thread; see the module docstring for the contract).

    Parameters
    ----------
    callback : callable
        The engine's callback ``(indata, outdata, frames, status)``.
    ring : WatchRing
    mic_input : int
        0-based input column of the watch mic.
    outputs : sequence of int
        0-based output column of each speaker, in the watch's speaker order.
    """

    def __init__(self, callback: Callable, ring: WatchRing, *, mic_input: int, outputs: Sequence[int]) -> None:
        self.inner = callback
        self.ring = ring
        self.mic = int(mic_input)
        self.outputs = tuple(int(o) for o in outputs)
        self.errors = 0
        self._w = int(ring.count[0])

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, status_flags: int) -> None:
        self.inner(indata, outdata, frames, status_flags)
        try:
            n = int(frames)
            R = self.ring.capacity
            data = self.ring.data
            w = self._w % R
            k = min(n, R - w)
            data[0, w:w + k] = indata[:k, self.mic]
            for r, o in enumerate(self.outputs, 1):
                data[r, w:w + k] = outdata[:k, o]
            if k < n:
                data[0, :n - k] = indata[k:n, self.mic]
                for r, o in enumerate(self.outputs, 1):
                    data[r, :n - k] = outdata[k:n, o]
            self._w += n
            self.ring.count[0] = self._w     # published after the samples
        except BaseException:  # noqa: BLE001 - nothing escapes the audio thread
            self.errors += 1


class WatchWorker:
    """Parent-side thread: ring → :class:`monitor.watch.Watch` → status.

    Parameters
    ----------
    ring : WatchRing
    watch : monitor.watch.Watch
    period_s : float
        How often the ring is read (s).
    on_events : callable, optional
        Called (in this thread) with each batch of new :class:`monitor.watch.WatchEvent`.
    confirm_with_sweep : bool
        A reported fail marks ``sweep_requested`` in the status.
    """

    def __init__(self, ring: WatchRing, watch: Any, *, period_s: float = 0.5,
                 on_events: Callable[[list], None] | None = None, confirm_with_sweep: bool = False) -> None:
        self.ring = ring
        self.watch = watch
        self.period_s = float(period_s)
        self.on_events = on_events
        self.confirm_with_sweep = bool(confirm_with_sweep)
        self.sweep_requested: str | None = None
        self.pause_s = 0.0          # seconds since the feeds last sounded (programme time)
        self._r = 0
        self.skipped_samples = 0
        self.cpu_s = 0.0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="roomtruth-watch", daemon=True)
        self._lock = threading.Lock()
        self._status: dict = {"state": "starting"}
        self.t_start = time.monotonic()

    def start(self) -> "WatchWorker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:      # started
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - reported in the status, the monitor keeps playing
                self.errors.append(f"{type(exc).__name__}: {exc}")
                if len(self.errors) > 20:
                    del self.errors[:10]

    def step(self) -> int:
        """Take what was written since the last call; returns the samples taken."""
        c0 = time.thread_time()
        w = int(self.ring.count[0])
        R = self.ring.capacity
        if w - self._r > R:
            self.skipped_samples += w - self._r - R // 2
            self._r = w - R // 2
        n = w - self._r
        if n <= 0:
            return 0
        i0 = self._r % R
        idx = (i0 + np.arange(n)) % R
        block = np.asarray(self.ring.data[:, idx], dtype=np.float64)
        # the writer may have lapped us while copying: re-check and drop what was overwritten
        w2 = int(self.ring.count[0])
        lapped = max(0, w2 - R - self._r)
        if lapped:
            block = block[:, lapped:]
            self.skipped_samples += lapped
        self._r = w
        self._count_pause(block[1:])
        events = self.watch.push(block[1:], block[0])
        if events:
            if self.confirm_with_sweep and any(e.verdict == "fail" for e in events) and self.sweep_requested is None:
                self.sweep_requested = events[0].message
            if self.on_events is not None:
                self.on_events(events)
        self.cpu_s += time.thread_time() - c0
        self._publish()
        return n

    def _count_pause(self, feeds: np.ndarray) -> None:
        """Seconds of no programme up to now: the trailing run of 0.1 s pieces whose feeds are
        quieter than the watch's ``quiet_power`` (the level below which it skips programme)."""
        fs = int(getattr(self.watch, "fs", 48_000))
        quiet = float(getattr(self.watch, "quiet_power", 1e-6))
        piece = max(1, fs // 10)
        n = feeds.shape[1]
        for s in range(0, n, piece):
            seg = feeds[:, s:s + piece]
            if float(np.mean(seg * seg)) * max(seg.shape[0], 1) >= quiet:
                self.pause_s = 0.0
            else:
                self.pause_s += seg.shape[1] / fs

    def _publish(self) -> None:
        w = self.watch
        cur = dict(w.current or {})
        lines = w.speaker_lines()
        since = {}
        for e in w.events:
            if e.verdict in ("warn", "fail") and e.since_unix is not None:
                since.setdefault(e.speaker, e.since_unix)
        el = max(time.monotonic() - self.t_start, 1e-9)
        st = {"state": cur.get("state", "acquiring"), "programme_s": round(w.n_in / w.fs, 1),
              "verdict": w.verdict(), "message": w.summary(), "speakers": lines,
              "since_unix": since, "delay_samples": w.delay, "coherence": cur.get("coherence"),
              "settled": cur.get("settled", True), "evaluations": getattr(w, "n_evals", 0), "notes": list(w.notes[-5:]),
              "events": [e.to_dict() for e in w.events[-10:]], "skipped_samples": self.skipped_samples,
              "cpu_share": round(self.cpu_s / el, 4), "sweep_requested": self.sweep_requested,
              "pause_s": round(self.pause_s, 1),
              "errors": self.errors[-3:]}
        with self._lock:
            self._status = st

    def status(self) -> dict:
        """The newest watch status (a copy; safe from any thread)."""
        with self._lock:
            return dict(self._status)


def view_line(st: dict | None) -> str:
    """One line for the live view: ``watching: L OK, R drift R +1.1 dB at 125 Hz since 11:42``."""
    if not st:
        return ""
    state = st.get("state", "")
    if state in ("starting", "acquiring"):
        return f"watching: listening for the programme ({st.get('programme_s', 0):.0f} s)"
    if state == "quiet":
        return "watching: quiet (no usable programme yet)"
    parts = []
    for spk, line in (st.get("speakers") or {}).items():
        since = (st.get("since_unix") or {}).get(spk)
        when = time.strftime(" since %H:%M", time.localtime(since)) if since and line.startswith("drift") else ""
        parts.append(f"{spk} {line}{when}" if not line.startswith("drift") else f"{line}{when}")
    extra = "" if st.get("settled", True) else " (the sound at the mic is changing: verdicts wait)"
    sweep = st.get("sweep") or {}
    if sweep.get("state") == "running":
        extra += "; sweep verification running (the pause)"
    elif st.get("sweep_requested"):
        extra += "; a sweep verification is wanted at the next pause"
    elif sweep.get("state"):
        extra += f"; sweep verification at the pause: {sweep['state']}"
    return "watching: " + ", ".join(parts) + extra
