"""PortAudio backend logic that needs no audio device: channel maps, status flags, device
lookup (against a fixed device list), and the ``roomtruth devices`` command."""

from __future__ import annotations

import json

import pytest

from calib.errors import ConfigError, DeviceError
from hardware import portaudio
from hardware.portaudio import DeviceInfo, StatusCounter, channels_from_user, resolve_device


def test_user_channel_maps_are_one_based():
    assert channels_from_user("1,2") == (0, 1)
    assert channels_from_user(" 3 , 8 ") == (2, 7)
    assert channels_from_user([5]) == (4,)
    with pytest.raises(ConfigError, match="contains 0, but channels count from 1"):
        channels_from_user("0,1")
    with pytest.raises(ConfigError, match="contains -2, but channels count from 1"):
        channels_from_user([-2])
    with pytest.raises(ConfigError, match=r"\[1, 1\] repeats a channel"):
        channels_from_user("1,1")
    with pytest.raises(ConfigError, match="'L,R' is not a comma-separated list of channel numbers"):
        channels_from_user("L,R")
    with pytest.raises(ConfigError, match="is empty"):
        channels_from_user("")


def test_status_flags_are_counted_and_loss_is_flagged():
    sd = pytest.importorskip("sounddevice")
    c = StatusCounter()
    for bits in (0, 0, 16, 0):       # priming output only: harmless
        c.add(portaudio._flags_int(sd.CallbackFlags(bits)))
    assert c.callbacks == 4 and c.as_dict() == {"priming_output": 1}
    assert not c.lost_samples and c.xruns == 0
    for bits in (2 | 4, 2 | 4, 1, 8):  # what PortAudio's JACK host reports per xrun, then the rest
        c.add(portaudio._flags_int(sd.CallbackFlags(bits)))
    assert c.as_dict() == {"input_underflow": 1, "input_overflow": 2, "output_underflow": 2,
                           "output_overflow": 1, "priming_output": 1}
    assert c.names == ("input_underflow", "input_overflow", "output_underflow", "output_overflow",
                       "priming_output")
    assert c.lost_samples and c.xruns == 6 and c.callbacks == 8
    # PortAudio's bit values (portaudio.h) are what sounddevice reports
    assert sd.CallbackFlags(2).input_overflow and sd.CallbackFlags(4).output_underflow


_DEVICES = [
    DeviceInfo(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", "ALSA", 2, 2, 44100.0, True, True),
    DeviceInfo(1, "UMC404HD 192k: USB Audio (hw:1,0)", "ALSA", 4, 4, 48000.0, False, False),
    DeviceInfo(2, "UMIK-1: USB Audio (hw:2,0)", "ALSA", 2, 0, 48000.0, False, False),
    DeviceInfo(3, "system", "JACK Audio Connection Kit", 8, 8, 48000.0, False, False),
    DeviceInfo(4, "USB Audio", "OSS", 2, 2, 48000.0, False, False),
]


@pytest.fixture
def fake_devices(monkeypatch):
    monkeypatch.setattr(portaudio, "list_devices", lambda: list(_DEVICES))


def test_device_lookup_by_index_name_and_kind(fake_devices):
    assert resolve_device("umc").index == 1                    # case-insensitive substring
    assert resolve_device(1).index == 1 and resolve_device("3").index == 3
    assert resolve_device("usb audio").index == 4              # an exact name beats substrings
    assert resolve_device("umik", kind="input").index == 2
    assert resolve_device(None, kind="output").index == 0      # the default device
    assert resolve_device("system", hostapi="jack").index == 3
    with pytest.raises(DeviceError, match=r"'UMIK-1: USB Audio \(hw:2,0\)' has 2 inputs and 0 outputs, "
                                          r"but duplex use needs both; choose another device"):
        resolve_device("umik")
    with pytest.raises(DeviceError, match=r"device name 'usb' is ambiguous, it matches 3 devices; "
                                          r"give the index or a longer name"):
        resolve_device("usb", kind="input")
    with pytest.raises(DeviceError, match=r"no audio device matches 'fireface'; devices are: 0 'HDA Intel"):
        resolve_device("fireface")
    with pytest.raises(DeviceError, match="no audio device with index 7; devices are:"):
        resolve_device(7)
    with pytest.raises(DeviceError, match="no audio device matches 'umc'"):
        resolve_device("umc", hostapi="JACK")


def test_backend_constructor_reports_missing_device(fake_devices):
    with pytest.raises(DeviceError, match="no audio device matches 'fireface'"):
        portaudio.PortAudioBackend("fireface")
    b = portaudio.PortAudioBackend(input_device="umik", output_device="umc")
    assert b.input_device.index == 2 and b.output_device.index == 1
    assert b.name.startswith("in: UMIK-1") and "out: UMC404HD" in b.name


def test_no_devices_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(portaudio, "list_devices", lambda: [])
    with pytest.raises(DeviceError, match=r"PortAudio sees no devices at all .*'roomtruth rig start'"):
        resolve_device("anything")


def test_devices_command(run_cli):
    code, out, err = run_cli("devices", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data["devices"], list) and "rig_running" in data
    for d in data["devices"]:
        assert set(d) >= {"index", "name", "hostapi", "max_input_channels", "max_output_channels",
                          "default_samplerate_hz"}
    code, out, err = run_cli("devices", "surely-no-such-device-xyz")
    assert code == 2
    assert err.startswith("error: no audio device matches 'surely-no-such-device-xyz'")
    assert err.count("\n") == 1 and out == ""


def test_device_backend_dispatch(fake_devices, monkeypatch, tmp_path):
    from hardware.rig_backend import device_backend

    b = device_backend("umc")
    assert b.input_device.index == 1
    monkeypatch.setenv("ROOMTRUTH_RIG_DIR", str(tmp_path))
    monkeypatch.setenv("ROOMTRUTH_RIG_SERVER", "rt-units-never-started")
    with pytest.raises(DeviceError, match=r"the JACK virtual room is not running \(server "
                                          r"'rt-units-never-started'\); start it with 'roomtruth rig start'"):
        device_backend("RIG")


def test_measure_with_a_device_that_does_not_exist(run_cli, tmp_path):
    """The user's path: one line on stderr, exit 2, and no measurement folder left behind."""
    out = tmp_path / "m"
    code, stdout, err = run_cli("measure", "--device", "no-such-interface-xyz", "--out", out)
    assert code == 2
    assert err.startswith("error: no audio device matches 'no-such-interface-xyz'")
    assert err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())
