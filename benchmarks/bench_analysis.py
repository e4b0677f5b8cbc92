"""Time a full room analysis of a 2-channel, 4-seat measurement set, and the decay part
against pyrato (the peer for ISO 3382 decay).

Seats: the simulated default room (``hardware.simulated.default_room``, 48 kHz, 1 s, L and R)
with three more seats made from it by adding independent measurement noise at -80 dB re the
peak (the analysis cost does not depend on where the seat is).  Each seat goes through
``analyze_room`` with the room geometry (modes, reflections with surfaces, decay in octaves and
third-octaves, waterfall/spectrogram data, matching, compliance), then the seat-averaged
response (RMS) and decay.

Peer: pyrato 1.x's Lundeby EDC + T20/T30 regression, per octave and third-octave band (pyfar's
IEC 61260 filter bank), on the same IRs, against our ``decay_table`` for the same bands.

Run: ``.venv/bin/python benchmarks/bench_analysis.py`` (median of 3 runs; expect ±20 % noise on
a shared 2-core machine).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calib.analysis.decay import decay_table  # noqa: E402
from calib.analysis.room import analyze_room  # noqa: E402
from calib.analysis.seats import seat_average_decay, seat_average_response  # noqa: E402
from calib.types import ImpulseResponse  # noqa: E402
from hardware.simulated import DEFAULT_ROOM_FACTS, default_room  # noqa: E402

FS = 48000
RUNS = 3


def seats() -> list[ImpulseResponse]:
    base = default_room(FS)
    out = [base]
    peak = float(np.abs(base.samples).max())
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        s = base.samples + rng.standard_normal(base.samples.shape) * peak * 1e-4
        out.append(ImpulseResponse(samples=s, fs=FS, channel_names=base.channel_names))
    return out


def full_analysis(irs: list[ImpulseResponse]) -> None:
    f = DEFAULT_ROOM_FACTS
    analyses = [analyze_room(ir, dims_m=f.dims_m, source_m=dict(f.speakers_m), mic_m=f.mic_m) for ir in irs]
    seat_average_response(irs)
    seat_average_decay(analyses)


def ours_decay(irs: list[ImpulseResponse]) -> None:
    for ir in irs:
        for row in ir.samples:
            decay_table(row, fs=FS, fraction=1)
            decay_table(row, fs=FS, fraction=3, lo_hz=50, hi_hz=10000)


def pyrato_decay(irs: list[ImpulseResponse]) -> None:
    import pyfar as pf
    import pyrato as ra

    for ir in irs:
        for row in ir.samples:
            for b, rng in ((1, (63, 8000)), (3, (50, 10000))):
                sig = pf.Signal(row, FS)
                bands = pf.dsp.filter.fractional_octave_bands(sig, b, frequency_range=rng, order=8)
                fc = pf.dsp.filter.fractional_octave_frequencies(b, rng)[0]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for i, f in enumerate(fc):
                        try:
                            edc = ra.edc.energy_decay_curve_lundeby(bands[i], smoothing_parameter=float(f),
                                                                    time_shift=True)
                            ra.parameters.reverberation_time_linear_regression(edc, "T20")
                            ra.parameters.reverberation_time_linear_regression(edc, "T30")
                        except ValueError:      # pyrato gives up on a band without a usable decay
                            pass


def median_time(fn, arg) -> float:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    irs = seats()
    full_analysis(irs[:1])                     # warm-up (imports, caches)
    t_full = median_time(full_analysis, irs)
    print(f"full analyze_room, 2 channels x 4 seats (1 s IRs, 48 kHz): {t_full:.2f} s "
          f"({t_full / 4:.2f} s per seat)")
    t_ours = median_time(ours_decay, irs)
    try:
        t_peer = median_time(pyrato_decay, irs)
    except ImportError:
        print("pyrato/pyfar not installed: no peer figure")
        return
    print(f"decay only (8 octaves + 24 third-octaves x 8 IRs): roomtruth {t_ours:.2f} s, "
          f"pyrato {t_peer:.2f} s, ratio pyrato/roomtruth = {t_peer / t_ours:.2f}")
    print("(roomtruth also computes EDT, C50, C80, D50, Ts and a zero-phase band per band; "
          "pyrato here only EDC + T20/T30)")


if __name__ == "__main__":
    main()
