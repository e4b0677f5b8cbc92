"""mix analyze's two-thread task queue gives exactly what the stages give one after the other.

``mixes.analysis`` cuts the whole-array measurements into tasks that two threads take in
turn (issue 12's speed goal).  Each task calls the same stage function on the same array as
the single-threaded pipeline did, so the results must be bit-identical to calling the stages
in sequence (the reference below composes them the way the pipeline did before the queue:
render checks, spectrum, balance, dynamics, stereo, the streaming meters).  BLAS runs on one
thread in both (the old pipeline's own results moved by ~1e-8 dB with the BLAS thread count).
Material: songs of the three generators, the real piano, mono, 44.1 kHz 24-bit, six channels,
and a damaged master (clipping, overs, clicks, a dropout, held samples).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import soundfile as sf

from calib.errors import SignalError
from mixes import analysis, ltas
from mixes._blas import single_threaded_blas
from mixes.balance import measure_balance
from mixes.dynamics import measure_dynamics
from mixes.loudness import LoudnessMeter
from mixes.programme import as_programme
from mixes.renderchecks import render_check_parts, render_checks
from mixes.stereo import measure_stereo
from mixes.truepeak import TruePeakMeter, interpolator_phases
from conftest import shared_data

DUR_S = 8.0


def _same(a, b, path="") -> None:
    """Deep equality of results (dataclasses, tuples, arrays), NaN equal to NaN."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            _same(u, v, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), path
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _sequential(x32: np.ndarray, fs: int, step: int):
    """The stages one after the other, on one thread (what the pipeline computed before); the
    meters fed ``step`` samples at a time (as analyze_array / analyze_file feed them)."""
    with single_threaded_blas():
        lm = LoudnessMeter(fs=fs, n_channels=x32.shape[0])
        tp = TruePeakMeter(fs=fs, n_channels=x32.shape[0])
        for i in range(0, x32.shape[1], step):
            lm.feed(x32[:, i:i + step])
            tp.feed(x32[:, i:i + step])
        lres, tres = lm.result(), tp.finish()
        rc = render_checks(x32, fs=fs)
        nfft = ltas.spectrum_nfft(fs)
        power = ltas._segment_power(x32, nfft, overlap=True, floors_fs=fs)
        bal = measure_balance(x32, fs=fs, integrated_lufs=lres.integrated_lufs)
        dyn = measure_dynamics(x32, fs=fs, integrated_lufs=lres.integrated_lufs,
                               true_peak_dbtp=tres.true_peak_dbtp, short_term_lufs=lres.short_term_lufs)
        st = measure_stereo(x32, fs=fs) if x32.shape[0] else None
        spec = ltas.ltas_from_power(power, fs=fs, nfft=nfft,
                                    gain_db=ltas.DEFAULT_NORMALISE_LUFS - lres.integrated_lufs)
    return lres, tres, rc, spec, bal, dyn, st


def _check(a, x32: np.ndarray, fs: int, step: int) -> None:
    lres, tres, rc, spec, bal, dyn, st = _sequential(x32, fs, step)
    assert a.integrated_lufs == lres.integrated_lufs and a.lra_lu == lres.lra_lu
    assert a.momentary_max_lufs == lres.momentary_max_lufs and a.short_term_max_lufs == lres.short_term_max_lufs
    assert a.true_peak_dbtp == tres.true_peak_dbtp and a.sample_peak_dbfs == tres.sample_peak_dbfs
    assert a.true_peak_per_channel_dbtp == tres.true_peak_per_channel_dbtp
    _same(a.clicks, rc.clicks, "clicks")
    _same(a.artifacts, rc.artifacts, "artifacts")
    _same(a.dropouts, rc.dropouts, "dropouts")
    _same(a.dc_offset_dbfs, rc.dc_offset_dbfs, "dc")
    overs = tuple(sorted(analysis._events_from_overs(tres.overs) + rc.clipping, key=lambda e: e.time_s))
    _same(a.overs, overs, "overs")
    _same(a.ltas, spec, "ltas")
    _same(a.balance, bal, "balance")
    _same(a.dynamics, dyn, "dynamics")
    _same(a.stereo, st, "stereo")


def _damaged(fs: int = 48_000) -> np.ndarray:
    from mixes import songs

    rng = np.random.default_rng(5)
    x = songs.make_song(4, duration_s=DUR_S, fs=fs).mix()
    x = np.clip(x / np.abs(x).max() * 1.15, -1.0, 1.0)            # clipped runs and overs
    for t in rng.uniform(0.5, DUR_S - 0.5, 6):                     # clicks
        x[rng.integers(2), int(t * fs)] += rng.choice([-1.0, 1.0]) * 0.05
    x[:, 3 * fs: 3 * fs + 400] = 0.0                               # a dropout
    x[0, 5 * fs: 5 * fs + 200] = x[0, 5 * fs]                      # held samples
    return x


@pytest.mark.parametrize("kind", ["songs", "songs_alt", "songs3", "damaged"])
def test_queue_equals_sequential_stages(kind):
    if kind == "damaged":
        x = _damaged()
    else:
        import importlib

        x = importlib.import_module(f"mixes.{kind}").make_song(11, duration_s=DUR_S).mix()
    a = analysis.analyze_array(x, fs=48_000)
    _check(a, np.ascontiguousarray(x, dtype=np.float32), 48_000, int(analysis.BLOCK_S * 48_000))
    assert a.clicks or kind != "damaged"


def test_files_piano_mono_441_24bit_six_channels(tmp_path):
    """analyze_file (read + streaming meters + queue) against the stages, on real and odd files."""
    from mixes import songs_alt

    piano, fs_p = sf.read(shared_data("pyloudnorm-piano", "piano.wav"), always_2d=True)
    st = songs_alt.make_song(5, duration_s=6.0).stems
    six = np.vstack([st["pads"][0], st["pads"][1], st["voice"].mean(0), st["bass"].mean(0),
                     st["drums"][0] * 0.7, st["keys"][1]]) * 0.8
    cases = [("piano.wav", piano.T, fs_p, "PCM_16"), ("mono.wav", piano[:, 0], fs_p, "PCM_16"),
             ("s441.wav", songs_alt.make_song(2, duration_s=6.0, fs=44_100).mix(), 44_100, "PCM_24"),
             ("six.wav", six, 48_000, "FLOAT")]
    for name, x, fs, sub in cases:
        p = tmp_path / name
        sf.write(p, np.asarray(x).T, fs, subtype=sub)
        a = analysis.analyze_file(p)
        x32, fs2 = analysis.read_mix(p)
        assert fs2 == fs
        _check(a, x32, fs, analysis.READ_FRAMES)


def test_render_check_parts_any_order():
    """The parts are independent: run backwards, combined, they are render_checks."""
    x = np.ascontiguousarray(_damaged(), dtype=np.float32)
    parts, combine = render_check_parts(x, fs=48_000)
    results = [None] * len(parts)
    for i in reversed(range(len(parts))):
        results[i] = parts[i]()
    _same(combine(results), render_checks(x, fs=48_000), "report")


def test_a_failing_task_is_raised_not_hung(monkeypatch):
    def broken(*a, **k):
        raise SignalError("stereo broke")

    monkeypatch.setattr(analysis, "measure_stereo", broken)
    x = np.random.default_rng(1).standard_normal((2, 48_000)) * 0.1
    with pytest.raises(SignalError, match="stereo broke"):
        analysis.analyze_array(x, fs=48_000)
    # checks off: no stereo task, so nothing fails
    assert analysis.analyze_array(x, fs=48_000, checks=False).stereo is None


def test_true_peak_against_unpruned_oversampling():
    """The half-block maxima prune exactly: the meter equals the maximum of every interpolated
    value (all phases by direct convolution, float64; float32 products: within 1e-4 dB)."""
    rng = np.random.default_rng(3)
    fs = 48_000
    n = 3 * fs
    t = np.arange(n) / fs
    x = np.vstack([0.9 * np.sin(2 * np.pi * 11_025.3 * t + 0.3),                  # inter-sample peaks
                   np.clip(rng.standard_normal(n) * 0.4, -1, 1)])                # clipped noise: overs
    x32 = x.astype(np.float32)
    g = interpolator_phases(8)
    for chunk in (65_536, 997):
        m = TruePeakMeter(fs=fs, n_channels=2)
        for i in range(0, n, chunk):
            m.feed(x32[:, i:i + chunk])
        res = m.finish()
        for c in range(2):
            xc = x32[c].astype(np.float64)
            ref = max(float(np.abs(np.convolve(xc, gp, mode="full")).max()) for gp in g)
            ref = max(ref, float(np.abs(xc).max()))
            assert abs(res.true_peak_per_channel_dbtp[c] - 20 * math.log10(ref)) < 1e-4
        assert res.sample_peak_dbfs == 20 * math.log10(float(np.abs(x32).max()))
    assert res.overs                                        # the clipped channel goes over 0 dBTP


def test_programme_finite_check():
    x = np.zeros((2, 1000), dtype=np.float32)
    assert as_programme(x) is not None
    big = np.full((2, 1000), 3e38, dtype=np.float32)      # finite, but its sum overflows
    assert as_programme(big).shape == (2, 1000)
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[1, 500] = bad
        with pytest.raises(SignalError, match="NaN or Inf"):
            as_programme(y)
