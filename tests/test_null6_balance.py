"""The null test against a same-song reference (mixes.balance_null): analytic stems, the gate's
refusals, songs of both generators end to end through the CLI, no voice -> vocal_found false."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from mixes.balance_null import null_balance, null_gate

FS = 48000


def _stems(seed: int, dur_s: float = 8.0, fs: int = FS):
    """Exact stems: a kick on every beat tuned near the bass, a held bass line, noise
    'cymbals', and a centred voice-like tone with 5.5-Hz vibrato and vowel-ish partials."""
    rng = np.random.default_rng(seed)
    n = int(dur_s * fs)
    t = np.arange(n) / fs
    beat = int(0.5 * fs)
    kick = np.zeros(n)
    k_t = np.arange(int(0.3 * fs)) / fs
    hit = np.sin(2 * np.pi * (55 * k_t + 40 * (1 - np.exp(-k_t / 0.03)) * 0.03)) * np.exp(-k_t / 0.12)
    for s0 in range(0, n - hit.size, beat):
        kick[s0:s0 + hit.size] += hit
    f_bass = np.repeat(rng.choice([41.2, 49.0, 55.0, 61.7], size=int(np.ceil(dur_s / 2))), 2 * fs)[:n]
    ph = 2 * np.pi * np.cumsum(f_bass) / fs
    bass = sum(a * np.sin(h * ph) for h, a in ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.15)))
    hats = signal.lfilter([1, -1], [1], rng.standard_normal((2, n))) * 0.15
    f0 = np.repeat(rng.choice([220.0, 247.0, 262.0, 294.0, 330.0], size=int(np.ceil(dur_s / 0.8))), int(0.8 * fs))[:n]
    f0 = f0 * 2 ** (0.4 / 12 * np.sin(2 * np.pi * 5.5 * t))
    vph = 2 * np.pi * np.cumsum(f0) / fs
    env = (np.sin(np.pi * (t % 0.8) / 0.8) ** 0.5) * (rng.uniform(size=n // int(0.8 * fs) + 1)[(t // 0.8).astype(int)] > 0.2)
    # vowels: a formant per note (the detector takes a fixed spectral envelope for an instrument)
    f1 = np.repeat(rng.choice([300.0, 500.0, 700.0, 1000.0, 1400.0], size=int(np.ceil(dur_s / 0.8))), int(0.8 * fs))[:n]
    voice = env * sum(np.sin(h * vph) / h * (0.5 + 3.0 * np.exp(-((h * f0 - f1) / 250.0) ** 2))
                      for h in range(1, 16)) * 0.2
    chord = np.repeat(rng.choice([196.0, 220.0, 262.0, 294.0], size=int(np.ceil(dur_s / 1.3))), int(1.3 * fs))[:n]
    cph = 2 * np.pi * np.cumsum(chord) / fs
    pads = sum(0.08 / h * np.sin(h * r_ * cph + np.array([[0.0], [1.3 * h]])) for h in range(1, 12)
               for r_ in (1.0, 1.26, 1.5))
    return {"kick": np.stack([kick, kick]) * 0.5, "bass": np.stack([bass, bass]) * 0.3,
            "hats": hats, "voice": np.stack([voice, voice]), "pads": pads}


def _mix(st, gains_db=None, overall_db=0.0):
    g = dict(gains_db or {})
    return sum(x * 10 ** (g.get(k, 0.0) / 20) for k, x in st.items()) * 10 ** (overall_db / 20)


@pytest.mark.parametrize("gv, gb, overall, lag_s", [(-2.5, 3.0, -6.0, 0.0), (4.0, -4.0, 3.0, 0.3),
                                                     (0.3, -0.3, -12.0, -0.25)])
def test_analytic_stems_read_their_offsets(gv, gb, overall, lag_s):
    """Stems built so the truth is exact: the gains read within 0.1 dB (the kick on every beat
    cancels in the difference; what is left is the parts' change), at a lag and another gain."""
    st = _stems(int(100 * abs(gv) + 10 * abs(gb)))
    ref = _mix(st)
    mix = _mix(st, {"voice": gv, "bass": gb}, overall)
    k = int(abs(lag_s) * FS)
    if lag_s > 0:                                   # the reference starts later
        ref = np.concatenate([np.zeros((2, k)), ref], axis=1)
    elif lag_s < 0:                                 # the mix starts later and is trimmed at the end
        mix = np.concatenate([np.zeros((2, k)), mix], axis=1)[:, :-k // 2]
    nb = null_balance(mix, ref, fs=FS, vocal_in_files=True)
    assert nb.gate.same, nb.gate.reason
    # the gain is a least-squares fit over the cells of the densest cluster, which can hold
    # a few cells of a part moved by 0.3 dB: within 0.05 dB
    assert nb.gate.gain_db == pytest.approx(overall, abs=0.05)
    # tolerance 0.1 dB: the estimators are exact up to the cross terms of the parts, which
    # average out over the cells (measured <= 0.05 dB)
    assert nb.bass_vs_reference_db == pytest.approx(gb, abs=0.1)
    assert nb.vocal_vs_reference_db == pytest.approx(gv, abs=0.1)
    assert nb.vocal_in_difference == (gv != 0.0)


def _peq(f0, gain_db, q, fs=FS):
    a_ = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / fs
    al = np.sin(w) / (2 * q)
    b = np.array([1 + al * a_, -2 * np.cos(w), 1 - al * a_])
    a = np.array([1 + al / a_, -2 * np.cos(w), 1 - al / a_])
    return b / a[0], a / a[0]


def test_gate_refusals():
    """Another song, the same song re-EQ'd, limited, at another rate, mono against
    stereo: refused with a reason (the frame comparison is used instead)."""
    st = _stems(3)
    ref = _mix(st)
    other = _mix(_stems(4))
    assert not null_gate(other, ref, fs=FS).same
    for f0, g in ((3000.0, 1.5), (200.0, 2.0)):
        b, a = _peq(f0, g, 1.0)
        gate = null_gate(signal.lfilter(b, a, ref, axis=1), ref, fs=FS)
        assert not gate.same and "filter" in gate.reason or "cells null" in gate.reason, gate.reason
    # clipped 3 dB (flat tops)
    peak = np.max(np.abs(ref))
    gate = null_gate(np.clip(ref, -0.7 * peak, 0.7 * peak), ref, fs=FS)
    assert not gate.same and "clipped" in gate.reason
    # NOT refused (see /work/notes/null6-note.md): a smooth limiter (no flat tops) acting on
    # the loudest 10-30 % of the time leaves enough cells nulling to pass the gate
    gate = null_gate(ref, ref, fs=FS, fs_ref=44100)
    assert not gate.same and "sample rate" in gate.reason
    gate = null_gate(ref[:1], ref, fs=FS)
    assert not gate.same and "channel" in gate.reason
    # and the identical file at another gain passes
    assert null_gate(ref * 0.5, ref, fs=FS).same


def _write(path, x, fs=FS):
    sf.write(str(path), np.asarray(x, dtype=np.float32).T, fs, subtype="FLOAT")
    return str(path)


@pytest.mark.parametrize("gen, seed, gv, gb", [("songs", 7203, -5.12, -3.94), ("songs_alt", 1002, -2.62, 3.04)])
def test_cli_end_to_end_same_song(run_cli, tmp_path, gen, seed, gv, gb):
    """`mix analyze mix.wav --reference ref.wav --json` on songs of both generators (12 s; the
    first is one whose vocal the frame comparison finds in neither file), the mix 5 dB lower
    and the reference starting 0.3 s later."""
    import importlib

    s = importlib.import_module(f"mixes.{gen}").make_song(seed, duration_s=12.0)
    ref = np.concatenate([np.zeros((2, int(0.3 * FS))), s.mix()], axis=1)
    m = _write(tmp_path / "mix.wav", s.mix({"voice": gv, "bass": gb}) * 10 ** (-5 / 20))
    r = _write(tmp_path / "ref.wav", ref)
    code, out, err = run_cli("mix", "analyze", "--json", m, "--reference", r)
    assert code == 0, err
    bal = json.loads(out)["mixes"][0]["balance"]
    # the done-means: within +-1 dB of the offsets
    assert bal["vocal_vs_reference_db"] == pytest.approx(gv, abs=1.0), bal
    assert bal["bass_vs_reference_db"] == pytest.approx(gb, abs=1.0), bal
    assert bal["vocal_found"] is True
    assert any("null test" in n for n in bal["notes"])


def test_cli_no_voice_stays_not_found(run_cli, tmp_path):
    """A song without a voice, its bass moved: the bass is read, vocal_found stays false."""
    from mixes.songs import make_song

    s = make_song(1010, duration_s=12.0, voice=False)
    m = _write(tmp_path / "mix.wav", s.mix({"bass": 3.0}))
    r = _write(tmp_path / "ref.wav", s.mix())
    code, out, err = run_cli("mix", "analyze", "--json", m, "--reference", r)
    assert code == 0, err
    bal = json.loads(out)["mixes"][0]["balance"]
    assert bal["vocal_found"] is False and bal["vocal_vs_reference_db"] is None
    assert bal["bass_vs_reference_db"] == pytest.approx(3.0, abs=0.5)
