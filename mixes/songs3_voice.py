"""A singing voice for :mod:`mixes.songs3`: glottal pulses through moving vocal-tract formants.

Source-filter synthesis (Fant 1960; Klatt 1980, cascade formant synthesiser):

* **Source** — a Rosenberg glottal-flow pulse (Rosenberg 1971, "trigonometric" model: a
  raised-cosine opening over ``0.66 oq`` of the period, a quarter-cosine closing over
  ``0.34 oq``, closed for the rest) evaluated on the running phase of a continuous f0 track;
  its first difference is the flow derivative, i.e. the source with lip radiation (+6 dB/oct)
  included.  Aspiration noise is gated by the open phase (breathiness).
* **f0** — per note: a scoop from below on attacks, portamento into legato notes, a slow random
  drift (a few cents), and vibrato that only starts late in held notes and fades in.
* **Vocal tract** — five Klatt resonators in cascade (unity gain at DC, so the formant levels
  follow from the cascade as in a real tract).  Formant frequencies follow the vowel of each
  syllable (Peterson & Barney 1952 averages, scaled for the singer) and glide between vowels;
  the filters are updated every 256 samples (5.3 ms at 48 kHz) with their state carried over.
  F1 is raised above f0 on high notes (formant tuning, as trained sopranos do).
* **Consonants and breaths** — band-limited noise bursts at syllable onsets (s, sh, t, k, h)
  with a short closure before plosives, and breaths (noise through a neutral tract) before
  phrases.

Everything is drawn from the caller's ``numpy.random.Generator``: deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

# Peterson & Barney (1952) adult male averages F1-F3 (Hz), F4/F5 typical; bandwidths (Hz).
VOWELS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "a": ((730.0, 1090.0, 2440.0, 3400.0, 4300.0), (80.0, 90.0, 120.0, 200.0, 250.0)),
    "e": ((530.0, 1840.0, 2480.0, 3500.0, 4300.0), (60.0, 90.0, 120.0, 200.0, 250.0)),
    "i": ((280.0, 2250.0, 2950.0, 3600.0, 4400.0), (50.0, 100.0, 140.0, 200.0, 250.0)),
    "o": ((520.0, 880.0, 2450.0, 3350.0, 4300.0), (60.0, 80.0, 120.0, 200.0, 250.0)),
    "u": ((320.0, 880.0, 2250.0, 3300.0, 4300.0), (50.0, 80.0, 120.0, 200.0, 250.0)),
    "ae": ((660.0, 1720.0, 2410.0, 3400.0, 4300.0), (70.0, 90.0, 120.0, 200.0, 250.0)),
}
VOWEL_NAMES = tuple(VOWELS)
CONSONANTS = ("s", "sh", "t", "k", "h", "m")


@dataclass(frozen=True)
class Singer:
    """A singer's fixed traits.

    Attributes
    ----------
    formant_scale : float
        Formant frequencies relative to the adult-male table (about 1.0 male, 1.15-1.2 female).
    oq : float
        Open quotient of the glottal pulse (0.4 pressed - 0.75 breathy).
    breathiness : float
        Aspiration noise level relative to the voiced source (linear).
    vib_rate_hz, vib_depth_st : float
        Vibrato rate (Hz) and peak depth (semitones).
    vib_onset_s : float
        Earliest vibrato start after a note's onset (s).
    drift_st : float
        Rms slow pitch drift (semitones).
    """

    formant_scale: float
    oq: float
    breathiness: float
    vib_rate_hz: float
    vib_depth_st: float
    vib_onset_s: float
    drift_st: float


def random_singer(rng: np.random.Generator, *, female: bool) -> Singer:
    """Draw a singer's traits (see :class:`Singer`)."""
    return Singer(formant_scale=float(rng.uniform(1.12, 1.2) if female else rng.uniform(0.95, 1.04)),
                  oq=float(rng.uniform(0.45, 0.7)), breathiness=float(rng.uniform(0.03, 0.12)),
                  vib_rate_hz=float(rng.uniform(4.8, 6.4)), vib_depth_st=float(rng.uniform(0.25, 0.6)),
                  vib_onset_s=float(rng.uniform(0.18, 0.35)), drift_st=float(rng.uniform(0.03, 0.08)))


def _smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


@lru_cache(maxsize=64)
def _noise_sos(kind: str, fs: int) -> np.ndarray:
    """Band-limiting filters (Butterworth SOS) for consonant and breath noise."""
    nyq = fs / 2.0
    bands = {"s": (4500.0, 11000.0), "sh": (1900.0, 5200.0), "t": (2500.0, 8000.0), "k": (1400.0, 3600.0),
             "h": (500.0, 4000.0), "breath": (350.0, 2800.0)}
    lo, hi = bands[kind]
    return signal.butter(2, [lo / nyq, min(hi, 0.45 * fs) / nyq], btype="band", output="sos")


def _dip(x: np.ndarray, a: int, b: int, depth: float, ramp: int) -> None:
    """Multiply ``x[a:b]`` by ``1 - depth`` with raised-cosine ramps of ``ramp`` samples (in place):
    an envelope never steps (a step would be a click)."""
    a0, b1 = max(a - ramp, 0), min(b + ramp, x.size)
    if b1 <= a0:
        return
    i = np.arange(a0, b1)
    w = np.clip(np.minimum((i - (a - ramp)) / max(ramp, 1), ((b + ramp) - i) / max(ramp, 1)), 0.0, 1.0)
    x[a0:b1] *= 1.0 - depth * _smoothstep(w)


def _resonator_sos(freqs_hz: np.ndarray, bws_hz: np.ndarray, fs: int) -> np.ndarray:
    """Klatt (1980) resonators, unity DC gain: ``y[n] = A x[n] + B y[n-1] + C y[n-2]``.

    ``freqs_hz``/``bws_hz`` of shape ``(..., k)`` give SOS arrays ``(..., k, 6)``.
    """
    r = np.exp(-np.pi * bws_hz / fs)
    b = 2.0 * r * np.cos(2.0 * np.pi * np.minimum(freqs_hz, 0.45 * fs) / fs)
    c = -r * r
    sos = np.zeros(freqs_hz.shape + (6,))
    sos[..., 0] = 1.0 - b - c
    sos[..., 3] = 1.0
    sos[..., 4] = -b
    sos[..., 5] = -c
    return sos


def render_line(rng: np.random.Generator, fs: int, n_samples: int, notes: list[tuple], singer: Singer) -> np.ndarray:
    """Sing a line of notes (dry, mono).

    Parameters
    ----------
    rng : numpy.random.Generator
    fs : int
        Sample rate (Hz).
    n_samples : int
        Length of the output.
    notes : list of (start_s, end_s, midi, vowel, consonant)
        In time order; ``vowel`` a key of :data:`VOWELS`; ``consonant`` one of
        :data:`CONSONANTS`, ``"legato"`` (glide in from the previous note, no new onset) or
        ``None`` (a plain vowel onset).
    singer : Singer

    Returns
    -------
    ndarray (n_samples,)
        The voice, peak about 1.
    """
    n = n_samples
    out = np.zeros(n)
    if not notes:
        return out
    st = np.full(n, np.nan)
    env = np.zeros(n)
    spans: list[tuple[int, int, int, float]] = []
    asp_gain = np.full(n, singer.breathiness)
    cons_events = []
    prev_mid, prev_end = None, -1.0
    for (t0, t1, mid, vowel, cons) in notes:
        i0, i1 = int(t0 * fs), min(int(t1 * fs), n)
        if i1 - i0 < 16:
            continue
        dur = (i1 - i0) / fs
        tt = np.arange(i1 - i0) / fs
        pitch = np.full(i1 - i0, float(mid))
        legato = cons == "legato" and prev_mid is not None and t0 - prev_end < 0.08
        if legato:                                   # portamento from the previous note
            g = max(int(min(0.09, 0.45 * dur) * fs), 1)
            pitch[:g] = prev_mid + (mid - prev_mid) * _smoothstep(np.arange(g) / g)
        else:                                        # scoop up from ~30 cents flat
            sc = int(rng.uniform(0.04, 0.09) * fs)
            pitch[:sc] -= rng.uniform(0.15, 0.45) * (1.0 - _smoothstep(np.arange(sc) / max(sc, 1)))
        v0 = max(singer.vib_onset_s, 0.3 * dur)
        if dur > v0 + 0.15:                          # late vibrato, faded in over ~0.3 s
            ramp = _smoothstep((tt - v0) / 0.3)
            ph = rng.uniform(0, 2 * np.pi)
            rate = singer.vib_rate_hz * rng.uniform(0.95, 1.05)
            pitch += singer.vib_depth_st * ramp * np.sin(2 * np.pi * rate * np.maximum(tt - v0, 0) + ph)
        st[i0:i1] = pitch
        # amplitude: attack, slight decay or swell, release past the end
        att = 0.015 if legato else rng.uniform(0.03, 0.07)
        rel = rng.uniform(0.05, 0.11)
        nr = int(rel * fs)
        e = _smoothstep(tt / att) * (1.0 + rng.uniform(-0.15, 0.12) * tt / max(dur, 0.2))
        e *= rng.uniform(0.8, 1.0)
        seg_end = min(i1 + nr, n)
        env[i0:i1] = np.maximum(env[i0:i1], e)
        if seg_end > i1:
            env[i1:seg_end] = np.maximum(env[i1:seg_end], e[-1] * (1 - _smoothstep(np.arange(seg_end - i1) / nr)))
            st[i1:seg_end] = np.where(np.isnan(st[i1:seg_end]), pitch[-1], st[i1:seg_end])
        spans.append((i0, seg_end, VOWEL_NAMES.index(vowel), mid))
        if cons in CONSONANTS:
            cons_events.append((i0, cons))
            if cons in ("t", "k"):                   # closure, then the burst at the onset
                _dip(env, i0 - int(0.04 * fs), i0 + int(0.012 * fs), 0.95, int(0.008 * fs))
            elif cons == "h":
                _dip(asp_gain, i0, i0 + int(0.07 * fs), -0.8 / max(singer.breathiness, 1e-3), int(0.01 * fs))
            elif cons == "m":                        # nasal murmur: weak, dark onset
                _dip(env, i0, i0 + int(0.06 * fs), 0.65, int(0.015 * fs))
        prev_mid, prev_end = mid, t1
    act = np.flatnonzero(env > 1e-4)                 # voiced samples only from here on
    if act.size == 0:
        return out
    k = n // 2400 + 3
    drift = np.interp(act / 2400.0, np.arange(k), np.cumsum(rng.standard_normal(k)) * 0.35)
    drift = (drift - drift.mean()) / (drift.std() + 1e-9) * singer.drift_st
    f0 = 440.0 * 2.0 ** ((st[act] + drift - 69.0) / 12.0)
    # Rosenberg pulse on the running phase; its derivative radiates
    phase = np.cumsum(f0 / fs) % 1.0
    tp, tn = 0.66 * singer.oq, 0.34 * singer.oq
    flow = np.where(phase < tp, 0.5 * (1 - np.cos(np.pi / tp * phase)),
                    np.where(phase < tp + tn, np.cos(0.5 * np.pi / tn * (phase - tp)), 0.0))
    src = np.diff(flow, prepend=0.0)
    ea = env[act]
    loud = ea > 0.5
    src /= (np.sqrt(np.mean(src[loud] ** 2)) if np.any(loud) else np.std(src)) + 1e-12
    asp = rng.standard_normal(act.size) * asp_gain[act] * np.where(phase < tp + tn, 1.0, 0.35)
    exc = np.zeros(n)
    exc[act] = (src + asp) * ea
    # vocal tract: each syllable through its vowel's cascade, crossfaded over 2 xf samples
    # at the syllable boundaries (a formant glide of ~50 ms)
    xf, ring = int(0.025 * fs), int(0.03 * fs)
    fsc = singer.formant_scale
    for j, (i0, i_end, vi, mid) in enumerate(spans):
        fr = np.array(VOWELS[VOWEL_NAMES[vi]][0]) * fsc
        bw = np.array(VOWELS[VOWEL_NAMES[vi]][1])
        fr[0] = max(fr[0], 1.08 * 440.0 * 2.0 ** ((mid - 69.0) / 12.0))      # F1 tuning on high notes
        fr[1] = max(fr[1], fr[0] + 250.0)
        sos = _resonator_sos(fr, bw, fs)
        first = j == 0 or spans[j - 1][1] + ring < i0 - xf
        nxt = spans[j + 1][0] if j + 1 < len(spans) else n
        last = j + 1 == len(spans) or i_end + ring < nxt - xf
        lo = i0 if first else max(i0 - xf - ring, 0)
        hi = min(i_end + ring, n) if last else min(nxt + xf, n)
        if hi <= lo:
            continue
        y = signal.sosfilt(sos, exc[lo:hi])
        tt = np.arange(lo, hi)
        w = np.ones(hi - lo)
        if not first:
            w *= _smoothstep((tt - (i0 - xf)) / (2.0 * xf))
        if not last:
            w *= 1.0 - _smoothstep((tt - (nxt - xf)) / (2.0 * xf))
        out[lo:hi] += w * y
    pk = np.max(np.abs(out)) + 1e-12
    out /= pk
    # consonant bursts (not shaped by the vowel's formants) and breaths before phrases
    lv = {"s": 0.22, "sh": 0.2, "t": 0.35, "k": 0.3, "h": 0.05, "m": 0.0}
    ln = {"s": 0.09, "sh": 0.1, "t": 0.018, "k": 0.025, "h": 0.05, "m": 0.0}
    for i0, c in cons_events:
        if lv[c] <= 0:
            continue
        m = int(ln[c] * rng.uniform(0.8, 1.25) * fs)
        s0 = max(i0 - (m if c in ("s", "sh") else 0), 0)
        m = min(m, n - s0)
        if m < 8:
            continue
        z = signal.sosfilt(_noise_sos(c, fs), rng.standard_normal(m))
        w = np.sin(np.pi * np.arange(m) / m) ** (0.5 if c in ("s", "sh") else 3.0)
        if c in ("t", "k"):
            w = np.exp(-np.arange(m) / (0.3 * m))
        out[s0:s0 + m] += lv[c] * rng.uniform(0.7, 1.2) * z / (np.std(z) + 1e-12) * w * 0.3
    for j, (t0, _t1, _m, _v, cons) in enumerate(notes):
        gap = t0 - (notes[j - 1][1] if j else -1.0)
        if cons != "legato" and gap > 0.45 and rng.random() < 0.8:
            m = int(rng.uniform(0.22, 0.4) * fs)
            s0 = int(t0 * fs) - m - int(0.04 * fs)
            if s0 < 0:
                continue
            z = signal.sosfilt(_noise_sos("breath", fs), rng.standard_normal(m))
            out[s0:s0 + m] += rng.uniform(0.02, 0.05) * z / (np.std(z) + 1e-12) * np.hanning(m)
    return out
