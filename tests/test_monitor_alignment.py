"""Time alignment of A, B and bypass in the monitor engine (issue #5).

Analytic truth throughout: FIRs whose main peak sits at a known tap D (a delayed unit impulse
plus a small decaying tail), so every slot's output is a known shift of the input.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from calib.errors import ConfigError, ProfileError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from monitor.dsp import AlignmentDelay
from monitor.engine import Engine, build_chain, fir_bulk_latency_samples, render_chunks
from test_monitor_engine import stream  # block by block, as the callback does

FS = 48000


def delayed_fir(d: int, n_taps: int = 1024, tail: float = 0.01) -> np.ndarray:
    """Unit impulse at tap ``d`` plus a tail ``tail * exp(-k/3)`` after it (k = 1..20)."""
    h = np.zeros(n_taps)
    h[d] = 1.0
    k = np.arange(1, 21)
    h[d + k] = tail * np.exp(-k / 3.0)
    return h


def fir_prof(name: str, h: np.ndarray, n_ch: int = 2, **kw) -> CalibrationProfile:
    spk = tuple(SpeakerCorrection(f"S{c}", c, fir={FS: h}) for c in range(n_ch))
    return CalibrationProfile(name=name, speakers=spk, **kw)


def shift(x: np.ndarray, d: int) -> np.ndarray:
    """``x`` delayed by ``d`` samples (zeros before), same length."""
    y = np.zeros_like(x)
    y[..., d:] = x[..., : x.shape[-1] - d]
    return y


def noise(n: int, ch: int = 2, level: float = 0.05, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((ch, n)) * level).astype(np.float32)


def quadrature(f_hz: float, n: int, amp: float = 0.2) -> np.ndarray:
    """Channel 0 = amp sin(w n), channel 1 = amp cos(w n): through identical linear chains
    ``hypot(y0, y1)`` is the exact instantaneous amplitude envelope of the output."""
    ph = 2 * np.pi * f_hz * np.arange(n) / FS
    return (amp * np.stack([np.sin(ph), np.cos(ph)])).astype(np.float32)


# ----------------------------------------------------------------------------- definition
def test_bulk_latency_is_the_earliest_main_peak_of_the_firs():
    h1 = delayed_fir(300)
    h2 = -delayed_fir(120)            # polarity does not matter: |h| peaks at 120
    assert fir_bulk_latency_samples([h1, None]) == 300
    assert fir_bulk_latency_samples([h1, h2]) == 120   # common to all FIR channels
    assert fir_bulk_latency_samples([None, None]) == 0
    # per-speaker delays and biquads are correction, not latency
    p = CalibrationProfile(name="p", speakers=(
        SpeakerCorrection("L", 0, fir={FS: h1}, delay_s=50 / FS),
        SpeakerCorrection("R", 1, peq=(Biquad("peaking", 100.0, -3.0, 2.0),), delay_s=0.01)))
    assert build_chain(p, fs=FS, n_channels=2, block=64).bulk_latency_samples == 300
    p_peq = CalibrationProfile(name="q", speakers=(SpeakerCorrection("L", 0, delay_s=0.01),))
    assert build_chain(p_peq, fs=FS, n_channels=1, block=64).bulk_latency_samples == 0


# ----------------------------------------------------------------------------- the DSP block
@pytest.mark.parametrize("block", [1, 37, 256])
def test_alignment_delay_streams_any_block_size_and_fades_between_positions(block):
    n = 4000
    x = noise(n, ch=3, seed=1)
    ramp = (np.sin(0.5 * np.pi * np.arange(1, 101) / 100) ** 2).astype(np.float32)
    al = AlignmentDelay(3, capacity_samples=500, max_block=256)
    al.set(120)
    y = np.empty_like(x)
    change_at = (1500 // block) * block      # a block boundary
    for s in range(0, n, block):
        if s == change_at:
            al.set(480, ramp=ramp)
        seg = x[:, s:s + block].copy()
        y[:, s:s + block] = al.process(seg)
    old, new = shift(x, 120), shift(x, 480)
    c = change_at
    # a pure copy before and after: bit exact
    np.testing.assert_array_equal(y[:, :c], old[:, :c])
    np.testing.assert_array_equal(y[:, c + 100:], new[:, c + 100:])
    # during the fade: old + w (new - old), float32 arithmetic on ~0.05 rms (1e-7 absolute)
    np.testing.assert_allclose(y[:, c:c + 100], old[:, c:c + 100] + ramp * (new - old)[:, c:c + 100], atol=1e-7)
    assert not al.fading and al.delay == 480


def test_alignment_delay_errors_and_zero_capacity():
    with pytest.raises(ConfigError, match="alignment capacity must be >= 0"):
        AlignmentDelay(2, capacity_samples=-1, max_block=64)
    al = AlignmentDelay(2, capacity_samples=100, max_block=64)
    with pytest.raises(ConfigError, match="alignment delay 101 samples is outside 0..100"):
        al.set(101)
    off = AlignmentDelay(2, capacity_samples=0, max_block=64)
    x = noise(64)
    assert off.process(x) is x and off.buf.size == 0   # no memory, no work


# ----------------------------------------------------------------------------- engine
def test_bypass_is_the_input_delayed_by_the_fir_bulk_latency_exactly():
    """FIR = unit impulse at tap 300 + tail: bypass plays x[n - 300 - L], sample exact."""
    eng = Engine(fs=FS, n_channels=2, block=64, loudness_match=False, limiter={"ceiling_dbfs": 0.0})
    eng.load(fir_prof("D300", delayed_fir(300)), "A", activate=False)   # bypass stays on the air
    x = noise(64 * 200)
    y = stream(eng, x, 64)
    L = eng.latency_samples
    # a copy through unity gains and ring buffers: bit exact, from the first sample on
    np.testing.assert_array_equal(y, shift(x, 300 + L))
    st = eng.status()
    assert st["bulk_latency_samples"] == 300 == eng.bulk_latency_samples
    assert (st["slots"]["A"]["bulk_latency_samples"], st["slots"]["A"]["align_samples"]) == (300, 0)
    assert (st["slots"]["bypass"]["bulk_latency_samples"], st["slots"]["bypass"]["align_samples"]) == (0, 300)
    assert st["slots"]["B"] is None and st["latency_samples"] == L

    # loudness-matched: the same delay, scaled to the FIR's loudness
    eng = Engine(fs=FS, n_channels=2, block=64, limiter={"ceiling_dbfs": 0.0})
    eng.load(fir_prof("D300", delayed_fir(300)), "A", activate=False)
    g = np.float32(10 ** (eng.status()["slots"]["bypass"]["match_db"] / 20))
    assert 0.0 < 20 * np.log10(g) < 0.2       # the 1 % tail adds a little loudness
    y = stream(eng, x, 64)
    s = 300 + L + 64    # the first block ramps the match gain in from unity (engine start)
    # float32 product: relative 6e-8 on ~0.2 peaks
    np.testing.assert_allclose(y[:, s:], (shift(x, 300 + L) * g)[:, s:], atol=2e-8, rtol=0)
    np.testing.assert_array_equal(y[:, :300 + L], 0.0)


def test_a_bypass_a_switch_has_no_time_jump_and_no_comb_dip():
    """80 Hz is where a 300-sample misalignment is half a period: unaligned, the fade would
    cancel to silence halfway.  Aligned, the envelope moves monotonically between the two
    steady levels: within 1e-4 of (1 - w) e_A + w e_bypass, never 0.1 dB below the lower."""
    D, B, f0, amp = 300, 64, 80.0, 0.2
    h = delayed_fir(D)
    eng = Engine(fs=FS, n_channels=2, block=B, fade_s=0.05, limiter={"ceiling_dbfs": 0.0})
    eng.load(fir_prof("D300", h), "A")
    x = quadrature(f0, B * 600, amp)
    y = stream(eng, x, B, hooks={200: lambda: eng.select("bypass"), 400: lambda: eng.select("A")})
    assert eng.active_slot == "A" and eng.swaps == 2

    w0 = 2 * np.pi * f0 / FS
    H_a = np.sum(h * np.exp(-1j * w0 * np.arange(h.size)))          # steady-state response of A
    g_b = 10 ** (eng.status()["slots"]["bypass"]["match_db"] / 20)   # bypass: g_b e^{-j w0 D}
    e_a, e_b = amp * abs(H_a), amp * g_b
    F = eng.fade_samples
    w = np.sin(0.5 * np.pi * np.arange(1, F + 1) / F) ** 2
    D_lim = eng.limiter.latency_samples       # chains mix before the limiter's look-ahead
    ideal = np.full(x.shape[1], e_a)
    s1, s2 = 200 * B + D_lim, 400 * B + D_lim
    ideal[s1:s1 + F] = e_a + w * (e_b - e_a)
    ideal[s1 + F:s2] = e_b
    ideal[s2:s2 + F] = e_b + w * (e_a - e_b)
    env = np.hypot(y[0].astype(np.float64), y[1])
    steady = D + 21 + eng.latency_samples     # the FIR and its tail have filled
    np.testing.assert_allclose(env[steady:], ideal[steady:], atol=1e-4)
    fades = np.r_[s1:s1 + F, s2:s2 + F]
    assert 20 * np.log10(env[fades].min() / min(e_a, e_b)) > -0.1
    # what the same fade does without alignment (analytic): cancellation, far below -40 dB
    unaligned = abs(0.5 * H_a + 0.5 * g_b)          # bypass at e^{0}, A at e^{-j w0 300}
    assert 20 * np.log10(unaligned / min(abs(H_a), g_b)) < -40


def test_a_and_b_with_delays_100_and_400_play_at_400_and_switch_seamlessly():
    """Pure delays of 100 (A) and 400 (B) taps: with alignment every slot, and every mix of
    two slots during a crossfade, is x[n - 400 - L]; the output is that, within float32
    round-off, through A -> B -> bypass -> A."""
    def pure(d):
        h = np.zeros(600)
        h[d] = 1.0
        return h

    B = 128
    eng = Engine(fs=FS, n_channels=2, block=B, limiter={"ceiling_dbfs": 0.0})
    eng.load(fir_prof("A100", pure(100)), "A")
    eng.load(fir_prof("B400", pure(400)), "B", activate=False)
    st = eng.status()
    assert st["bulk_latency_samples"] == 400
    assert {s: (v["bulk_latency_samples"], v["align_samples"]) for s, v in st["slots"].items()} == \
        {"A": (100, 300), "B": (400, 0), "bypass": (0, 400)}
    x = noise(B * 400, seed=3)
    y = stream(eng, x, B, hooks={50: lambda: eng.select("B"), 150: lambda: eng.select("bypass"),
                                 250: lambda: eng.select("A")})
    assert eng.swaps == 3 and eng.active_slot == "A"
    # bypass is a copy (bit exact); A and B run float32 FFT convolution: 1e-7 on 0.05 rms
    # noise (-114 dB), where a one-sample slip would leave errors of ~0.1
    np.testing.assert_allclose(y, shift(x, 400 + eng.latency_samples), atol=1e-7, rtol=0)


def test_loading_a_longer_fir_realigns_the_slot_on_the_air_by_a_crossfade():
    """A (D = 100) plays; B (D = 400) is loaded off the air.  Once B is warm, A's padding
    moves 0 -> 300 while A is on the air: by the engine's crossfade between the two delays,
    y = (1 - w) A(n) + w A(n - 300), never a step; bypass moves to 400 at once (off the air)."""
    Bk = 64
    h_a = delayed_fir(100, n_taps=512)
    eng = Engine(fs=FS, n_channels=2, block=Bk, fade_s=0.01, limiter={"ceiling_dbfs": 0.0})
    eng.load(fir_prof("A100", h_a), "A")
    x = quadrature(1000.0, Bk * 900, 0.2)
    y = stream(eng, x, Bk, hooks={100: lambda: eng.load(fir_prof("B400", delayed_fir(400)), "B",
                                                        activate=False)})
    st = eng.status()
    assert not st["in_transition"] and st["bulk_latency_samples"] == 400
    assert {s: v["align_samples"] for s, v in st["slots"].items()} == {"A": 300, "B": 0, "bypass": 400}
    assert eng.active_slot == "A" and eng.swaps == 0        # no slot switch happened
    L = eng.latency_samples
    a0 = shift(ss.lfilter(h_a, [1.0], x.astype(np.float64)), L)   # A before (padding 0)
    a1 = shift(a0, 300)                                              # A after (padding 300)
    F = eng.fade_samples
    Dl = eng.limiter.latency_samples
    w = np.sin(0.5 * np.pi * np.arange(1, F + 1) / F) ** 2
    # the fade starts at the block boundary after B's warm-up: the one where the formula fits
    # (float32 FFT convolution vs float64: 2e-6 on 0.2 amplitude)
    starts = [s for s in range(101 * Bk + Dl, x.shape[1] - F, Bk)
              if np.allclose(y[:, s:s + F], a0[:, s:s + F] + w * (a1 - a0)[:, s:s + F], atol=2e-6, rtol=0)]
    assert len(starts) == 1
    s0 = starts[0]
    # B warmed its filter (1024 taps -> 0.2 s floor) plus the 300 samples of history A needs
    assert s0 - Dl >= 100 * Bk + int(0.2 * FS) + 300
    np.testing.assert_allclose(y[:, :s0], a0[:, :s0], atol=2e-6)
    np.testing.assert_allclose(y[:, s0 + F:], a1[:, s0 + F:], atol=2e-6)
    # no step: the largest sample-to-sample change stays that of the 1 kHz sine
    assert np.max(np.abs(np.diff(y, axis=1))) <= np.max(np.abs(np.diff(a0, axis=1))) * 1.001


def test_replacing_the_longest_fir_lowers_the_common_latency():
    """A (100) on the air, B (400) off the air; B is replaced by a 50-tap-delay FIR: T drops
    to 100, A's padding returns to 0 (faded), bypass to 100, B' gets 50."""
    Bk = 128
    eng = Engine(fs=FS, n_channels=2, block=Bk, fade_s=0.005, limiter={"ceiling_dbfs": 0.0})
    eng.load(fir_prof("A100", delayed_fir(100)), "A")
    eng.load(fir_prof("B400", delayed_fir(400)), "B", activate=False)
    assert eng.status()["slots"]["A"]["align_samples"] == 300
    x = noise(Bk * 300, seed=4)
    stream(eng, x, Bk, hooks={10: lambda: eng.load(fir_prof("B50", delayed_fir(50)), "B", activate=False)})
    st = eng.status()
    assert not st["in_transition"] and st["bulk_latency_samples"] == 100
    assert {s: v["align_samples"] for s, v in st["slots"].items()} == {"A": 0, "B": 50, "bypass": 100}
    eng.collect()
    assert eng.retired is None


def test_render_of_one_profile_keeps_its_fir_delay_and_is_unchanged():
    """Offline rendering removes only the engine's latency: the FIR's 300-sample delay stays
    in the file, as before alignment existed (slot A alone is never padded)."""
    h = delayed_fir(300)
    x = noise(5000, seed=2)
    ref = ss.lfilter(h, [1.0], x.astype(np.float64), axis=1)
    for bypass in (False, True):
        eng = Engine(fs=FS, n_channels=2, block=256, max_block=1024, bypass=bypass,
                     limiter={"ceiling_dbfs": 0.0})
        eng.load(fir_prof("D300", h), "A")
        assert eng.status()["slots"]["A"]["align_samples"] == 0
        y = np.concatenate(list(render_chunks(eng, (x[:, s:s + 1024] for s in range(0, 5000, 1024)), 5000)),
                           axis=1)
        np.testing.assert_allclose(y, ref, atol=2e-6)   # float32 FFT convolution


def test_alignment_capacity_errors():
    with pytest.raises(ConfigError, match="max_align_s = 20 s is outside 0..10 s"):
        Engine(fs=FS, n_channels=2, block=64, max_align_s=20)
    # 1 ms = 48 samples cannot pad bypass by 300
    eng = Engine(fs=FS, n_channels=2, block=64, max_align_s=0.001)
    with pytest.raises(ProfileError, match="bulk latency of 300 samples .* slot bypass .* 300 samples of padding"):
        eng.load(fir_prof("D300", delayed_fir(300)), "A")
    # without other slots there is nothing to align: rendering one profile needs no padding
    solo = Engine(fs=FS, n_channels=2, block=64, max_align_s=0.0, bypass=False)
    solo.load(fir_prof("D300", delayed_fir(300)), "A")
    assert solo.bulk_latency_samples == 300


def test_loading_into_the_other_slot_and_activating_it_aligns_the_slot_faded_out():
    """A (D = 100) plays; B (D = 400) is loaded and activated: the crossfade A -> B is the one
    latency change (100 -> 400); A keeps its padding while it fades out, then takes 300 at once
    (off the air), so switching back to A is aligned: the output is then x[n - 400 - L]."""
    def pure(d):
        h = np.zeros(600)
        h[d] = 1.0
        return h

    Bk = 128
    eng = Engine(fs=FS, n_channels=2, block=Bk, fade_s=0.005, limiter={"ceiling_dbfs": 0.0})
    eng.load(fir_prof("A100", pure(100)), "A")
    x = noise(Bk * 400, seed=6)
    y = stream(eng, x, Bk, hooks={10: lambda: eng.load(fir_prof("B400", pure(400)), "B"),
                                  200: lambda: eng.select("A")})
    st = eng.status()
    assert eng.active_slot == "A" and eng.swaps == 2 and not st["in_transition"]
    assert {s: v["align_samples"] for s, v in st["slots"].items()} == {"A": 300, "B": 0, "bypass": 400}
    L = eng.latency_samples
    # from just before the switch back to A to the end: one delay, 400 + L, through the
    # B -> A crossfade (float32 FFT round-off 1e-7 on 0.05 rms noise)
    s = 190 * Bk
    np.testing.assert_allclose(y[:, s:], shift(x, 400 + L)[:, s:], atol=1e-7, rtol=0)
