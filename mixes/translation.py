"""Translation: how a mix's tonal balance changes on everyday playback systems.

Each system is a broad magnitude response (``mixes/data/playback_systems.toml``, relative to
1 kHz).  The mix's loudness-normalised third-octave LTAS plus that response is what the
listener gets; the report gives, per region (sub, bass, low mids, mids, presence, air), the
level change relative to the mix's own balance, the overall K-weighted loudness change, and
plain notes (what disappears, what jumps out).  Systems marked mono also lose anything the
mix keeps only in the side signal (the mono check is reported separately when the
analysis has the stereo file).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal as _signal

from calib.errors import ConfigError, SignalError
from mixes.loudness import k_weighting_sos
from mixes.types import Ltas

__all__ = ["PlaybackSystem", "load_systems", "TranslationResult", "translate", "mono_ltas_db", "REGIONS"]

TABLE = Path(__file__).with_name("data") / "playback_systems.toml"

REGIONS = (
    ("sub", 20.0, 60.0),
    ("bass", 60.0, 250.0),
    ("low mids", 250.0, 800.0),
    ("mids", 800.0, 2500.0),
    ("presence", 2500.0, 6000.0),
    ("air", 6000.0, 20000.0),
)


@dataclass(frozen=True)
class PlaybackSystem:
    key: str
    name: str
    mono: bool
    freqs_hz: np.ndarray
    level_db: np.ndarray

    def response_db(self, freqs_hz: np.ndarray) -> np.ndarray:
        """Log-frequency interpolation of the table; held flat beyond its ends."""
        return np.interp(np.log(freqs_hz), np.log(self.freqs_hz), self.level_db)


def load_systems(path: str | Path | None = None) -> tuple[PlaybackSystem, ...]:
    """Read and validate the playback-system table (all problems at once).

    Raises
    ------
    ConfigError
        Unreadable TOML, unknown keys, bad point lists.
    """
    p = Path(path) if path is not None else TABLE
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such playback-system table") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML ({exc})") from None
    problems = [f"unknown top-level key {k!r}" for k in doc if k not in ("as_of", "system")]
    out = []
    for key, e in (doc.get("system") or {}).items():
        bad = set(e) - {"name", "mono", "points"}
        if bad:
            problems.append(f"system.{key}: unknown key(s) {', '.join(sorted(bad))}")
        pts = e.get("points")
        try:
            arr = np.asarray(pts, dtype=np.float64)
            ok = arr.ndim == 2 and arr.shape[1] == 2 and arr.shape[0] >= 2 and np.all(np.diff(arr[:, 0]) > 0) \
                and np.all(arr[:, 0] > 0)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(f"system.{key}.points must be [[f_hz, level_db], ...] with rising f_hz > 0")
            continue
        if "name" not in e:
            problems.append(f"system.{key}: missing 'name'")
            continue
        out.append(PlaybackSystem(key, str(e["name"]), bool(e.get("mono", False)), arr[:, 0], arr[:, 1]))
    if not out and not problems:
        problems.append("no [system.*] entries")
    if problems:
        raise ConfigError(f"{p}: " + "; ".join(problems))
    return tuple(out)


@dataclass(frozen=True)
class TranslationResult:
    system: str
    mono: bool
    region_change_db: dict
    loudness_change_db: float
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"system": self.system, "mono": self.mono,
                "region_change_db": {k: round(v, 2) for k, v in self.region_change_db.items()},
                "loudness_change_db": round(self.loudness_change_db, 2), "notes": list(self.notes)}


def _region_power(freqs: np.ndarray, power: np.ndarray, lo: float, hi: float) -> float:
    sel = (freqs >= lo) & (freqs < hi)
    return float(power[sel].sum()) if sel.any() else 0.0


def mono_ltas_db(x: np.ndarray, *, fs: int, spec: Ltas) -> Ltas:
    """LTAS of the mono sum ``(L + R) / 2`` on the same bands and normalisation as ``spec``.

    For a mix with no side content this equals the stereo LTAS (channel power average); where
    the channels are decorrelated it is 3 dB lower, where they are out of phase far lower.
    """
    from mixes.ltas import _segment_power, ltas_from_power, spectrum_nfft

    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] < 2:
        return spec
    mono = (arr[0].astype(np.float64) + arr[1]) * 0.5
    nfft = spectrum_nfft(fs)          # the segments mix analyze's spectrum uses (overlapping by half)
    stereo_p = _segment_power(arr[:2], nfft, overlap=True)
    mono_p = _segment_power(mono[np.newaxis, :], nfft, overlap=True)
    ref = ltas_from_power(stereo_p, fs=fs, nfft=nfft, bands_per_octave=spec.bands_per_octave)
    m = ltas_from_power(mono_p, fs=fs, nfft=nfft, bands_per_octave=spec.bands_per_octave)
    # same normalisation as spec: shift by spec - stereo (both on the same bands)
    shift = np.nanmedian(spec.level_db - ref.level_db) if spec.level_db.shape == ref.level_db.shape else 0.0
    return Ltas(m.freqs_hz, m.level_db + shift, spec.bands_per_octave, spec.normalised_to_lufs)


def translate(spec: Ltas, systems: tuple[PlaybackSystem, ...] | None = None, *, fs: int = 48_000,
              mono: Ltas | None = None) -> list[TranslationResult]:
    """How the mix sounds on each playback system (see module docstring).

    Parameters
    ----------
    spec : Ltas
        Third-octave (or finer) LTAS of the mix.
    mono : Ltas, optional
        LTAS of the mono sum (:func:`mono_ltas_db`); mono systems use it, so what the mix
        keeps only in the side signal shows up as a loss.
    systems : tuple of PlaybackSystem, optional
        Default: the bundled table.
    fs : int
        Rate used to evaluate the K-weighting for the loudness change (any rate >= 44.1 kHz
        gives the same within 0.01 dB below 16 kHz).
    """
    if spec.freqs_hz.size < 3:
        raise SignalError("the spectrum has fewer than 3 bands; nothing to translate")
    systems = systems or load_systems()
    f = spec.freqs_hz
    p_mix = 10 ** (np.nan_to_num(spec.level_db, neginf=-200.0) / 10)
    _, hk = _signal.sosfreqz(k_weighting_sos(fs=fs), worN=np.minimum(f, 0.49 * fs), fs=fs)
    k_pow = np.abs(hk) ** 2
    out = []
    p_mono = p_mix if mono is None else 10 ** (np.nan_to_num(mono.level_db, neginf=-200.0) / 10)
    if p_mono.shape != p_mix.shape:
        raise SignalError("the mono spectrum uses different bands from the stereo one")
    for sysm in systems:
        g = sysm.response_db(f)
        p_sys = (p_mono if sysm.mono else p_mix) * 10 ** (g / 10)
        # overall level change, K-weighted (how much louder/quieter it reads), then balance
        # per region relative to that overall change
        lk = 10 * math.log10(float((p_sys * k_pow).sum()) / float((p_mix * k_pow).sum()))
        regions = {}
        for name, lo, hi in REGIONS:
            a, b = _region_power(f, p_mix, lo, hi), _region_power(f, p_sys, lo, hi)
            regions[name] = (10 * math.log10(b / a) - lk) if a > 0 and b > 0 else float("nan")
        notes = []
        for name, ch in regions.items():
            if not math.isfinite(ch):
                continue
            share = _region_power(f, p_mix, *[r[1:] for r in REGIONS if r[0] == name][0]) / p_mix.sum()
            if ch <= -10 and share > 0.05:
                notes.append(f"the {name} ({share:.0%} of the mix's energy) drop {-ch:.0f} dB: "
                             "what carries the song there must also live in its harmonics")
            elif ch >= 4:
                what = "boomy" if name in ("sub", "bass", "low mids") else "harsh"
                notes.append(f"the {name} come up {ch:.0f} dB: check they do not get {what}")
        if sysm.mono and mono is not None:
            loss = 10 * np.log10(np.maximum(p_mono, 1e-30) / np.maximum(p_mix, 1e-30))
            worst = int(np.argmin(np.where(p_mix > p_mix.max() * 1e-4, loss, 0.0)))
            if loss[worst] <= -4.5:
                notes.append(f"in mono the {f[worst]:.0f} Hz band loses {-loss[worst]:.0f} dB (side or "
                             "out-of-phase content): check the mono fold-down")
        elif sysm.mono:
            notes.append("plays in mono: anything only in the side signal (wide pads, out-of-phase effects) is lost")
        out.append(TranslationResult(sysm.name, sysm.mono, regions, lk, tuple(notes)))
    return out
