"""A burst that recurs with the music after it is the music's (a sampled kick's beater noise);
a digital burst planted in the same music is still reported (issue 12: artifacts not on clean
music, found when planted)."""

import importlib.util
from pathlib import Path

import numpy as np

from mixes.artifacts import find_artifacts

FS = 48000


def _eval_kit(seed: int) -> np.ndarray:
    """The click eval's breakbeat of sampled hits (kick with 0.8 ms of beater noise, snare, ghost
    notes, hats, rim; +-10 ms jitter): benchmarks/eval_clicks.py's ``kit``."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "eval_clicks.py"
    spec = importlib.util.spec_from_file_location("_eval_clicks_for_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.kit(seed)


def _sampled_groove(seed: int, dur_s: float = 10.0) -> np.ndarray:
    """Kick (a pitch-dropping sine with 0.8 ms of beater noise: the same sample every hit) on a
    jittered grid, a hat, a pad and a sine bass; stereo."""
    rng = np.random.default_rng(seed)
    n = int(dur_s * FS)
    t = np.arange(int(0.3 * FS)) / FS
    kick = np.sin(2 * np.pi * (50 * t + 35 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.15)
    kick[:int(0.0008 * FS)] += 0.5 * rng.standard_normal(int(0.0008 * FS))
    hat = np.diff(np.r_[0.0, rng.standard_normal(t.size)]) * np.exp(-t / 0.02) * 0.3
    fade = np.minimum(1.0, (t.size - 1 - np.arange(t.size)) / (0.02 * FS))
    kick, hat = kick * fade, hat * fade
    y = np.zeros(n)
    beat = 60.0 / rng.uniform(90, 128)
    k = 0
    while True:
        i = int((k * beat / 2 + rng.uniform(-0.008, 0.008) + 0.02) * FS)
        if i + t.size >= n:
            break
        if k % 2 == 0:
            y[i:i + t.size] += 0.35 * kick
        y[i:i + t.size] += 0.05 * hat
        k += 1
    tt = np.arange(n) / FS
    x = y + 0.03 * np.sin(2 * np.pi * 220 * tt) + 0.1 * np.sin(2 * np.pi * 55 * tt)
    return np.vstack([x, 0.9 * x])


def test_sampled_beater_noise_is_music_and_a_planted_burst_is_not():
    # kits 0 and 2 gave 2 and 4 digital_distortion reports at their kick hits before the test
    for x in (_eval_kit(0), _eval_kit(2), _sampled_groove(0), _sampled_groove(1)):
        seed = int(np.sum(np.abs(x[0, :1000])) * 1e6) % 1000
        clean = [a for a in find_artifacts(x, fs=FS) if a.kind == "digital_distortion"]
        assert clean == [], f"seed {seed}: {clean}"
        # 3 ms of random full-scale-ish garbage between two hits: found
        rng = np.random.default_rng(100 + seed)
        y = x.copy()
        at = int(5.123 * FS)
        y[:, at:at + int(0.003 * FS)] = rng.uniform(-0.5, 0.5, (2, int(0.003 * FS)))
        got = [a for a in find_artifacts(y, fs=FS) if a.kind == "digital_distortion"]
        assert any(abs(a.time_s - at / FS) < 0.002 for a in got), f"seed {seed}: {got}"
