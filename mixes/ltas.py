"""Long-term average spectrum (LTAS) of a mix in fractional-octave bands, loudness-normalised.

The power spectrum is the mean of Hann-windowed periodograms of non-overlapping segments,
averaged over channels (the tonal balance of the mix as played on two loudspeakers), scaled so
that the programme reads ``normalise_to_lufs`` (BS.1770 integrated).  Band power is the
integral of that spectrum between the band edges ``fc * G^(-1/(2N))`` and ``fc * G^(1/(2N))``
(IEC 61260-1 base-ten bands, ``G = 10^(3/10)``), computed from the running integral of the
spectrum with linear interpolation inside bins, so narrow low bands get their share of a
bin rather than all or nothing.

Each third-octave band also carries its broadband floor under the tonal peaks (``floor_db``,
see :mod:`mixes.envelope`), read frame by frame during the same FFT pass when the sample rate
is given (``_segment_power(..., floors_fs=fs)``; bins <= 1.5 Hz, Hann segments overlapping by
half, so that every instant weighs the same): the studio fingerprint is learnt from it,
because a song's notes move the mean power of the low bands by several dB and leave the floor
alone.  The frame floors add about 0.1-0.2 s CPU per 10 minutes of stereo audio to the pass.

A reference is either the average of user-chosen reference tracks (dB mean per band, with
their spread as tolerance) or the built-in broad target in ``mixes/data/ltas_target.toml``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft

from calib.errors import ConfigError, SignalError
from mixes.envelope import FloorGrid, band_floor_db, floor_grid, floor_nfft, floors_from_frames, frame_floors
from mixes.fingerprint_features import floor_modulation_db
from mixes.programme import as_programme
from mixes.types import Ltas

__all__ = [
    "band_centres_hz",
    "ltas",
    "ltas_from_power",
    "LtasReference",
    "reference_from_tracks",
    "builtin_target",
    "compare",
    "DEFAULT_NORMALISE_LUFS",
    "spectrum_nfft",
    "SpectrumFrames",
    "third_octave_floor_grid",
]

DEFAULT_NORMALISE_LUFS = -23.0
TARGET_TABLE = Path(__file__).with_name("data") / "ltas_target.toml"
_G = 10.0 ** 0.3


def band_centres_hz(bands_per_octave: int = 3, *, f_lo_hz: float = 20.0, f_hi_hz: float = 20_000.0) -> np.ndarray:
    """Exact base-ten fractional-octave centres (IEC 61260-1) in [f_lo_hz, f_hi_hz].

    ``fc = 1000 * G^(k/N)`` for odd N (third-octave: 1000 * 10^(k/10)); for even N the
    centres sit halfway, ``1000 * G^((2k+1)/(2N))``.
    """
    n = int(bands_per_octave)
    if n not in (1, 2, 3, 6, 12, 24, 48):
        raise SignalError(f"bands per octave {bands_per_octave} is not one of 1, 2, 3, 6, 12, 24, 48")
    k = np.arange(-200 * n, 200 * n)
    fc = 1000.0 * _G ** (k / n) if n % 2 else 1000.0 * _G ** ((2 * k + 1) / (2 * n))
    tol = _G ** (1 / (4 * n))            # a quarter band: nominal 20 Hz / 20 kHz include 19.95 / 19953
    return fc[(fc >= f_lo_hz / tol) & (fc <= f_hi_hz * tol)]


@dataclass(frozen=True)
class SpectrumFrames:
    """A mean power spectrum with the frame floors read while it was taken.

    ``power``: as :func:`_segment_power` returns it; ``frames``: (n_frames, n_sub) half-band
    floors of each frame (:func:`mixes.envelope.frame_floors`) on ``grid``, the third-octave
    grid of :func:`third_octave_floor_grid`.
    """

    power: np.ndarray
    frames: np.ndarray
    grid: FloorGrid


def _band_edges(fs: int, bands_per_octave: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fc = band_centres_hz(bands_per_octave, f_hi_hz=min(20_000.0, 0.45 * fs))
    return fc, fc * _G ** (-1 / (2 * bands_per_octave)), fc * _G ** (1 / (2 * bands_per_octave))


def third_octave_floor_grid(fs: int, nfft: int) -> FloorGrid:
    """The frame-floor grid of the third-octave bands :func:`ltas_from_power` reports."""
    _, lo, hi = _band_edges(fs, 3)
    return floor_grid(fs, nfft, lo, hi)


def _segment_power(x: np.ndarray, nfft: int, *, overlap: bool = False,
                   floors_fs: int | None = None) -> np.ndarray | SpectrumFrames:
    """Mean |FFT|^2 of Hann-windowed segments, averaged over channels.

    Scaled by Parseval (``sum_k |X_k|^2 = nfft * sum(w^2) * mean square``) so the bins of one
    side plus the other sum to the mean square of the signal.  ``overlap``: segments half a
    segment apart, so the Hann windows sum to a constant and every instant weighs the same.
    Without it, events that recur with the beat (a kick every 0.67 s against 0.68 s windows)
    can sit at the windows' edges in one song and at their centres in the next: in 20 s
    excerpts that moved the 63 Hz band by 2.7 dB rms from song to song, 0.9 dB with overlap.
    (At 48 kHz a 32768-point window is one beat at 87.9 bpm: a song on a click at 88 bpm keeps
    its kicks at one window phase for minutes.)  Costs twice the FFTs: about +0.2 s CPU on a
    10-minute stereo file.

    ``floors_fs``: the sample rate; when given, each frame's (segment's, channels averaged)
    half-band floors on the third-octave grid are read too (:mod:`mixes.envelope`) and a
    :class:`SpectrumFrames` is returned.
    """
    n_ch, n = x.shape
    w = np.hanning(nfft).astype(x.dtype if x.dtype == np.float32 else np.float64)
    norm = nfft * np.sum(w.astype(np.float64) ** 2)
    grid = third_octave_floor_grid(floors_fs, nfft) if floors_fs else None
    acc = np.zeros(nfft // 2 + 1)
    frames: list[np.ndarray] = []
    if n < nfft:
        pad = np.zeros((n_ch, nfft), dtype=w.dtype)
        pad[:, :n] = x
        spec = scipy.fft.rfft(pad * w, axis=-1)
        power = (np.abs(spec) ** 2).mean(axis=0) / norm * (nfft / max(n, 1))
        if grid is None:
            return power
        return SpectrumFrames(power, frame_floors(power[np.newaxis, :], grid), grid)
    # overlap: the segments at 0, nfft, 2 nfft, ... and those half a segment later, each set a
    # reshaped view of the signal (no copy before the window)
    offsets = (0, nfft // 2) if overlap else (0,)
    counts = [(n - o) // nfft for o in offsets]
    total = sum(counts)
    step = max(1, total // 4096) if total > 4096 else 1
    used = 0
    for o, cnt in zip(offsets, counts):
        if cnt <= 0:
            continue
        segs = [x[c, o: o + cnt * nfft].reshape(cnt, nfft)[::step] for c in range(n_ch)]
        n_seg = segs[0].shape[0]
        used += n_seg * n_ch
        for i in range(0, n_seg, 16):
            block = np.zeros((min(16, n_seg - i), nfft // 2 + 1))
            for c in range(n_ch):
                spec = scipy.fft.rfft(segs[c][i:i + 16] * w, axis=-1)
                block += spec.real ** 2 + spec.imag ** 2
            acc += block.sum(axis=0)
            if grid is not None:
                frames.append(frame_floors(block / (n_ch * norm), grid))
    power = acc / (used * norm)
    if grid is None:
        return power
    return SpectrumFrames(power, np.concatenate(frames, axis=0), grid)


def spectrum_nfft(fs: int) -> int:
    """FFT length of the analysis spectrum: bins of at most 1.5 Hz (32768 at 48 kHz, 1.46 Hz),
    fine enough for the band floors (:mod:`mixes.envelope`) and the 20 Hz third-octave.
    Use it with ``_segment_power(..., overlap=True)``."""
    return floor_nfft(fs)


def ltas_from_power(power: np.ndarray | SpectrumFrames, *, fs: int, nfft: int, bands_per_octave: int = 3,
                    gain_db: float = 0.0, normalised_to_lufs: float = DEFAULT_NORMALISE_LUFS,
                    with_floor: bool | None = None) -> Ltas:
    """Band levels from a one-sided mean-square spectrum (bins of ``fs/nfft`` Hz).

    ``power[k]`` is the mean square contributed per bin (a full-scale sine gives 0.5 total
    in its bins, split by the Hann window's leakage).  Given a :class:`SpectrumFrames`
    (third-octaves), each band's broadband floor ``floor_db`` is read from its frame floors
    (:func:`mixes.envelope.floors_from_frames`).  Without frames, ``with_floor=True`` reads
    the older floor of the time-averaged spectrum (:func:`mixes.envelope.band_floor_db`, a
    different estimator: do not mix the two in one fingerprint); the default then is none.
    """
    frames = power if isinstance(power, SpectrumFrames) else None
    power = frames.power if frames is not None else np.asarray(power)
    df = fs / nfft
    one_sided = power.copy()
    one_sided[1:-1] *= 2.0
    # running integral at bin edges (bin k covers (k - 1/2) df .. (k + 1/2) df)
    edges = (np.arange(one_sided.size + 1) - 0.5) * df
    cum = np.concatenate(([0.0], np.cumsum(one_sided)))
    fc, lo, hi = _band_edges(fs, bands_per_octave)
    p = np.interp(hi, edges, cum) - np.interp(lo, edges, cum)
    # floor at -200 dB (an empty band, e.g. above a tone): finite, so differences stay defined
    level = 10.0 * np.log10(np.maximum(p, 1e-20)) + gain_db
    floor = gap = mod = None
    if frames is not None and bands_per_octave == 3 and frames.grid.n_bands == fc.size:
        floor = floors_from_frames(frames.frames, frames.grid, gain_db=gain_db)
        gap = np.maximum(level - floor, 0.0)
        mod = floor_modulation_db(frames.frames, frames.grid)
    elif with_floor:
        floor, gap = band_floor_db(power, fs=fs, nfft=nfft, lo_hz=lo, hi_hz=hi, gain_db=gain_db)
    return Ltas(freqs_hz=fc, level_db=level, bands_per_octave=bands_per_octave,
                normalised_to_lufs=normalised_to_lufs, floor_db=floor, floor_gap_db=gap, floor_mod_db=mod)


def ltas(x: np.ndarray, *, fs: int, integrated_lufs: float, bands_per_octave: int = 3,
         normalise_to_lufs: float = DEFAULT_NORMALISE_LUFS, resolution_hz: float = 1.5) -> Ltas:
    """Loudness-normalised long-term average spectrum.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        Programme (float32 or float64).
    fs : int
        Sample rate (Hz), keyword-only.
    integrated_lufs : float
        BS.1770 integrated loudness of ``x`` (from :mod:`mixes.loudness`).
    bands_per_octave : int
        3 (third-octave), 6, 12, 24 or 48.
    normalise_to_lufs : float
        The programme is scaled to this loudness before the band levels are read.
    resolution_hz : float
        Largest FFT bin width (Hz); 1.5 Hz (1.46 Hz at 48 kHz) resolves the 20 Hz third-octave
        (4.6 Hz wide) and the gaps between bass notes that the band floor (``floor_db``) is
        read from.  Hann segments overlap by half (every instant weighs the same).

    Returns
    -------
    Ltas
        Band levels (dB re full-scale mean square, i.e. a full-scale sine in one band reads
        -3.01 dB before normalisation).

    Raises
    ------
    SignalError
        Silence (no integrated loudness), bad shape.
    """
    arr = as_programme(x, require_finite=False)
    if not math.isfinite(integrated_lufs):
        raise SignalError("the programme has no measurable loudness (silence?); no spectrum to normalise")
    nfft = 1 << int(math.ceil(math.log2(fs / resolution_hz)))
    power = _segment_power(arr, nfft, overlap=True, floors_fs=fs)
    return ltas_from_power(power, fs=fs, nfft=nfft, bands_per_octave=bands_per_octave,
                           gain_db=normalise_to_lufs - integrated_lufs, normalised_to_lufs=normalise_to_lufs)


@dataclass(frozen=True)
class LtasReference:
    """A reference spectrum with a tolerance per band (dB)."""

    freqs_hz: np.ndarray
    level_db: np.ndarray
    tolerance_db: np.ndarray
    spread_db: np.ndarray
    n_tracks: int
    description: str


def reference_from_tracks(spectra: list[Ltas], *, min_tolerance_db: float = 1.5) -> LtasReference:
    """Mean (dB) of reference tracks' LTAS per band; tolerance = max(2 * std, min_tolerance_db).

    Raises
    ------
    SignalError
        No spectra, or spectra on different band grids.
    """
    if not spectra:
        raise SignalError("no reference tracks given; pass at least one with --reference")
    f = spectra[0].freqs_hz
    for s in spectra[1:]:
        if s.freqs_hz.shape != f.shape or not np.allclose(s.freqs_hz, f):
            raise SignalError("reference spectra use different bands (mixed sample rates or band widths)")
    levels = np.vstack([s.level_db for s in spectra])
    mean = levels.mean(axis=0)
    std = levels.std(axis=0, ddof=1) if len(spectra) > 1 else np.zeros_like(mean)
    return LtasReference(f, mean, np.maximum(2 * std, min_tolerance_db), std, len(spectra),
                         f"reference tracks ({len(spectra)})")


def builtin_target(freqs_hz: np.ndarray, *, path: str | Path | None = None) -> LtasReference:
    """The built-in broad target (``mixes/data/ltas_target.toml``) on the given band centres.

    Levels are relative to the 1 kHz band; log-frequency interpolation between table points.
    """
    p = Path(path) if path is not None else TARGET_TABLE
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the LTAS target table {p}: {exc}") from None
    problems = [f"unknown key {k!r}" for k in doc if k not in ("as_of", "note", "normalised_to_lufs", "point")]
    pts = doc.get("point", [])
    rows = []
    for i, pt in enumerate(pts):
        extra = set(pt) - {"f_hz", "level_db", "tolerance_db"}
        if extra or not {"f_hz", "level_db", "tolerance_db"} <= set(pt):
            problems.append(f"point {i + 1} must have exactly f_hz, level_db, tolerance_db")
            continue
        rows.append((float(pt["f_hz"]), float(pt["level_db"]), float(pt["tolerance_db"])))
    if len(rows) < 2:
        problems.append("needs at least two points")
    if problems:
        raise ConfigError(f"{p}: " + "; ".join(problems))
    rows.sort()
    t = np.array(rows)
    lf = np.log(np.asarray(freqs_hz, dtype=np.float64))
    lvl = np.interp(lf, np.log(t[:, 0]), t[:, 1])
    tol = np.interp(lf, np.log(t[:, 0]), t[:, 2])
    return LtasReference(np.asarray(freqs_hz, dtype=np.float64), lvl, tol, np.zeros_like(lvl), 0,
                         "built-in broad target")


def compare(mix: Ltas, ref: LtasReference, *, align_band_hz: tuple[float, float] = (100.0, 5000.0)) -> dict:
    """Deviation of a mix's LTAS from a reference, per band, after aligning the overall level.

    The built-in target is relative (1 kHz = 0 dB), so both curves are aligned by their mean
    difference over ``align_band_hz``.  Returns freqs_hz, deviation_db, tolerance_db and the
    bands outside tolerance.
    """
    if mix.freqs_hz.shape != ref.freqs_hz.shape or not np.allclose(mix.freqs_hz, ref.freqs_hz):
        raise SignalError("the mix and the reference spectra use different bands")
    d = mix.level_db - ref.level_db
    sel = (mix.freqs_hz >= align_band_hz[0]) & (mix.freqs_hz <= align_band_hz[1]) & np.isfinite(d)
    offset = float(np.mean(d[sel])) if sel.any() else 0.0
    d = d - offset
    outside = np.flatnonzero(np.abs(d) > ref.tolerance_db)
    return {
        "freqs_hz": mix.freqs_hz,
        "deviation_db": d,
        "tolerance_db": ref.tolerance_db,
        "outside_hz": mix.freqs_hz[outside],
        "reference": ref.description,
    }
