"""The simulated room backend and the built-in default room, against their stated physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.deconvolve import _sinc_interp
from calib.errors import DeviceError, SignalError
from calib.types import ImpulseResponse
from hardware.backend import AudioBackend
from hardware.simulated import DEFAULT_ROOM_FACTS as F
from hardware.simulated import SimulatedRoom, default_room

FS = 48000


def test_facts_follow_from_geometry():
    for ch in ("L", "R"):
        d = math.dist(F.speakers_m[ch], F.mic_m)
        assert F.distance_m[ch] == pytest.approx(d, rel=1e-12)
        assert F.arrival_ms[ch] == pytest.approx(d / F.c_m_s * 1000, rel=1e-12)
    # L sits on the 1.6 m equilateral triangle; R is 10 cm further back: late by a fraction of a ms
    assert F.distance_m["L"] == pytest.approx(1.6, abs=1e-4)
    assert 0.2 < F.channel_delay_ms < 0.3
    # first-order floor reflection: image at z = -1.2 m, path sqrt(1.6^2 + 2.4^2), factor 0.7
    path = math.hypot(1.6, 2.4)
    floor = [r for r in F.reflections["L"] if r[2] == "floor"][0]
    assert floor[0] == pytest.approx((path - 1.6) / F.c_m_s * 1000, rel=1e-3)
    assert floor[1] == pytest.approx(20 * math.log10(0.7 * 1.6 / path), abs=1e-3)
    # Rayleigh frequency of the (1,0,0) mode: c / (2 Lx)
    assert F.modes["L"][0][0] == pytest.approx(F.c_m_s / (2 * F.dims_m[0]), rel=1e-12)
    # a mode with a node at the mic (odd width modes: mic on the centre line) is absent
    i = F.mode_indices.index((0, 1, 0))
    assert F.modes["L"][i][1] < -100


def test_default_room_shape_and_timing():
    ir = default_room(FS)
    assert ir.channel_names == ("L", "R") and ir.fs == FS
    assert ir.n_samples == int(F.ir_length_s * FS)
    np.testing.assert_allclose(np.array(ir.arrival_samples) / FS * 1000,
                               [F.arrival_ms["L"], F.arrival_ms["R"]], rtol=1e-12)
    assert default_room(FS) is default_room(FS)          # cached: deterministic and cheap
    assert not np.shares_memory(default_room(44100).samples, ir.samples)


def test_direct_sound_and_floor_reflection_levels_in_the_ir():
    ir = default_room(FS)
    h = ir.samples[0]
    a_d = 10 ** (F.direct_level_db["L"] / 20)
    t_d = ir.arrival_samples[0]
    # band-limited interpolation at the exact arrival: the direct sound's amplitude (modes and
    # reflections add < 2 % there)
    direct = float(_sinc_interp(h, np.array([t_d]))[0])
    assert direct == pytest.approx(a_d, rel=0.02)
    delay_ms, level_db, _ = [r for r in F.reflections["L"] if r[2] == "floor"][0]
    pos = t_d + delay_ms / 1000 * FS
    refl = float(_sinc_interp(h, np.array([pos]))[0])
    # floor reflection level within 0.3 dB (neighbouring image at +0.24 ms leaks a little)
    assert 20 * math.log10(refl / direct) == pytest.approx(level_db, abs=0.3)


def test_diffuse_tail_decays_at_the_stated_rate():
    from scipy import signal

    ir = default_room(FS)
    h = ir.samples[0]
    # 2 kHz octave band, zero-phase, Schroeder integration, fit -5..-25 dB (T20)
    sos = signal.butter(3, [2000 / math.sqrt(2), 2000 * math.sqrt(2)], btype="band", fs=FS, output="sos")
    b = signal.sosfiltfilt(sos, h)
    e = np.cumsum(b[::-1] ** 2)[::-1]
    edc = 10 * np.log10(e / e[0])
    t = np.arange(h.size) / FS
    m = (edc <= -5) & (edc >= -25)
    slope = np.polyfit(t[m], edc[m], 1)[0]
    # T20 from the band's decay: 0.25 s +- 10 % (early reflections and band overlap)
    assert -60 / slope == pytest.approx(F.rt60_s[2000], rel=0.10)


def test_modal_resonance_rings_with_its_t60():
    from scipy import signal

    ir = default_room(FS)
    # the (0,0,2) floor-ceiling mode: strongest and isolated (+14 dB, T60 0.6 s)
    i = F.mode_indices.index((0, 0, 2))
    f0, gain_db, t60 = F.modes["L"][i]
    assert gain_db == pytest.approx(14.0, abs=0.5)
    sos = signal.butter(2, [f0 - 10, f0 + 10], btype="band", fs=FS, output="sos")
    b = signal.sosfilt(sos, ir.samples[0])     # forward only: no end effects near 1 s
    env = np.abs(signal.hilbert(b))
    t = np.arange(env.size) / FS
    # late part: the tail (T60 0.40 s) and the (1,0,2) mode (0.45 s) have died away; the band
    # filter (damping 44/s) rings much shorter than the mode (11.5/s)
    m = (t > 0.2) & (t < 0.7)
    slope = np.polyfit(t[m], 20 * np.log10(env[m]), 1)[0]
    # late ringing around the mode decays at 60/T60 dB/s, within 10 %
    assert -60 / slope == pytest.approx(t60, rel=0.10)


def test_backend_protocol_latency_loopback_and_noise():
    h = np.zeros(100)
    h[10] = 0.5
    room = SimulatedRoom(ImpulseResponse(samples=h, fs=FS, channel_names=("X",)), latency_samples=300,
                         noise_db=-60.0, seed=3)
    assert isinstance(room, AudioBackend)
    stim = np.zeros((1, 4000), dtype=np.float32)
    stim[0, 100] = 0.25
    cap = room.play_record(stim, fs=FS, output_channels=(0,), input_channels=(1, 0))
    loop, mic = cap.recording
    assert np.argmax(loop) == 400 and loop[400] == pytest.approx(0.25, abs=1e-5)
    assert np.argmax(mic) == 410 and mic[410] == pytest.approx(0.125, abs=0.01)
    # noise: RMS -60 dBFS within 0.5 dB (4000 samples)
    quiet = mic[:300]
    assert 20 * np.log10(np.sqrt(np.mean(quiet ** 2))) == pytest.approx(-60, abs=0.8)
    # fresh noise per capture, deterministic per seed
    cap2 = room.play_record(stim, fs=FS, output_channels=(0,), input_channels=(0,))
    assert not np.array_equal(cap2.recording[0][:300], quiet)
    again = SimulatedRoom(ImpulseResponse(samples=h, fs=FS, channel_names=("X",)), latency_samples=300,
                          noise_db=-60.0, seed=3).play_record(stim, fs=FS, output_channels=(0,), input_channels=(1, 0))
    np.testing.assert_array_equal(again.recording, cap.recording)


def test_converter_clips_and_gain():
    room = SimulatedRoom(input_gain_db=40, noise_db=-200)
    stim = np.zeros((1, 48000), dtype=np.float32)
    stim[0, 1000:3000] = 0.5 * np.sin(np.arange(2000) * 0.1)
    cap = room.play_record(stim, fs=FS, output_channels=(0,), input_channels=(0,))
    assert np.max(np.abs(cap.recording)) == 1.0


def test_nonlinearity_and_drift_options():
    h = np.zeros(10)
    h[0] = 1.0
    ir = ImpulseResponse(samples=h, fs=FS, channel_names=("X",))
    x = np.full((1, 1000), 0.5, dtype=np.float32)
    cap = SimulatedRoom(ir, latency_samples=0, noise_db=-200, nonlinearity=(1.0, 0.1, 0.2)).play_record(
        x, fs=FS, output_channels=(0,), input_channels=(0,))
    assert cap.recording[0, 500] == pytest.approx(0.5 + 0.1 * 0.25 + 0.2 * 0.125, abs=1e-6)
    cap = SimulatedRoom(ir, latency_samples=0, noise_db=-200, nonlinearity=np.tanh).play_record(
        x, fs=FS, output_channels=(0,), input_channels=(0,))
    assert cap.recording[0, 500] == pytest.approx(math.tanh(0.5), abs=1e-6)
    ramp = (np.arange(48000, dtype=np.float32) / 48000)[None, :] * 0.5
    cap = SimulatedRoom(ir, latency_samples=0, noise_db=-200, drift_ppm=100).play_record(
        ramp, fs=FS, output_channels=(0,), input_channels=(0,))
    # 100 ppm faster mic clock: sample n holds the signal at n(1+1e-4)
    assert cap.recording[0, 40000] == pytest.approx(0.5 * 40000 * (1 + 1e-4) / 48000, abs=1e-6)


def test_backend_errors():
    room = SimulatedRoom()
    stim = np.zeros((1, 100), dtype=np.float32)
    with pytest.raises(DeviceError, match="output channel 3 does not exist"):
        room.play_record(stim, fs=FS, output_channels=(2,), input_channels=(0,))
    with pytest.raises(DeviceError, match="input channel 5 does not exist"):
        room.play_record(stim, fs=FS, output_channels=(0,), input_channels=(4,))
    ir = ImpulseResponse(samples=np.ones(10), fs=44100, channel_names=("X",))
    with pytest.raises(DeviceError, match="44100 Hz but the measurement asks for 48000 Hz"):
        SimulatedRoom(ir).play_record(stim, fs=FS, output_channels=(0,), input_channels=(0,))
    with pytest.raises(DeviceError, match="latency"):
        SimulatedRoom(latency_samples=-1)
    with pytest.raises(SignalError, match="outside"):
        default_room(1000)


# ------------------------------------------------------------- an IR file's lead-in is kept
LEAD_IN = 137


def _ir_with_lead_in(lead_in_samples: float, fs: int = FS, seconds: float = 0.3) -> np.ndarray:
    """A measured-looking IR: silence, then a band-limited direct sound at exactly
    ``lead_in_samples`` (its sinc pre-rings into the lead-in), a reflection 2 ms later at
    -6 dB and a -30 dB exponential tail (T60 0.2 s)."""
    from hardware.simulated import render_fractional_impulse

    n = int(lead_in_samples + seconds * fs)
    h = np.zeros(n)
    render_fractional_impulse(h, lead_in_samples, 0.5)
    render_fractional_impulse(h, lead_in_samples + 0.002 * fs, 0.25)
    t = np.arange(n - int(lead_in_samples) - 200) / fs
    tail = np.random.default_rng(7).standard_normal(t.size) * 0.5 * 10 ** (-30 / 20) * np.exp(-6.91 * t / 0.2)
    h[int(lead_in_samples) + 200:] += tail
    return h


def _measure_file(run_cli, tmp_path, h, fs=FS, sweep_s="1"):
    import json

    import soundfile as sf

    p = tmp_path / "lead.wav"
    sf.write(str(p), h, fs, subtype="FLOAT")
    code, out, err = run_cli("measure", "--out", tmp_path / "m", "--simulate-ir", p, "--sweep-s", sweep_s,
                             "--latency-samples", "300", "--json")
    assert code == 0, err
    return json.loads(out)


def test_response_span_is_lead_in_plus_latency():
    h = _ir_with_lead_in(LEAD_IN)
    room = SimulatedRoom(ImpulseResponse(samples=h, fs=FS, channel_names=("M",)), latency_samples=300)
    direct, end = room.response_span_samples(FS)
    assert direct == pytest.approx(LEAD_IN + 300, abs=0.05)      # envelope peak of the sinc
    assert end == 300 + h.size
    # the built-in room: its own exact direct-sound positions
    direct, end = SimulatedRoom(latency_samples=0).response_span_samples(FS)
    assert direct == pytest.approx(min(default_room(FS).arrival_samples), abs=1e-9)


def test_measured_arrival_is_the_files_lead_in(run_cli, tmp_path):
    d = _measure_file(run_cli, tmp_path, _ir_with_lead_in(LEAD_IN))
    # time origin = the sweep leaving the output, latency (300) removed via the loopback: the
    # direct sound is where the file has it, within 1 sample (found: < 0.01)
    assert d["latency_samples"] == pytest.approx(300, abs=0.05)
    assert d["arrival_samples"]["M"] - d["onset_samples"] == pytest.approx(LEAD_IN, abs=1.0)
    assert d["arrival_ms"]["M"] == pytest.approx(LEAD_IN / FS * 1000, abs=1000 / FS)
    assert "probe_skipped" not in d["meta"]


def test_long_lead_in_is_recorded_not_cut_off(run_cli, tmp_path):
    # 1.5 s of silence before the direct sound (a file cut with its measuring system's
    # pre-delay): the default 1.5 s tail used to end before the direct sound, the level check
    # heard nothing, and with --no-probe the "arrival" was a noise peak
    lead = 1.5 * FS + LEAD_IN
    h = _ir_with_lead_in(lead, seconds=0.2)
    d = _measure_file(run_cli, tmp_path, h)
    assert d["arrival_samples"]["M"] - d["onset_samples"] == pytest.approx(lead, abs=1.0)
    assert d["n_samples"] - d["onset_samples"] >= h.size                # the whole file is in the IR
    assert d["sweep"]["tail_s"] >= (h.size + 300) / FS
    assert "level check skipped" in d["meta"]["probe_skipped"]
    # the stored IR holds the file's direct sound at the reported place: peak within 1 sample
    import soundfile as sf

    got, _ = sf.read(str(tmp_path / "m" / "M.ir.wav"))
    assert int(np.argmax(np.abs(got))) - d["onset_samples"] == pytest.approx(lead, abs=1.0)


def test_real_ir_drc_rs_pcm_keeps_its_2_2_s_lead_in():
    """DRC's rs.pcm (measured loudspeaker + room, 44.1 kHz): main peak at index 98305, after
    2.229 s of noise and pre-ringing.  Through the simulated room the measured arrival is the
    file's own direct-sound index (same detector on the file) within 1 sample."""
    from calib.audio_io import read_raw_float32
    from calib.deconvolve import find_arrival_samples
    from calib.types import SweepSpec
    from conftest import shared_data
    from hardware.session import measure
    from roomtruth.cmd_measure import _fit_capture_to_ir

    fs = 44100
    truth = read_raw_float32(shared_data("drc-fir", "rs.pcm"), fs=fs)[0]
    room = SimulatedRoom(ImpulseResponse(samples=truth, fs=fs, channel_names=("R",)), latency_samples=512,
                         noise_db=-100.0)
    spec, note = _fit_capture_to_ir(room, SweepSpec(fs=fs, duration_s=1.0, f_stop_hz=22000.0))
    assert note is not None and "2.241 s" in note          # (98305 + 512 latency) / 44100
    _, ir = measure(room, sweep=spec, speakers=[("R", 0)], mic_input=SimulatedRoom.MIC_INPUT,
                    loopback_input=SimulatedRoom.LOOPBACK_INPUT, probe=False, n_harmonics=0)
    want = find_arrival_samples(truth)
    assert want == pytest.approx(98305, abs=1.0)
    assert ir.arrival_samples[0] - ir.onset_samples == pytest.approx(want, abs=1.0)
    assert ir.n_samples - ir.onset_samples >= truth.size
