"""The engine: per-speaker chains from a profile, loudness-matched A/B/bypass, click-free swaps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from calib.errors import ConfigError, ProfileError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection, peq_sos
from monitor.dsp import FRACTIONAL_LATENCY_SAMPLES
from monitor.engine import Engine, build_chain, render_chunks

FS = 48000


def prof(name="p", **kw) -> CalibrationProfile:
    spk = kw.pop("speakers", None) or (SpeakerCorrection("L", 0), SpeakerCorrection("R", 1))
    return CalibrationProfile(name=name, speakers=spk, **kw)


def render(engine: Engine, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
    chunk = chunk or engine.max_block
    parts = render_chunks(engine, (x[:, s:s + chunk] for s in range(0, x.shape[1], chunk)), x.shape[1])
    return np.concatenate(list(parts), axis=1)


def stream(engine: Engine, x: np.ndarray, block: int, hooks=None) -> np.ndarray:
    """Block by block, as the callback does (no latency removal); hooks[k]() before block k."""
    y = np.zeros_like(x)
    for k, s in enumerate(range(0, x.shape[1] - block + 1, block)):
        if hooks and k in hooks:
            hooks[k]()
        engine.process(x[:, s:s + block], y[:, s:s + block])
    return y


def noise(n: int, level: float = 0.05, ch: int = 2, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((ch, n)) * level).astype(np.float32)


def test_peq_chain_equals_gain_polarity_delay_and_biquads():
    peq = (Biquad("peaking", 63.0, -6.0, 4.0), Biquad("highshelf", 3000.0, 2.0))
    p = prof(preamp_db=-3.0, speakers=(
        SpeakerCorrection("L", 0, trim_db=-1.0, polarity=-1, delay_s=24 / FS, peq=peq),
        SpeakerCorrection("R", 1)))
    eng = Engine(fs=FS, n_channels=2, block=64, max_block=64 * 50, limiter={"ceiling_dbfs": 0.0})
    eng.load(p, "A")
    x = noise(64 * 500)
    y = render(eng, x, chunk=64 * 7)
    ref_l = -(10 ** (-4 / 20)) * ss.sosfilt(peq_sos(peq, fs=FS), x[0].astype(np.float64))
    ref_l = np.concatenate([np.zeros(24), ref_l[:-24]])
    ref_r = 10 ** (-3 / 20) * x[1].astype(np.float64)
    # float32 path vs float64 reference: 1e-6 absolute on signals of ~0.05 rms (-94 dB)
    np.testing.assert_allclose(y[0], ref_l, atol=1e-6)
    np.testing.assert_allclose(y[1], ref_r, atol=1e-6)
    assert eng.running_hash == p.content_hash()


def test_fir_for_the_running_rate_else_biquads():
    h = np.zeros(300)
    h[0], h[299] = 1.0, 0.5
    peq = (Biquad("peaking", 1000.0, -3.0, 1.0),)
    p = prof(speakers=(SpeakerCorrection("L", 0, peq=peq, fir={FS: h}),
                       SpeakerCorrection("R", 1, peq=peq, fir={44100: h})))
    chain = build_chain(p, fs=FS, n_channels=2, block=32)
    assert chain.uses_fir == (True, False)
    eng = Engine(fs=FS, n_channels=2, block=32, max_block=32 * 10, limiter={"ceiling_dbfs": 0.0})
    eng.load(p, "A")
    x = noise(32 * 100)
    y = render(eng, x)
    ref_l = ss.lfilter(h, [1.0], x[0].astype(np.float64))          # FIR contains the PEQ already
    ref_r = ss.sosfilt(peq_sos(peq, fs=FS), x[1].astype(np.float64))
    np.testing.assert_allclose(y[0], ref_l, atol=2e-6)  # float32 FFT convolution
    np.testing.assert_allclose(y[1], ref_r, atol=1e-6)


def test_fractional_delay_between_speakers_is_exact():
    """R is 10.3 samples later than L: the phase slope of H_R/H_L below 4 kHz says 10.3."""
    p = prof(speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1, delay_s=10.3 / FS)))
    eng = Engine(fs=FS, n_channels=2, block=128, max_block=128 * 32, limiter={"ceiling_dbfs": 0.0})
    eng.load(p, "A")
    x = np.zeros((2, 8192), np.float32)
    x[:, 100] = 0.5
    y = render(eng, x)
    f = np.fft.rfftfreq(8192, 1 / FS)
    ratio = np.fft.rfft(y[1]) / np.fft.rfft(y[0])
    band = (f > 50) & (f < 4000)
    phase = np.unwrap(np.angle(ratio[band]))
    slope = np.polyfit(2 * np.pi * f[band] / FS, phase, 1)[0]
    # Thiran order 3 is maximally flat: 0.001 sample = 21 ns at 48 kHz
    assert abs(-slope - 10.3) < 1e-3
    np.testing.assert_allclose(np.abs(ratio[band]), 1.0, atol=1e-5)  # all-pass: no level change


def test_render_is_aligned_and_latency_reported():
    eng = Engine(fs=FS, n_channels=2, block=256, max_block=256 * 4)
    eng.load(prof(), "A")
    x = noise(5000)
    y = render(eng, x)
    assert y.shape == x.shape
    np.testing.assert_array_equal(y, x)  # unity profile: identity after latency removal
    assert eng.latency_samples == FRACTIONAL_LATENCY_SAMPLES + eng.limiter.latency_samples


def test_loudness_matching_makes_bypass_as_loud_as_the_profile():
    p = prof(preamp_db=-6.0)
    eng = Engine(fs=FS, n_channels=2, block=256)
    eng.load(p, "A")
    st = eng.status()
    # a pure -6 dB gain: K-weighted pink loudness changes by exactly -6 dB; the gain is held
    # in float32 (relative rounding 6e-8 = 5e-7 dB), so 1e-6 dB
    assert abs(st["slots"]["A"]["loudness_db"] + 6.0) < 1e-6
    assert abs(st["slots"]["bypass"]["match_db"] + 6.0) < 1e-6
    x = noise(256 * 400)
    eng.select("bypass")
    y = stream(eng, x, 256)
    tail = y[:, -256 * 100:]
    ref = x[:, -256 * 100 - eng.latency_samples:-eng.latency_samples] * 10 ** (-6 / 20)
    np.testing.assert_allclose(tail, ref, atol=1e-7)


def test_loudness_of_a_peq_profile_follows_pink_k_weighted_power():
    """A 12 dB cut of everything above 1 kHz: pink noise loses the analytic share of power."""
    p = prof(speakers=(SpeakerCorrection("L", 0, peq=(Biquad("lowpass", 20000.0, q=0.7071),)),))
    chain = build_chain(p, fs=FS, n_channels=1, block=64)
    # a 20 kHz low-pass barely touches 20 Hz..20 kHz pink: between -0.5 and 0 dB
    assert -0.5 < chain.loudness_db < 0.0


def test_ab_switch_is_an_exact_raised_cosine_crossfade():
    pa = prof("A")
    pb = prof("B", preamp_db=-6.0)
    eng = Engine(fs=FS, n_channels=2, block=64, fade_s=0.01, loudness_match=False, limiter={"ceiling_dbfs": 0.0})
    eng.load(pa, "A")
    eng.load(pb, "B", activate=False)
    t = np.arange(64 * 100) / FS
    x = np.tile((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), (2, 1))  # below the jump guard
    y = stream(eng, x, 64, hooks={40: lambda: eng.select("B")})
    L = eng.latency_samples
    ya = np.zeros_like(x)
    ya[:, L:] = x[:, :-L]
    yb = ya * np.float32(10 ** (-6 / 20))
    F = eng.fade_samples
    s0 = 40 * 64 + eng.limiter.latency_samples  # chains mix before the limiter's look-ahead delay
    w = np.sin(0.5 * np.pi * np.arange(1, F + 1) / F) ** 2
    np.testing.assert_allclose(y[:, :s0], ya[:, :s0], atol=1e-7)
    np.testing.assert_allclose(y[:, s0:s0 + F], ya[:, s0:s0 + F] + w * (yb - ya)[:, s0:s0 + F], atol=1e-6)
    np.testing.assert_allclose(y[:, s0 + F:], yb[:, s0 + F:], atol=1e-7)
    # no step: the largest sample-to-sample change stays that of the 440 Hz sine itself
    assert np.max(np.abs(np.diff(y[0]))) <= np.max(np.abs(np.diff(ya[0]))) * 1.001
    assert eng.active_slot == "B" and eng.running_hash == pb.content_hash()
    assert eng.swaps == 1


def test_new_profile_is_warmed_then_crossfaded_without_discontinuity():
    rng = np.random.default_rng(5)
    h_old = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300) * 0.2
    h_new = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300) * 0.2
    p_old = prof("old", speakers=(SpeakerCorrection("L", 0, fir={FS: h_old}),))
    p_new = prof("new", speakers=(SpeakerCorrection("L", 0, fir={FS: h_new}),))
    B = 64
    eng = Engine(fs=FS, n_channels=1, block=B, fade_s=0.005, limiter={"ceiling_dbfs": 0.0})
    eng.load(p_old, "A")
    x = noise(B * 1000, ch=1)
    loaded = []

    def swap():
        eng.load(p_new, "A")       # queued; the audio side warms it, then crossfades
        loaded.append(True)

    y = stream(eng, x, B, hooks={100: swap})[0]
    L = eng.latency_samples
    y_old = np.zeros(x.shape[1])
    y_new = np.zeros(x.shape[1])
    y_old[L:] = ss.lfilter(h_old, [1.0], x[0].astype(np.float64))[:-L]
    y_new[L:] = ss.lfilter(h_new, [1.0], x[0].astype(np.float64))[:-L]
    # find the fade: first sample that leaves the old chain's output
    D = eng.limiter.latency_samples           # chains mix before the limiter's look-ahead delay
    F = eng.fade_samples
    w = np.sin(0.5 * np.pi * np.arange(1, F + 1) / F) ** 2
    dev = np.flatnonzero(np.abs(y - y_old) > 1e-5)[0]
    # the fade starts at a block boundary (engine time): the one whose mix formula fits
    starts = [b + D for b in range((dev - D) // B * B - 4 * B, dev, B)
              if np.allclose(y[b + D:b + D + F], y_old[b + D:b + D + F] + w * (y_new - y_old)[b + D:b + D + F],
                             atol=2e-6, rtol=0)]
    assert len(starts) == 1
    s0 = starts[0]
    np.testing.assert_allclose(y[:s0], y_old[:s0], atol=2e-6)
    assert s0 - D >= 100 * B + 2000           # after the new chain ran its filter length
    # during the fade: exactly the mix of two steady-state outputs (float32 FFT: 2e-6)
    np.testing.assert_allclose(y[s0:s0 + F], y_old[s0:s0 + F] + w * (y_new - y_old)[s0:s0 + F], atol=2e-6)
    np.testing.assert_allclose(y[s0 + F:], y_new[s0 + F:], atol=2e-6)
    assert eng.running_hash == p_new.content_hash()
    eng.collect()
    assert eng.retired is None


def test_profile_round_trip_through_disk_keeps_the_hash(tmp_path):
    # FIR files are 32-bit float: taps must be float32 values for the stored hash to hold
    # (calib.profile hashes float64 taps; see the report's note on save/load)
    h = (np.random.default_rng(1).standard_normal(512) * 0.1).astype(np.float32).astype(np.float64)
    p = prof(speakers=(SpeakerCorrection("L", 0, fir={FS: h}, trim_db=-2.0),
                       SpeakerCorrection("R", 1, peq=(Biquad("peaking", 80.0, -4.0, 5.0),))))
    p.save(tmp_path / "p")
    q = CalibrationProfile.load(tmp_path / "p")
    eng = Engine(fs=FS, n_channels=2, block=128)
    eng.load(q, "A")
    assert eng.running_hash == p.content_hash()
    assert eng.slot_hash("A") == p.content_hash() and eng.slot_hash("B") is None


def test_channels_without_speaker_pass_through():
    p = prof(speakers=(SpeakerCorrection("L", 0, trim_db=-6.0),))
    eng = Engine(fs=FS, n_channels=2, block=32, limiter={"ceiling_dbfs": 0.0})
    eng.load(p, "A")
    x = noise(32 * 20)
    y = render(eng, x)
    np.testing.assert_array_equal(y[1], x[1])
    np.testing.assert_allclose(y[0], x[0] * 10 ** (-6 / 20), rtol=1e-6)


def test_errors():
    with pytest.raises(ProfileError, match="output channel 3"):
        build_chain(prof(speakers=(SpeakerCorrection("C", 2),)), fs=FS, n_channels=2, block=64)
    with pytest.raises(ProfileError, match="both play on output channel 1"):
        build_chain(prof(speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("X", 0))), fs=FS,
                    n_channels=2, block=64)
    with pytest.raises(ProfileError, match="Nyquist"):
        build_chain(prof(speakers=(SpeakerCorrection("L", 0, peq=(Biquad("peaking", 30000.0, -3.0),)),)),
                    fs=FS, n_channels=1, block=64)
    with pytest.raises(ConfigError, match="block size"):
        Engine(fs=FS, n_channels=2, block=0)
    with pytest.raises(ConfigError, match="channels"):
        Engine(fs=FS, n_channels=0, block=64)
    with pytest.raises(ConfigError, match="crossfade"):
        Engine(fs=FS, n_channels=2, block=64, fade_s=5.0)
    with pytest.raises(ConfigError, match="multiple of the block"):
        Engine(fs=FS, n_channels=2, block=64, max_block=100)
    eng = Engine(fs=FS, n_channels=2, block=64)
    with pytest.raises(ConfigError, match="unknown slot"):
        eng.post("select", "C")
    with pytest.raises(ConfigError, match="exceeds"):
        list(render_chunks(eng, [np.zeros((2, 65), np.float32)], 65))


def test_render_is_the_callback_path_bit_for_bit():
    """`monitor render` (large chunks) and the live callback (one block at a time) run the
    same arithmetic: identical samples for FIR, PEQ and fractional-delay chains."""
    rng = np.random.default_rng(9)
    h = rng.standard_normal(30000) * np.exp(-np.arange(30000) / 4000) * 0.05
    h[0] = 0.5
    p = prof(preamp_db=-1.0, speakers=(
        SpeakerCorrection("L", 0, fir={FS: h}, delay_s=3.7 / FS),
        SpeakerCorrection("R", 1, peq=(Biquad("peaking", 45.0, -7.0, 6.0),), polarity=-1, delay_s=1.25e-4)))
    x = noise(256 * 600, level=0.03)
    live = Engine(fs=FS, n_channels=2, block=256)
    live.load(p, "A")
    y_live = stream(live, x, 256)
    off = Engine(fs=FS, n_channels=2, block=256, max_block=256 * 128, bypass=False)
    off.load(p, "A")
    y_off = render(off, x)
    L = live.latency_samples
    np.testing.assert_array_equal(y_off[:, : x.shape[1] - L], y_live[:, L:])


def test_offline_large_partitions_null_against_the_callback_path():
    """Offline rendering runs the FIR on large partitions (fir_block, no latency to keep); the
    result equals the 256-sample callback path within float32 FFT round-off: the difference
    nulls to <= -120 dB re the output (float32 FFT error of a 30,000-tap FIR is ~ -130 dB;
    -120 dB leaves margin and is far below audibility and the -100 dB bar vs exact convolution)."""
    rng = np.random.default_rng(21)
    h = rng.standard_normal(30000) * np.exp(-np.arange(30000) / 4000) * 0.05
    h[0] = 0.5
    p = prof(preamp_db=-1.0, speakers=(
        SpeakerCorrection("L", 0, fir={FS: h}, delay_s=3.7 / FS),
        SpeakerCorrection("R", 1, fir={FS: h[::-1].copy() * 0.3}, polarity=-1)))
    x = noise(256 * 500 + 77, level=0.03)
    live = Engine(fs=FS, n_channels=2, block=256)
    live.load(p, "A")
    xp = np.concatenate([x, np.zeros((2, 256 - 77), np.float32)], axis=1)
    y_live = stream(live, xp, 256)
    off = Engine(fs=FS, n_channels=2, block=256, max_block=16384 * 2, fir_block=16384, bypass=False, threads=2)
    ch = off.load(p, "A")
    assert [(lv.size, lv.offset) for lv in ch.levels] == [(16384, 0)]
    y_off = render(off, x)
    assert y_off.shape == x.shape
    L = live.latency_samples
    ref = y_live[:, L:L + x.shape[1]]
    for c in range(2):
        err = np.sqrt(np.mean((y_off[c].astype(np.float64) - ref[c]) ** 2))
        assert 20 * np.log10(err / np.sqrt(np.mean(ref[c].astype(np.float64) ** 2))) <= -120.0


def test_fir_block_and_short_chunk_errors():
    with pytest.raises(ConfigError, match="fir_block 1000 must be a multiple of the block 256"):
        Engine(fs=FS, n_channels=2, block=256, max_block=4096, fir_block=1000)
    with pytest.raises(ConfigError, match="dividing max_block"):
        Engine(fs=FS, n_channels=2, block=256, max_block=4096 * 3, fir_block=8192)
    eng = Engine(fs=FS, n_channels=2, block=64, max_block=256, fir_block=128)
    with pytest.raises(ConfigError, match="only the last chunk may be shorter"):
        list(render_chunks(eng, [np.zeros((2, 100), np.float32), np.zeros((2, 128), np.float32)], 228))
