"""A straight-tone singer (no vibrato) found in the null test's difference
(mixes.balance_null_straight), and no voice made up from a moved bass or keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixes.balance_null import null_balance
from mixes.balance_null_fx import straight_voice

FS = 48000


@pytest.fixture(scope="module")
def backing():
    from mixes.songs import make_song
    return make_song(4207, duration_s=12.0, voice=False)


def _with_voice(song, seed):
    rest = song.mix()
    sv = straight_voice(rest.shape[1], FS, seed=seed)
    # the voice 6 dB under the backing's power, as the generators' voices sit
    return rest, sv * math.sqrt(0.25 * np.mean(rest ** 2) / np.mean(sv ** 2))


def test_straight_voice_material_has_no_vibrato():
    """The test voice really is straight: its f0 track (from the first partial's phase) moves
    by less than 5 cents rms inside a held note (a vibrato voice: 15-50 cents)."""
    v = straight_voice(2 * FS, FS, seed=3, note_s=0.6)[0]
    seg = v[int(0.15 * FS):int(0.5 * FS)]                   # inside the first note
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 8 * seg.size))
    f = np.fft.rfftfreq(8 * seg.size, 1 / FS)
    f0 = f[np.argmax(np.where((f > 150) & (f < 500), spec, 0))]
    # frame-wise zero-crossing-free estimate: peak frequency of 50-ms frames
    cents = []
    for i in range(0, seg.size - 2400, 1200):
        fr = seg[i:i + 2400]
        sp = np.abs(np.fft.rfft(fr * np.hanning(fr.size), 65536))
        ff = np.fft.rfftfreq(65536, 1 / FS)
        cents.append(1200 * math.log2(ff[np.argmax(np.where(np.abs(ff - f0) < 30, sp, 0))] / f0))
    assert np.std(cents) < 5.0


@pytest.mark.parametrize("gv, gb", [(4.0, -2.0)])
def test_straight_voice_is_found_in_the_difference(backing, gv, gb):
    """Vocal moved (and the bass): the straight voice is found in the difference and read within
    0.5 dB (the comb figure is exact up to the parts' cross terms; measured <= 0.1 dB)."""
    rest, sv = _with_voice(backing, 11)
    ref = rest + sv
    mix = (backing.mix({"bass": gb}) + sv * 10 ** (gv / 20)) * 0.7
    nb = null_balance(mix, ref, fs=FS, vocal_in_files=False)
    assert nb.gate.same, nb.gate.reason
    assert nb.vocal_in_difference
    assert any("straight tone" in n for n in nb.notes)
    assert nb.vocal_vs_reference_db == pytest.approx(gv, abs=0.5)
    assert nb.bass_vs_reference_db == pytest.approx(gb, abs=0.3)


@pytest.mark.parametrize("moved", [{"bass": -4.0}, {"keys": 5.0, "bass": 3.0}])
def test_moved_bass_keys_or_pads_is_no_voice(backing, moved):
    """No voice in the song: a moved bass, or keys and bass, in the difference is not called a
    voice (a moved bass alone was, before the low-band check; pads: see bench_null7 --novoice)."""
    nb = null_balance(backing.mix(moved) * 0.5, backing.mix(), fs=FS, vocal_in_files=False)
    assert nb.gate.same, nb.gate.reason
    assert not nb.vocal_in_difference
    assert nb.vocal_vs_reference_db is None
