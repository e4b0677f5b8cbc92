"""Non-uniformly partitioned convolution: streaming == offline == exact, for any block size."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from calib.errors import ConfigError, SignalError
from monitor.convolver import Level, PartitionedConvolver, plan_partitions


def null_db(y: np.ndarray, ref: np.ndarray) -> float:
    """Residual level of ``y - ref`` relative to ``ref`` (dB)."""
    err = np.sqrt(np.mean((np.asarray(y, float) - ref) ** 2))
    return float(20 * np.log10(max(err, 1e-300) / np.sqrt(np.mean(ref ** 2))))


def run(conv: PartitionedConvolver, x: np.ndarray, sizes) -> np.ndarray:
    """Feed ``x`` through ``conv`` in calls of the given sizes (cycled)."""
    y = np.zeros_like(x)
    s, k = 0, 0
    while s < x.shape[1]:
        n = sizes[k % len(sizes)]
        if s + n > x.shape[1]:
            break
        conv.process(x[:, s:s + n], y[:, s:s + n])
        s += n
        k += 1
    return y[:, :s]


def exact(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    return np.stack([ss.fftconvolve(x[c].astype(np.float64), h[c])[: x.shape[1]] for c in range(x.shape[0])])


@pytest.mark.parametrize("block,taps", [(256, 65536), (37, 3001), (129, 20000), (1, 17), (64, 64), (100, 1)])
def test_streaming_equals_exact_convolution(block, taps):
    rng = np.random.default_rng(block + taps)
    h = rng.standard_normal((2, taps)) * np.exp(-np.arange(taps) / max(taps / 6, 1))
    n = max(block * 400, 3 * taps) // block * block
    x = rng.standard_normal((2, n)).astype(np.float32)
    y = run(PartitionedConvolver(h, block=block), x, [block])
    # float32 FFT arithmetic: relative error ~1e-7 (-140 dB); -100 dB is the bar
    assert null_db(y, exact(x, h)[:, : y.shape[1]]) <= -100.0


@pytest.mark.parametrize("block", [37, 256])
def test_offline_chunks_equal_streaming(block):
    """Large chunks (the render path) run the same partition arithmetic as single blocks,
    and give the identical samples."""
    rng = np.random.default_rng(7)
    taps = 20000
    h = rng.standard_normal((2, taps)) * np.exp(-np.arange(taps) / 3000)
    n = block * 1200
    x = rng.standard_normal((2, n)).astype(np.float32)
    chunk = block * 97          # not a multiple of any tail partition: exercises partial blocks
    ys = run(PartitionedConvolver(h, block=block), x, [block])
    yo = run(PartitionedConvolver(h, block=block, max_block=chunk), x, [chunk])
    m = yo.shape[1]
    # same FFT sizes, same products in the same order, levels summed in a fixed order:
    # the file path reproduces the callback path bit for bit (pocketfft transforms each row
    # of a batch independently)
    np.testing.assert_array_equal(yo, ys[:, :m])
    assert null_db(yo, exact(x, h)[:, :m]) <= -100.0


def test_mixed_call_sizes_equal_exact():
    """Calls of varying multiples of the block (as a host with a changing buffer might make)."""
    rng = np.random.default_rng(3)
    h = rng.standard_normal((1, 5000))
    block = 48
    x = rng.standard_normal((1, block * 600)).astype(np.float32)
    y = run(PartitionedConvolver(h, block=block, max_block=block * 16), x, [48, 480, 96, 768, 144])
    assert null_db(y, exact(x, h)[:, : y.shape[1]]) <= -100.0


def test_impulse_response_is_the_filter_exactly_placed():
    """A unit impulse returns the FIR at index 0: the convolver adds no delay."""
    h = np.zeros((1, 3000))
    h[0, [0, 255, 256, 1023, 2999]] = [1.0, -0.5, 0.25, 0.125, 0.0625]
    conv = PartitionedConvolver(h, block=256)
    x = np.zeros((1, 256 * 16), np.float32)
    x[0, 0] = 1.0
    y = run(conv, x, [256])[0]
    # taps are powers of two: exact in float32; FFT round-off stays below 1e-6 absolute
    np.testing.assert_allclose(y[:3000], h[0], atol=1e-6)
    assert np.max(np.abs(y[3000:])) < 1e-6
    assert conv.latency_samples == 0


def test_reset_clears_state():
    rng = np.random.default_rng(1)
    h = rng.standard_normal((1, 2000))
    conv = PartitionedConvolver(h, block=64)
    x = rng.standard_normal((1, 64 * 50)).astype(np.float32)
    y1 = run(conv, x, [64])
    conv.reset()
    y2 = run(conv, x, [64])
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("taps,block", [(65536, 256), (1, 32), (1000, 37), (300000, 256), (4096, 4096), (50000, 1)])
def test_plan_covers_filter_and_meets_deadlines(taps, block):
    levels = plan_partitions(taps, block=block)
    assert levels[0].offset == 0 and levels[0].size == block
    for a, b in zip(levels, levels[1:]):
        assert b.offset == a.end
        assert b.size > a.size
    for lev in levels:
        assert lev.size % block == 0
        # a P-sample partition can start no earlier than P - block (module docstring)
        assert lev.offset >= lev.size - block
    assert levels[-1].end >= taps
    assert levels[-1].end - taps < levels[-1].size


def test_errors():
    with pytest.raises(SignalError, match="NaN or Inf"):
        PartitionedConvolver(np.array([1.0, np.nan]), block=32)
    with pytest.raises(SignalError, match="n_taps >= 1"):
        PartitionedConvolver(np.zeros((1, 0)), block=32)
    with pytest.raises(ConfigError, match="block size must be >= 1"):
        PartitionedConvolver(np.ones(4), block=0)
    with pytest.raises(ConfigError, match="multiple of block"):
        PartitionedConvolver(np.ones(4), block=32, max_block=48)
    with pytest.raises(ConfigError, match="deadline"):
        PartitionedConvolver(np.ones(2048), block=256, levels=(Level(256, 1, 0), Level(1024, 2, 256)))
    with pytest.raises(ConfigError, match="cover"):
        PartitionedConvolver(np.ones(2048), block=256, levels=(Level(256, 2, 0),))
    with pytest.raises(ConfigError, match="contiguous"):
        PartitionedConvolver(np.ones(2048), block=256, levels=(Level(256, 4, 0), Level(1024, 2, 2048)))
    with pytest.raises(ConfigError, match="first level"):
        PartitionedConvolver(np.ones(2048), block=256, levels=(Level(512, 4, 0),))
    conv = PartitionedConvolver(np.ones(8), block=32, max_block=64)
    with pytest.raises(ConfigError, match="multiple of 32"):
        conv.check_block(40)
    with pytest.raises(SignalError, match="at least 1 tap"):
        plan_partitions(0, block=32)


# ------------------------------------------------------------------ worker levels (real time)
@pytest.mark.parametrize("block,taps", [(256, 65536), (64, 20000), (96, 9000)])
def test_worker_levels_equal_the_callback_path_bit_for_bit(block, taps):
    """Large partitions computed on the worker thread give exactly the callback path's output
    for the same scheme, and both null against exact convolution to <= -100 dB."""
    rng = np.random.default_rng(taps)
    h = rng.standard_normal((2, taps)) * np.exp(-np.arange(taps) / (taps / 6))
    x = rng.standard_normal((2, block * 700)).astype(np.float32)
    w = PartitionedConvolver(h, block=block, async_min=4 * block)
    try:
        assert any(lv.size >= 4 * block for lv in w.levels), w.levels
        s = PartitionedConvolver(h, block=block, levels=w.levels)      # same scheme, all in process()
        y_w = run(w, x, [block])
        y_s = run(s, x, [block])
        assert np.array_equal(y_w, y_s)
        assert null_db(y_w, exact(x, h)[:, : y_w.shape[1]]) <= -100.0
    finally:
        w.close()


@pytest.mark.parametrize("taps,block", [(65536, 256), (65536, 32), (5000, 100), (300000, 512)])
def test_worker_plan_leaves_one_partition_of_slack(taps, block):
    levels = plan_partitions(taps, block=block, async_min=4 * block)
    assert levels[0] == Level(block, levels[0].n_parts, 0) and levels[-1].end >= taps
    for a, b in zip(levels, levels[1:]):
        assert b.offset == a.end
    for lev in levels:
        need = 2 * lev.size - block if lev.size >= 4 * block else lev.size - block
        assert lev.offset >= need, lev


def test_worker_impulse_is_exactly_placed_and_close_stops_the_thread():
    h = np.zeros(20000)
    h[[0, 5000, 19999]] = [1.0, -0.5, 0.25]
    c = PartitionedConvolver(h, block=128, async_min=512)
    x = np.zeros((1, 128 * 200), np.float32)
    x[0, 77] = 1.0
    y = run(c, x, [128])
    nz = np.nonzero(np.abs(y[0]) > 1e-6)[0]
    assert list(nz) == [77, 5077, 20076]
    np.testing.assert_allclose(y[0, nz], [1.0, -0.5, 0.25], atol=1e-6)
    c.reset()
    assert not np.any(run(c, np.zeros((1, 128 * 40), np.float32), [128]))
    t = c._thread
    c.close()
    assert t is not None and not t.is_alive()
    c.close()                                   # idempotent


def test_worker_errors_and_a_stalled_worker_raise_instead_of_hanging():
    with pytest.raises(ConfigError, match="worker partitions"):
        PartitionedConvolver(np.ones(4096), block=256, async_min=256)
    with pytest.raises(ConfigError, match="worker partitions"):
        PartitionedConvolver(np.ones(4096), block=256, max_block=2048, async_min=1024)
    c = PartitionedConvolver(np.ones(8192), block=64, async_min=256)
    c.WORKER_TIMEOUT_S = 0.05
    c.close()                                   # no worker any more: the next job never finishes
    x = np.zeros((1, 64), np.float32)
    y = np.zeros_like(x)
    with pytest.raises(RuntimeError, match="stalled"):
        for _ in range(200):
            c.process(x, y)
