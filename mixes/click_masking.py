"""Stage 3 of :mod:`mixes.clicks`: how far a click stands above the music's masking threshold.

The click (isolated by LSAR in :mod:`mixes.clicks`) has its energy per critical band (Bark bands,
Zwicker & Terhardt 1980) compared with the programme's masking threshold there: the short-time
band power of the programme *with every verified click removed*, weighted by a temporal window
(forward masking over ~5-20 ms before the click, backward masking over a few ms after; roex
shapes after Oxenham & Moore 1994), spread across bands (Zwicker's masking slopes) and offset by
the masker-to-threshold ratio; the threshold in quiet (Terhardt 1979) at an assumed monitoring
level is the floor.  ``audibility_db`` is the largest band margin.  Every psychoacoustic number
sits in the constants below with its source; those marked [U] are textbook values not verified
against a listening test here.  :func:`click_audibility_db` is the same measure from a known
click and clean programme (the tests' oracle); :func:`audibility` also sets a note's attack
(a smooth transient that starts a sound in some band) to -inf: it is music, not a click.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["click_audibility_db", "audibility", "held_step", "smooth_transient"]

# louder after by this factor in some band (3-11 ms after vs before): the event starts a sound
# (the same 6 dB as mixes.clicks.ONSET_RISE, which compares the broadband level)
ATTACK_RISE = 10 ** (6 / 10)
# a note's attack (stage 3): a smooth transient (< ATTACK_HF_FRACTION of its energy above
# ATTACK_HF_HZ) followed by a band ATTACK_RISE louder (frames centred this far after vs before)
ATTACK_HF_HZ = 6000.0
ATTACK_HF_FRACTION = 0.02
ATTACK_FRAMES_S = (0.003, 0.011)
# an event judged against the sound that follows it (frames from NEXT_START_S after its onset,
# the forward window mirrored) that does not stand NEXT_MARGIN_DB above that masker is the
# start of that sound
NEXT_START_S = 0.002
NEXT_MARGIN_DB = 0.0
# a transient this wide with less than WIDE_HF_FRACTION of its energy above ATTACK_HF_HZ is music
WIDE_MIN_S = 0.0019
WIDE_HF_FRACTION = 0.1
# an event found only by the wide pass of mixes.clicks with less than this above ATTACK_HF_HZ is music
WIDE_PASS_HF_FRACTION = 0.02
# an event whose energy above ATTACK_HF_HZ reaches this fraction of what one ideal edge of its
# peak height leaves there (peak^2 fs / (2 pi^2 f) per edge; a rectangular pulse has two) has a
# sharp edge: a held step or a digital pulse, never a smooth note onset (clicks5)
EDGE_FRACTION = 0.2    # held steps: 0.26-0.96; music events that are flat enough: 0.06-0.48
RECT_FRACTION = 0.97   # held steps found in the eval: 0.984-1.000; music events 0.34-0.93
# a sound starts at an event when some third-octave band is this much louder over the ~20 ms
# after it than in each of three windows before (mixes.click_onset.onset_rise_db; kick onsets
# under a bass line: 8-31 dB; a double kick whose previous hit still rings, a re-strum over a
# ringing chord: 2-7 dB).  3 dB (the new sound as loud as what was there) since clickjudge7:
# with sample-level events exempt, 6 -> 3 dB took clean reports 53 -> 47 on 66 songs, 25 -> 24
# on songs5, and lost 2 of 617 identical two-channel clicks, none of eval_clicks' plants
ONSET_RISE_DB = 3.0
# ... but never for an event shorter than a mechanical attack (mixes.click_onset.is_attack_wide)
ONSET_NARROW_RULE = True
# A *smooth* transient (the note-attack test's: under ATTACK_HF_FRACTION of its energy above
# ATTACK_HF_HZ, no sharp edge) that starts a sound by that same measure (some third-octave band
# ONSET_RISE_DB louder over the 21 ms after it than in each of the three 21-ms windows before, in
# its own channel) is that sound's attack, wherever the sound is panned (cleanclick9).  A digital
# click is an error in the sample stream: its energy reaches the top octaves (a one-sample click
# 75 % above 6 kHz, a noise burst as much, a held step through its edges); a pick's or a beater's
# hump that rounds off within 0.2-1.5 ms puts 0.2-2 % there.  The stereo location test (below) is
# for sharp events, to keep a click planted on a drum's onset; a smooth one has nothing of a click,
# and in a one-channel source (a hard-panned or double-tracked guitar, a piano's near microphone)
# there is no other channel to compare with.  The 3-11 ms / 6-dB band test of margin_db misses
# these where other instruments fill the bands (songs5 707: Bark rises 3.0-5.8 dB, third-octave
# 4.9-31 dB).  With RESIDUAL_MIN_SHARE of mixes.click_onset (benchmarks/eval_cleanclick9.py, five
# generators, every style, full level and -20 dB): clean reports 98 -> 76 on 68 files (seeds
# 1300+, tuned on), 57 -> 39 on 66 fresh files (seeds 1400+); eval_clicks --clicks-only recall
# 0.885 -> 0.885 (no plant lost or gained), precision 1.000, its clean reports 11 -> 7.
SMOOTH_ONSET_RULE = True
SMOOTH_MAX_SHARP_SHARE = 0.05   # (mixes.click_onset.RESIDUAL_MIN_SHARE: smooth clean onsets 0.8-1.2 %)
# ... and only where the isolation can be trusted: an isolated waveform whose peak exceeds this
# times the programme's own peak over its span is the interpolation diverging across the gap
# (held steps of >= 1 ms planted on loud, fast-moving music isolated as 2.3 and 4.7 full scale over
# programme peaks of 0.06 and 0.43): its shape says nothing about the event, which is judged as before
SMOOTH_MAX_ISOLATED_RATIO = 2.0
# --- psychoacoustic constants ------------------------------------------------------------
# Monitoring level: a programme with mean square 1.0 (0 dB RMS re full scale) would play at
# this SPL.  Mastering rooms play -14 dBFS RMS pink noise at ~83-86 dB SPL per speaker [U].
MONITOR_DB_SPL_AT_0DBFS = 100.0
# The threshold in quiet applies to the click's energy over this integration time [U]; short
# sounds are integrated over ~10 ms by the temporal window (Moore, An Introduction to the
# Psychology of Hearing, ch. 4), so a click's threshold energy is that of a 10 ms tone.
QUIET_INTEGRATION_S = 0.010
# Masker-to-threshold ratio (dB) for a broadband, noise-like probe: between MPEG-1 model 1's
# offsets for noise maskers (-2.0 - 0.175 z dB) and tonal maskers (-6.0 - 0.275 z dB) [U].
MASK_OFFSET_DB = -5.0
# Spreading of masking across critical bands (dB per Bark): towards higher bands (upward
# spread, level dependent, ~-10 dB/Bark at 80 dB) and towards lower bands (Zwicker: -27) [U].
SPREAD_UP_DB_PER_BARK = -12.0
SPREAD_DOWN_DB_PER_BARK = -27.0
# Temporal window (Oxenham & Moore 1994 roex form W(g) = (1 + 2g/T) exp(-2g/T)): masker
# before the click (forward masking) with T = 3.5 ms plus a skirt of -26 dB with T = 16 ms
# (forward masking still measurable ~20 ms later); masker after the click (backward
# masking) with T = 1.5 ms.  Equivalent rectangular duration ~5 ms [U].
TW_BEFORE_S = 0.0035
TW_SKIRT_S = 0.016
TW_SKIRT_DB = -26.0
TW_AFTER_S = 0.0015
TW_SPAN_S = (-0.040, 0.010)   # masker frames considered, relative to the click onset
MAX_FREQ_HZ = 20_000.0        # bands above this are not heard

# --- stage 3: audibility --------------------------------------------------------------------

def _rect_fraction(c: np.ndarray) -> float:
    """Fraction of the energy of ``c`` that one rectangle (a constant over a run of >= 2
    samples, zero elsewhere) explains at best: 1.0 for a held step, ~0.8 for a half-sine hump,
    low for a burst of noise or a ringing transient."""
    c = np.asarray(c, dtype=np.float64)
    cs = np.concatenate([[0.0], np.cumsum(c)])
    ln = np.arange(cs.size)[None, :] - np.arange(cs.size)[:, None]
    s = cs[None, :] - cs[:, None]
    ex = np.where(ln >= 2, s * s / np.maximum(ln, 1), 0.0)
    return float(ex.max() / max(float(np.dot(c, c)), 1e-30))


def held_step(click: np.ndarray, *, fs: int) -> bool:
    """Is an isolated event a held step (a rectangular pulse: two sharp edges, flat between)?

    Both must hold: its energy above ``ATTACK_HF_HZ`` reaches ``EDGE_FRACTION`` of what two
    ideal edges of its peak height leave there (a sharp edge, never a smooth onset's hump), and
    one rectangle explains ``RECT_FRACTION`` of its energy (a drum's or a pluck's onset, whose
    isolated waveform is the interpolation's error across the gap, is not flat).  The same
    test as :meth:`_Bands.margin_db` applies (over one analysis frame).
    """
    b = _bands(fs)
    c = np.asarray(click, dtype=np.float64)[: b.nfft]
    if c.size < 2:
        return False
    E = (np.abs(np.fft.rfft(c, b.nfft)) ** 2 / b.nfft) @ b.M
    pk2 = float(np.max(np.abs(c))) ** 2
    if E[b.hfb].sum() < EDGE_FRACTION * pk2 * fs / (np.pi ** 2 * ATTACK_HF_HZ):
        return False
    return _rect_fraction(c) >= RECT_FRACTION


def smooth_transient(click: np.ndarray, *, fs: int) -> bool:
    """Is an isolated event smooth (a slope corner or a hump, as a note's attack leaves), not a
    digital click?  Under ``ATTACK_HF_FRACTION`` of its energy above ``ATTACK_HF_HZ`` and no
    sharp edge (:func:`held_step`'s edge test and rectangle): the test :meth:`_Bands.margin_db`
    applies to a note's attack, for one event; and nothing sample-level rides on it
    (:func:`mixes.click_onset.sharp_share` under ``SMOOTH_MAX_SHARP_SHARE``).  The last matters
    where the interpolation across the gap fails: a noise burst or a held step planted on a fast
    move of the music is isolated as the model's smooth error (-25 dBFS) with the burst riding on
    it, under 2 % of the whole above 6 kHz (1.2 % measured), but its first difference is the
    burst's, which no running median follows."""
    from mixes.click_onset import sharp_share
    b = _bands(fs)
    c = np.asarray(click, dtype=np.float64)[: b.nfft]
    if c.size < 3 or sharp_share(c) >= SMOOTH_MAX_SHARP_SHARE:
        return False
    E = (np.abs(np.fft.rfft(c, b.nfft)) ** 2 / b.nfft) @ b.M
    hf = float(E[b.hfb].sum())
    if hf >= ATTACK_HF_FRACTION * float(E.sum()):
        return False
    pk2 = float(np.max(np.abs(c))) ** 2
    return not (hf >= EDGE_FRACTION * pk2 * fs / (np.pi ** 2 * ATTACK_HF_HZ) and _rect_fraction(c) >= RECT_FRACTION)


def _bark(f_hz: np.ndarray) -> np.ndarray:
    """Critical-band rate (Bark), Zwicker & Terhardt (1980)."""
    return 13.0 * np.arctan(0.00076 * f_hz) + 3.5 * np.arctan((f_hz / 7500.0) ** 2)


def _quiet_threshold_db_spl(f_hz: np.ndarray) -> np.ndarray:
    """Threshold in quiet (dB SPL), Terhardt (1979)."""
    k = np.maximum(f_hz, 20.0) / 1000.0
    return 3.64 * k ** -0.8 - 6.5 * np.exp(-0.6 * (k - 3.3) ** 2) + 1e-3 * k ** 4


class _Bands:
    """FFT-bin to Bark-band layout for one sample rate (frame length ~5 ms)."""

    def __init__(self, fs: int) -> None:
        self.nfft = 1 << int(round(math.log2(0.0053 * fs)))
        self.hop = self.nfft // 4
        f = np.fft.rfftfreq(self.nfft, 1.0 / fs)
        z = _bark(f)
        ok = (f > 0) & (f <= min(MAX_FREQ_HZ, fs / 2 * 0.999))
        band = np.floor(z).astype(int)
        ids = np.unique(band[ok])
        self.M = np.zeros((f.size, ids.size))          # bins -> bands, one-sided power weights
        for i, bi in enumerate(ids):
            self.M[ok & (band == bi), i] = 2.0
        zc = np.array([z[ok & (band == bi)].mean() for bi in ids])
        fc = np.array([f[ok & (band == bi)].mean() for bi in ids])
        dz = zc[:, None] - zc[None, :]                  # probe band - masker band
        spread_db = np.where(dz >= 0, SPREAD_UP_DB_PER_BARK * dz, -SPREAD_DOWN_DB_PER_BARK * dz)
        self.spread = 10 ** (spread_db / 10)            # (probe band, masker band)
        # threshold in quiet as an energy (full scale^2 x samples) over the integration time
        self.quiet = 10 ** ((_quiet_threshold_db_spl(fc) - MONITOR_DB_SPL_AT_0DBFS) / 10) \
            * QUIET_INTEGRATION_S * fs
        self.offset = 10 ** (MASK_OFFSET_DB / 10)
        self.win = np.hanning(self.nfft)
        self.f0 = int(round(TW_SPAN_S[0] * fs / self.hop))
        self.f1 = int(round(TW_SPAN_S[1] * fs / self.hop))
        t = np.arange(self.f0, self.f1 + 1) * self.hop / fs   # frame centre - click onset (s)
        g = np.abs(t)

        def roex(T: float) -> np.ndarray:
            return (1 + 2 * g / T) * np.exp(-2 * g / T)

        w = np.where(t < 0, np.maximum(roex(TW_BEFORE_S), 10 ** (TW_SKIRT_DB / 10) * roex(TW_SKIRT_S)),
                     roex(TW_AFTER_S))
        self.tw = w * self.hop                          # weight x samples per frame
        # the following sound as masker: the forward window mirrored, from NEXT_START_S on
        tn = t - NEXT_START_S
        gn = np.abs(tn)
        self.tw_next = np.where(tn >= 0, (1 + 2 * gn / TW_BEFORE_S) * np.exp(-2 * gn / TW_BEFORE_S), 0.0) * self.hop
        self.hfb = fc > ATTACK_HF_HZ
        self.after = (t >= ATTACK_FRAMES_S[0]) & (t <= ATTACK_FRAMES_S[1])
        self.before = (t <= -ATTACK_FRAMES_S[0]) & (t >= -ATTACK_FRAMES_S[1])
        self.fs = fs

    def _masking(self, clicks: list[np.ndarray], segs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per click: its energy per band ``E`` (K, B), the masker's band powers per frame ``P``
        (K, frames, B) and the masking threshold per band ``T`` (K, B)."""
        K = len(clicks)
        n = self.nfft
        C = np.zeros((K, n))
        for k, c in enumerate(clicks):
            C[k, : min(c.size, n)] = c[:n]
        # click energy per band (Parseval over the one-sided spectrum)
        E = (np.abs(np.fft.rfft(C, axis=1)) ** 2 / n) @ self.M
        nf = self.f1 - self.f0 + 1
        fr = np.lib.stride_tricks.sliding_window_view(segs, n, axis=1)[:, :: self.hop][:, :nf]
        P = (np.abs(np.fft.rfft(fr * self.win, axis=2)) ** 2 / (n * np.sum(self.win ** 2))) @ self.M
        Mk = np.einsum("kfb,f->kb", P, self.tw)          # masker energy through the window
        T = (Mk @ self.spread.T) * self.offset + self.quiet[None, :]
        return E, P, T

    def margin_db(self, clicks: list[np.ndarray], segs: np.ndarray,
                  full_band: np.ndarray | None = None, width_s: np.ndarray | None = None,
                  wide: np.ndarray | None = None) -> np.ndarray:
        """Audibility (dB) of each click against its masker segment.

        ``segs`` (K, L): programme around each click onset, clicks removed, the onset at index
        ``-f0 * hop + nfft // 2``.  With ``full_band`` (bool per click: found by the full-band
        path, else by the low-band one), an event that is a note's attack gets -inf (see
        :func:`audibility`).
        """
        K = len(clicks)
        n = self.nfft
        E, P, T = self._masking(clicks, segs)
        with np.errstate(divide="ignore"):
            m = np.max(10 * np.log10(np.maximum(E, 1e-30) / T), axis=1)
        if full_band is None:
            return m
        # a note's attack: a smooth transient (almost nothing above ATTACK_HF_HZ: a slope
        # corner, not a digital click) after which some band grows ATTACK_RISE louder
        aft = P[:, self.after].mean(axis=1)
        bef = P[:, self.before].mean(axis=1)
        heard = aft > self.quiet[None, :] / (QUIET_INTEGRATION_S * self.fs)
        rise = np.max(np.where(heard, aft / (bef + 1e-30), 0.0), axis=1)
        hf = E[:, self.hfb].sum(axis=1) / (E.sum(axis=1) + 1e-30)
        # a sharp edge (a held step's, a rectangular pulse's) puts about peak^2 fs / (pi^2 f) of
        # energy above f whatever the event's width, which a smooth onset's hump never does:
        # such an event is not smooth even when most of a wide pulse's energy lies low
        # (and held flat between its edges: see held_step)
        pk2 = np.array([float(np.max(np.abs(c[:n]))) ** 2 if c.size else 0.0 for c in clicks])
        edged = E[:, self.hfb].sum(axis=1) >= EDGE_FRACTION * pk2 * self.fs / (np.pi ** 2 * ATTACK_HF_HZ)
        for k in np.flatnonzero(edged):
            edged[k] = _rect_fraction(clicks[k][:n]) >= RECT_FRACTION
        smooth = ((hf < ATTACK_HF_FRACTION) & ~edged) | ~full_band   # low-band events have no top octaves
        # the sound that follows: an event that does not stand out of the next few ms, masker
        # weighted by the forward window mirrored, is the start of that sound (a pluck's
        # excitation, a clap's first burst, a brush's tap), not a click added to the music
        # (what is observed over the event's span, not the isolated click: where the model's
        # interpolation across the gap fails, at the onset of a new sound, the isolated
        # "click" is the interpolation error and can be far larger than what is there)
        o = -self.f0 * self.hop + n // 2
        Ob = np.zeros((K, n))
        for k, c in enumerate(clicks):
            m_k = min(c.size, n, segs.shape[1] - o)
            Ob[k, :m_k] = segs[k, o: o + m_k] + c[:m_k]
        Eo = (np.abs(np.fft.rfft(Ob, axis=1)) ** 2 / n) @ self.M
        Ma = np.einsum("kfb,f->kb", P, self.tw_next)
        Ta = (Ma @ self.spread.T) * self.offset + self.quiet[None, :]
        with np.errstate(divide="ignore"):
            m_next = np.max(10 * np.log10(np.maximum(np.minimum(E, Eo), 1e-30) / Ta), axis=1)
        part = m_next < NEXT_MARGIN_DB
        if width_s is not None:
            # a wide transient with almost nothing above ATTACK_HF_HZ: the onset of a sound (a
            # drum, a pluck) that the interpolation across the gap cannot tell from a new
            # note; a click of 1-2 ms (a burst of noise) is broadband
            part |= (hf < WIDE_HF_FRACTION) & (np.asarray(width_s) >= WIDE_MIN_S) & ~edged
        if wide is not None:
            # an event only the wide pass of mixes.clicks found (1-2.5 ms) and smooth: the
            # onset of a plucked or struck note (a held step or a noise burst has edges)
            part |= np.asarray(wide, dtype=bool) & (hf < WIDE_PASS_HF_FRACTION) & ~edged
        return np.where((smooth & (rise > ATTACK_RISE)) | part, -np.inf, m)

    def segment_bounds(self, onset: int) -> tuple[int, int]:
        a = onset + self.f0 * self.hop - self.nfft // 2
        return a, a + (self.f1 - self.f0) * self.hop + self.nfft


_BANDS: dict[int, _Bands] = {}


def _bands(fs: int) -> _Bands:
    if fs not in _BANDS:
        _BANDS[fs] = _Bands(fs)
    return _BANDS[fs]


def _masker_segments(x: np.ndarray, onsets: list[int], clicks: list[np.ndarray], bands: _Bands) -> np.ndarray:
    """Programme around each onset with every listed click subtracted (zero-padded at the ends)."""
    order = np.argsort(onsets)
    on = np.asarray(onsets)[order]
    segs = []
    for o in onsets:
        a, b = bands.segment_bounds(o)
        s = np.zeros(b - a)
        a0, b0 = max(a, 0), min(b, x.size)
        s[a0 - a: b0 - a] = x[a0:b0]
        for j in range(np.searchsorted(on, a - 200), np.searchsorted(on, b)):
            oj = int(on[j])
            cj = clicks[order[j]]
            i0, i1 = max(oj, a), min(oj + cj.size, b)
            if i1 > i0:
                s[i0 - a: i1 - a] -= cj[i0 - oj: i1 - oj]
        segs.append(s)
    return np.asarray(segs)


def click_audibility_db(programme: np.ndarray, click: np.ndarray, onset: int, *, fs: int) -> float:
    """Audibility (dB above the masking threshold) of a known click in a known clean programme.

    Parameters
    ----------
    programme : ndarray (n_samples,)
        One channel *without* the click (full scale 1.0).
    click : ndarray
        The click waveform, starting at sample ``onset``.
    onset : int
    fs : int
        Sample rate (Hz), keyword-only.

    Returns
    -------
    float
        The same measure ``find_clicks`` reports, computed from the truth (tests use it as the
        oracle for which planted clicks should be found).
    """
    b = _bands(fs)
    segs = _masker_segments(np.asarray(programme, dtype=np.float64), [onset], [np.zeros(0)], b)
    return float(b.margin_db([np.asarray(click, dtype=np.float64)], segs)[0])


def audibility(x: np.ndarray, imp, *, fs: int, other: np.ndarray | None = None) -> np.ndarray:
    """Audibility (dB) of each verified event of one channel (all events removed from the masker).

    An event that is a note's attack gets -inf: its isolated waveform has less than
    ``ATTACK_HF_FRACTION`` of its energy above ``ATTACK_HF_HZ`` (a slope corner, as a pluck or a
    key's 4 ms attack leaves; a digital click is broadband; events of the low-band path have no
    top octaves to judge by and are taken as smooth) and, 3-11 ms later, the programme is
    ``ATTACK_RISE`` louder than 3-11 ms before in some critical band.  This catches the attacks
    the level rule of stage 2 misses because a louder sustained sound (a pad) carries the level.
    Also -inf: an event that does not stand above the masking threshold of the sound that
    follows it (from ``NEXT_START_S`` on, the forward window mirrored: the start of that sound),
    and a transient at least ``WIDE_MIN_S`` wide with under ``WIDE_HF_FRACTION`` of its energy
    above ``ATTACK_HF_HZ`` (the onset of a drum or a pluck, which the interpolation across the
    gap cannot tell from a new sound).

    With ``other`` (the other channel of a stereo file, same length), an event that starts a
    sound (some third-octave band ``ONSET_RISE_DB`` louder over the ~20 ms after it than in the
    ~40 ms before, the new energy in the two channels at the event's own level ratio) is judged
    by the part of it that the other channel does not explain (:mod:`mixes.click_onset`: a
    drum's or a pluck's attack comes with its sound from where that sound is panned; a click is
    one channel's).  A sample-level event (:func:`mixes.click_onset.is_attack_wide`: a click of
    one or a few samples, as a render glitch leaves in both channels alike) is no attack and is
    judged whole.

    Before that, in any file: a *smooth* event (:func:`smooth_transient`: under
    ``ATTACK_HF_FRACTION`` above ``ATTACK_HF_HZ``, no sharp edge, nothing sample-level riding on
    it) after which some third-octave band of its channel rises ``ONSET_RISE_DB`` (the onset
    rule's measure) is that sound's attack, -inf, wherever the sound is panned
    (``SMOOTH_ONSET_RULE``): a pick's or a beater's hump in a hard-panned or double-tracked part,
    which the stereo test cannot help with, and where other instruments fill the bands the 3-11 ms
    rise above.  Not where the isolation diverged (``SMOOTH_MAX_ISOLATED_RATIO``).
    """
    if not imp.onset:
        return np.zeros(0)
    b = _bands(fs)
    segs = _masker_segments(np.asarray(x, dtype=np.float64), imp.onset, imp.click, b)
    wide = getattr(imp, "wide", None)
    wide = None if wide is None or len(wide) != len(imp.onset) else np.asarray(wide, dtype=bool)
    full_band = ~np.asarray(imp.low, dtype=bool)
    width_s = np.asarray(imp.width_s)
    m = b.margin_db(imp.click, segs, full_band=full_band, width_s=width_s, wide=wide)
    from mixes.click_onset import is_attack_wide, onset_rise_db
    order = np.argsort(imp.onset, kind="stable")
    known = (np.asarray(imp.onset)[order], [imp.click[k] for k in order])
    if SMOOTH_ONSET_RULE:
        # a smooth transient that starts a sound in its channel is that sound's attack (see
        # SMOOTH_ONSET_RULE; full-band waveforms only: the low band's have no top octaves to judge)
        for k in np.flatnonzero(m > 0):
            c_k = np.asarray(imp.click[k], dtype=np.float64)
            o_k = int(imp.onset[k])
            x_k = np.asarray(x[o_k: o_k + c_k.size], dtype=np.float64)
            if not c_k.size or np.max(np.abs(c_k)) > SMOOTH_MAX_ISOLATED_RATIO * np.max(np.abs(x_k), initial=0.0):
                continue
            if full_band[k] and is_attack_wide(imp.click[k], fs=fs) and smooth_transient(imp.click[k], fs=fs) \
                    and onset_rise_db(x, imp.onset[k], max(imp.click[k].size, 1), fs=fs, known=known) >= ONSET_RISE_DB:
                m[k] = -np.inf
    if other is not None and len(other) == len(x):
        from mixes.click_decimate import _lowpass
        from mixes.click_onset import coherent_share
        h = _lowpass(fs)[1]
        # (an event the low-band path found is compared in that band, whatever its waveform: it
        # stood out there, under a hi-hat whose top octaves need not be panned like it)
        fl = getattr(imp, "from_low", None)
        from_low = ~full_band | (np.asarray(fl, dtype=bool) if fl is not None and len(fl) == len(imp.onset) else False)
        sel, share = [], []
        for k in np.flatnonzero(m > 0):
            # (a sample-level event, one or a few samples, is no sound's attack, whatever starts
            # after it: an identical click in both channels just ahead of a centred drum hit)
            if ONSET_NARROW_RULE and full_band[k] and not is_attack_wide(imp.click[k], fs=fs):
                continue
            n_k = max(imp.click[k].size, 1)
            sh, gain_db = coherent_share(x, other, imp.onset[k], n_k, fs=fs, lowpass=h if from_low[k] else None)
            if sh >= 1.0:
                continue
            # (the sound's start is looked for in the channel where the event is louder: a source
            # panned to the other side shows there, not under this side's own music)
            if gain_db >= 0.0:
                rise = onset_rise_db(x, imp.onset[k], n_k, fs=fs, known=known, other=other, gain_db=gain_db)
            else:
                rise = onset_rise_db(other, imp.onset[k], n_k, fs=fs, other=x, gain_db=-gain_db)
            if rise >= ONSET_RISE_DB:
                sel.append(k)
                share.append(sh)
        if sel:
            sel = np.asarray(sel)
            m2 = b.margin_db([imp.click[k] * share[i] for i, k in enumerate(sel)], segs[sel],
                             full_band=full_band[sel], width_s=width_s[sel],
                             wide=None if wide is None else wide[sel])
            m[sel] = np.minimum(m[sel], m2)
    # a transient that comes back, with what follows it, at another of the channel's
    # transients is the music's (mixes.click_recur); only the events that would be heard
    heard = np.flatnonzero(m > 0)
    partners = getattr(imp, "partners", None)
    if heard.size and partners is not None and len(partners):
        from mixes.click_recur import recurs
        r = recurs(np.asarray(x), np.asarray(imp.onset)[heard], np.asarray(imp.width_s)[heard], partners, fs=fs,
                   others=np.asarray(imp.onset))
        m[heard[r]] = -np.inf
    return m
