"""Bass and vocal balance (mixes.balance) on synthetic multitrack songs (mixes.songs).

Truth comes from the stems: a song is mixed twice, once with a part offset by a known number of
dB, and the measured difference against the other mix is compared with the offset.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.errors import SignalError
from mixes.balance import Balance, compare_balance, measure_balance
from mixes.loudness import loudness
from mixes.songs import make_song

FS = 48_000
DUR_S = 30.0
SEEDS = (1, 4, 7)          # F minor, Ab minor, B minor: three keys, tempi, arrangements


@pytest.fixture(scope="module")
def songs():
    # 30 s each holds intro, verse and chorus, and enough sung notes with vibrato
    return {seed: make_song(seed, duration_s=DUR_S, fs=FS) for seed in SEEDS}


def _balance(x: np.ndarray) -> Balance:
    return measure_balance(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)


@pytest.mark.parametrize("seed", SEEDS)
def test_vocal_offsets_are_read_within_1_db(songs, seed):
    song = songs[seed]
    ref = _balance(song.mix())
    assert ref.vocal_found and not ref.notes
    assert abs(ref.vocal_pan_db) < 6.0
    for offset_db in (-3.0, -1.5, 2.0):
        mix = _balance(song.mix({"voice": offset_db}))
        assert mix.vocal_found
        _, vocal_vs = compare_balance(mix, [ref])
        # issue 12 done-means: within +-1 dB of the offset (measured: 0.8 dB worst over 6 songs)
        assert vocal_vs == pytest.approx(offset_db, abs=1.0)
    # the same mix against itself reads 0 exactly
    assert compare_balance(ref, [ref]) == (0.0, 0.0)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_low_end_offsets_are_read_within_1_db(songs, seed):
    song = songs[seed]
    ref = _balance(song.mix())
    for offset_db in (-3.0, -1.5, 2.0):
        # the low end is bass and kick together (issue 12), so both stems move; the drums'
        # K-weighted energy lies ~80 % in 40-120 Hz (the kick)
        mix = _balance(song.mix({"bass": offset_db, "drums": offset_db}))
        bass_vs, _ = compare_balance(mix, [ref])
        # issue 12 done-means: within +-1 dB of the offset
        assert bass_vs == pytest.approx(offset_db, abs=1.0)
        assert np.sign(bass_vs) == np.sign(offset_db)


def test_bass_stem_alone_reads_its_offset(songs):
    song = songs[1]
    ref = _balance(song.mix())
    up, _ = compare_balance(_balance(song.mix({"bass": 3.0})), [ref])
    down, _ = compare_balance(_balance(song.mix({"bass": -3.0})), [ref])
    # the held (tonal) part of the low end is the bass instrument, the kick is left out by the
    # running median: a bass-only fader reads itself (issue 12: within +-1 dB)
    assert up == pytest.approx(3.0, abs=1.0) and down == pytest.approx(-3.0, abs=1.0)


# 15-s songs on seeds not chosen for the detector (C# major, A minor, G minor), the vocal and the
# bass moved together and the mix brought to another loudness, against the same song at its
# nominal balance (issue 12's "otherwise identical references")
MOVES = ((1500, 2.0, -3.0, -23.0), (1504, -1.9, 2.5, -12.0), (1505, 2.0, -1.0, -30.0))


@pytest.mark.parametrize("seed,vocal_db,bass_db,lufs", MOVES)
def test_vocal_and_bass_moved_together_each_read_their_offset(seed, vocal_db, bass_db, lufs):
    song = make_song(seed, duration_s=15.0, fs=FS)
    ref = _balance(song.mix())
    x = song.mix({"voice": vocal_db, "bass": bass_db})
    x = x * 10 ** ((lufs - loudness(x, fs=FS).integrated_lufs) / 20)
    mix = _balance(x)
    assert ref.vocal_found and mix.vocal_found
    bass_vs, vocal_vs = compare_balance(mix, [ref])
    # done-means: within +-1 dB of each offset (measured: errors <= 0.42 dB on these three)
    assert vocal_vs == pytest.approx(vocal_db, abs=1.0)
    assert bass_vs == pytest.approx(bass_db, abs=1.0)


@pytest.mark.parametrize("seed,dur_s", [(3012, 30.0), (2025, 20.0)])
def test_no_voice_songs_that_fooled_the_detector(seed, dur_s):
    # without the common-FM check on the detection segments, these no-voice songs (reverb on
    # pads, keys and snare) were taken for a voice: pitch contours that move with the pads'
    # beating in the reverb
    song = make_song(seed, duration_s=dur_s, fs=FS, voice=False)
    b = _balance(song.mix())
    assert not b.vocal_found and b.vocal_db != b.vocal_db and b.notes


@pytest.mark.parametrize("seed", [2062, 2069])
def test_beating_partials_are_not_a_voice(seed):
    # mixes.songs_alt no-voice songs (20 s) taken for a voice before DETECT_MAX_SHAPE_STEP_DB:
    # their detection segments move and their partials move together, but the partials' level
    # pattern jumps by > 9 dB rms between 21-ms hops (beating ensembles), a voice's does not
    from mixes.songs_alt import make_song as make_alt
    b = _balance(make_alt(seed, duration_s=20.0, fs=FS, voice=False).mix())
    assert not b.vocal_found and b.vocal_db != b.vocal_db


@pytest.mark.parametrize("seed", SEEDS)
def test_no_voice_is_not_found_among_pads_keys_and_bass(songs, seed):
    b = _balance(songs[seed].mix({"voice": -math.inf}))
    assert not b.vocal_found
    assert any("no vocal found" in n for n in b.notes)
    d = b.to_dict()
    assert d["vocal_db"] is None and d["vocal_found"] is False


def _steady_lead(song) -> np.ndarray:
    """A centred synth lead playing the vocal melody at the voice's loudness: harmonic, in the
    voice's range, but every note held at one pitch (no glide, no vibrato)."""
    from mixes.songs import midi_hz

    out = np.zeros(song.n_samples)
    for start_s, end_s, midi in song.notes["voice"]:
        i0, n = int(start_s * FS), int((end_s - start_s) * FS)
        t = np.arange(n) / FS
        f = midi_hz(midi)
        x = sum(np.sin(2 * np.pi * k * f * t) / k ** 1.2 for k in range(1, 16) if k * f < 0.45 * FS)
        out[i0:i0 + n] += x * np.minimum(1.0, t / 0.02) * np.minimum(1.0, (n / FS - t) / 0.05)
    lead = np.tile(out, (2, 1))
    gain_db = loudness(song.stems["voice"], fs=FS).integrated_lufs - loudness(lead, fs=FS).integrated_lufs
    return lead * 10 ** (gain_db / 20)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_a_steady_centred_lead_is_not_a_voice(songs, seed):
    song = songs[seed]
    b = _balance(song.mix({"voice": -math.inf}) + _steady_lead(song))
    assert not b.vocal_found
    assert any("holds its notes" in n for n in b.notes)


def test_voice_panned_off_centre_gives_a_note(songs):
    song = songs[1]
    x = song.mix({"voice": -math.inf, "pads": -math.inf, "keys": -math.inf})
    v = song.stems["voice"]
    x[0] += 1.3 * v[0]          # ~7.5 dB toward the left
    x[1] += 0.55 * v[1]
    b = _balance(x)
    assert not b.vocal_found
    assert any("off centre" in n and "left" in n for n in b.notes)


def test_sparse_arrangement_without_drums(songs):
    # voice, bass and pads only (no drums, no keys): another texture, same reading
    song = songs[4]
    base = {"drums": -math.inf, "keys": -math.inf}
    ref = _balance(song.mix(base))
    mix = _balance(song.mix({**base, "voice": -2.0}))
    assert ref.vocal_found and mix.vocal_found
    assert compare_balance(mix, [ref])[1] == pytest.approx(-2.0, abs=1.0)


def test_to_dict_and_compare_contract():
    b = Balance(bass_db=-6.0, vocal_db=-4.0, vocal_found=True, bass_to_rest_db=-5.0, vocal_to_rest_db=-2.0)
    d = b.to_dict(1.5, None)
    assert set(d) == {"bass_db", "vocal_db", "bass_vs_reference_db", "vocal_vs_reference_db", "vocal_found", "notes"}
    assert d["bass_vs_reference_db"] == 1.5 and d["vocal_vs_reference_db"] is None
    assert compare_balance(b, []) == (None, None)
    no_voice = Balance(bass_db=-6.0, vocal_db=math.nan, vocal_found=False, bass_to_rest_db=-4.0)
    bass, vocal = compare_balance(b, [no_voice])
    assert bass == pytest.approx(-1.0) and vocal is None
    assert compare_balance(no_voice, [b])[1] is None


def test_found_through_a_same_song_reference_is_said():
    b = Balance(bass_db=-6.0, vocal_db=math.nan, vocal_found=False, notes=("no vocal found",))
    d = b.to_dict(bass_vs_reference_db=0.1, vocal_vs_reference_db=-2.3)
    assert d["vocal_found"] is True and d["vocal_db"] is None and d["vocal_vs_reference_db"] == -2.3
    assert d["notes"] == [n for n in d["notes"] if not n.startswith("no vocal found")]
    assert "found through the reference" in d["notes"][-1]
    assert b.to_dict()["vocal_found"] is False and b.to_dict()["notes"] == ["no vocal found"]


def test_silence_and_bad_input():
    b = measure_balance(np.zeros((2, FS)), fs=FS, integrated_lufs=-math.inf)
    assert not b.vocal_found and "silent" in b.notes[0]
    with pytest.raises(SignalError, match="sample rate"):
        measure_balance(np.zeros((2, 1000)), fs=4000, integrated_lufs=-20.0)
    with pytest.raises(SignalError, match="NaN"):
        measure_balance(np.full((2, FS), np.nan), fs=FS, integrated_lufs=-20.0)


@pytest.mark.parametrize("f0_hz", [98.0, 233.1, 440.0, 870.0])
def test_salience_names_the_pitch_of_a_harmonic_frame(f0_hz):
    from mixes.pitch import grow_contours, refine, salience, salience_matrix
    import scipy.fft

    n_fft, fs = 2048, FS
    t = np.arange(n_fft * 8) / fs
    x = sum(np.sin(2 * np.pi * h * f0_hz * t) / h for h in range(1, 12) if h * f0_hz < 5000)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[:: n_fft // 2]
    mag = np.abs(scipy.fft.rfft(frames * np.hanning(n_fft), axis=-1))[:, :215]
    grid, m = salience_matrix(df_hz=fs / n_fft, n_bins=215, f_min_hz=80.0, f_max_hz=1000.0, f_harm_max_hz=5000.0)
    sal = salience(mag, m)
    idx = grow_contours(sal, grid, seed_ratio=0.5, keep_ratio=0.5, max_step_cents=60.0)
    f0 = refine(sal, grid, idx)
    assert np.all(idx >= 0)
    # 10-cent grid refined by a parabola over 23 Hz bins: the peak is biased by up to ~10 cents
    # at low f0 (measured 8.5 at 98 Hz); the harmonic masks are +-4 % (68 cents) wide and the
    # movement measure subtracts a running median, so a steady bias of this size is harmless.
    # What matters: not an octave, a fifth or a semitone away
    np.testing.assert_allclose(1200 * np.log2(f0 / f0_hz), 0.0, atol=12.0)
    # and steady: frame-to-frame jitter far below the 8-cent movement that marks a voice
    assert np.std(1200 * np.log2(f0)) < 1.0


def test_real_piano_is_not_a_voice():
    # a real recording (pyloudnorm's piano, 44.1 kHz stereo, 10 s): harmonic, centred-ish,
    # with sustain and overlapping notes, but no pitch that moves like a voice
    import soundfile as sf
    from conftest import shared_data

    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    x = x.T
    b = measure_balance(x, fs=fs, integrated_lufs=loudness(x, fs=fs).integrated_lufs)
    assert not b.vocal_found
    assert any("holds its notes" in n for n in b.notes)
    # a piano has little below 120 Hz against its whole range: the low end sits far down
    assert b.bass_db < -10.0


def _sung_line(fs: int, dur_s: float, *, vibrato: bool, rng) -> np.ndarray:
    """A harmonic line (not from mixes.songs): notes of 0.4-0.9 s in 190-400 Hz, each with a
    5.3 Hz vibrato of +-0.25 semitone after 0.12 s (``vibrato=False``: the same notes held),
    a -6 dB/octave source with two resonances that move with the vowel of each note (vocal7: a
    source keeping one envelope on every note is taken for an instrument), rests between some
    notes; mono, to be centred."""
    n = int(dur_s * fs)
    f0 = np.empty(n)
    env = np.zeros(n)
    res = np.empty((2, n))
    vowels = ((700.0, 1200.0), (400.0, 2200.0), (300.0, 900.0), (550.0, 1800.0))
    i = n_notes = 0
    while i < n:
        m = min(int(rng.uniform(0.4, 0.9) * fs), n - i)
        t = np.arange(m) / fs
        dev = 0.25 * np.sin(2 * np.pi * 5.3 * t) * np.clip((t - 0.12) / 0.2, 0, 1) if vibrato else 0.0
        f0[i:i + m] = 190.0 * 2 ** (rng.integers(0, 13) / 12) * 2 ** (dev / 12)
        env[i:i + m] = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.03)
        res[:, i:i + m] = np.array(vowels[n_notes % 4])[:, None]
        n_notes += 1
        i += m
        if rng.random() < 0.4:              # a breath: 0.3-0.8 s of rest
            r = min(int(rng.uniform(0.3, 0.8) * fs), n - i)
            f0[i:i + r] = f0[i - 1]
            env[i:i + r] = 0.0
            res[:, i:i + r] = res[:, i - 1:i]
            i += r
    ph = 2 * np.pi * np.cumsum(f0) / fs
    out = np.zeros(n)
    for k in range(1, 25):
        fk = k * f0
        g = 1 / k * (1 + 2 * np.exp(-((fk - res[0]) / 200) ** 2) + 2 * np.exp(-((fk - res[1]) / 300) ** 2))
        out += np.where(fk < 0.45 * fs, g, 0.0) * np.sin(k * ph)
    return out * env


@pytest.mark.parametrize("seed", [0, 1])
def test_common_fm_finds_a_vibrato_line_over_a_wide_pad(seed):
    # a line that is not from mixes.songs, over a wide pad whose detuned partials beat (the
    # kind of apparent movement that must not count): with vibrato its partials move together
    # and it is found (by the common-FM evidence: the detection contours see no segment here);
    # the same notes held are not.  Limit (measured): 6 dB lower, at the pad's level, the line
    # is not found under this steady chord.
    rng = np.random.default_rng(seed)
    fs, dur = FS, 8.0
    t = np.arange(int(dur * fs)) / fs
    pad = np.zeros((2, t.size))
    for f in (130.8, 164.8, 196.0, 261.6):
        for ch, det in ((0, 1.003), (1, 0.997)):
            pad[ch] += sum(np.sin(2 * np.pi * k * f * det * t + rng.uniform(0, 6.3)) / k ** 1.5 for k in range(1, 8))
    for vibrato in (True, False):
        line = _sung_line(fs, dur, vibrato=vibrato, rng=np.random.default_rng(seed + 10))
        line *= 2.0 * np.std(pad) / np.std(line)          # +6 dB over the pad
        b = _balance(0.1 * (pad + line[None, :]))
        assert b.vocal_found is vibrato, b.notes
        if not vibrato:
            assert any(n.startswith("no vocal found") for n in b.notes)


def test_a_song_whose_voice_is_seldom_the_strongest_pitch_is_found():
    # seed 204 in C (the patterns album's fifth track): the detection contours alone saw 0.4 s
    # of voice-like pitch (not found before the common-FM evidence); found now, and never
    # without the voice
    song = make_song(204, duration_s=DUR_S, fs=FS, key=0)
    ref = _balance(song.mix())
    assert ref.vocal_found
    assert not _balance(song.mix({"voice": -math.inf})).vocal_found
    mix = _balance(song.mix({"voice": -2.5}))
    assert mix.vocal_found
    vocal_vs = compare_balance(mix, [ref])[1]
    if vocal_vs is not None:        # a figure is given only when the level is sure
        assert vocal_vs == pytest.approx(-2.5, abs=1.0)
