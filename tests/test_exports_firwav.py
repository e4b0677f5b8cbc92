"""Exported FIR WAVs run in zita-convolver's fconvolver and null against exact convolution.

The comparison with roomtruth's own real-time processor belongs to the monitor engine
(engineer E); here the reference is scipy's fftconvolve of the same float32 taps.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import fftconvolve

from calib.correction.design import CorrectionSettings, design_correction
from calib.correction.targets import Target
from calib.errors import ProfileError
from calib.exports.firwav import fconvolver_config, read_fir_wav, write_fir_wavs
from test_correction_rooms import room_seats


def test_fir_wavs_null_in_fconvolver(tmp_path):
    if shutil.which("fconvolver") is None:
        pytest.skip("fconvolver (Debian jconvolver) is not installed")
    prof, _ = design_correction(room_seats(2), CorrectionSettings(target=Target("flat", 20, 300), fir_taps=8192,
                                                                   rates_hz=(44_100, 96_000)))
    paths = write_fir_wavs(prof, tmp_path)
    assert sorted(p.name for p in paths) == ["fir_L_44100.wav", "fir_L_48000.wav", "fir_L_96000.wav"]
    for fs in (44_100, 96_000):
        taps = read_fir_wav(tmp_path / f"fir_L_{fs}.wav", fs=fs)
        assert np.array_equal(taps, prof.speakers[0].fir[fs])  # float32-exact in the profile already
        x = (0.25 * np.random.default_rng(fs).standard_normal(fs)).astype(np.float32)
        sf.write(tmp_path / "in.wav", x, fs, subtype="FLOAT")
        conf = tmp_path / "c.conf"
        conf.write_text(fconvolver_config(tmp_path / f"fir_L_{fs}.wav", n_taps=taps.size))
        subprocess.run(["fconvolver", "-T", str(conf), str(tmp_path / "in.wav"), str(tmp_path / "out.wav")],
                       check=True, capture_output=True, timeout=60)
        y, rate = sf.read(tmp_path / "out.wav", dtype="float64")
        assert rate == fs and y.size == x.size
        ref = fftconvolve(x.astype(np.float64), taps)[:x.size]
        null_db = 20 * np.log10(np.sqrt(np.mean((y - ref) ** 2)) / np.sqrt(np.mean(ref ** 2)))
        assert null_db <= -100.0  # float32 partitioned convolution vs exact: rounding only


def test_read_fir_wav_checks(tmp_path):
    sf.write(tmp_path / "s.wav", np.zeros((100, 2)), 48_000, subtype="FLOAT")
    with pytest.raises(ProfileError, match="mono"):
        read_fir_wav(tmp_path / "s.wav", fs=48_000)
    with pytest.raises(ProfileError, match="expected 44100 Hz"):
        read_fir_wav(tmp_path / "s.wav", fs=44_100)


def test_fconvolver_nulls_against_the_monitor_engine(tmp_path):
    """The same exported WAV through fconvolver and through roomtruth's own monitor chain
    (engineer E's engine; it adds its fixed fractional-delay latency) must null <= -100 dB."""
    if shutil.which("fconvolver") is None:
        pytest.skip("fconvolver (Debian jconvolver) is not installed")
    engine = pytest.importorskip("monitor.engine")
    dsp = pytest.importorskip("monitor.dsp")
    from dataclasses import replace

    fs, block = 48_000, 256
    prof, _ = design_correction(room_seats(1), CorrectionSettings(target=Target("flat", 20, 300), fir_taps=8192,
                                                                   rates_hz=(fs,)))
    prof = replace(prof, preamp_db=0.0)  # compare filters, not the headroom gain
    write_fir_wavs(prof, tmp_path)
    n = block * 400
    x = (0.25 * np.random.default_rng(7).standard_normal(n)).astype(np.float32)
    sf.write(tmp_path / "in.wav", x, fs, subtype="FLOAT")
    conf = tmp_path / "c.conf"
    conf.write_text(fconvolver_config(tmp_path / f"fir_L_{fs}.wav", n_taps=prof.speakers[0].fir[fs].size))
    subprocess.run(["fconvolver", "-T", str(conf), str(tmp_path / "in.wav"), str(tmp_path / "out.wav")],
                   check=True, capture_output=True, timeout=60)
    y_zita, _ = sf.read(tmp_path / "out.wav", dtype="float64")
    chain = engine.build_chain(prof, fs=fs, n_channels=1, block=block)
    out = np.zeros((1, block), dtype=np.float32)
    y_rt = np.concatenate([chain.process(x[None, i:i + block], out).copy() for i in range(0, n, block)], axis=1)[0]
    lat = int(dsp.FRACTIONAL_LATENCY_SAMPLES)
    a, b = y_rt[lat:].astype(np.float64), y_zita[:n - lat]
    null_db = 20 * np.log10(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b ** 2)))
    assert null_db <= -100.0  # two float32 partitioned convolutions of the same taps
