"""``room.toml``: the room workspace's configuration, its schema and the ``init`` template.

Validated in full before any audio stream opens: unknown keys are errors, wrong types and
out-of-range values are errors, and every problem is listed at once in one
:class:`~calib.errors.ConfigError`.  Channel numbers are 1-based here (as the user counts);
:class:`RoomConfig` exposes 0-based ones for the backends.

Sections ``[correction]``, ``[verification]`` and ``[report]`` belong to the commands that read
them; they are kept as plain tables (``RoomConfig.sections``) and validated by their owners.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from calib.errors import ConfigError
from calib.names import NAME_RE   # the one speaker-name rule (measure, rig start, room.toml)

__all__ = ["RoomConfig", "SpeakerConfig", "load_room_config", "parse_room_config", "room_template",
           "PASS_THROUGH_SECTIONS", "NAME_RE"]

PASS_THROUGH_SECTIONS = ("correction", "verification", "report")
SPECIAL_DEVICES = ("simulated", "rig")


@dataclass(frozen=True)
class SpeakerConfig:
    """One speaker: its name, 1-based output channel and optional position (m)."""

    name: str
    output: int
    position_m: tuple[float, float, float] | None = None
    is_sub: bool = False          # a subwoofer ([[subs]] in room.toml); subs come last

    @property
    def output_index(self) -> int:
        """0-based output channel."""
        return self.output - 1


@dataclass(frozen=True)
class RoomConfig:
    """A validated ``room.toml`` (1-based channels; ``*_index`` properties are 0-based)."""

    path: Path | None
    name: str
    dimensions_m: tuple[float, float, float] | None
    mic_position_m: tuple[float, float, float] | None
    device: str
    fs: int
    mic_input: int
    loopback_input: int | None
    loopback_output: int | None
    speakers: tuple[SpeakerConfig, ...]
    mic_calibration_file: Path | None
    mic_sensitivity_dbfs: float | None
    sweep_f_start_hz: float
    sweep_f_stop_hz: float
    sweep_duration_s: float
    sweep_level_dbfs: float
    sweep_preroll_s: float
    sweep_tail_s: float
    repeats: int
    max_level_dbfs: float
    min_snr_db: float
    simulate_noise_db: float
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    input_device: str = ""
    layout: str | None = None      # a standard layout name (calib.layouts), e.g. "7.1.4"
    watch_mic: int | None = None   # 1-based input of the programme-watch mic (monitor run), None: no watch
    watch_gain_db: float | None = None   # the watch mic's gain against the calibration mic (dB); None: learnt live

    @property
    def main_names(self) -> tuple[str, ...]:
        """Speakers that are not subwoofers, in room.toml order."""
        return tuple(s.name for s in self.speakers if not s.is_sub)

    @property
    def sub_names(self) -> tuple[str, ...]:
        """Subwoofers (``[[subs]]``), in room.toml order."""
        return tuple(s.name for s in self.speakers if s.is_sub)

    @property
    def mic_input_index(self) -> int:
        return self.mic_input - 1

    @property
    def loopback_input_index(self) -> int | None:
        return None if self.loopback_input is None else self.loopback_input - 1

    @property
    def loopback_output_index(self) -> int | None:
        return None if self.loopback_output is None else self.loopback_output - 1

    @property
    def speaker_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.speakers)

    def speaker(self, name: str) -> SpeakerConfig:
        for s in self.speakers:
            if s.name == name:
                return s
        raise ConfigError(f"no speaker {name!r} in room.toml; speakers are {', '.join(self.speaker_names)}")

    def sweep_spec(self, *, fs: int | None = None, duration_s: float | None = None,
                   level_dbfs: float | None = None):
        """The :class:`calib.types.SweepSpec` of this room (optionally overridden)."""
        from calib.types import SweepSpec

        f = int(fs or self.fs)
        return SweepSpec(
            f_start_hz=self.sweep_f_start_hz,
            f_stop_hz=min(self.sweep_f_stop_hz, f / 2),
            duration_s=duration_s or self.sweep_duration_s,
            fs=f,
            level_dbfs=self.sweep_level_dbfs if level_dbfs is None else level_dbfs,
            preroll_s=self.sweep_preroll_s,
            tail_s=self.sweep_tail_s,
        )


# --- schema: section -> key -> (kind, required, default, check) -------------------------------
def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _vec3(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 3 and all(_num(x) for x in v)


SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    # key: (description of what is expected, default or REQUIRED)
    "room": {
        "name": ("a text", "my room"),
        "dimensions_m": ("three positive numbers [length, width, height] in metres", None),
        "mic_position_m": ("three numbers [x, y, z] in metres", None),
        "layout": ('a standard layout name (2.0, 2.1, 5.1, 7.1, 7.1.4, 9.1.6) or ""', ""),
    },
    "interface": {
        "device": ('a device name or index from `roomtruth devices`, "simulated" or "rig"', "simulated"),
        "input_device": ('the recording device when it differs from `device` (e.g. a USB mic), or ""', ""),
        "fs": ("a sample rate in Hz, 8000..384000", 48000),
        "mic_input": ("a 1-based input channel number", 1),
        "loopback_input": ("a 1-based input channel number, or 0 for none", 2),
        "loopback_output": ("a 1-based output channel number, or 0 when the loopback input taps the speaker outputs", 0),
        "watch_mic": ("a 1-based input channel number of the mic that watches the room from programme (monitor run), or 0 for none", 0),
        "watch_gain_db": ("the watch mic's gain against the calibration mic in dB, -60..60 (0: the calibration mic left in place, same input and preamp setting), or left out", None),
    },
    "mic": {
        "calibration_file": ("a path (relative to the room folder) to a mic calibration text file, or \"\"", ""),
        "sensitivity_dbfs": ("the level in dBFS that 94 dB SPL produces (from `roomtruth` SPL calibration)", None),
    },
    "sweep": {
        "f_start_hz": ("a frequency in Hz", 10.0),
        "f_stop_hz": ("a frequency in Hz", 22000.0),
        "duration_s": ("a duration in seconds, 0.1..120", 5.0),
        "level_dbfs": ("a peak level in dBFS, <= 0", -12.0),
        "preroll_s": ("a duration in seconds >= 0.05", 0.5),
        "tail_s": ("a duration in seconds > 0 (longer than the room's decay)", 1.5),
        "repeats": ("a whole number 1..64", 1),
    },
    "safety": {
        "max_level_dbfs": ("a peak level in dBFS, <= 0", -6.0),
        "min_snr_db": ("a level difference in dB, 0..100", 30.0),
    },
    "simulate": {
        "noise_db": ("a noise level in dBFS, <= 0", -80.0),
    },
}
SPEAKER_KEYS = {"name": "a short name such as L, R, C, LFE", "output": "a 1-based output channel number",
                "position_m": "three numbers [x, y, z] in metres"}


def _check(problems: list[str], where: str, ok: bool, expected: str, value: Any) -> None:
    if not ok:
        problems.append(f"{where} is {value!r}, expected {expected}")


def parse_room_config(data: Mapping[str, Any], *, path: Path | None = None) -> RoomConfig:
    """Validate a parsed ``room.toml`` table; raise one :class:`ConfigError` listing every problem."""
    problems: list[str] = []
    known = set(SCHEMA) | {"speakers", "subs"} | set(PASS_THROUGH_SECTIONS)
    for key in data:
        if key not in known:
            problems.append(f"unknown section or key [{key}] (known: {', '.join(sorted(known))})")
    vals: dict[str, dict[str, Any]] = {}
    for sec, keys in SCHEMA.items():
        table = data.get(sec, {})
        if not isinstance(table, dict):
            problems.append(f"[{sec}] must be a table, got {table!r}")
            table = {}
        for k in table:
            if k not in keys:
                problems.append(f"unknown key {sec}.{k} (known: {', '.join(keys)})")
        vals[sec] = {k: table.get(k, default) for k, (_exp, default) in keys.items()}

    room, iface, mic, sw, safe, sim = (vals[s] for s in ("room", "interface", "mic", "sweep", "safety", "simulate"))
    _check(problems, "room.name", isinstance(room["name"], str), SCHEMA["room"]["name"][0], room["name"])
    dims = room["dimensions_m"]
    if dims is not None:
        _check(problems, "room.dimensions_m", _vec3(dims) and all(d > 0 for d in dims) if _vec3(dims) else False,
               SCHEMA["room"]["dimensions_m"][0], dims)
    mpos = room["mic_position_m"]
    if mpos is not None:
        _check(problems, "room.mic_position_m", _vec3(mpos), SCHEMA["room"]["mic_position_m"][0], mpos)
    dev = iface["device"]
    _check(problems, "interface.device", (isinstance(dev, str) and dev.strip() != "") or (_int(dev) and dev >= 0),
           SCHEMA["interface"]["device"][0], dev)
    idev = iface["input_device"]
    _check(problems, "interface.input_device", isinstance(idev, str) or (_int(idev) and idev >= 0),
           SCHEMA["interface"]["input_device"][0], idev)
    fs = iface["fs"]
    _check(problems, "interface.fs", _int(fs) and 8000 <= fs <= 384000, SCHEMA["interface"]["fs"][0], fs)
    for k, allow0 in (("mic_input", False), ("loopback_input", True), ("loopback_output", True), ("watch_mic", True)):
        v = iface[k]
        _check(problems, f"interface.{k}", _int(v) and (v >= 1 or (allow0 and v == 0)) and v <= 256,
               SCHEMA["interface"][k][0], v)
    wg = iface["watch_gain_db"]
    if wg is not None:
        _check(problems, "interface.watch_gain_db", _num(wg) and -60.0 <= wg <= 60.0,
               SCHEMA["interface"]["watch_gain_db"][0], wg)
    if _int(iface["mic_input"]) and iface["mic_input"] == iface["loopback_input"]:
        problems.append(f"interface.mic_input and interface.loopback_input are both {iface['mic_input']}; "
                        "the loopback needs its own input")
    cal = mic["calibration_file"]
    _check(problems, "mic.calibration_file", isinstance(cal, str), SCHEMA["mic"]["calibration_file"][0], cal)
    cal_path = None
    if isinstance(cal, str) and cal.strip():
        cal_path = Path(cal).expanduser()
        if not cal_path.is_absolute() and path is not None:
            cal_path = path.parent / cal_path
        if not cal_path.is_file():
            problems.append(f"mic.calibration_file {cal!r} does not exist (looked for {cal_path})")
    sens = mic["sensitivity_dbfs"]
    if sens is not None:
        _check(problems, "mic.sensitivity_dbfs", _num(sens) and -120 < sens <= 0, SCHEMA["mic"]["sensitivity_dbfs"][0], sens)
    for k, lo, hi in (("f_start_hz", 1.0, 48000.0), ("f_stop_hz", 100.0, 192000.0), ("duration_s", 0.1, 120.0),
                      ("level_dbfs", -100.0, 0.0), ("preroll_s", 0.05, 10.0), ("tail_s", 0.01, 30.0)):
        _check(problems, f"sweep.{k}", _num(sw[k]) and lo <= sw[k] <= hi, SCHEMA["sweep"][k][0], sw[k])
    if _num(sw["f_start_hz"]) and _num(sw["f_stop_hz"]) and sw["f_start_hz"] >= sw["f_stop_hz"]:
        problems.append(f"sweep.f_start_hz {sw['f_start_hz']} must be below sweep.f_stop_hz {sw['f_stop_hz']}")
    _check(problems, "sweep.repeats", _int(sw["repeats"]) and 1 <= sw["repeats"] <= 64, SCHEMA["sweep"]["repeats"][0], sw["repeats"])
    _check(problems, "safety.max_level_dbfs", _num(safe["max_level_dbfs"]) and -100 <= safe["max_level_dbfs"] <= 0,
           SCHEMA["safety"]["max_level_dbfs"][0], safe["max_level_dbfs"])
    _check(problems, "safety.min_snr_db", _num(safe["min_snr_db"]) and 0 <= safe["min_snr_db"] <= 100,
           SCHEMA["safety"]["min_snr_db"][0], safe["min_snr_db"])
    if (_num(sw["level_dbfs"]) and _num(safe["max_level_dbfs"]) and sw["level_dbfs"] > safe["max_level_dbfs"]):
        problems.append(f"sweep.level_dbfs {sw['level_dbfs']} is above safety.max_level_dbfs {safe['max_level_dbfs']}")
    _check(problems, "simulate.noise_db", _num(sim["noise_db"]) and -200 <= sim["noise_db"] <= 0,
           SCHEMA["simulate"]["noise_db"][0], sim["noise_db"])

    speakers: list[SpeakerConfig] = []
    raw_sp = data.get("speakers", [{"name": "L", "output": 1}, {"name": "R", "output": 2}])
    if not isinstance(raw_sp, list) or not raw_sp:
        problems.append("[[speakers]] must list at least one speaker (name, output)")
        raw_sp = []
    raw_subs = data.get("subs", [])
    if not isinstance(raw_subs, list):
        problems.append("[[subs]] must be a list of tables (name, output, position_m)")
        raw_subs = []
    seen_names: set[str] = set()
    seen_out: set[int] = set()
    for i, (is_sub, sp) in enumerate([(False, x) for x in raw_sp] + [(True, x) for x in raw_subs], 1):
        where = f"subs #{i - len(raw_sp)}" if is_sub else f"speakers #{i}"
        if not isinstance(sp, dict):
            problems.append(f"{where} must be a table with name and output")
            continue
        for k in sp:
            if k not in SPEAKER_KEYS:
                problems.append(f"unknown key {k!r} in {where} (known: {', '.join(SPEAKER_KEYS)})")
        nm, out, pos = sp.get("name"), sp.get("output"), sp.get("position_m")
        ok_nm = isinstance(nm, str) and bool(NAME_RE.match(nm))
        _check(problems, f"{where} name", ok_nm, "a name of letters, digits, _ or - (at most 16, starting with a letter)", nm)
        ok_out = _int(out) and 1 <= out <= 256
        _check(problems, f"{where} output", ok_out, SPEAKER_KEYS["output"], out)
        if pos is not None:
            _check(problems, f"{where} position_m", _vec3(pos), SPEAKER_KEYS["position_m"], pos)
        if ok_nm and nm in seen_names:
            problems.append(f"speaker name {nm!r} appears twice")
        if ok_out and out in seen_out:
            problems.append(f"output {out} is used by two speakers")
        if ok_out and out == iface["loopback_output"]:
            problems.append(f"output {out} is both a speaker and interface.loopback_output")
        if ok_nm and ok_out:
            seen_names.add(nm)
            seen_out.add(out)
            speakers.append(SpeakerConfig(nm, out, tuple(float(x) for x in pos) if _vec3(pos) else None, is_sub))
    n_mains, n_subs = sum(not s.is_sub for s in speakers), sum(s.is_sub for s in speakers)
    if n_mains > 16 or n_subs > 4:
        problems.append(f"{n_mains} speakers and {n_subs} subs: roomtruth handles at most 16 speakers and 4 subs")
    lay_name = room["layout"]
    if not isinstance(lay_name, str):
        problems.append(f"room.layout is {lay_name!r}, expected {SCHEMA['room']['layout'][0]}")
    elif lay_name.strip():
        from calib.layouts import layout as _layout

        try:
            lay = _layout(lay_name.strip())
        except ConfigError as exc:
            problems.append(str(exc))
        else:
            outside = [s.name for s in speakers if not s.is_sub and s.name not in lay.main_names]
            if outside:
                problems.append(f"speakers {', '.join(outside)} are not channels of layout {lay.name} "
                                f"({', '.join(lay.main_names)}); rename them or drop room.layout")

    # positions must lie inside the room (x from the front wall, y from the left wall, z up)
    if dims is not None and _vec3(dims):
        def inside(pos: Any) -> bool:
            return all(0 <= p <= d for p, d in zip(pos, dims))

        box = " x ".join(f"{d:g}" for d in dims)
        if mpos is not None and _vec3(mpos) and not inside(mpos):
            problems.append(f"room.mic_position_m {mpos} lies outside the {box} m room")
        for sp in speakers:
            if sp.position_m is not None and not inside(sp.position_m):
                problems.append(f"speaker {sp.name} position_m {list(sp.position_m)} lies outside the {box} m room")

    sections = {}
    for sec in PASS_THROUGH_SECTIONS:
        if sec in data:
            if not isinstance(data[sec], dict):
                problems.append(f"[{sec}] must be a table")
            else:
                sections[sec] = dict(data[sec])

    # a real measurement never silently becomes a simulation: an empty or speaker-less room.toml
    # does not fall back to the built-in room and its L/R speakers
    if not isinstance(data.get("interface"), dict) or "device" not in data["interface"]:
        problems.append('[interface] device is missing: name the audio interface (see `roomtruth devices`), '
                        'or write device = "simulated" to rehearse on the built-in room')
    if "speakers" not in data and "subs" not in data:
        problems.append("no [[speakers]]: list every speaker with its name and output channel")
    if problems:
        where = str(path) if path else "room.toml"
        n = len(problems)
        raise ConfigError(f"{where} has {n} problem{'s' if n > 1 else ''}: "
                          + "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))
                          + "; fix them and run again")
    return RoomConfig(
        path=path,
        name=room["name"],
        dimensions_m=tuple(float(x) for x in dims) if dims is not None else None,
        mic_position_m=tuple(float(x) for x in mpos) if mpos is not None else None,
        device=str(dev),
        fs=int(fs),
        mic_input=int(iface["mic_input"]),
        loopback_input=int(iface["loopback_input"]) or None,
        loopback_output=int(iface["loopback_output"]) or None,
        speakers=tuple(speakers),
        mic_calibration_file=cal_path,
        mic_sensitivity_dbfs=None if sens is None else float(sens),
        sweep_f_start_hz=float(sw["f_start_hz"]),
        sweep_f_stop_hz=float(sw["f_stop_hz"]),
        sweep_duration_s=float(sw["duration_s"]),
        sweep_level_dbfs=float(sw["level_dbfs"]),
        sweep_preroll_s=float(sw["preroll_s"]),
        sweep_tail_s=float(sw["tail_s"]),
        repeats=int(sw["repeats"]),
        max_level_dbfs=float(safe["max_level_dbfs"]),
        min_snr_db=float(safe["min_snr_db"]),
        simulate_noise_db=float(sim["noise_db"]),
        sections=sections,
        input_device=str(idev).strip(),
        layout=(room["layout"].strip() or None) if isinstance(room["layout"], str) else None,
        watch_mic=(int(iface["watch_mic"]) or None),
        watch_gain_db=None if iface["watch_gain_db"] is None else float(iface["watch_gain_db"]),
    )


def load_room_config(path: str | Path) -> RoomConfig:
    """Read and validate ``room.toml`` (a file, or a room folder holding one).

    Raises
    ------
    ConfigError
        Missing file, TOML syntax error (with line), or every schema problem at once.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "room.toml"
    if not p.exists():
        raise ConfigError(f"{p}: no such file; create a room with `roomtruth init {p.parent}`")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not a text file; expected a TOML room file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}; fix the syntax and run again") from None
    return parse_room_config(data, path=p.resolve())


def _toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` exactly: quotes, backslashes and control characters
    (newlines, DEL) escaped; brackets need nothing inside a string.

    Raises
    ------
    ConfigError
        ``text`` holds bytes that are not UTF-8 text (a surrogate escape from the command line).
    """
    out = []
    for ch in str(text):
        o = ord(ch)
        if 0xD800 <= o <= 0xDFFF:
            raise ConfigError(f"the room name {text!r} holds bytes that are not UTF-8 text; give it as plain text")
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def room_template(*, name: str = "my room", device: str = "simulated", fs: int = 48000) -> str:
    """The commented ``room.toml`` that ``roomtruth init`` writes (it validates as is)."""
    from hardware.simulated import DEFAULT_ROOM_FACTS as F

    lx, ly, lz = F.dims_m
    mx, my, mz = F.mic_m
    sl, sr = F.speakers_m["L"], F.speakers_m["R"]
    return f'''# roomtruth room file.  Channel numbers count from 1, as on the interface.
# Every key is checked before any sound is played; unknown keys are errors.

[room]
name = {_toml_string(name)}
dimensions_m = [{lx}, {ly}, {lz}]      # length (front wall to rear wall), width, height
mic_position_m = [{mx}, {my}, {mz}]   # listening position: x from the front wall, y from the left wall, z up
# layout = "7.1.4"      # a standard layout (2.0, 2.1, 5.1, 7.1, 7.1.4, 9.1.6): names and nominal angles checked

[interface]
device = "{device}"     # a name or index from `roomtruth devices`; "simulated" = built-in room; "rig" = JACK virtual room
input_device = ""       # the recording device if it is another one (a USB mic); "" = the same as device
fs = {fs}
mic_input = 1           # the measurement mic
loopback_input = 2      # input wired back from the output (timing reference); 0 = none
loopback_output = 0     # dedicated output feeding the loopback input; 0 = it taps the speaker outputs
# watch_mic = 3         # input of a mic left at the listening position: monitor run checks the room from the music
# watch_gain_db = 0.0   # that mic's gain against the calibration mic, when known (the same mic, left in place)

[[speakers]]
name = "L"
output = 1
position_m = [{sl[0]}, {sl[1]}, {sl[2]}]

[[speakers]]
name = "R"
output = 2
position_m = [{sr[0]}, {sr[1]}, {sr[2]}]

# [[subs]]              # subwoofers (up to 4) come after the speakers (up to 16)
# name = "SUB"
# output = 3
# position_m = [0.5, 0.6, 0.3]

[mic]
calibration_file = ""   # e.g. "umik-1_90deg.txt" (miniDSP/UMIK, REW or DRC text), relative to this folder
# sensitivity_dbfs = -37.0   # dBFS read for a 94 dB SPL calibrator

[sweep]
f_start_hz = 10.0       # an octave below the lowest frequency of interest
f_stop_hz = 22000.0
duration_s = 5.0
level_dbfs = -12.0      # requested peak level; the level check adjusts it within max_level_dbfs
preroll_s = 0.5         # silence before the sweep (noise floor, SNR)
tail_s = 1.5            # silence after it (longer than the room's decay)
repeats = 1

[safety]
max_level_dbfs = -6.0   # nothing is ever played louder than this
min_snr_db = 30.0       # captures with less SNR are refused

[simulate]
noise_db = -80.0        # background noise of the simulated room (dBFS RMS)
'''
