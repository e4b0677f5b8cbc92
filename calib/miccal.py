"""Measurement-mic calibration: response files and absolute level (SPL) calibration.

Calibration files
-----------------
A mic calibration file lists the mic's own response (dB relative to its 1 kHz sensitivity) at
a set of frequencies; the measurement's response is corrected by *subtracting* it.  Accepted:

* miniDSP / UMIK style: a first line such as ``"Sens Factor =-1.378dB, SERNO: 7103946"`` (also
  with ``AGain =18dB``), then ``freq dB`` rows;
* plain 2- or 3-column text (REW, DRC's ``ecm8000.txt``): ``freq dB [phase_deg]``; lines
  starting with ``*``, ``#``, ``;``, ``//`` or a quote are comments/headers; tabs, spaces,
  ``;`` or ``,`` separate columns; a decimal comma is accepted when no decimal point is used.

The correction is interpolated linearly in dB over log-frequency and held flat beyond the
file's first and last frequencies.  The UMIK "Sens Factor" is kept (``sens_factor_db``) but not
turned into an absolute sensitivity: the dBFS a given SPL produces depends on the device gain
setting, so absolute SPL comes from :func:`spl_calibration` (a 94 dB / 1 kHz calibrator).

Level convention: dBFS here is AES17's, a full-scale sine reads 0 dBFS, i.e.
``L_dbfs = 20 lg(sqrt(2) * rms)``.  ``sensitivity_dbfs`` is the level a 1 kHz tone at 94 dB
SPL (1 Pa) produces, so ``L_db_spl = L_dbfs - sensitivity_dbfs + 94``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from calib.errors import ConfigError, SignalError
from calib.types import FrequencyResponse, ImpulseResponse

__all__ = [
    "MicCalibration",
    "read_mic_calibration",
    "apply_to_response",
    "apply_to_ir",
    "spl_calibration",
    "db_spl",
    "dbfs_of",
]

_SENS_RE = re.compile(r"sens\s*factor\s*=\s*([-+]?\d*[.,]?\d+)\s*dB", re.I)
_SENS_KEY_RE = re.compile(r"sens\s*factor\s*=(?!\s*[-+]?\d*[.,]?\d)", re.I)   # a Sens Factor that is no number
_AGAIN_RE = re.compile(r"again\s*=\s*([-+]?\d*[.,]?\d+)\s*dB", re.I)
_SERNO_RE = re.compile(r"serno\s*:\s*([\w-]+)", re.I)
_COMMENT = ("*", "#", ";", "//", '"', "'")


@dataclass(frozen=True)
class MicCalibration:
    """A mic's response from its calibration file.

    Attributes
    ----------
    freqs_hz : ndarray (n,)
        Strictly increasing, > 0.
    response_db : ndarray (n,)
        The mic's response (dB); subtract it to correct a measurement.
    phase_deg : ndarray (n,) or None
        Third column when present (not applied: magnitude-only correction).
    sens_factor_db : float or None
        miniDSP "Sens Factor" (dB) when the header has one.
    serial : str
    source : str
        The file it came from.
    fmt : str
        ``"minidsp"`` or ``"text"``.
    """

    freqs_hz: np.ndarray
    response_db: np.ndarray
    phase_deg: np.ndarray | None = None
    sens_factor_db: float | None = None
    serial: str = ""
    source: str = ""
    fmt: str = "text"

    def response_at(self, freqs_hz: np.ndarray) -> np.ndarray:
        """The mic's response (dB) at ``freqs_hz``: linear in dB over log f, flat beyond the ends."""
        f = np.asarray(freqs_hz, dtype=np.float64)
        lf = np.log(np.clip(f, self.freqs_hz[0], self.freqs_hz[-1]))
        return np.interp(lf, np.log(self.freqs_hz), self.response_db)


def _num(tok: str, *, comma_decimal: bool) -> float:
    if comma_decimal:
        tok = tok.replace(",", ".")
    return float(tok)


def read_mic_calibration(path: str | os.PathLike[str]) -> MicCalibration:
    """Read a mic calibration file (miniDSP/UMIK, REW or DRC text).

    Raises
    ------
    SignalError
        Missing or binary file, a row that is not numbers (with its line number), fewer than two
        rows, non-increasing or non-positive frequencies, NaN/Inf, or implausible levels (|dB| > 60).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise SignalError(f"{p}: no such mic calibration file")
    raw = p.read_bytes()
    if b"\x00" in raw[:4096]:
        raise SignalError(f"{p} is not a text file; expected a mic calibration text (freq dB rows)")
    text = raw.decode("utf-8", errors="replace")
    sens = serial = None
    again = None
    rows: list[list[float]] = []
    lines = text.splitlines()
    body = [ln for ln in lines if ln.strip() and not ln.strip().startswith(_COMMENT)]
    comma_decimal = bool(body) and all("." not in ln for ln in body) and any("," in ln for ln in body) \
        and all(len(re.split(r"[\s;]+", ln.strip())) >= 2 for ln in body)
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        m = _SENS_RE.search(s)
        if m is None and _SENS_KEY_RE.search(s):
            raise SignalError(f"{p} line {i}: {s[:60]!r} names a Sens Factor that is not a number in dB "
                              "(expected e.g. 'Sens Factor =-1.378dB'); fix the file or use the maker's original")
        if m:
            sens = float(m.group(1).replace(",", "."))
            a = _AGAIN_RE.search(s)
            again = float(a.group(1).replace(",", ".")) if a else None
            sm = _SERNO_RE.search(s)
            serial = sm.group(1) if sm else ""
            continue
        if s.startswith(_COMMENT):
            continue
        toks = [t for t in re.split(r"[\s;]+", s) if t]
        if len(toks) == 1 and "," in s and not comma_decimal:
            toks = [t for t in s.split(",") if t.strip()]
        try:
            vals = [_num(t, comma_decimal=comma_decimal) for t in toks[:3]]
        except ValueError:
            if not rows:        # a header line (column names) before the data
                continue
            raise SignalError(f"{p} line {i}: {s[:40]!r} is not 'frequency dB' numbers") from None
        if len(vals) < 2:
            raise SignalError(f"{p} line {i}: expected 'frequency dB' (two or three columns), got {s[:40]!r}")
        rows.append(vals)
    if len(rows) < 2:
        raise SignalError(f"{p} holds {len(rows)} calibration rows; a mic calibration needs at least two 'frequency dB' rows")
    ncol = min(len(r) for r in rows)
    arr = np.array([r[:ncol] for r in rows], dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise SignalError(f"{p} contains NaN or Inf values")
    f, db = arr[:, 0], arr[:, 1]
    if np.any(f <= 0):
        # a 0 Hz row (allowed by some tools) cannot sit on a log axis: drop it
        keep = f > 0
        f, db, arr = f[keep], db[keep], arr[keep]
    if f.size < 2 or np.any(np.diff(f) <= 0):
        raise SignalError(f"{p}: frequencies must rise strictly from row to row (check for duplicates or a wrong column order)")
    if np.max(np.abs(db)) > 60:
        raise SignalError(f"{p}: a mic response of {np.max(np.abs(db)):.0f} dB is implausible; is the second column in dB?")
    return MicCalibration(
        freqs_hz=f, response_db=db, phase_deg=arr[:, 2] if ncol >= 3 else None,
        sens_factor_db=sens, serial=serial or "",
        source=str(p) + ("" if again is None else f" (AGain {again:g} dB)"),
        fmt="minidsp" if sens is not None else "text",
    )


def apply_to_response(fr: FrequencyResponse, cal: MicCalibration) -> FrequencyResponse:
    """``fr`` with the mic's response subtracted (magnitude only; phase kept)."""
    corr = cal.response_at(fr.freqs_hz)
    return FrequencyResponse(freqs_hz=fr.freqs_hz, magnitude_db=fr.magnitude_db - corr[np.newaxis, :],
                             channel_names=fr.channel_names, phase_rad=fr.phase_rad, smoothing=fr.smoothing)


def apply_to_ir(ir: ImpulseResponse, cal: MicCalibration) -> ImpulseResponse:
    """``ir`` with the mic's response removed by a zero-phase magnitude correction (FFT of twice
    the IR's length, so the correction's short symmetric kernel does not wrap); timing, onsets
    and harmonics' alignment are unchanged (harmonic IRs are corrected at their own frequencies)."""
    from dataclasses import replace

    def corr(x: np.ndarray) -> np.ndarray:
        n = 2 * x.shape[-1]
        f = np.fft.rfftfreq(n, 1 / ir.fs)
        g = 10 ** (-cal.response_at(np.maximum(f, cal.freqs_hz[0])) / 20)
        return np.fft.irfft(np.fft.rfft(x, n, axis=-1) * g, n, axis=-1)[..., : x.shape[-1]]

    meta = dict(ir.meta)
    meta["mic_calibration"] = cal.source
    return replace(ir, samples=corr(ir.samples), harmonics={k: corr(v) for k, v in ir.harmonics.items()}, meta=meta)


def dbfs_of(x: np.ndarray) -> float:
    """RMS level (dBFS, AES17: a full-scale sine reads 0 dBFS) of a signal."""
    a = np.asarray(x, dtype=np.float64)
    rms = math.sqrt(float(np.mean(a ** 2))) if a.size else 0.0
    return 20 * math.log10(math.sqrt(2) * rms) if rms > 0 else float("-inf")


def spl_calibration(recording: np.ndarray, *, fs: int, calibrator_db_spl: float = 94.0,
                    tone_hz: float = 1000.0) -> float:
    """Mic sensitivity from a recording of an acoustic calibrator (94 dB SPL at 1 kHz).

    The tone is isolated with a 1/3-octave band-pass (IEC 61260-style, 6th order) around
    ``tone_hz`` and must be steady: its level over 100 ms blocks may vary by less than 0.5 dB,
    and it must carry at least 90 % of the recording's energy.

    Returns
    -------
    float
        ``sensitivity_dbfs`` re ``calibrator_db_spl`` made 94 dB: the dBFS (AES17) that 94 dB SPL
        would produce, ``L_tone_dbfs - calibrator_db_spl + 94``.

    Raises
    ------
    SignalError
        Shorter than 1 s, clipped, no steady tone, or the tone not dominant.
    """
    if not (math.isfinite(tone_hz) and 20.0 <= tone_hz <= 0.4 * fs):
        raise ConfigError(f"--tone-hz {tone_hz:g} is not a calibrator frequency at {fs} Hz; use 20..{0.4 * fs:g} Hz "
                          "(calibrators play 250 Hz or 1 kHz)")
    x = np.asarray(recording, dtype=np.float64).ravel()
    if x.size < fs:
        raise SignalError(f"the calibrator recording is {x.size / fs:.2f} s; record at least 1 s (3-5 s is better)")
    if not np.all(np.isfinite(x)):
        raise SignalError("the calibrator recording contains NaN or Inf samples")
    if np.max(np.abs(x)) >= 0.999:
        raise SignalError("the calibrator recording clips; lower the mic input gain and record it again")
    lo, hi = tone_hz * 2 ** (-1 / 6), tone_hz * 2 ** (1 / 6)
    sos = signal.butter(3, [lo, hi], btype="band", fs=fs, output="sos")
    y = signal.sosfilt(sos, x)[int(0.2 * fs):]          # skip the filter's start-up
    xs = x[int(0.2 * fs):]
    tot = float(np.mean(xs ** 2))
    if tot <= 0:
        raise SignalError("the calibrator recording is silent")
    frac = float(np.mean(y ** 2)) / tot
    if frac < 0.9:
        raise SignalError(
            f"only {100 * frac:.0f} % of the recording is a {tone_hz:g} Hz tone; put the calibrator "
            "snugly on the mic, switch it on, and record again in a quiet room"
        )
    blk = int(0.1 * fs)
    nb = y.size // blk
    lv = [dbfs_of(y[i * blk:(i + 1) * blk]) for i in range(nb)]
    if max(lv) - min(lv) > 0.5:
        raise SignalError(
            f"the calibrator tone's level wanders by {max(lv) - min(lv):.1f} dB; hold the calibrator still "
            "on the mic and record again"
        )
    return dbfs_of(y) - calibrator_db_spl + 94.0


def db_spl(level_dbfs: float, *, sensitivity_dbfs: float) -> float:
    """Sound pressure level (dB SPL) of a level in dBFS (AES17), given the mic's sensitivity."""
    return level_dbfs - sensitivity_dbfs + 94.0
