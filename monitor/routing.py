"""The routing stage of a bass-managed profile: programme channels -> speaker feeds.

A profile with ``routing`` (:func:`calib.correction.bass.routing_table`) plays its programme
channels (layout order, LFE included) through a matrix whose every non-zero path has its own
biquad chain (crossover high-pass and all-pass to a main, low-pass to a sub, the LFE's +10 dB
and low-pass).  This stage runs before the per-speaker chains (gain, delay, PEQ/FIR) of
:mod:`monitor.chain`; its outputs are the speaker feeds in the profile's speaker order (subs
last).

Per output, paths with the same filters are summed first and filtered once (a sub takes the
bass of every main through one low-pass); sums and filter state are float64 (the crossovers'
poles sit close to the unit circle at 80 Hz / 48 kHz).  Real-time contract as the rest of the
monitor path: no file I/O, no locks, no logging, nothing raised from :meth:`Router.process`
(a non-finite filter state silences that path for the block and restarts it).  Block-wise
processing equals one-shot processing for any block size (the state carries over).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy import signal as _sig

from calib.errors import ProfileError
from calib.profile import Biquad, CalibrationProfile, peq_sos

__all__ = ["Router", "router_for", "routing_dims", "check_programme", "live_router", "check_same_routing"]


def routing_dims(routing: Mapping[str, Any]) -> tuple[int, int]:
    """(programme inputs, speaker outputs) of a routing table."""
    return len(routing["inputs"]), len(routing["outputs"])


class Router:
    """Matrix + per-path biquads, streaming (``process`` on float32 blocks).

    Parameters
    ----------
    routing : mapping
        ``inputs``, ``outputs``, ``matrix`` (outputs x inputs, linear) and ``filters``
        (``filters[output][input]`` = list of biquad dicts).
    fs : int
        Running sample rate (Hz): the biquads are realised at it.

    Raises
    ------
    ProfileError
        Malformed table (sizes, unknown names) or a biquad not realisable at ``fs``.
    """

    def __init__(self, routing: Mapping[str, Any], *, fs: int) -> None:
        try:
            ins = list(routing["inputs"])
            outs = list(routing["outputs"])
            M = np.asarray(routing["matrix"], dtype=np.float64)
            filt = routing.get("filters") or {}
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"the profile's routing is malformed: {exc!r}") from None
        if M.shape != (len(outs), len(ins)) or not np.all(np.isfinite(M)):
            raise ProfileError(f"the routing matrix is {M.shape}, expected {len(outs)} outputs x {len(ins)} inputs")
        self.fs = int(fs)
        self.table = dict(routing)          # as given (``monitor run`` compares a reloaded profile's)
        self.inputs = tuple(ins)
        self.outputs = tuple(outs)
        self.n_inputs, self.n_outputs = len(ins), len(outs)
        self.matrix = M
        # groups: (output index, gains row over inputs, sos or None, state)
        groups: list[tuple[int, np.ndarray, np.ndarray | None]] = []
        for o, out in enumerate(outs):
            by_key: dict[tuple, np.ndarray] = {}
            chains: dict[tuple, tuple[Biquad, ...]] = {}
            for i, inp in enumerate(ins):
                if M[o, i] == 0.0:
                    continue
                bqs = tuple(Biquad.from_dict(b) for b in (filt.get(out, {}) or {}).get(inp, []))
                key = tuple((b.kind, b.freq_hz, b.gain_db, b.q) for b in bqs)
                row = by_key.setdefault(key, np.zeros(len(ins)))
                row[i] = M[o, i]
                chains[key] = bqs
            for key, row in by_key.items():
                sos = peq_sos(chains[key], fs=self.fs) if chains[key] else None
                groups.append((o, row, sos))
        self._out_idx = np.array([g[0] for g in groups], dtype=int)
        self._G = np.array([g[1] for g in groups]).reshape(len(groups), len(ins))
        self._sos = [g[2] for g in groups]
        self._zi = [None if s is None else np.zeros((s.shape[0], 2)) for s in self._sos]
        # float64 work buffers, grown by the first (warm-up) block and reused after it
        self._x64 = np.zeros((self.n_inputs, 0))
        self._acc = np.zeros((len(self._sos), 0))
        self._y64 = np.zeros((self.n_outputs, 0))

    def reserve(self, n: int) -> None:
        """Size the work buffers for blocks of up to ``n`` samples (call before streaming)."""
        if self._x64.shape[1] < n:
            self._x64 = np.zeros((self.n_inputs, n))
            self._acc = np.zeros((len(self._sos), n))
            self._y64 = np.zeros((self.n_outputs, n))

    def reset(self) -> None:
        for z in self._zi:
            if z is not None:
                z.fill(0.0)

    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Route ``x`` (``(n_inputs, n)`` float32) into ``out`` (``(n_outputs, n)`` float32)."""
        n = x.shape[1]
        self.reserve(n)                                      # no-op after the first block
        xx = self._x64[:, :n]
        np.copyto(xx, x)
        acc = np.matmul(self._G, xx, out=self._acc[:, :n])   # (groups, n)
        y = self._y64[:, :n]
        y.fill(0.0)
        for g, s in enumerate(self._sos):
            v = acc[g]
            if s is not None:
                v, zf = _sig.sosfilt(s, v, zi=self._zi[g])
                if np.isfinite(zf).all():
                    self._zi[g][...] = zf
                else:
                    self._zi[g].fill(0.0)
                    v = np.zeros_like(v)
            y[self._out_idx[g]] += v
        out[...] = y
        return out

    def process_all(self, x: np.ndarray) -> np.ndarray:
        """One-shot routing of a whole ``(n_inputs, n)`` signal (float64 out); resets first."""
        self.reset()
        xx = np.asarray(x, dtype=np.float64)
        acc = self._G @ xx
        y = np.zeros((self.n_outputs, xx.shape[1]))
        for g, s in enumerate(self._sos):
            y[self._out_idx[g]] += acc[g] if s is None else _sig.sosfilt(s, acc[g])
        return y


def router_for(profile: CalibrationProfile, *, fs: int) -> Router | None:
    """The profile's routing stage at ``fs``, or None for a profile without routing.

    Raises
    ------
    ProfileError
        The routing's outputs are not the profile's speakers in output-channel order.
    """
    r = getattr(profile, "routing", None)
    if not r:
        return None
    router = Router(r, fs=fs)
    order = tuple(s.name for s in sorted(profile.speakers, key=lambda s: s.output_channel))
    if router.outputs != order:
        raise ProfileError(f"the routing's outputs {list(router.outputs)} are not the profile's speakers "
                           f"{list(order)}; re-create the profile with 'roomtruth correct'")
    return router


def check_programme(router: Router | None, n_channels: int, source: object) -> int:
    """Channels the engine runs for an input of ``n_channels``: the router's speaker outputs
    (after checking the input holds its programme channels), else ``n_channels``.

    Raises
    ------
    ConfigError
        The input's channel count is not the routing's programme channel count.
    """
    if router is None:
        return int(n_channels)
    if int(n_channels) != router.n_inputs:
        from calib.errors import ConfigError

        raise ConfigError(f"{source} has {n_channels} channel(s) but the bass-managed profile takes "
                          f"{router.n_inputs} programme channels in this order: {', '.join(router.inputs)}; "
                          "give a file with those channels")
    return router.n_outputs


def _table(profile: CalibrationProfile) -> dict | None:
    r = getattr(profile, "routing", None)
    return dict(r) if r else None


def live_router(prof_a: CalibrationProfile, prof_b: CalibrationProfile | None, *, fs: int,
                n_channels: int) -> Router | None:
    """The routing stage ``monitor run`` runs for slot A (and B), or None without bass management.

    Parameters
    ----------
    prof_a, prof_b : the profiles of slots A and B (B may be None).
    fs : running sample rate (Hz).
    n_channels : the speaker outputs the engine drives (max output channel + 1).

    Raises
    ------
    ConfigError
        Profile B routes differently from A (A/B compares profiles behind one routing stage:
        it belongs to the engine, before every slot, and cannot cross-fade), or the routing's
        speakers do not fill outputs 1..n.
    ProfileError
        Malformed routing (:func:`router_for`).
    """
    from calib.errors import ConfigError

    router = router_for(prof_a, fs=fs)
    if prof_b is not None and _table(prof_b) != (None if router is None else router.table):
        if router is None:
            raise ConfigError(f"profile B {prof_b.name!r} is bass-managed and profile A is not; "
                              "compare profiles with the same routing")
        raise ConfigError(f"profile B {prof_b.name!r} routes its programme channels differently from profile A "
                          "(bass management); A/B needs the same routing")
    if router is not None and router.n_outputs != int(n_channels):
        raise ConfigError(f"the bass-managed profile feeds {router.n_outputs} speakers but their output "
                          f"channels span {n_channels}; re-create the profile with 'roomtruth correct'")
    return router


def check_same_routing(router: Router | None, profile: CalibrationProfile) -> None:
    """Refuse loading ``profile`` behind a running routing stage ``router`` it does not share.

    Raises
    ------
    ConfigError
        The routings differ.
    """
    if _table(profile) != (None if router is None else router.table):
        from calib.errors import ConfigError

        raise ConfigError(f"profile {profile.name!r} routes its programme channels differently from the running "
                          "profile (bass management); stop and start 'monitor run' with it")
