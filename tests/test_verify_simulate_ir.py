"""`roomtruth verify --simulate-ir` with an IR file whose direct sound comes late (a long lead-in).

The simulated room plays an IR file as given: whatever precedes its direct sound arrives as
delay.  Verify records ``ir_length_s + 0.1 s`` after each sweep (the profile's reference
length) and makes a 0.3-0.5 s level check first; a file whose direct sound comes later than
either used to be cut off (nonsense levels and arrivals) or refused as "mic does not hear".
The rule of ``roomtruth measure`` (commit adcbc4d) now applies: the capture holds latency +
the whole IR, and the level check is skipped when it could not hear the direct sound.

Truth is analytic: the same synthetic room (tests/verify_synth.py) preceded by a known number
of zero samples, and DRC's measured rs.pcm, whose main peak sits at index 98305 (2.229 s).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import verify_synth as S
from calib.profile import CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse, SweepSpec

pytest.importorskip("hardware.simulated")

NOISE_DB = -65.0
FAST = ("--repeats", "2", "--sweep-s", "1", "--noise-db", str(NOISE_DB), "--json")
LATENCY = 512          # samples: SimulatedRoom's default interface latency


def _with_lead_in(room: np.ndarray, lead_s: float, fs: int = S.FS) -> np.ndarray:
    return np.concatenate([np.zeros((room.shape[0], int(round(lead_s * fs)))), room], axis=1)


def _reference(room: np.ndarray, names: tuple[str, ...], fs: int, *, ir_length_s: float | None = None,
               seed: int = 99) -> ImpulseResponse:
    """The baseline as ``roomtruth measure --simulate-ir`` records it (its capture rule, no probe)."""
    from hardware.session import measure
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_measure import _fit_capture_to_ir

    sim = SimulatedRoom(ImpulseResponse(samples=room, fs=fs, channel_names=names), noise_db=NOISE_DB, seed=seed)
    spec, _ = _fit_capture_to_ir(sim, SweepSpec(fs=fs, duration_s=1.0, f_stop_hz=min(20_000.0, 0.45 * fs),
                                                level_dbfs=-12.0, preroll_s=0.25))
    _, ref = measure(sim, sweep=spec, speakers=[(n, i) for i, n in enumerate(names)],
                     mic_input=SimulatedRoom.MIC_INPUT, loopback_input=SimulatedRoom.LOOPBACK_INPUT,
                     probe=False, n_harmonics=3, max_level_dbfs=-12.0, ir_length_s=ir_length_s)
    return ref


def _save_profile(path, ref: ImpulseResponse):
    spk = tuple(SpeakerCorrection(n, i) for i, n in enumerate(ref.channel_names))
    CalibrationProfile(name="lead", speakers=spk, reference=ref).save(path)
    return path


def _write_ir(path, data: np.ndarray, fs: int):
    from calib.audio_io import write_wav_atomic

    write_wav_atomic(path, data, fs=fs, subtype="DOUBLE")
    return path


def _check(res, name, channel):
    return [c for c in res["checks"] if c["name"] == name and c["channel"] == channel][0]


# a lead-in longer than verify's own tail for a 0.5 s reference (0.6 s) and longer than the
# whole level check (1 s sweep + 0.5 s): both old failure modes at once
LEAD_S = 1.6


@pytest.fixture(scope="module")
def lead_room(tmp_path_factory):
    d = tmp_path_factory.mktemp("verify-lead-in")
    room, names = S.base_room()
    late = _with_lead_in(room, LEAD_S)
    return {"dir": d, "room": room, "late": late, "names": names,
            "late_wav": _write_ir(d / "late.wav", late, S.FS)}


def test_same_late_room_passes_with_arrival_unchanged(run_cli, lead_room):
    """Baseline and rehearsal are the same late room: it passes (was: 'the mic does not hear')."""
    ref = _reference(lead_room["late"], lead_room["names"], S.FS)
    assert ref.n_samples - ref.onset_samples >= lead_room["late"].shape[1]   # the baseline holds it all
    prof = _save_profile(lead_room["dir"] / "p-late", ref)
    code, out, err = run_cli("verify", "--profile", prof, "--simulate-ir", lead_room["late_wav"], *FAST)
    assert code == 0, err
    res = json.loads(out)
    assert res["verdict"] == "pass"
    for ch in lead_room["names"]:
        # same room, same noise seed family: level within 0.02 dB (the uncertainty floor),
        # arrival within 2 us (found: ~1 ns; the sub-sample cross-correlation of equal IRs)
        assert abs(_check(res, "level", ch)["value"]) < 0.02
        assert abs(_check(res, "arrival", ch)["value"]) < 0.002          # ms
        assert _check(res, "polarity", ch)["value"] > 0.99


@pytest.mark.parametrize("lead_s", [0.55, 0.8])
def test_late_file_against_a_short_baseline_is_measured_where_it_is(run_cli, lead_room, lead_s):
    """A 0.5 s baseline of the room itself, rehearsed with the same room preceded by silence:
    the honest outcome is a refusal naming the true shift (was: the direct sound cut off,
    'level -50 dB', arrival +244 ms and the mic position judged fine)."""
    ref = _reference(lead_room["room"], lead_room["names"], S.FS, ir_length_s=0.5)
    assert ref.n_samples / S.FS == pytest.approx(0.5, abs=1e-9)          # verify's tail: 0.6 s
    prof = _save_profile(lead_room["dir"] / f"p-short-{lead_s}", ref)
    wav = _write_ir(lead_room["dir"] / f"late-{lead_s}.wav", _with_lead_in(lead_room["room"], lead_s), S.FS)
    code, out, err = run_cli("verify", "--profile", prof, "--simulate-ir", wav, *FAST)
    assert code == 2
    assert err.startswith("error: the mic is not where the baseline was measured") and err.count("\n") == 1
    res = json.loads(out)
    assert res["verdict"] == "refused"
    for ch in lead_room["names"]:
        # the shift is the added silence, within 0.01 ms (found: < 0.0001 ms)
        assert _check(res, "arrival", ch)["value"] == pytest.approx(lead_s * 1e3, abs=0.01)
        assert _check(res, "polarity", ch)["value"] > 0.99                # the direct sound itself was found


def test_measure_repeats_capture_fits_the_simulated_ir(lead_room):
    """The capture rule itself: tail raised to latency + IR length (+10 ms, whole ms), IR holds
    it, level check skipped with its reason; an ordinary room keeps the old lengths."""
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    late, names = lead_room["late"], lead_room["names"]
    sim = SimulatedRoom(ImpulseResponse(samples=late, fs=S.FS, channel_names=names), noise_db=NOISE_DB, seed=4)
    ir = _measure_repeats(sim, [("L", 0), ("R", 1)], fs=S.FS, sweep_s=1.0, repeats=1, ir_length_s=0.5,
                          level_dbfs=-12.0)[0]
    need_s = (LATENCY + late.shape[1]) / S.FS + 0.010
    assert ir.meta["sweep"]["tail_s"] == pytest.approx(need_s, abs=0.001)   # rounded up to whole ms
    assert ir.n_samples - ir.onset_samples >= late.shape[1]
    assert "level check skipped" in ir.meta["probe_skipped"] and "probe" not in ir.meta
    # direct sound of L: the file's own (3.0 m = 419.6 samples after its lead-in), within 1 sample
    assert ir.arrival_samples[0] - ir.onset_samples == pytest.approx(LEAD_S * S.FS + 3.0 / S.SPEED_OF_SOUND * S.FS,
                                                                     abs=1.0)

    plain = SimulatedRoom(ImpulseResponse(samples=lead_room["room"], fs=S.FS, channel_names=names),
                          noise_db=NOISE_DB, seed=4)
    ir = _measure_repeats(plain, [("L", 0), ("R", 1)], fs=S.FS, sweep_s=1.0, repeats=1, ir_length_s=0.5,
                          level_dbfs=-12.0)[0]
    assert ir.meta["sweep"]["tail_s"] == pytest.approx(0.6, abs=1e-12)
    assert ir.n_samples == int(round(0.5 * S.FS))
    assert "probe_skipped" not in ir.meta and "probe" in ir.meta


def test_drc_rs_pcm_rehearses_against_its_own_baseline(run_cli, tmp_path):
    """DRC's rs.pcm (44.1 kHz, main peak at 2.229 s after noise and pre-ringing): a baseline
    measured from it, rehearsed with it, passes with the arrival unchanged."""
    from calib.audio_io import read_raw_float32
    from conftest import shared_data

    fs = 44_100
    truth = read_raw_float32(shared_data("drc-fir", "rs.pcm"), fs=fs)
    ref = _reference(truth, ("R",), fs)
    prof = _save_profile(tmp_path / "p", ref)
    wav = _write_ir(tmp_path / "rs.wav", truth, fs)
    code, out, err = run_cli("verify", "--profile", prof, "--simulate-ir", wav, *FAST)
    assert code == 0, err
    res = json.loads(out)
    assert res["verdict"] == "pass"
    # one speaker: the mic position cannot be judged; the arrival is unchanged within 2 us
    assert abs(_check(res, "arrival", "R")["value"]) < 0.002
    assert abs(_check(res, "level", "R")["value"]) < 0.05                 # dB, the measured room's own noise
