"""The low end made wide under a centred kick: a bass widened by a few ms of delay (Haas) or a
slowly drifting side decorrelates between the kick's hits, while the whole file's low-end
correlation stays near 0.6-0.7 (the kick is centred).  The frame rule of mixes.stereo reports it;
normal mixes of three generators and a centred bass do not trigger it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import hilbert

from mixes.stereo import measure_stereo

FS = 48000


def _kick_and_bass(seed: int, *, bass_delay_s: float = 0.0, duration_s: float = 12.0) -> np.ndarray:
    """Four-on-the-floor kick (pitch-swept sine, 0.25 s decay) and held bass notes in a key, both
    centred unless the bass's right channel is delayed; a quiet wide pad above 200 Hz."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    t = np.arange(n) / FS
    tempo = rng.uniform(100, 130)
    beat = 60.0 / tempo
    kick = np.zeros(n)
    tk = np.arange(int(0.4 * FS)) / FS
    hit = np.sin(2 * np.pi * (45 * tk + 60 * (1 - np.exp(-tk / 0.03)) * 0.03)) * np.exp(-tk / 0.25)
    for b0 in np.arange(0, duration_s - 0.4, beat):
        i = int(b0 * FS)
        kick[i:i + hit.size] += hit
    root = rng.choice([41.2, 43.65, 49.0, 55.0, 61.7])
    degrees = np.array([1, 9 / 8, 6 / 5, 4 / 3, 3 / 2])
    bass = np.zeros(n)
    bar = 4 * beat
    for k, b0 in enumerate(np.arange(0, duration_s, bar / 2)):
        f = root * degrees[rng.integers(degrees.size)]
        i0, i1 = int(b0 * FS), min(n, int((b0 + bar / 2) * FS))
        tt = t[i0:i1] - b0
        env = np.minimum(1, tt / 0.01) * np.exp(-tt / 3.0)
        bass[i0:i1] += env * (np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt))
    pad = np.stack([rng.standard_normal(n), rng.standard_normal(n)])
    pad = np.real(np.fft.irfft(np.fft.rfft(pad) * (np.fft.rfftfreq(n, 1 / FS) > 200), n=n)) * 0.02
    d = int(round(bass_delay_s * FS))
    bass_r = np.roll(bass, d) if d else bass
    x = np.stack([0.5 * kick + 0.3 * bass, 0.5 * kick + 0.3 * bass_r]) + pad
    return x * (0.5 / np.max(np.abs(x)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_haas_bass_under_centred_kick_is_wide_and_centred_is_not(seed):
    centred = measure_stereo(_kick_and_bass(seed), fs=FS)
    assert not centred.low_end_wide and not centred.low_end_out_of_phase
    assert not any(p.kind.startswith("low_end") for p in centred.problems)
    wide = measure_stereo(_kick_and_bass(seed, bass_delay_s=0.004), fs=FS)
    assert wide.low_end_wide
    assert any(p.kind == "low_end_wide" for p in wide.problems)


def test_songs_of_three_generators_normal_and_with_the_bass_widened():
    from mixes.songs import make_song as m1
    from mixes.songs_alt import make_song as m2
    from mixes.songs3 import make_song as m3
    for mk, seed in ((m1, 21), (m2, 34), (m3, 903)):
        s = mk(seed, duration_s=10.0)
        x, b = s.mix(), s.stems["bass"]
        assert not measure_stereo(x, fs=FS).low_end_wide, (mk.__module__, seed)
        bm = b.mean(axis=0)
        drift = np.real(hilbert(bm) * np.exp(2j * np.pi * 0.5 * np.arange(bm.size) / FS))
        assert measure_stereo(x - b + np.stack([bm, drift]), fs=FS).low_end_wide, (mk.__module__, seed)
        haas = np.stack([b[0], np.roll(b[1], int(0.004 * FS))])
        assert measure_stereo(x - b + haas, fs=FS).low_end_wide, (mk.__module__, seed)
