"""``monitor run --input rig`` without a watch mic: the programme inputs hear the programme only.

The rig's own routing (``RigBackend(routing="room")``) puts the room's mic on input 1 and the
loopback sum of the speaker outputs on input 2.  For ``monitor run`` those are programme L and
R, so the room's sound was fed back into the monitor (mic -> input 1 -> correction -> speakers
-> mic ...) and the monitor's own output came back on input 2.  Now the monitor's stream is
routed with ``routing="speakers"``: its outputs feed the room's speakers and no input hears the
rig; with ``--watch-mic N`` the mic goes to input N only (tests/test_watch_rig.py).

Truth here is the JACK graph itself, read by an independent JACK client while the monitor runs.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from rig_fixture import roomtruth_process, stop_and_read_json
ROOM = "roomtruth-room"


@pytest.mark.jack
def test_the_monitor_backend_wires_no_input_without_a_watch_mic(rig):  # noqa: F811
    from calib.errors import ConfigError
    from hardware.portaudio import jack_client_name
    from hardware.rig_backend import RigBackend
    from roomtruth.monitor_live import make_backend

    b = make_backend("rig", "rig")
    pa = jack_client_name()
    assert b.routing == "speakers" and b.mic_input is None and b.loopback_input is None
    for n_in in (2, 6):                               # stereo, 5.1: no input is fed by the rig
        assert b.connections(n_inputs=n_in, n_outputs=2) == [
            (f"{pa}:out_0", f"{ROOM}:spk1"), (f"{pa}:out_1", f"{ROOM}:spk2")]
    assert b.routing_table(n_outputs=2) == {}
    # with a watch mic, the mic goes to that input and nowhere else
    w = make_backend("rig", "rig", watch_mic=2)
    assert [p for p in w.connections(n_inputs=3, n_outputs=2) if p[1].startswith(f"{pa}:in_")] == [
        (f"{ROOM}:mic", f"{pa}:in_2")]
    # measure/verify keep the rig's mic and loopback
    assert RigBackend().connections(n_inputs=2, n_outputs=2)[2:] == [
        (f"{ROOM}:mic", f"{pa}:in_0"), (f"{pa}:out_0", f"{pa}:in_1"), (f"{pa}:out_1", f"{pa}:in_1")]
    with pytest.raises(ConfigError, match="routing 'speakers' wires no input"):
        RigBackend(routing="speakers", mic_input=2)


def _monitor_client(c, timeout_s: float) -> str:
    """The JACK client whose output feeds the room's first speaker (the running monitor)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        conns = [p.name for p in c.get_all_connections(f"{ROOM}:spk1")]
        if conns:
            return conns[0].split(":", 1)[0]
        time.sleep(0.1)
    raise AssertionError(f"no monitor fed {ROOM}:spk1 within {timeout_s:.0f} s")


@pytest.mark.jack
def test_monitor_run_on_the_rig_takes_programme_only_from_the_programme_source(rig, tmp_path):  # noqa: F811
    from mixes.songs import make_song

    from hardware.rig_player import RigPlayer
    from test_watch_rig import _rig_profile

    prof = _rig_profile(rig, tmp_path)
    song = make_song(21, duration_s=4.0, fs=rig.fs, drums=False).mix()
    env = dict(os.environ, ROOMTRUTH_RUNTIME_DIR=str(tmp_path / "runtime"))
    with RigPlayer(0.3 * song / np.max(np.abs(song))) as player, roomtruth_process(
            "monitor", "run", prof, "--input", "rig", "--output", "rig", "--duration", "60", "--json", env=env) as proc:
        c = player.client
        mon = _monitor_client(c, 60.0)
        ins = sorted((p.name for p in c.get_ports(f"^{mon}:in_", is_audio=True)),
                     key=lambda s: int(s.rsplit("_", 1)[1]))
        outs = sorted((p.name for p in c.get_ports(f"^{mon}:out_", is_audio=True)),
                      key=lambda s: int(s.rsplit("_", 1)[1]))
        assert len(ins) == 2 and len(outs) == 2
        time.sleep(0.5)                        # the routing is made before the stream starts
        assert [p.name for p in c.get_all_connections(f"{ROOM}:mic")] == []      # the mic: nowhere
        assert {p: [q.name for q in c.get_all_connections(p)] for p in ins} == {p: [] for p in ins}
        assert [[q.name for q in c.get_all_connections(o)] for o in outs] == [[f"{ROOM}:spk1"], [f"{ROOM}:spk2"]]
        # the programme source plugged in: it is all the inputs hear
        player.connect([("out_1", ins[0]), ("out_2", ins[1])])
        assert {p: [q.name for q in c.get_all_connections(p)] for p in ins} == {
            ins[0]: [f"{player.name}:out_1"], ins[1]: [f"{player.name}:out_2"]}
        time.sleep(1.0)
        res = stop_and_read_json(proc)
    assert res["stopped_by"] == "terminate" and res["callbacks"] > 0 and res["errors"] == 0


from rig_fixture import rig  # noqa: E402,F401  (pytest finds the fixture by name)
