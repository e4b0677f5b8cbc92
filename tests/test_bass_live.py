"""`monitor run` (live) plays a bass-managed profile: programme channels in (layout order, LFE
included), one output per speaker (subs last), the routing run before the per-speaker chains
exactly as `monitor render` runs it.

The profiles are built directly (routing from calib.correction.bass.routing_table, per-speaker
trims, delays, polarity, PEQ and a FIR on one speaker), so the test needs no room design.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from calib.correction.bass import BassSettings, routing_table
from calib.layouts import layout
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from rig_fixture import require_jack_tools, roomtruth_process, running_rig, stop_and_read_json

FS = 48000


def _bm_profile(layout_name: str, subs: tuple[str, ...], *, fs: int = FS, fir_on: str | None = None,
                name: str = "bm") -> CalibrationProfile:
    """A bass-managed profile of ``layout_name``'s mains + ``subs``: LR4 80 Hz, an all-pass on
    the first main, the LFE at +10 dB; every speaker its own trim, delay, polarity and PEQ."""
    lay = layout(layout_name)
    inputs = list(lay.channel_names)
    mains = list(lay.main_names)
    outputs = mains + list(subs)
    lfe = next((s.name for s in lay.speakers if s.lfe), None)
    routing = routing_table(inputs, outputs, mains, list(subs), settings=BassSettings(),
                            allpass={mains[0]: Biquad("allpass", 95.0, 0.0, 0.8)}, lfe=lfe)
    rng = np.random.default_rng(len(outputs))
    spk = []
    for k, n in enumerate(outputs):
        fir = {}
        if n == fir_on:   # a short decaying FIR (the partitioned convolver runs in both paths)
            h = rng.standard_normal(1500) * np.exp(-np.arange(1500) / 200.0) * 0.05
            h[0] = 1.0
            fir = {fs: h}
        spk.append(SpeakerCorrection(name=n, output_channel=k, trim_db=-0.7 * (k % 3), delay_s=0.23e-3 * k,
                                     polarity=-1 if n in subs and k % 2 else 1,
                                     peq=(Biquad("peaking", 55.0 + 37.0 * k, -5.0, 3.0),
                                          Biquad("highshelf", 3000.0, -1.5, 0.7)), fir=fir))
    return CalibrationProfile(name=name, speakers=tuple(spk), preamp_db=-3.0, design_fs=fs, routing=routing)


def _programme(n_ch: int, n: int, *, fs: int, seed: int) -> np.ndarray:
    """Steady noise at about -30 dBFS per channel (the limiter never acts), LFE band included."""
    rng = np.random.default_rng(seed)
    return (0.03 * rng.standard_normal((n_ch, n))).astype(np.float32)


def _live_blocks(prof: CalibrationProfile, x: np.ndarray, *, block: int, ceiling_dbfs: float = -1.0) -> tuple[np.ndarray, int]:
    """x through the live path: the engine as monitor run's audio process builds it
    (roomtruth.monitor_live._set_routing) and RealtimeProcessor.callback block by block."""
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor
    from roomtruth.monitor_live import LiveSpec, _set_routing

    n_ch = len(prof.speakers)
    spec = LiveSpec(profile_dir="-", profile_b=None, input_dev=None, output_dev=None, block=block, fs=FS,
                    n_channels=n_ch, ceiling_dbfs=ceiling_dbfs, bypass=False, n_inputs=x.shape[0])
    eng = Engine(fs=FS, n_channels=n_ch, block=block, limiter={"ceiling_dbfs": ceiling_dbfs})
    n_prog = _set_routing(eng, prof, None, spec)
    assert n_prog == x.shape[0]
    eng.load(prof, "A", activate=True)
    proc = RealtimeProcessor(eng, n_inputs=n_prog, n_outputs=n_ch)
    L = eng.latency_samples
    n_tot = -(-(x.shape[1] + L) // block) * block
    xin = np.zeros((n_tot, x.shape[0]), np.float32)
    xin[: x.shape[1]] = x.T
    y = np.zeros((n_tot, n_ch), np.float32)
    for s in range(0, n_tot, block):
        proc.callback(xin[s:s + block], y[s:s + block], block, 0)
    eng.close()
    assert proc.errors == 0 and proc.bad_frames == 0, proc.last_error
    return y[L:L + x.shape[1]].T, proc.n_inputs


@pytest.mark.parametrize("layout_name,subs,block,fir_on", [
    ("2.1", ("SUB",), 37, None),
    ("5.1", ("SUB1", "SUB2"), 100, "C"),
])
def test_live_block_path_equals_render(run_cli, tmp_path, layout_name, subs, block, fir_on):
    prof = _bm_profile(layout_name, subs, fir_on=fir_on)
    prof.save(tmp_path / "p")
    prof = CalibrationProfile.load(tmp_path / "p")          # what both paths read
    n_prog = len(prof.routing["inputs"])
    x = _programme(n_prog, int(0.6 * FS), fs=FS, seed=block)
    sf.write(tmp_path / "in.wav", x.T, FS, subtype="FLOAT")
    code, out, err = run_cli("monitor", "render", tmp_path / "p", tmp_path / "in.wav", tmp_path / "out.wav", "--json")
    assert code == 0, err
    ref, _ = sf.read(tmp_path / "out.wav", always_2d=True, dtype="float64")
    ref = ref.T
    y, n_in = _live_blocks(prof, x, block=block)
    assert n_in == n_prog and y.shape == ref.shape == (len(prof.speakers), x.shape[1])
    # every speaker carries signal (subs: the mains' bass and the LFE)
    assert np.all(np.sqrt(np.mean(ref ** 2, axis=1)) > 1e-3)
    # null: float32 arithmetic in both paths, different partitions/blocks; -100 dB is far
    # above their round-off (~-130 dB) and far below any routing/filter difference
    err_db = 10 * np.log10(np.maximum(np.sum((y - ref) ** 2, axis=1), 1e-30) / np.sum(ref ** 2, axis=1))
    assert np.all(err_db <= -100.0), err_db


def test_live_refuses_mismatched_routing(run_cli, tmp_path):
    """A/B needs the same routing; the refusal comes before any stream opens (one line, exit 2)."""
    _bm_profile("2.1", ("SUB",), name="a").save(tmp_path / "a")
    _bm_profile("5.1", ("SUB",), name="b").save(tmp_path / "b")
    code, out, err = run_cli("monitor", "run", tmp_path / "a", "--b", tmp_path / "b", "--duration", "1")
    assert code == 2 and err.startswith("error: profile B 'b' routes its programme channels differently"), err
    assert len(err.strip().splitlines()) == 1
    plain = CalibrationProfile(name="plain", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1)))
    plain.save(tmp_path / "plain")
    code, out, err = run_cli("monitor", "run", tmp_path / "plain", "--b", tmp_path / "a", "--duration", "1")
    assert code == 2 and "profile B 'a' is bass-managed and profile A is not" in err, err


NAMES_51 = ("L", "R", "C", "Ls", "Rs", "SUB1", "SUB2")    # 5.1 mains + 2 subs: 7 rig speakers


@pytest.fixture(scope="module")
def rig51(tmp_path_factory):
    """The JACK virtual room with a 7-channel IR (5.1 mains at 1.6..2.4 m, two subs), the
    speakers named; yields (RigState, ImpulseResponse)."""
    require_jack_tools()                      # skip before the room is computed
    from hardware.simulated import layout_room

    mic = (3.0, 2.5, 1.2)
    az = {"L": 30, "R": -30, "C": 0, "Ls": 110, "Rs": -110}
    pos = {n: (mic[0] + (1.6 + 0.2 * k) * np.cos(np.radians(a)), mic[1] + (1.6 + 0.2 * k) * np.sin(np.radians(a)), 1.2)
           for k, (n, a) in enumerate(az.items())}
    pos["SUB1"], pos["SUB2"] = (0.5, 0.6, 0.3), (5.5, 4.4, 0.3)
    ir = layout_room(pos, mic, dims_m=(6.0, 5.0, 2.8), fs=FS, subs=("SUB1", "SUB2"), reflection=0.4, max_order=1,
                     length_s=0.25)
    folder = tmp_path_factory.mktemp("rig51")
    sf.write(folder / "room.wav", ir.samples.T, FS, subtype="FLOAT")
    with running_rig(folder / "room.wav", fs=FS, period=256, speaker_names=NAMES_51) as st:
        yield st, ir


@pytest.mark.jack
def test_rig_measures_every_speaker_of_a_multichannel_ir(rig51, run_cli, tmp_path):
    """measure --device rig with the rig's speaker names (7 speakers: over the old 6-speaker
    limit), three of them out of order (a capture is ~3 s of real time each): one sweep per
    speaker, each arrival its own speaker's distance (the name -> output mapping is kept)."""
    from roomtruth.workspace import load_measurement_dir

    st, ir = rig51
    assert st.n_speakers == 7 and st.names == NAMES_51
    pick = ("SUB2", "C", "Rs")          # SUB2 is the rig's 7th output
    idx = [NAMES_51.index(n) for n in pick]
    for attempt in range(3):   # a capture refused for xruns on a loaded machine is retried
        out = tmp_path / f"m{attempt}"
        code, stdout, err = run_cli("measure", "--device", "rig", "--channels", ",".join(pick), "--out", out,
                                    "--sweep-s", "0.4", "--no-probe", "--json")
        if code == 0 or "audio driver reported" not in err:
            break
    assert code == 0, err
    got = load_measurement_dir(out)
    assert got.channel_names == pick
    arr_ms = (np.array(got.arrival_samples) - got.onset_samples) / FS * 1000
    want_ms = np.array(ir.arrival_samples)[idx] / FS * 1000
    # mains: the direct sound to within 0.05 ms (2.4 samples at 48 kHz); subs, band-limited to
    # 200 Hz: within 1.5 ms (their envelope peak is broad)
    np.testing.assert_allclose(arr_ms[1:], want_ms[1:], atol=0.05)
    np.testing.assert_allclose(arr_ms[0], want_ms[0], atol=1.5)
    # the distances differ by more than the tolerances: a swapped output would fail
    assert abs(want_ms[1] - want_ms[2]) > 0.5 and abs(want_ms[0] - want_ms[1]) > 3.0


def test_reload_with_another_routing_is_refused_and_logged(tmp_path):
    """A running bass-managed monitor reloads (key r, or the web app's activate) only a profile
    with the same routing: the routing stage is the engine's and cannot cross-fade."""
    from monitor.routing import router_for
    from roomtruth.monitor_live import LiveSpec, _Control

    a = _bm_profile("2.1", ("SUB",), name="a")
    a.save(tmp_path / "a")
    _bm_profile("2.1", ("SUB",), name="b", fir_on="L").save(tmp_path / "same")   # same routing, other chains
    _bm_profile("5.1", ("SUB",), name="c").save(tmp_path / "other")

    class Eng:
        in_transition = False
        active_slot = "A"
        loads: list = []

        def __init__(self):
            self.routing = router_for(CalibrationProfile.load(tmp_path / "a"), fs=FS)

        def load(self, prof, slot, activate):
            self.loads.append(prof.name)

        def slot_hash(self, slot):
            return None

    spec = LiveSpec(profile_dir=str(tmp_path / "other"), profile_b=None, input_dev=None, output_dev=None, block=256,
                    fs=FS, n_channels=3, ceiling_dbfs=-1.0, bypass=False, n_inputs=3)
    logs: list = []
    eng = Eng()
    ctl = _Control(eng, spec, logs.append)
    ctl.command(("reload",))
    assert eng.loads == [] and not ctl.queue
    assert any("reload failed" in m[1] and "routes its programme channels differently" in m[1] for m in logs), logs
    ctl.command(("load", "A", str(tmp_path / "same")))
    assert eng.loads == ["b"]


@pytest.mark.jack
def test_monitor_run_routes_programme_on_the_rig(rig51, tmp_path):
    """Programme played into a running bass-managed `monitor run` on the JACK rig (a JACK client
    feeds its inputs 1-3; the room's mic on input 4 via --watch-mic, so nothing else reaches the
    programme inputs): L carries 1 kHz, R nothing, LFE 60 Hz.  Each speaker output's level is the
    offline path's (within 0.05 dB; measured 0.0002 dB): L the tone through its high-pass, R
    silent, the SUB the LFE at +10 dB through its low-pass.  The run publishes the profile's hash
    and removes its status file on exit."""
    import time
    from dataclasses import replace

    from calib.types import ImpulseResponse
    from hardware.rig_player import RigPlayer, monitor_ports

    st, ir = rig51
    # the baseline (for the watch, which runs beside): the rig's first three speakers' IRs
    ref = ImpulseResponse(samples=ir.samples[:3], fs=FS, channel_names=("L", "R", "SUB"))
    prof = replace(_bm_profile("2.1", ("SUB",)), reference=ref)
    prof.save(tmp_path / "p")
    prof = CalibrationProfile.load(tmp_path / "p")
    t = np.arange(FS) / FS                      # 1 s loop: whole periods of both tones
    prog = np.zeros((3, FS), np.float32)
    prog[0] = 0.1 * np.sin(2 * np.pi * 1000.0 * t)
    prog[2] = 0.05 * np.sin(2 * np.pi * 60.0 * t)
    block = 1024                                 # a status peak is one block's: > one 60 Hz period
    want, _ = _live_blocks(prof, np.tile(prog, 3), block=block)
    want_db = 20 * np.log10(np.maximum(np.max(np.abs(want[:, -FS // 2:]), axis=1), 1e-30))
    env = dict(os.environ, ROOMTRUTH_RUNTIME_DIR=str(tmp_path / "runtime"))
    status = Path(env["ROOMTRUTH_RUNTIME_DIR"]) / "monitor-live.json"
    want_hash = prof.content_hash()
    with RigPlayer(prog) as player, roomtruth_process(
            "monitor", "run", tmp_path / "p", "--input", "rig", "--output", "rig", "--watch-mic", "4", "--block", block,
            "--duration", "30", "--json", env=env) as p:
        ports = monitor_ports(player, timeout_s=40.0)
        player.connect([(f"out_{k + 1}", ports["inputs"][k]) for k in range(3)])
        seen = None
        t_end = time.monotonic() + 2.5       # ~2 s of programme through the routing
        while time.monotonic() < t_end:
            try:
                seen = json.loads(status.read_text()) if seen is None else seen
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        res = stop_and_read_json(p, timeout_s=40)
    assert ports["mic"].endswith(":in_3") and res["input_channels"] == 3 and res["errors"] == 0
    got = np.array([-np.inf if v is None else v for v in res["out_peak_dbfs"]])   # JSON: -inf as null
    assert got[1] < -100.0, got                                   # R: nothing in, nothing out
    # a block's peak of a steady tone (1024 samples: over one 60 Hz period) is the tone's peak
    # within 0.01 dB (sample grid); the JACK path itself adds nothing
    np.testing.assert_allclose(got[[0, 2]], want_db[[0, 2]], atol=0.05)
    assert res["engine"]["running_hash"] == want_hash and res["bad_frames"] == 0
    assert seen is not None and seen["running_hash"] == want_hash
    assert seen["profile_dir"] == str((tmp_path / "p").resolve())
    assert not status.exists()                                   # removed on exit
    assert want_db[2] > -30.0 and want_db[0] > -30.0             # both carry signal
