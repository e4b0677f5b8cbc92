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
With ``--watch-gain-db`` the mic's gain is known (the calibration mic left on its stand, same
input and preamp setting: 0 dB) and levels are judged absolutely: a drift already present when
the watch starts, or common to every speaker, is then seen too.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

__all__ = ["LiveWatch", "RING_S", "SweepOnPause", "PAUSE_S"]

#: Seconds the shared ring holds (the worker reads it every half second).
RING_S = 20.0
#: Seconds without programme before a wanted sweep verification starts (``--confirm-with-sweep``).
PAUSE_S = 10.0


class SweepOnPause:
    """``--confirm-with-sweep`` with ``--room``: the sweep verification the watch asked for, run
    at the next pause.

    When the watch has reported a drift (``worker.sweep_requested``) and the programme has
    paused for ``pause_s`` (the feeds below the watch's quiet level), ``roomtruth verify --room
    ROOM --profile PROFILE --json`` runs as a child process -- the command the scheduler runs,
    so the same code path measures, judges and writes the room's history and report.  It plays
    its sweeps on the room's interface beside the running monitor (which plays silence then; a
    shared audio server such as JACK takes both, an interface only one program may open makes
    verify fail with its device error, said in the status).  If programme comes back during the
    sweep, the sweep is stopped at once (nothing is recorded) and runs at the next pause.

    Parameters
    ----------
    room : Path
        The room workspace (room.toml: the interface; history.sqlite; reports/).
    profile_dir : Path
        The profile ``monitor run`` plays (verify checks it).
    pause_s : float
        Seconds without programme before the sweep starts.
    popen : callable
        ``subprocess.Popen`` (tests give a stand-in).
    """

    def __init__(self, room: Path, profile_dir: Path, *, pause_s: float = PAUSE_S, popen: Any = None) -> None:
        import subprocess
        import sys

        from monitor.schedule import verify_command

        self.argv = list(verify_command(sys.executable, ["--room", str(Path(room).resolve()), "--profile",
                                                         str(Path(profile_dir).resolve()), "--json"]))
        self.pause_s = float(pause_s)
        self.popen = popen or subprocess.Popen
        self.proc: Any = None
        self.runs: list[dict] = []      # every sweep started: state, reason, times, verdict
        self._armed = True
        self._out: Any = None

    def tick(self, worker: Any) -> None:
        """Start, watch or stop the sweep (the parent's UI loop calls this; never blocks)."""
        if self.proc is None:
            if worker.pause_s < self.pause_s:
                self._armed = True                  # programme again: the next pause may sweep
            if self._armed and worker.sweep_requested and worker.pause_s >= self.pause_s:
                self._armed = False                 # one sweep per pause (a failed one is not retried in it)
                import subprocess
                import tempfile

                self._out = (tempfile.TemporaryFile(), tempfile.TemporaryFile())   # verify's stdout, stderr
                self.proc = self.popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._out[0], stderr=self._out[1])
                self.runs.append({"state": "running", "reason": worker.sweep_requested,
                                  "started_unix": time.time(), "pid": getattr(self.proc, "pid", None)})
            return
        run = self.runs[-1]
        code = self.proc.poll()
        if code is None:
            if worker.pause_s < self.pause_s:       # programme is back: the sweep must not play over it
                self.proc.terminate()
                self._finish(run, "stopped: programme came back (it runs at the next pause)", wait=True)
                self._armed = True
            return
        self._finish(run, None, wait=False)
        if run["state"] in ("pass", "warn", "fail"):
            worker.sweep_requested = None           # answered: a new drift may ask again

    def _finish(self, run: dict, why: str | None, *, wait: bool) -> None:
        import json

        if wait:
            try:
                self.proc.wait(10.0)
            except Exception:  # noqa: BLE001 - a stubborn child: killed
                self.proc.kill()
        code = self.proc.returncode
        text, err = "", ""
        if self._out is not None:
            text, err = (self._read(f) for f in self._out)
        run["exit_code"] = code
        run["ended_unix"] = time.time()
        if why is not None:
            run["state"] = "stopped"
            run["message"] = why
        else:
            try:
                doc = json.loads(text[text.index("{"):])
                run["state"] = str(doc.get("verdict", "error"))
                run["message"] = str(doc.get("message", ""))
                run["measurement_id"] = doc.get("measurement_id") or (doc.get("meta") or {}).get("measurement_id")
            except ValueError:      # verify refused or failed: its one-line error
                run["state"] = "error"
                run["message"] = (err.strip().splitlines() or [f"verify exited with code {code}"])[-1][:300]
        self.proc = None
        self._out = None

    @staticmethod
    def _read(f: Any) -> str:
        f.seek(0)
        text = f.read().decode("utf-8", "replace")
        f.close()
        return text

    def status(self) -> dict | None:
        """The newest sweep (None before the first)."""
        return dict(self.runs[-1]) if self.runs else None

    def close(self) -> None:
        """The monitor stops: a running sweep is stopped (nothing recorded)."""
        if self.proc is not None:
            self.proc.terminate()
            self._finish(self.runs[-1], "stopped: the monitor stopped", wait=True)


class LiveWatch:
    """The watch of one ``monitor run``.

    Raises
    ------
    ConfigError
        The profile has no baseline, its baseline is at another rate, or the mic input is
        not a channel number.
    """

    def __init__(self, profile: Any, *, fs: int, watch_mic: int, confirm_with_sweep: bool = False,
                 history_db: Optional[Path] = None, gain_db: Optional[float] = None,
                 sweeper: Optional[SweepOnPause] = None) -> None:
        from calib.errors import ConfigError
        from monitor.watch import Watch
        from monitor.watch_live import WatchRing, WatchWorker

        if not (isinstance(watch_mic, int) and 1 <= watch_mic <= 256):
            raise ConfigError(f"--watch-mic {watch_mic!r} must be a 1-based input channel number (1..256)")
        if gain_db is not None and not (math.isfinite(gain_db) and -60.0 <= gain_db <= 60.0):
            raise ConfigError(f"--watch-gain-db {gain_db} must be a gain in dB between -60 and +60")
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
        self.sweeper = sweeper
        xo = (profile.target or {}).get("crossover_hz")
        self.watch = Watch(ref, fs=fs, speakers=self.names, tolerances=profile.tolerances or None,
                           latency_samples=None, gain_offset_db=None if gain_db is None else float(gain_db), crossover_hz=float(xo) if xo else None,
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
        """The watch's status (and the sweep at a pause); called by the UI loop."""
        st = self.worker.status()
        if self.sweeper is not None:
            try:
                self.sweeper.tick(self.worker)
            except Exception as exc:  # noqa: BLE001 - the monitor keeps playing; the status says it
                self.worker.errors.append(f"sweep: {type(exc).__name__}: {exc}")
            st["sweep"] = self.sweeper.status()
            st["sweep_requested"] = self.worker.sweep_requested
        return st

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
        if self.sweeper is not None:
            self.sweeper.close()
        self.worker.stop()
        try:
            self.worker.step()
        except Exception:  # noqa: BLE001
            pass
        if self.history_db is not None and self.watch.n_evals:
            self._record()
        st = self.worker.status()
        if self.sweeper is not None:
            st["sweep"] = self.sweeper.status()
            st["sweeps"] = list(self.sweeper.runs)
        st["result"] = self.watch.result()
        self.ring.close()
        return st


def mic_on_programme_error(mic: int, n_programme: int):
    """The error for a watch mic (1-based input ``mic``) on one of the programme inputs."""
    from calib.errors import ConfigError

    return ConfigError(f"--watch-mic {mic} is one of the programme inputs (1..{n_programme}): the mic would play "
                       f"as programme; plug the watch mic into input {n_programme + 1} or above")


def live_watch_for(profile: Any, *, fs: int, watch_mic: Optional[int], room: Optional[Path],
                   confirm_with_sweep: bool, watch_gain_db: Optional[float] = None,
                   profile_dir: Optional[Path] = None, n_programme: Optional[int] = None) -> Optional[LiveWatch]:
    """The watch ``monitor run`` asked for: ``--watch-mic`` or room.toml's ``interface.watch_mic``
    (``--room``); None when neither names a mic.  With ``--room`` the watch entries go to the
    room's ``history.sqlite``.  ``watch_gain_db`` (or room.toml's ``interface.watch_gain_db``):
    the watch mic's known gain against the baseline's mic (dB), else locked at the first judgement.
    ``n_programme``: the programme inputs (1..n) the mic must not be on (checked here, before the
    audio process builds its engine).

    Raises
    ------
    ConfigError
        ``--confirm-with-sweep`` without a watch mic, a bad room.toml, see :class:`LiveWatch`.
    """
    from calib.errors import ConfigError

    mic, gain_given = watch_mic, watch_gain_db
    if room is not None:
        from roomtruth.config import load_room_config

        cfg = load_room_config(room)
        mic = cfg.watch_mic if mic is None else mic
        watch_gain_db = cfg.watch_gain_db if watch_gain_db is None else watch_gain_db
    if mic is None:
        if confirm_with_sweep:
            raise ConfigError("--confirm-with-sweep needs a watch mic: --watch-mic N or interface.watch_mic in room.toml")
        if gain_given is not None:
            raise ConfigError("--watch-gain-db needs a watch mic: --watch-mic N or interface.watch_mic in room.toml")
        return None
    if n_programme is not None and isinstance(mic, int) and 1 <= mic <= n_programme:
        raise mic_on_programme_error(mic, n_programme)
    # --confirm-with-sweep with --room: the sweep runs at the next pause (verify needs room.toml's
    # interface); without --room it stays a request in the status
    sweeper = (SweepOnPause(Path(room), Path(profile_dir)) if confirm_with_sweep and room is not None
               and profile_dir is not None else None)
    return LiveWatch(profile, fs=fs, watch_mic=int(mic), confirm_with_sweep=confirm_with_sweep,
                     history_db=(Path(room) / "history.sqlite") if room is not None else None, gain_db=watch_gain_db,
                     sweeper=sweeper)
