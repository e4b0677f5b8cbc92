"""speed7: the fast WAV reader equals libsndfile bit for bit, and an album's one-thread
workers give exactly the two-thread pipeline's results.

``mixes.wavread`` decodes plain PCM/float WAV files itself (about 3x less CPU than libsndfile
plus the transpose); every value must be the float32 that ``soundfile`` returns (same
normalisation, exact for 16/24-bit, the same float32 rounding for 32-bit), whatever the channel
count and header kind; layouts it does not take (RF64, W64, 8-bit, double, FLAC) still go
through soundfile.  ``mixes.batch`` runs each file of an album on one thread when the album
has a worker per core: the same stage functions on the same array, so identical results.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from calib.errors import SignalError
from mixes import batch
from mixes.analysis import analyze_array, analyze_file, read_mix
from mixes.songs import make_song
from mixes.songs_alt import make_song as make_song_alt
from mixes.wavread import pcm_layout
from test_speed6_pipeline import _same


def _write(path, y, sub, fmt="WAV", fs=48000):
    sf.write(str(path), y, fs, subtype=sub, format=fmt)
    return path


@pytest.mark.parametrize("n_ch", [1, 2, 6])
@pytest.mark.parametrize("sub,fmt,fast", [
    ("PCM_16", "WAV", True), ("PCM_24", "WAV", True), ("PCM_32", "WAV", True), ("FLOAT", "WAV", True),
    ("PCM_24", "WAVEX", True), ("FLOAT", "WAVEX", True),
    ("PCM_24", "RF64", False), ("PCM_24", "W64", False), ("PCM_U8", "WAV", False), ("DOUBLE", "WAV", False),
    ("PCM_24", "FLAC", False),
])
def test_read_equals_libsndfile(tmp_path, n_ch, sub, fmt, fast):
    rng = np.random.default_rng(n_ch)
    n = 150_001                                     # not a multiple of the 65536-frame blocks
    y = rng.uniform(-1.0, 1.0, (n, n_ch))
    y[:5] = -1.0
    y[5:10] = 0.99999
    y[10:20] = 3e-8                                 # below one 24-bit step
    f = _write(tmp_path / f"x.{'flac' if fmt == 'FLAC' else 'wav'}", y, sub, fmt)
    info = sf.info(str(f))
    assert (pcm_layout(str(f), n_channels=info.channels, n_frames=info.frames) is not None) == fast
    blocks = []
    x, fs = read_mix(f, feed=lambda c: blocks.append(c.shape[1]))
    ref = sf.read(str(f), dtype="float32", always_2d=True)[0].T
    assert fs == 48000 and x.dtype == np.float32 and x.shape == ref.shape
    assert np.array_equal(x, ref)                   # bit for bit
    assert blocks == [65536, 65536, n - 131072]     # the meters see the same blocks


def test_read_integer_extremes_and_trailing_chunk(tmp_path):
    v = np.array([-2**31, 2**31 - 1, 2**31 - 64, 2**31 - 65, 12345678, -99999999, 1, -1] * 500, dtype=np.int32)
    for sub in ("PCM_32", "PCM_24", "PCM_16"):
        f = _write(tmp_path / f"{sub}.wav", np.stack([v, v[::-1]], 1), sub)
        with open(f, "ab") as fh:                     # a chunk after the data (a LIST tag, say)
            fh.write(b"JUNK" + (6).to_bytes(4, "little") + b"abcdef")
        with open(f, "r+b") as fh:
            size = fh.seek(0, 2)
            fh.seek(4)
            fh.write((size - 8).to_bytes(4, "little"))
        x, _ = read_mix(f)
        assert np.array_equal(x, sf.read(str(f), dtype="float32", always_2d=True)[0].T), sub


def test_float_wav_with_nan_is_refused(tmp_path):
    y = np.zeros((70_000, 2), dtype=np.float32)
    y[68_000, 1] = np.nan
    f = _write(tmp_path / "nan.wav", y, "FLOAT")
    with pytest.raises(SignalError, match=r"NaN or Inf samples \(first at channel 2, 1\.417 s\)"):
        read_mix(f)


def test_truncated_wav_still_refused(tmp_path):
    f = _write(tmp_path / "cut.wav", np.zeros((96_000, 2)), "PCM_24")
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(SignalError, match="is truncated"):
        read_mix(f)


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    d = tmp_path_factory.mktemp("album7")
    paths = []
    for i, y in enumerate([make_song(3, duration_s=6.0).mix(), make_song_alt(501, duration_s=6.0).mix(),
                           0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 44100) / 44100)[None, :]]):
        fs = 44100 if y.shape[0] == 1 else 48000
        paths.append(_write(d / f"t{i}.wav", np.ascontiguousarray(y.T) * 0.5, "PCM_24", fs=fs))
    return paths


def test_one_thread_equals_two_threads(album):
    for p in album:
        _same(analyze_file(p, threads=1), analyze_file(p, threads=2))
    x, fs = read_mix(album[0])
    _same(analyze_array(x, fs=fs, threads=1), analyze_array(x, fs=fs))


def test_album_pool_equals_in_process(album, monkeypatch):
    one, bad1 = batch.analyze_each(album, jobs=1)
    assert batch.threads_per_file(1, 2) == 2 and batch.threads_per_file(2, 2) == 1
    assert batch.threads_per_file(4, 2) == 1 and batch.threads_per_file(1, 8) == 2
    for method in ("fork", "forkserver"):
        monkeypatch.setenv("ROOMTRUTH_POOL_START", method)
        pooled, bad2 = batch.analyze_each(album, jobs=2)
        assert not bad1 and not bad2
        for a, b in zip(one, pooled):
            _same(a, b)
