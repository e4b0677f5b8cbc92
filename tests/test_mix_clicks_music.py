"""Clicks judged by audibility in real and synthesized music (issue 12).

The truth for "should be found" is the oracle audibility of the planted click (the known click
against the clean programme, :func:`mixes.clicks.click_audibility_db`); recall counts planted
clicks above 0 dB, precision counts reports that match no planted click.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

from conftest import shared_data
from mixes.clicks import click_audibility_db, detect_impulsive, find_clicks
from mixes.renderchecks import render_checks


def _piano():
    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    return x.T.copy(), fs


HAT_PERIOD_S, HAT_START_S = 0.25, 0.07


def _hats(n, fs, rng, level=0.04):
    """Hi-hat-like percussion: high-passed noise strokes on eighths at 120 bpm, 20-60 ms decay."""
    sos = butter(4, 6000, "hp", fs=fs, output="sos")
    y = np.zeros((2, n))
    t = np.arange(int(0.6 * fs)) / fs
    for p in range(int(HAT_START_S * fs), n - t.size, int(HAT_PERIOD_S * fs)):
        y[:, p:p + t.size] += sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.02, 0.06)) * level
    return y


SHAPES = {
    "single": np.array([1.0]),
    "doublet": np.array([1.0, 0.0, 0.0, -0.7]),
    "burst": None,           # 0.1-1 ms of windowed noise, drawn per click
}


def _shape(name, rng, fs):
    if SHAPES[name] is not None:
        return SHAPES[name]
    m = int(rng.uniform(0.0001, 0.001) * fs) + 1
    c = rng.standard_normal(m) * np.hanning(m + 2)[1:-1]
    return c / np.abs(c).max()


def _plant(x, fs, rng, n, levels_dbfs, pair_every=3, gap_s=0.016, slots=None):
    """Clicks of the three shapes, either sign; every ``pair_every``-th one gets a partner
    ``gap_s`` later.  Returns (dirty, [(time_s, channel, oracle_audibility_db)])."""
    y = x.copy()
    names = list(SHAPES)
    if slots is None:
        slots = np.arange(int(0.1 * fs), x.shape[1] - int(0.1 * fs), int(0.09 * fs))
    slots = np.sort(rng.choice(slots, n, replace=False))
    truth = []
    for i, p in enumerate(slots):
        ch = i % x.shape[0]
        for q in ([int(p)] + ([int(p + gap_s * fs)] if i % pair_every == 0 else [])):
            c = _shape(names[(i + q) % 3], rng, fs) * rng.choice([-1.0, 1.0]) * 10 ** (rng.uniform(*levels_dbfs) / 20)
            truth.append((q / fs, ch, click_audibility_db(x[ch], c, q, fs=fs)))
            y[ch, q:q + c.size] += c
    return y, truth


def _score(found, truth, tol_s=0.002):
    audible = [(t, c) for t, c, a in truth if a > 0]
    hit = sum(any(abs(t - f.time_s) <= tol_s and f.channel == c for f in found) for t, c in audible)
    false = sum(not any(abs(t - f.time_s) <= tol_s and f.channel == c for t, c, _ in truth) for f in found)
    return hit, len(audible), false, len(found)


def test_issue_case_piano_with_hats_quiet_clicks():
    # the issue's material: piano with hi-hat-like percussion, clicks at -40..-24 dBFS of every
    # shape, some in pairs 16 ms apart (the second of a pair was missed before).  The clicks
    # fall between the hi-hat strokes (>= 60 ms after one, where the stroke has decayed): a click
    # *inside* a stroke, audible only in the 1-3 kHz gap below the hi-hat, is a known gap of
    # the AR detector (see the issue note).
    x, fs = _piano()
    rng = np.random.default_rng(12)
    music = x + _hats(x.shape[1], fs, rng)
    assert render_checks(music, fs=fs).clicks == ()                   # nothing on the clean file
    period, start = int(HAT_PERIOD_S * fs), int(HAT_START_S * fs)
    slots = np.array([s for s in range(int(0.1 * fs), x.shape[1] - int(0.2 * fs), int(0.01 * fs))
                      if (s - start) % period >= int(0.06 * fs) and (s + int(0.016 * fs) - start) % period >= int(0.06 * fs)])
    hits = n_aud = false = n_found = 0
    for seed in (1, 2):
        y, truth = _plant(music, fs, np.random.default_rng(seed), 30, (-40.0, -24.0), slots=slots)
        h, n, f, nf = _score(render_checks(y, fs=fs).clicks, truth)
        hits, n_aud, false, n_found = hits + h, n_aud + n, false + f, n_found + nf
    assert n_aud >= 60                                                # most of them are audible
    # measured 0.89 (71 of 80; 0.85 before the low-band path): the issue's goal of 0.95 is NOT
    # met here; the misses are clicks a few ms before a stroke (the after-side test sees the
    # stroke) or weak ones in the 1-3 kHz gap below the hat.  This guards the level (with a
    # margin of 3 clicks for floating-point differences between machines).
    assert hits / n_aud >= 0.85, (hits, n_aud)
    assert (n_found - false) / n_found >= 0.95, (false, n_found)


def test_low_band_path_finds_clicks_inside_hat_strokes():
    # clicks 4-40 ms into a hi-hat stroke: masked above ~6 kHz by the hat, audible (oracle) in
    # the 1-4 kHz the hat leaves free, where the full-band whitened error is the hat's.  The
    # low-band path (the programme decimated to 8 kHz) finds some of them; the full-band path
    # alone found 4 of 60 audible ones on this material, both paths together 17 of 60 (0.28:
    # far from the goal, see the issue note), none false.
    x, fs = _piano()
    music = x + _hats(x.shape[1], fs, np.random.default_rng(12))
    period, start = int(HAT_PERIOD_S * fs), int(HAT_START_S * fs)
    slots = np.array([s for s in range(int(0.1 * fs), x.shape[1] - int(0.2 * fs), int(0.002 * fs))
                      if int(0.004 * fs) <= (s - start) % period <= int(0.04 * fs)])
    hits = n_aud = false = low = 0
    for seed in (1, 2):
        y, truth = _plant(music, fs, np.random.default_rng(seed), 30, (-40.0, -24.0), pair_every=10 ** 6,
                          slots=slots)
        ev = render_checks(y, fs=fs).clicks
        h, n, f, _ = _score(ev, truth)
        hits, n_aud, false = hits + h, n_aud + n, false + f
        for c in range(2):
            imp = detect_impulsive(y[c], fs=fs)
            low += sum(imp.from_low[k] and any(abs(imp.onset[k] / fs - e.time_s) < 1e-6 and e.channel == c for e in ev)
                       for k in range(len(imp.onset)))
    assert n_aud >= 50 and false == 0
    # measured 17 and 13 before the recurrence rule (an excursion that comes back twice within
    # +-30 ms is an instrument's periodic corner, e.g. a sawtooth bass); it costs 4 of these
    # weak in-stroke clicks (hat noise reaches 40 % of their height) and removes ~90 % of the
    # reports on a sawtooth bass (test below): measured then 13 and 9.  clicks6: a low-band event
    # is re-estimated at the full rate (mixes.click_lsar) and judged whole, not taken as a smooth
    # attack: measured 19 and 15 (imp.from_low: found by the low-band path)
    assert hits >= 17 and low >= 13, (hits, low, n_aud)


def test_note_attacks_under_a_pad_are_not_clicks():
    # a keys note's 4 ms attack starting while the pads sound: a smooth transient, after which
    # the keys' partials make some band louder.  The broadband level rule of stage 2 cannot
    # see it (the pad carries the level); these songs reported such attacks as clicks at
    # 1.98/2.31 s (seed 3) and 2.02/2.35 s (seed 10).  Since cleanclick9 none remains: seed 10's
    # 2.02 s attack (its band grows 5.5 dB over 3-11 ms) starts a sound by the onset rule's
    # third-octave measure and is smooth (mixes.click_masking.SMOOTH_ONSET_RULE).
    from mixes.songs import make_song
    for seed in (3, 10):
        x = make_song(seed, duration_s=12.0).mix()[:, : 3 * 48_000]
        ev = render_checks(x, fs=48_000).clicks
        left = [(round(e.time_s, 2), e.channel) for e in ev]
        assert left == [], ev


def test_issue_misses_quiet_click_under_music_and_16_ms_pair():
    # the two clicks the issue reports missed: -37 dBFS under music at about -31 dB RMS, and
    # the second of two clicks 16 ms apart
    x, fs = _piano()
    w = int(0.05 * fs)
    rms_db = np.array([10 * np.log10(np.mean(x[0, i:i + w] ** 2)) for i in range(0, x.shape[1] - w, w)])
    i = int(np.argmin(np.abs(rms_db[2:-2] + 31.0))) + 2                 # a 50 ms stretch near -31 dB RMS
    assert abs(rms_db[i] + 31.0) < 3.0
    p = i * w + w // 2
    y = x.copy()
    y[0, p] += 10 ** (-37 / 20)
    q = (i + 40) * w if (i + 40) * w < x.shape[1] - fs // 2 else (i - 40) * w
    y[0, q] -= 10 ** (-33 / 20)
    y[0, q + int(0.016 * fs)] += 10 ** (-35 / 20)
    ev = render_checks(y, fs=fs).clicks
    for t in (p / fs, q / fs, q / fs + 0.016):
        assert sum(abs(e.time_s - t) < 0.002 and e.channel == 0 for e in ev) == 1, (t, ev)
    assert len(ev) == 3


def test_pairs_16_ms_apart_are_two_events_with_their_own_margin():
    x, fs = _piano()
    y = x.copy()
    pairs = [(1.30, -30.0), (3.71, -36.0), (6.05, -33.0), (8.42, -27.0)]
    for t, lvl in pairs:
        for k, dt in enumerate((0.0, 0.016)):
            p = int((t + dt) * fs)
            y[0, p] += 10 ** ((lvl - 3 * k) / 20) * (-1) ** k      # the second 3 dB quieter
    ev = find_clicks(y[0], fs=fs)
    for t, _ in pairs:
        a = [e for e in ev if abs(e.time_s - t) < 0.002]
        b = [e for e in ev if abs(e.time_s - t - 0.016) < 0.002]
        assert len(a) == 1 and len(b) == 1, (t, ev)
        # the partner is excluded from each one's masker: the 3 dB quieter click is judged
        # about 3 dB less audible (same place in the music, +-2 dB for the 16 ms of change)
        assert a[0].audibility_db - b[0].audibility_db == pytest.approx(3.0, abs=2.0)


def test_audibility_follows_level_and_masking():
    fs = 48_000
    rng = np.random.default_rng(3)
    n = fs
    click = np.array([1.0, -0.5])
    quiet = 10 ** (-80 / 20) * rng.standard_normal(n)                    # near-silence
    loud = 0.3 * rng.standard_normal(n)                                   # -10 dBFS white noise
    a_q = click_audibility_db(quiet, 0.01 * click, n // 2, fs=fs)
    a_q2 = click_audibility_db(quiet, 0.02 * click, n // 2, fs=fs)
    a_l = click_audibility_db(loud, 0.01 * click, n // 2, fs=fs)
    assert a_q > 10                  # -40 dBFS click in near-silence: plainly audible
    assert a_l < 0                   # the same click under -10 dBFS white noise: masked
    assert a_q2 - a_q == pytest.approx(6.02, abs=0.1)   # energy ratio, dB for dB
    # forward masking: a loud 20 ms noise burst ending just before the click masks it more
    # than the same burst ending 40 ms before
    x = quiet.copy()
    b0 = n // 2 - int(0.021 * fs)
    x[b0: b0 + int(0.020 * fs)] += 0.3 * rng.standard_normal(int(0.020 * fs))
    near = click_audibility_db(x, 0.01 * click, n // 2, fs=fs)
    far = click_audibility_db(x, 0.01 * click, n // 2 + int(0.040 * fs), fs=fs)
    assert near < far - 10


@pytest.mark.parametrize("case", ["near-silence", "reverb tail"])
def test_clicks_in_near_silence_and_decays(case):
    fs = 48_000
    rng = np.random.default_rng(5)
    n = 6 * fs
    if case == "near-silence":
        x = 10 ** (-96 / 20) * rng.standard_normal((2, n))              # dither-level noise
    else:
        # a reverb-like tail: noise with a 1.2 s RT60 through a darkening filter
        t = np.arange(n) / fs
        x = sosfilt(butter(2, 3000, fs=fs, output="sos"), rng.standard_normal((2, n))) * 0.3 * 10 ** (-3 * t / 1.2)
        x += 10 ** (-100 / 20) * rng.standard_normal((2, n))
    y, truth = _plant(x, fs, rng, 40, (-60.0, -30.0))
    h, n_aud, false, n_found = _score(render_checks(y, fs=fs).clicks, truth)
    assert n_aud >= 20 and h / n_aud >= 0.95 and false == 0, (h, n_aud, false, n_found)
    assert render_checks(x, fs=fs).clicks == ()


def test_click_json_has_audibility():
    fs = 48_000
    x = 0.1 * np.sin(2 * np.pi * 330 * np.arange(fs) / fs)
    x[fs // 2] += 0.02
    (ev,) = find_clicks(x, fs=fs)
    d = ev.to_dict()
    assert set(d) >= {"time_s", "level_db", "audibility_db", "channel"}
    assert d["audibility_db"] > 0
    assert d["level_db"] == pytest.approx(20 * np.log10(0.02), abs=0.5)


@pytest.mark.parametrize("fs", [44_100, 48_000, 96_000])
def test_low_band_decimation_is_the_direct_filter(fs):
    # the polyphase decimator equals filtering with the FIR and keeping every d-th sample
    # (float32 arithmetic: 1e-5 of the unit-variance input); the FIR passes 1-2 kHz within 1 dB
    # and 3 kHz within 4 dB (the gap under a hi-hat), and stops 6 kHz and up by 60 dB (no
    # hi-hat aliases into the band)
    from scipy.signal import freqz

    from mixes.clicks import _decimate, _lowpass
    d, h = _lowpass(fs)
    x = np.random.default_rng(0).standard_normal(fs // 2 + 17)
    y = _decimate(x, d, h)
    ref = np.convolve(x, h[::-1].astype(np.float64), "valid")[::d]
    n = min(y.size, ref.size)
    assert abs(y.size - ref.size) <= 1 and np.max(np.abs(y[:n] - ref[:n])) < 1e-5
    _, r = freqz(h.astype(np.float64), worN=[1000.0, 2000.0, 3000.0, 6000.0, 9000.0], fs=fs)
    g = 20 * np.log10(np.abs(r))
    assert np.all(np.abs(g[:2]) < 1.0) and g[2] > -4.0 and np.all(g[3:] < -60.0), g


def test_sawtooth_bass_and_pulses():
    # a band-limited sawtooth bass (41-62 Hz, harmonics to 20 kHz) under a sawtooth pad: its
    # edge comes back every period, which an order-16 model over +-12 ms cannot predict; the
    # recurrence rule (two or more like excursions within +-30 ms) says it is the instrument's.
    # Measured 38 reports over four 6 s cases (1532 without the rule; 24 when any two
    # excursions counted, periodic or not, which cost 1.8 points of recall under percussion).
    fs = 48_000
    n_rep = 0

    def saw(f_hz, t, amp, phase=0.0):
        # band-limited sawtooth from a one-period table of its harmonics below 20 kHz
        k = np.arange(1, int(20000 // f_hz) + 1)
        ph = np.arange(8192) / 8192
        table = (np.sin(2 * np.pi * np.outer(ph, k) + phase * k) / k).sum(axis=1) * amp
        return np.interp((f_hz * t) % 1.0 * 8192, np.arange(8193), np.r_[table, table[0]])

    for seed in range(4):
        rng = np.random.default_rng(seed)
        t = np.arange(6 * fs) / fs
        x = np.zeros((2, t.size))
        for f in (220 * 2 ** (rng.integers(0, 12) / 12), 277.2, 329.6):
            x += saw(f, t, 0.015, rng.uniform(0, 6) * (seed % 2))
        x += saw(41.2 * 2 ** (rng.integers(0, 12) / 12), t, 0.1)
        n_rep += len(render_checks(x, fs=fs).clicks)
    assert n_rep <= 45, n_rep
    # a held step that returns (rectangular pulses of 0.5 and 1.2 ms) is a click, not a splice
    x, fs = _piano()
    y = x.copy()
    for t0, m in ((2.5, 24), (7.1, 53)):
        p = int(t0 * fs)
        y[0, p:p + m] += 10 ** (-35 / 20)
        assert click_audibility_db(x[0], np.full(m, 10 ** (-35 / 20)), p, fs=fs) > 3.0
    r = render_checks(y, fs=fs)
    for t0 in (2.5, 7.1):
        assert any(abs(e.time_s - t0) < 0.002 and e.channel == 0 for e in r.clicks), r.clicks
    assert r.artifacts == ()
