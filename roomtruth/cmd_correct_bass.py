"""``roomtruth correct --layout/--subs/--crossover-hz``: bass management and immersive layouts.

Called from :mod:`roomtruth.cmd_correct` when any of those options is given; returns the
profile, the correction report and the JSON additions (``bass_management``, ``alignment``,
``layout``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def _names(spec: str | None, what: str) -> list[str]:
    from calib.errors import ConfigError

    if not spec:
        return []
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if len(set(names)) != len(names):
        raise ConfigError(f"{what} {spec!r} names a speaker twice")
    return names


def parse_crossover(spec: str | float | None) -> tuple[float, dict[str, float]]:
    """``--crossover-hz``: ``80`` or ``80,C=100,Ltf=120`` -> (common Hz, per speaker Hz)."""
    from calib.errors import ConfigError

    if spec is None:
        return 80.0, {}
    common, per = 80.0, {}
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        name, _, val = part.rpartition("=")
        try:
            hz = float(val)
        except ValueError:
            raise ConfigError(f"--crossover-hz {spec!r}: {val!r} is not a frequency in Hz; give e.g. 80 or "
                              "80,C=100") from None
        if name:
            per[name.strip()] = hz
        else:
            common = hz
    return common, per


def _room_positions(inputs: Sequence[Path]) -> tuple[dict[str, Any], Any] | None:
    """Speaker positions and the main seat from the workspace's room.toml when the first input
    is a measurement folder inside a workspace (``ROOM/measurements/<stamp>``)."""
    p = Path(inputs[0])
    if not p.is_dir():
        return None
    toml = p.resolve().parent.parent / "room.toml"
    if not toml.is_file():
        return None
    from roomtruth.config import load_room_config

    try:
        cfg = load_room_config(toml)
    except Exception:       # the room file is checked by measure; here it only adds a check
        return None
    if cfg.mic_position_m is None:
        return None
    pos = {s.name: s.position_m for s in cfg.speakers if s.position_m is not None}
    return pos, cfg.mic_position_m


DISTANCE_TOLERANCE_M = 0.25


def _distance_check(res: dict[str, dict[str, Any]], seat: Any) -> list[str]:
    """Measured distance (arrival x 343.2 m/s, STANDARDS.md §8.1) against room.toml's geometry,
    when the loopback removed the interface latency; adds ``measured_distance_m`` to ``res``."""
    if not seat.latency_samples or not seat.arrival_samples:
        return []
    out = []
    for n, r in res.items():
        if n not in seat.channel_names:
            continue
        k = seat.channel_names.index(n)
        d = (seat.arrival_samples[k] - seat.onset_samples) / seat.fs * 343.2
        r["measured_distance_m"] = d
        if abs(d - r["distance_m"]) > DISTANCE_TOLERANCE_M:
            out.append(f"speaker {n} measures {d:.2f} m from the seat but room.toml places it {r['distance_m']:.2f} m "
                       "away: check its position in room.toml (or its wiring: is it the speaker named?)")
    return out


def alignment_json(profile: Any, main_seat: Any) -> dict[str, dict[str, Any]]:
    """Per speaker at the main seat: measured arrival and 500-2000 Hz level, the delay, trim and
    polarity of the profile, and the aligned arrival/level they give (mains; subs are aligned at
    the crossover instead)."""
    import numpy as np

    from calib.correction.alignment import arrival_s, band_level_db
    from calib.profile import peq_sos

    subs = set((profile.routing or {}).get("subs", ()))
    fs = main_seat.fs
    out = {}
    for s in profile.speakers:
        k = main_seat.channel_names.index(s.name)
        h = main_seat.samples[k]
        a, pol = arrival_s(h, fs=fs)
        e = {"arrival_ms": 1e3 * a, "delay_ms": 1e3 * s.delay_s, "trim_db": s.trim_db, "polarity": s.polarity,
             "measured_polarity": pol, "is_sub": s.name in subs}
        if s.name not in subs:
            e["level_db"] = band_level_db(h, fs=fs)
            if profile.routing and fs == profile.design_fs:
                # the whole path as it plays: routing (crossover, all-pass), preamp + trim, delay, correction
                from scipy.signal import fftconvolve

                from calib.exports.firwav import speaker_fir

                hc = fftconvolve(h, speaker_fir(profile, s.name, source=s.name))
                e["aligned_arrival_ms"] = 1e3 * arrival_s(hc, fs=fs)[0]
                e["aligned_level_db"] = band_level_db(hc, fs=fs) - profile.preamp_db
            else:
                hc = h
                if fs in s.fir:
                    hc = np.convolve(h, s.fir[fs])[: h.size]
                elif s.peq:
                    from scipy.signal import sosfilt

                    hc = sosfilt(peq_sos(s.peq, fs=fs), h)
                e["aligned_arrival_ms"] = 1e3 * (a + s.delay_s)
                e["aligned_level_db"] = band_level_db(hc, fs=fs) + s.trim_db
        out[s.name] = e
    mains = [v for v in out.values() if not v["is_sub"]]
    if len(mains) > 1:
        arr = [v["aligned_arrival_ms"] for v in mains]
        lev = [v["aligned_level_db"] for v in mains]
        out["spread"] = {"arrival_us": 1e3 * (max(arr) - min(arr)), "level_db": max(lev) - min(lev)}
    return out


def design(seats: list, settings: Any, *, inputs: Sequence[Path], seat_names: list[str], layout: str | None,
           subs: str | None, crossover_hz: str | float | None) -> tuple[Any, Any, dict[str, Any]]:
    """Design with a layout and/or subwoofers; returns (profile, report, json additions)."""
    from dataclasses import replace

    from calib.errors import ConfigError
    from calib.layouts import check_positions
    from calib.layouts import layout as get_layout

    lay = get_layout(layout) if layout else None
    sub_names = _names(subs, "--subs")
    names = list(seats[0].channel_names)
    if lay is not None and not sub_names and lay.has_lfe:
        # the layout's LFE channel needs a sub; take the measured channels that are not mains
        sub_names = [n for n in names if n not in lay.main_names]
    extra: dict[str, Any] = {}
    check = None
    placed = _room_positions(inputs)
    if lay is not None:
        clash = [n for n in sub_names if n in lay.main_names]
        if clash:
            raise ConfigError(f"--subs names {', '.join(clash)}, a main channel of layout {lay.name}; "
                              "name the subwoofer channels only")
    if lay is not None and placed is not None:
        res, warn = check_positions(lay, placed[0], placed[1])
        warn += _distance_check(res, seats[settings.main_seat])
        check = {"name": lay.name, "status": lay.status, "speakers": res, "warnings": warn}
    elif lay is not None:
        check = {"name": lay.name, "status": lay.status, "speakers": {}, "warnings": [],
                 "note": "no positions: measure inside a room workspace whose room.toml gives speaker positions "
                         "and mic_position_m to check angles and distances"}
    if sub_names:
        from calib.correction.bass import BassSettings, design_bass_managed

        common, per = parse_crossover(crossover_hz)
        bad = [n for n in per if n in sub_names or n not in names]
        if bad:
            raise ConfigError(f"--crossover-hz names {', '.join(bad)}, not a main speaker of the measurement")
        bass = BassSettings(crossover_hz=common, per_speaker_hz=per)
        prog = list(lay.channel_names) if lay is not None else [n for n in names if n not in sub_names] + ["LFE"]
        lfe = next((s.name for s in lay.speakers if s.lfe), None) if lay is not None else "LFE"
        if lay is not None and not lay.has_lfe:
            lfe = None
        profile, report, brep = design_bass_managed(seats, settings, bass, subs=sub_names, inputs=prog, lfe=lfe,
                                                    seat_names=seat_names,
                                                    sources=[str(Path(p).resolve()) for p in inputs],
                                                    layout_check=check)
        b = brep.to_json_dict()
        extra["bass_management"] = {"crossover_hz": b["crossover_hz"], "per_speaker": b["per_speaker"],
                                    "sum_deviation_db": b["sum_deviation_db"],
                                    "sum_deviation_before_db": b["sum_deviation_before_db"],
                                    "summed_response_db": b["summed_response_db"],
                                    "sub_spread_db": b["sub_spread_db"],
                                    "crossover_per_speaker_hz": b["crossover_per_speaker_hz"],
                                    "routing": {"inputs": profile.routing["inputs"],
                                                "outputs": profile.routing["outputs"]}}
    else:
        if crossover_hz is not None:
            raise ConfigError("--crossover-hz needs subwoofers: name them with --subs")
        from calib.correction.design import design_correction

        if lay is not None:
            missing = [m for m in lay.main_names if m not in names]
            if missing:
                raise ConfigError(f"layout {lay.name} has {', '.join(missing)} but the measurement holds no such speaker")
            # programme order
            order = [names.index(m) for m in lay.main_names]
            seats = [replace(s, samples=s.samples[order], channel_names=tuple(lay.main_names),
                             arrival_samples=tuple(s.arrival_samples[i] for i in order) if s.arrival_samples else (),
                             snr_db=tuple(s.snr_db[i] for i in order) if s.snr_db else ()) for s in seats]
        profile, report = design_correction(seats, settings, seat_names=seat_names,
                                            sources=[str(Path(p).resolve()) for p in inputs])
    main = seats[settings.main_seat]
    extra["alignment"] = alignment_json(profile, main)
    if check is not None:
        extra["layout"] = check
    return profile, report, extra


def print_summary(con: Any, extra: dict[str, Any]) -> None:
    """Human-readable lines for the bass management, alignment spread and layout check."""
    bm = extra.get("bass_management")
    if bm:
        con.print(f"bass management: crossover {bm['crossover_hz']:g} Hz (Linkwitz-Riley), routing "
                  f"{', '.join(bm['routing']['inputs'])} -> {', '.join(bm['routing']['outputs'])}")
        for n, p in bm["per_speaker"].items():
            ap = p.get("allpass")
            con.print(f"  {n}: delay {p['delay_ms']:.3f} ms, polarity {p['polarity']:+d}"
                      + (f", all-pass {ap['freq_hz']:.0f} Hz Q {ap['q']:.2f}" if ap else ""))
        for seat, d in bm["sum_deviation_db"].items():
            before = bm["sum_deviation_before_db"][seat]["worst_db"]
            con.print(f"  seat {seat}: sum vs power sum near the crossover, worst band {before:+.1f} dB before, "
                      f"{d['worst_db']:+.1f} dB after")
        if bm.get("sub_spread_db"):
            s = bm["sub_spread_db"]
            con.print(f"  subs: seat-to-seat spread 20-120 Hz {s['before']:.2f} dB (best single sub) -> {s['after']:.2f} dB")
    sp = (extra.get("alignment") or {}).get("spread")
    if sp:
        con.print(f"alignment at the main seat: arrivals within {sp['arrival_us']:.1f} us, levels within "
                  f"{sp['level_db']:.2f} dB (500-2000 Hz)")
    lay = extra.get("layout")
    if lay:
        for w in lay.get("warnings", []):
            con.print(f"[yellow]warning:[/yellow] {w}")
