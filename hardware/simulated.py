"""The simulated room: an :class:`~hardware.backend.AudioBackend` without hardware, and the
built-in default room with KNOWN acoustics.

``SimulatedRoom`` plays the stimulus through impulse responses (one per output channel,
speaker -> mic), exactly as given: sample 0 of an IR is the moment the sound leaves the output,
so whatever precedes the direct sound in an IR file (silence, pre-ringing, a measuring system's
pre-delay) arrives as delay, and the direct sound reaches the mic ``lead-in + latency`` samples
after emission (:meth:`SimulatedRoom.response_span_samples` says when, so a caller can record
long enough).  It adds the interface latency, background noise, optionally a memoryless
polynomial nonlinearity (the speaker's distortion, applied before the room) and clock drift
of the mic path, clips at full scale like a converter, and feeds a loopback input with the
played signal delayed by the same latency.  Inputs: ``0`` = mic, ``1`` = loopback.

``default_room(fs)`` builds a small control room from physics (deterministic, seeded):

* direct sound and image sources up to 2nd order of a 5.2 x 3.65 x 2.45 m rectangular room
  (Allen & Berkley image method, frequency-independent wall reflection factors), rendered as
  band-limited fractional delays (Kaiser-windowed sinc);
* modal resonators at the Rayleigh frequencies ``f = c/2 sqrt((nx/Lx)^2+(ny/Ly)^2+(nz/Lz)^2)``
  (STANDARDS.md §4.1) up to 150 Hz, each ``A exp(-delta t) sin(2 pi f t)`` from the direct
  arrival with ``delta = 3 ln10 / T60`` (§4.3); amplitude from the rigid-wall mode shapes at
  speaker and mic, so modes with a node at the mic are absent;
* an exponentially decaying diffuse tail per octave band (seeded Gaussian noise, band decay
  ``exp(-3 ln10 t / T60_band)``, complementary band weights).

Every number is exported in :data:`DEFAULT_ROOM_FACTS` so tests can assert against truth.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import signal

from calib.errors import DeviceError, SignalError
from calib.types import ImpulseResponse
from hardware.backend import CaptureResult

__all__ = ["SimulatedRoom", "default_room", "DEFAULT_ROOM_FACTS", "RoomFacts", "render_fractional_impulse",
           "image_source_ir", "layout_room"]

# ---------------------------------------------------------------------------------------------
# The default room, as numbers.
C_M_S = 343.2                     # speed of sound at 20 degC (STANDARDS.md §8.1)
DIMS_M = (5.2, 3.65, 2.45)        # Lx (front wall at x=0 behind the speakers), Ly (y=0 left wall), Lz
MIC_M = (2.2856, 1.825, 1.2)      # listening position on the centre line, ear height
SPEAKERS_M = {"L": (0.9, 1.025, 1.2), "R": (0.8, 2.625, 1.2)}  # R sits 10 cm further back
SURFACES = {  # (axis, wall index 0 = at 0, 1 = at L): reflection factor (pressure)
    (0, 0): ("front wall", 0.70),
    (0, 1): ("rear wall", 0.45),
    (1, 0): ("left wall", 0.60),
    (1, 1): ("right wall", 0.60),
    (2, 0): ("floor", 0.70),
    (2, 1): ("ceiling", 0.50),
}
DIRECT_GAIN_M = 0.8               # direct sound amplitude = DIRECT_GAIN_M / distance (0.5 at 1.6 m)
MODE_MAX_HZ = 150.0
MODE_T60_S = {"axial": 0.60, "tangential": 0.45, "oblique": 0.38}
MODE_PEAK_DB = {"axial": 14.0, "tangential": 11.0, "oblique": 8.0}  # for |psi_s psi_m| = 1
TAIL_RT60_S = {63: 0.45, 125: 0.40, 250: 0.32, 500: 0.28, 1000: 0.26, 2000: 0.25,
               4000: 0.24, 8000: 0.22, 16000: 0.20}
TAIL_DRR_DB = 3.0                 # direct energy over diffuse-tail energy, per octave band (approx.)
TAIL_START_MS = 6.0               # tail build-up starts this long after the direct sound ...
TAIL_RISE_MS = 20.0               # ... and rises (raised cosine) over this long
IR_LENGTH_S = 1.0
IMAGE_MAX_ORDER = 2
SINC_HALF = 32                    # fractional-delay kernel: 64 taps, Kaiser beta 8


@dataclass(frozen=True)
class RoomFacts:
    """The truth about :func:`default_room` (all fs-independent).

    ``modes[ch]`` = tuple of ``(freq_hz, gain_db, t60_s)``: each modal resonator's peak level
    relative to the direct sound of that channel (the total response at the peak also holds the
    direct sound, reflections and tail, so a measured peak differs by a dB or two where modes or
    reflections interfere); ``mode_indices[i]`` the ``(nx, ny, nz)`` of ``modes[ch][i]``.
    ``reflections[ch]`` = first-order ``(delay_ms, level_db, surface)`` relative to the direct
    sound; ``images[ch]`` = every rendered image source up to 2nd order, same layout.
    ``arrival_ms[ch]`` = direct-sound delay after emission; ``channel_delay_ms`` = how much
    later R arrives than L; ``direct_level_db[ch]`` = 20 lg(direct amplitude).
    ``rt60_s`` = decay time of the diffuse tail per octave band (Hz -> s); the 63 and 125 Hz
    bands also hold the modes (T60 per mode above), so their band decay is a mixture.
    """

    dims_m: tuple[float, float, float]
    c_m_s: float
    speakers_m: Mapping[str, tuple[float, float, float]]
    mic_m: tuple[float, float, float]
    distance_m: Mapping[str, float]
    arrival_ms: Mapping[str, float]
    channel_delay_ms: float
    direct_level_db: Mapping[str, float]
    modes: Mapping[str, tuple[tuple[float, float, float], ...]]
    mode_indices: tuple[tuple[int, int, int], ...]
    reflections: Mapping[str, tuple[tuple[float, float, str], ...]]
    images: Mapping[str, tuple[tuple[float, float, str], ...]]
    rt60_s: Mapping[int, float]
    tail_drr_db: float
    ir_length_s: float
    volume_m3: float
    schroeder_hz: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    def strong_modes(self, channel: str, min_gain_db: float = 0.0) -> list[tuple[float, float, float]]:
        """Modes of ``channel`` whose peak is at least ``min_gain_db`` above the direct sound."""
        return [m for m in self.modes[channel] if m[1] >= min_gain_db]


def _dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b)))


def _image_sources(src: Sequence[float], max_order: int) -> list[tuple[tuple[float, float, float], float, str, int]]:
    """Image sources of a rectangular room (Allen & Berkley 1979): position, amplitude factor
    (product of reflection factors), surface names, order.  Excludes the direct sound."""
    per_axis: list[list[tuple[float, float, list[str], int]]] = []
    for ax in range(3):
        L = DIMS_M[ax]
        opts = []
        for p in (0, 1):
            for q in range(-max_order, max_order + 1):
                pos = (1 - 2 * p) * src[ax] + 2 * q * L
                n_low = abs(q - p)   # hits on the wall at 0
                n_high = abs(q)      # hits on the wall at L
                order = n_low + n_high
                if order > max_order:
                    continue
                (nm0, r0), (nm1, r1) = SURFACES[(ax, 0)], SURFACES[(ax, 1)]
                names = [nm0] * n_low + [nm1] * n_high
                opts.append((pos, r0 ** n_low * r1 ** n_high, names, order))
        per_axis.append(opts)
    out = []
    for (px, ax_, nx, ox), (py, ay, ny, oy), (pz, az, nz, oz) in itertools.product(*per_axis):
        order = ox + oy + oz
        if order == 0 or order > max_order:
            continue
        out.append(((px, py, pz), ax_ * ay * az, "+".join(nx + ny + nz), order))
    return out


def _modes() -> list[tuple[tuple[int, int, int], float, str]]:
    Lx, Ly, Lz = DIMS_M
    out = []
    n_max = [int(MODE_MAX_HZ * 2 * L / C_M_S) + 1 for L in DIMS_M]
    for nx in range(n_max[0] + 1):
        for ny in range(n_max[1] + 1):
            for nz in range(n_max[2] + 1):
                if nx == ny == nz == 0:
                    continue
                f = C_M_S / 2 * math.sqrt((nx / Lx) ** 2 + (ny / Ly) ** 2 + (nz / Lz) ** 2)
                if f > MODE_MAX_HZ:
                    continue
                kind = ("axial", "tangential", "oblique")[sum(1 for n in (nx, ny, nz) if n) - 1]
                out.append(((nx, ny, nz), f, kind))
    out.sort(key=lambda m: m[1])
    return out


def _psi(idx: tuple[int, int, int], pos: Sequence[float]) -> float:
    # rigid-wall mode shape, STANDARDS.md §4.1
    return math.prod(math.cos(n * math.pi * p / L) for n, p, L in zip(idx, pos, DIMS_M))


def _mode_gain(idx: tuple[int, int, int], kind: str, ch: str) -> float:
    """Linear peak gain of a mode relative to the direct sound of channel ``ch``."""
    return 10 ** (MODE_PEAK_DB[kind] / 20) * _psi(idx, SPEAKERS_M[ch]) * _psi(idx, MIC_M)


def _build_facts() -> RoomFacts:
    Lx, Ly, Lz = DIMS_M
    V = Lx * Ly * Lz
    dist = {ch: _dist(p, MIC_M) for ch, p in SPEAKERS_M.items()}
    arrival = {ch: d / C_M_S * 1000 for ch, d in dist.items()}
    modes = _modes()
    modes_by_ch = {}
    refl_by_ch = {}
    images_by_ch = {}
    for ch, sp in SPEAKERS_M.items():
        ml = []
        for idx, f, kind in modes:
            g = abs(_mode_gain(idx, kind, ch))
            ml.append((f, 20 * math.log10(g) if g > 1e-12 else -240.0, MODE_T60_S[kind]))
        modes_by_ch[ch] = tuple(ml)
        imgs = []
        for pos, amp, names, order in _image_sources(sp, IMAGE_MAX_ORDER):
            r = _dist(pos, MIC_M)
            level = 20 * math.log10(amp * dist[ch] / r)
            imgs.append(((r - dist[ch]) / C_M_S * 1000, level, names, order))
        imgs.sort(key=lambda t: t[0])
        images_by_ch[ch] = tuple((d, l, n) for d, l, n, _ in imgs)
        refl_by_ch[ch] = tuple((d, l, n) for d, l, n, o in imgs if o == 1)
    t60_mid = TAIL_RT60_S[1000]
    return RoomFacts(
        dims_m=DIMS_M,
        c_m_s=C_M_S,
        speakers_m=dict(SPEAKERS_M),
        mic_m=MIC_M,
        distance_m=dist,
        arrival_ms=arrival,
        channel_delay_ms=arrival["R"] - arrival["L"],
        direct_level_db={ch: 20 * math.log10(DIRECT_GAIN_M / d) for ch, d in dist.items()},
        modes=modes_by_ch,
        mode_indices=tuple(m[0] for m in modes),
        reflections=refl_by_ch,
        images=images_by_ch,
        rt60_s=dict(TAIL_RT60_S),
        tail_drr_db=TAIL_DRR_DB,
        ir_length_s=IR_LENGTH_S,
        volume_m3=V,
        schroeder_hz=2000 * math.sqrt(t60_mid / V),
        extra={"mode_kinds": tuple(m[2] for m in modes), "tail_start_ms": TAIL_START_MS,
               "surfaces": {v[0]: v[1] for v in SURFACES.values()}},
    )


DEFAULT_ROOM_FACTS: RoomFacts = _build_facts()


# ---------------------------------------------------------------------------------------------
def render_fractional_impulse(buf: np.ndarray, pos_samples: float, amplitude: float,
                              half: int = SINC_HALF) -> None:
    """Add ``amplitude`` times a band-limited impulse at fractional index ``pos_samples`` to
    ``buf`` in place (Kaiser-windowed sinc, ``2*half`` taps, beta 8: flat within 0.01 dB up to
    ~0.4 fs)."""
    n0 = int(math.floor(pos_samples))
    k = np.arange(n0 - half + 1, n0 + half + 1)
    d = k - pos_samples
    w = np.kaiser(2 * half + 1, 8.0)
    wv = np.interp(d + half, np.arange(2 * half + 1), w)
    ok = (k >= 0) & (k < buf.size)
    buf[k[ok]] += amplitude * np.sinc(d[ok]) * wv[ok]


def _octave_weights(freqs_hz: np.ndarray, centres: Sequence[int]) -> list[np.ndarray]:
    """Complementary (sum = 1) raised-cosine octave weights on a log-frequency axis."""
    f = np.maximum(freqs_hz, 1e-9)
    lf = np.log2(f)
    lc = np.log2(np.asarray(centres, dtype=float))
    ws = []
    for i, c in enumerate(lc):
        w = np.zeros_like(f)
        lo = lc[i - 1] if i > 0 else -np.inf
        hi = lc[i + 1] if i + 1 < len(lc) else np.inf
        w[(lf <= c) & (lf > lo)] = 1.0
        w[(lf >= c) & (lf < hi)] = 1.0
        if i > 0:
            m = (lf > lo) & (lf < c)
            w[m] = np.sin(np.pi / 2 * (lf[m] - lo) / (c - lo)) ** 2
        else:
            w[lf <= c] = 1.0
        if i + 1 < len(lc):
            m = (lf > c) & (lf < hi)
            w[m] = np.cos(np.pi / 2 * (lf[m] - c) / (hi - c)) ** 2
        else:
            w[lf >= c] = 1.0
        ws.append(w)
    return ws


@functools.lru_cache(maxsize=8)
def default_room(fs: int) -> ImpulseResponse:
    """The built-in control room at sample rate ``fs`` (Hz), channels ``"L"``, ``"R"``.

    Deterministic (fixed seeds) and band-limited; time origin = emission (``onset_samples`` 0),
    ``arrival_samples`` = the exact fractional direct-sound positions.  The facts are in
    :data:`DEFAULT_ROOM_FACTS`.
    """
    if not isinstance(fs, (int, np.integer)) or not (8000 <= int(fs) <= 384_000):
        raise SignalError(f"default room: sample rate {fs!r} Hz is outside 8000..384000 Hz")
    fs = int(fs)
    facts = DEFAULT_ROOM_FACTS
    n = int(round(IR_LENGTH_S * fs))
    t = np.arange(n) / fs
    freqs = np.fft.rfftfreq(n, 1 / fs)
    centres = sorted(TAIL_RT60_S)
    weights = _octave_weights(freqs, centres)
    rows, arrivals = [], []
    for ci, (ch, sp) in enumerate(SPEAKERS_M.items()):
        h = np.zeros(n)
        d0 = facts.distance_m[ch]
        a_d = DIRECT_GAIN_M / d0
        t_d = d0 / C_M_S
        render_fractional_impulse(h, t_d * fs, a_d)
        arrivals.append(t_d * fs)
        for pos, amp, _names, _order in _image_sources(sp, IMAGE_MAX_ORDER):
            r = _dist(pos, MIC_M)
            render_fractional_impulse(h, r / C_M_S * fs, DIRECT_GAIN_M * amp / r)
        # modal resonators: A exp(-delta t') sin(2 pi f t'), t' = t - t_d; peak |H| = A fs/(2 delta)
        tp = t - t_d
        live = tp >= 0
        for idx, f, kind in _modes():
            g = _mode_gain(idx, kind, ch)
            if abs(g) < 1e-9:
                continue
            delta = 3 * math.log(10) / MODE_T60_S[kind]       # STANDARDS.md §4.3
            A = 2 * delta * a_d * g / fs
            h[live] += A * np.exp(-delta * tp[live]) * np.sin(2 * math.pi * f * tp[live])
        # diffuse tail per octave band
        rng = np.random.default_rng([20240611, ci])
        noise = rng.standard_normal(n)
        t_start = t_d + TAIL_START_MS / 1000
        rise = np.clip((t - t_start) / (TAIL_RISE_MS / 1000), 0, 1)
        onset_env = 0.5 * (1 - np.cos(np.pi * rise))
        tail_spec = np.zeros(freqs.size, dtype=complex)
        for fc, w in zip(centres, weights):
            delta = 3 * math.log(10) / TAIL_RT60_S[fc]
            env = onset_env * np.exp(-delta * np.maximum(t - t_start, 0))
            g_b = a_d * 10 ** (-TAIL_DRR_DB / 20) / math.sqrt(np.sum(env**2))
            tail_spec += np.fft.rfft(noise * env * g_b) * w
        h += np.fft.irfft(tail_spec, n)
        rows.append(h)
    return ImpulseResponse(
        samples=np.vstack(rows),
        fs=fs,
        channel_names=tuple(SPEAKERS_M),
        onset_samples=0,
        arrival_samples=tuple(arrivals),
        latency_samples=0.0,
        source_id="default-room",
        meta={"simulated": True, "room": "default", "dims_m": list(DIMS_M)},
    )


# ---------------------------------------------------------------------------------------------
Nonlinearity = Callable[[np.ndarray], np.ndarray] | Sequence[float]


def _apply_nonlinearity(x: np.ndarray, nl: Nonlinearity | None) -> np.ndarray:
    if nl is None:
        return x
    if callable(nl):
        return np.asarray(nl(x), dtype=np.float64)
    coeffs = [float(c) for c in nl]   # y = a1 x + a2 x^2 + a3 x^3 + ...
    y = np.zeros_like(x)
    xp = np.ones_like(x)
    for a in coeffs:
        xp = xp * x
        if a:
            y += a * xp
    return y


class SimulatedRoom:
    """A virtual interface + room + mic implementing :class:`hardware.backend.AudioBackend`.

    Parameters
    ----------
    ir : ImpulseResponse, optional
        Speaker -> mic IRs, output channel ``i`` plays through ``ir.samples[i]``.  Default: the
        built-in :func:`default_room` at the stream's rate.
    latency_samples : int
        Interface round-trip latency added to the mic and the loopback input.
    noise_db : float
        Background noise at the mic, RMS in dBFS (white, seeded).
    nonlinearity : callable or sequence of float, optional
        Memoryless speaker nonlinearity applied to each output before the room: a function, or
        polynomial coefficients ``(a1, a2, a3, ...)`` for ``a1 x + a2 x^2 + a3 x^3 + ...``.
    drift_ppm : float
        Clock drift of the mic path (ppm); the mic signal is resampled (cubic spline).
    seed : int
        Noise seed; successive captures draw fresh (deterministic) noise.
    input_gain_db : float
        Mic preamp gain applied before the converter clips at full scale.
    loopback_noise_db : float
        Converter noise on the loopback input (RMS dBFS).
    interface_ir : ndarray, optional
        The interface's own response (DAC + ADC, an FIR at the stream's rate), applied to
        everything played, so both the mic and the loopback carry it -- what the loopback
        reference removes.
    """

    MIC_INPUT = 0
    LOOPBACK_INPUT = 1

    def __init__(self, ir: ImpulseResponse | None = None, *, latency_samples: int = 512,
                 noise_db: float = -80.0, nonlinearity: Nonlinearity | None = None,
                 drift_ppm: float = 0.0, seed: int = 0, input_gain_db: float = 0.0,
                 loopback_noise_db: float = -130.0, interface_ir: np.ndarray | None = None) -> None:
        if int(latency_samples) != latency_samples or latency_samples < 0:
            raise DeviceError(f"simulated latency must be a whole number of samples >= 0, got {latency_samples}")
        if not math.isfinite(noise_db) or noise_db > 0:
            raise DeviceError(f"simulated noise level {noise_db} dBFS must be a finite level at or below 0 dBFS")
        self._ir = ir
        self.latency_samples = int(latency_samples)
        self.noise_db = float(noise_db)
        self.nonlinearity = nonlinearity
        self.drift_ppm = float(drift_ppm)
        self.seed = int(seed)
        self.input_gain_db = float(input_gain_db)
        self.loopback_noise_db = float(loopback_noise_db)
        self.interface_ir = None if interface_ir is None else np.asarray(interface_ir, dtype=np.float64).ravel()
        if self.interface_ir is not None and (self.interface_ir.size == 0 or not np.all(np.isfinite(self.interface_ir))):
            raise DeviceError("the simulated interface response must be a finite, non-empty FIR")
        self._calls = 0
        self.name = "simulated room" + ("" if ir is None else f" ({ir.source_id or 'given IR'})")

    def response_span_samples(self, fs: int) -> tuple[float, int]:
        """When the mic hears a sound that leaves an output at sample 0.

        Parameters
        ----------
        fs : int
            Stream sample rate (Hz).

        Returns
        -------
        direct_samples : float
            The earliest direct sound over the outputs: the IR's lead-in (its own direct-sound
            index, :func:`calib.deconvolve.find_arrival_samples`, i.e. the first envelope peak
            within 6 dB of the maximum after the envelope reaches -20 dB; ``arrival_samples``
            of the built-in room) plus ``latency_samples``.  The measured arrival of channel
            ``i`` is its own lead-in; the loopback removes the latency.
        end_samples : int
            Samples after emission until the longest response has died out: latency + IR
            length + interface response length - 1.  A capture needs this much after the
            stimulus to hold the whole IR.

        Raises
        ------
        DeviceError
            The IR's rate differs from ``fs``.
        """
        from calib.deconvolve import find_arrival_samples

        ir = self.room_ir(fs)
        if ir.arrival_samples and len(ir.arrival_samples) == ir.n_channels:
            leads = [float(a) for a in ir.arrival_samples]
        else:
            leads = [find_arrival_samples(row) for row in ir.samples if np.any(row)]
        lead = min((a for a in leads if math.isfinite(a)), default=0.0)
        iface = 0 if self.interface_ir is None else self.interface_ir.size - 1
        return lead + self.latency_samples, self.latency_samples + ir.n_samples + iface

    def room_ir(self, fs: int) -> ImpulseResponse:
        """The IR in use at ``fs`` (the default room when none was given)."""
        if self._ir is None:
            return default_room(int(fs))
        if self._ir.fs != int(fs):
            raise DeviceError(
                f"the simulated room's IR is at {self._ir.fs} Hz but the measurement asks for {int(fs)} Hz; "
                f"use --fs {self._ir.fs} or resample the IR file"
            )
        return self._ir

    @property
    def n_outputs(self) -> int:
        return 2 if self._ir is None else self._ir.n_channels

    def play_record(self, stimulus: np.ndarray, *, fs: int, output_channels: tuple[int, ...],
                    input_channels: tuple[int, ...]) -> CaptureResult:
        ir = self.room_ir(fs)
        x = np.asarray(stimulus, dtype=np.float32).astype(np.float64)   # the device boundary
        if x.ndim == 1:
            x = x[np.newaxis, :]
        if x.shape[0] != len(output_channels):
            raise DeviceError(f"stimulus has {x.shape[0]} rows for {len(output_channels)} output channels")
        for oc in output_channels:
            if not 0 <= oc < ir.n_channels:
                raise DeviceError(
                    f"output channel {oc + 1} does not exist: the simulated room has {ir.n_channels} "
                    f"outputs ({', '.join(ir.channel_names)})"
                )
        for ic in input_channels:
            if ic not in (self.MIC_INPUT, self.LOOPBACK_INPUT):
                raise DeviceError(
                    f"input channel {ic + 1} does not exist: the simulated room has input 1 (mic) and 2 (loopback)"
                )
        n = x.shape[1]
        if self.interface_ir is not None:
            x = np.vstack([signal.oaconvolve(row, self.interface_ir)[:n] for row in x])
        self._calls += 1
        rng = np.random.default_rng([self.seed, self._calls])
        lat = self.latency_samples
        mic = np.zeros(n)
        for row, oc in zip(x, output_channels):
            y = signal.oaconvolve(_apply_nonlinearity(row, self.nonlinearity), ir.samples[oc])[:n]
            mic[lat:] += y[: n - lat] if lat < n else 0.0
        if self.drift_ppm:
            from scipy.interpolate import CubicSpline

            pos = np.arange(n) * (1.0 + self.drift_ppm * 1e-6)
            mic = CubicSpline(np.arange(n), mic)(np.minimum(pos, n - 1))
        mic = mic * 10 ** (self.input_gain_db / 20) + rng.standard_normal(n) * 10 ** (self.noise_db / 20)
        loop = np.zeros(n)
        if lat < n:
            loop[lat:] = x.sum(axis=0)[: n - lat]
        loop += rng.standard_normal(n) * 10 ** (self.loopback_noise_db / 20)
        chans = {self.MIC_INPUT: mic, self.LOOPBACK_INPUT: loop}
        rec = np.vstack([np.clip(chans[ic], -1.0, 1.0) for ic in input_channels])
        rec = rec.astype(np.float32).astype(np.float64)                # the device boundary
        return CaptureResult(
            recording=rec,
            fs=int(fs),
            device=self.name,
            meta={"latency_samples": lat, "noise_db": self.noise_db, "drift_ppm": self.drift_ppm},
        )

    def close(self) -> None:
        return None



# rooms of many named speakers (immersive layouts, subwoofers): hardware/simulated_rooms.py
from hardware.simulated_rooms import image_source_ir, layout_room  # noqa: E402  (re-exported)
