"""Turn the results of every stage into a :class:`ReportDocument`: figures rendered, tables
filled, findings ranked, the letter written.

Each figure is built by one small function; when its data are missing the section records
why ("not available: ..."), and when drawing fails the failure is recorded in
``ReportDocument.problems`` (shown in the report and by the CLI) instead of aborting the
whole report.
"""

from __future__ import annotations

import math
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from reports.document import FigureEntry, ReportDocument, ReportInputs, Table
from reports.findings import ATTENTION, as_mapping, room_findings
from reports.cells import _fmt, _minus, _verification_limit, compliance_cells
from reports.style import figure_to_base64_png

__all__ = ["build_document", "load_display_limits", "tm_s", "figure_entry", "compliance_cells"]

_LIMITS_PATH = Path(__file__).with_name("data") / "report_limits.toml"


def load_display_limits() -> dict[str, Any]:
    """The display masks of ``reports/data/report_limits.toml``."""
    with open(_LIMITS_PATH, "rb") as fh:
        return tomllib.load(fh)


def tm_s(dims_m: Sequence[float] | None) -> float | None:
    """Target reverberation time ``Tm = 0.25·(V/100 m³)^(1/3)`` s (EBU Tech 3276, §3.2)."""
    if dims_m is None:
        return None
    v = float(np.prod([float(d) for d in dims_m]))
    return 0.25 * (v / 100.0) ** (1.0 / 3.0)


def figure_entry(key: str, section: str, title: str, caption: str, fig: Any) -> FigureEntry:
    uri = figure_to_base64_png(fig)
    return FigureEntry(key, section, title, caption, uri)


def _series(values: Any) -> list[tuple[str, list[Any]]]:
    """Decay values as a list of (suffix, per-band list): per channel when 2-D."""
    if values is None:
        return []
    if isinstance(values, Mapping):
        return [(str(k), list(v)) for k, v in values.items()]
    vals = list(values)
    if vals and isinstance(vals[0], (list, tuple, np.ndarray)):
        return [(str(i), list(v)) for i, v in enumerate(vals)]
    return [("", vals)]


class _Builder:
    def __init__(self, inp: ReportInputs, progress: Callable[[str], None] | None) -> None:
        self.inp = inp
        self.a = dict(as_mapping(inp.analysis))
        self.progress = progress or (lambda _msg: None)
        self.limits = load_display_limits()
        gen = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.doc = ReportDocument(title=f"Room report — {inp.room_name}",
                                  subtitle="Measurement, analysis, correction, verification and mixes",
                                  generated_utc=gen, meta=dict(inp.meta))
        self.doc.unavailable.update(inp.notes)

    # -------------------------------------------------------------- helpers
    def add_figure(self, key: str, section: str, title: str, caption: str, make: Callable[[], Any]) -> None:
        self.progress(f"figure: {title}")
        try:
            fig = make()
        except Exception as exc:  # noqa: BLE001 - a failing plot must not sink the report
            self.doc.problems.append(f"figure '{title}' could not be drawn: {type(exc).__name__}: {exc}")
            return
        self.doc.figures.append(figure_entry(key, section, title, caption, fig))

    def table(self, section: str, table: Table) -> None:
        self.doc.tables.setdefault(section, []).append(table)

    def text(self, section: str, paragraph: str) -> None:
        self.doc.texts.setdefault(section, []).append(paragraph)

    # -------------------------------------------------------------- sections
    def summary(self) -> None:
        inp, a = self.inp, self.a
        rows: list[tuple[str, str]] = [("Room", inp.room_name)]
        if inp.dims_m is not None:
            lx, ly, lz = (float(d) for d in inp.dims_m)
            rows.append(("Dimensions (L × W × H)", f"{lx:.2f} × {ly:.2f} × {lz:.2f} m"))
            rows.append(("Volume", f"{lx * ly * lz:.1f} m³"))
            rows.append(("Target reverberation time Tm (Tech 3276)", _fmt(tm_s(inp.dims_m), ".2f", "s")))
        if inp.ir is not None:
            rows.append(("Speakers measured", ", ".join(inp.ir.channel_names)))
            rows.append(("Sample rate", f"{inp.ir.fs} Hz"))
            if inp.ir.snr_db:
                rows.append(("Peak-to-noise ratio", ", ".join(f"{n} {_fmt(s, '.0f', 'dB')}"
                                                               for n, s in zip(inp.ir.channel_names, inp.ir.snr_db))))
        if a.get("schroeder_hz") is not None:
            rows.append(("Schroeder frequency", _fmt(a.get("schroeder_hz"), ".0f", "Hz")))
        decay = a.get("decay") or {}
        if decay.get("bands_hz") is not None:
            mid = self._mid_t(decay)
            if mid is not None:
                rows.append(("Mean reverberation time 200 Hz–4 kHz", _fmt(mid, ".2f", "s")))
        if inp.profile is not None:
            rows.append(("Correction profile", f"{inp.profile.name} ({inp.profile.content_hash()[:12]})"))
        if inp.verification is not None:
            v = as_mapping(inp.verification)
            when = f" ({v.get('time_utc')})" if v.get("time_utc") else ""
            rows.append(("Latest verification", str(v.get("verdict", v.get("overall", "—"))) + when))
        if inp.mixes:
            rows.append(("Mixes analyzed", str(len(inp.mixes))))
        n_att = sum(1 for f in self.doc.findings if f.level == ATTENTION)
        rows.append(("Findings needing attention", str(n_att)))
        self.doc.summary = rows

    def _mid_t(self, decay: Mapping[str, Any]) -> float | None:
        bands = np.asarray(decay.get("bands_hz"), dtype=np.float64)
        for key in ("t30_s", "t20_s"):
            for _suffix, vals in _series(decay.get(key)):
                v = np.array([np.nan if x is None else float(x) for x in vals], dtype=np.float64)
                if v.shape != bands.shape:
                    continue
                sel = (bands >= 180) & (bands <= 4500) & np.isfinite(v)
                if sel.any():
                    return float(np.mean(v[sel]))
        return None

    def findings(self) -> None:
        self.progress("findings")
        self.doc.findings = room_findings(self.a or None, ir=self.inp.ir, dims_m=self.inp.dims_m,
                                          profile=self.inp.profile, verification=self.inp.verification)

    def compliance(self) -> None:
        checks = self.a.get("compliance")
        if not checks:
            self.doc.unavailable.setdefault("compliance", "not available: the room analysis did not report compliance "
                                                          "checks")
            return
        rows, status = [], []
        for c in checks:
            cm = as_mapping(c)
            passed = cm.get("passed", cm.get("verdict"))
            verdict = ("pass" if passed is True or passed == "pass" else
                       "—" if passed is None or passed == "skip" else "warn" if passed == "warn" else "fail")
            rows.append((*compliance_cells(cm), verdict if verdict != "—" else "not judged"))
            status.append(verdict if verdict != "—" else "")
        self.table("compliance", Table("EBU Tech 3276 / ITU-R BS.1116 checks", ("Check", "Measured", "Limit", "Detail", "Verdict"),
                                       tuple(rows), tuple(status),
                                       note="Limits come from calib/data/compliance_limits.toml; several are unverified "
                                            "readings of the standards' figures (STANDARDS.md [U])."))

    def measurements(self) -> None:
        from reports import plots_response as pr
        from reports import plots_room as pm
        from reports import plots_time as pt

        ir, a = self.inp.ir, self.a
        if ir is None:
            self.doc.unavailable.setdefault("measurements", "not available: no measurement in this workspace")
            return
        self.add_figure("response", "measurements", "Frequency response",
                        "Magnitude at the listening position per speaker, unsmoothed (light) and 1/6-octave smoothed.",
                        lambda: pr.plot_response(ir))
        if ir.n_channels >= 2:
            pair = ("L", "R") if {"L", "R"} <= set(ir.channel_names) else ir.channel_names[:2]
            self.add_figure("lr", "measurements", "Left/right difference",
                            "Level difference between the two front speakers, 1/3-octave; the shaded band is the "
                            "±1 dB matching tolerance 250 Hz–2 kHz.", lambda: pr.plot_lr_difference(ir, pair=pair))
        self.add_figure("phase", "measurements", "Phase and group delay",
                        "Phase and group delay relative to the direct sound (time of flight removed), through a "
                        "15-cycle frequency-dependent window: the speaker and the early room, not the reverberant "
                        "tail. Group delay that rises at a frequency is energy arriving late there (a mode or a "
                        "strong reflection).",
                        lambda: pr.plot_phase_group_delay(ir))
        refl = [r for r in (a.get("reflections") or [])
                if as_mapping(r).get("channel") in (None, ir.channel_names[0])]
        self.add_figure("etc", "measurements", "Energy-time curve and early reflections",
                        "Reflections found by the analysis are marked with their arrival, level and likely surface; "
                        "the dashed line is Tech 3276's −10 dB within 15 ms.",
                        lambda: pt.plot_etc(ir, channel=0, reflections=refl))
        self.add_figure("waterfall", "measurements", "Waterfall (low end)",
                        "Cumulative spectral decay below 300 Hz: ridges that stay up are modes that keep ringing.",
                        lambda: pt.plot_waterfall(ir, channel=0))
        self.add_figure("spectrogram", "measurements", "Spectrogram",
                        "How the impulse response's energy decays over time and frequency.",
                        lambda: pt.plot_spectrogram(ir, channel=0))
        # modes
        modes = a.get("modes")
        if modes is not None or self.inp.dims_m is not None:
            from reports.findings import rayleigh_modes

            pred = list(a.get("predicted_modes") or [])
            if not pred and self.inp.dims_m is not None:
                pred = rayleigh_modes(self.inp.dims_m, max_hz=300.0)
            lf = {}
            grid = None
            for i, n in enumerate(ir.channel_names[:2]):
                grid, lf[n] = pr.smoothed_db(ir.samples[i], fs=ir.fs, fraction=24, lo_hz=15.0, hi_hz=300.0)
            self.add_figure("modes", "measurements", "Mode map",
                            "Detected modes (level above the local average, T60) over the low-frequency response; "
                            "below, the modes the room's dimensions predict.",
                            lambda: pm.plot_mode_map(modes or [], pred, lf_freqs_hz=grid, lf_level_db=lf,
                                                     schroeder_hz=a.get("schroeder_hz")))
        else:
            self.doc.unavailable.setdefault("modes", "mode map not available: no analysis and no room dimensions")
        self._decay_figure()
        self._distortion_figure()
        self._noise_figure()

    def _decay_figure(self) -> None:
        from reports import plots_room as pm

        decay = self.a.get("decay") or {}
        bands = decay.get("bands_hz")
        if bands is None:
            self.doc.unavailable.setdefault("decay", "decay per band not available: no room analysis")
            return
        names = list(self.inp.ir.channel_names) if self.inp.ir is not None else []
        series: dict[str, list[Any]] = {}
        per_channel = self.a.get("decay_per_channel") or {}
        for ch, table in per_channel.items():
            tm_ = as_mapping(table)
            if list(tm_.get("bands_hz", [])) == list(bands):
                vals = tm_.get("t30_s")
                if vals is None or all(v is None for v in vals):
                    vals, lab = tm_.get("t20_s"), "T20"
                else:
                    lab = "T30"
                series[f"{lab} {ch}"] = list(vals)
        if per_channel and decay.get("edt_s") is not None:
            series["EDT mean"] = list(decay["edt_s"])
        for key, label in (() if per_channel else (("t30_s", "T30"), ("t20_s", "T20"), ("edt_s", "EDT"))):
            for suffix, vals in _series(decay.get(key)):
                if suffix.isdigit() and int(suffix) < len(names):
                    suffix = names[int(suffix)]
                series[f"{label} {suffix}".strip()] = vals
            if len(series) >= 4:
                break
        mask = dict(self.limits["reverberation_mask"])
        tm = tm_s(self.inp.dims_m)
        for c in self.a.get("compliance") or ():
            cm = as_mapping(c)
            lim = cm.get("limit")
            # draw the analysis' own mask (absolute seconds) so the figure agrees with the verdict
            if cm.get("check") == "reverberation_mask" and isinstance(lim, Mapping) and tm is not None \
                    and lim.get("bands_hz") and lim.get("lower_s") and lim.get("upper_s"):
                mask = {"freqs_hz": lim["bands_hz"], "lower_s": [v - tm for v in lim["lower_s"]],
                        "upper_s": [v - tm for v in lim["upper_s"]]}
        caption = ("Decay time per octave band against Tech 3276's tolerance around Tm (mask read from the "
                   "standard's figure, unverified). Missing points had too little dynamic range.")
        judged = self._judged_third_octave_t()
        if judged is not None:
            # the figure shows what the compliance check judged: third-octave T against the
            # same mask, so the table, the finding and the figure agree band for band
            bands, series = judged
            caption = ("Reverberation time per third-octave band (mean of the speakers, as the compliance check "
                       "judges it) against Tech 3276's tolerance around Tm (mask read from the standard's figure, "
                       "unverified); ringed points lie outside. Missing points had too little dynamic range.")
        self.add_figure("decay", "compliance", "Reverberation time per band", caption,
                        lambda: pm.plot_decay(bands, series, tm_s=tm, mask_hz=mask["freqs_hz"],
                                              mask_lower_s=mask["lower_s"], mask_upper_s=mask["upper_s"]))

    def _judged_third_octave_t(self) -> tuple[list[float], dict[str, list[Any]]] | None:
        """(bands, {label: T}) of the reverberation_mask check (third-octave T, the values
        it judged), with the third-octave EDT on the same bands when the analysis has it."""
        for c in self.a.get("compliance") or ():
            cm = as_mapping(c)
            lim, val = cm.get("limit"), cm.get("value")
            if cm.get("check") != "reverberation_mask" or not isinstance(lim, Mapping) \
                    or not isinstance(val, (list, tuple)) or len(val) != len(lim.get("bands_hz") or ()):
                continue
            bands = [float(b) for b in lim["bands_hz"]]
            series: dict[str, list[Any]] = {"T (1/3 octave)": list(val)}
            third = as_mapping(self.a.get("decay_third_octave"))
            tb, edt = third.get("bands_hz"), third.get("edt_s")
            if tb is not None and edt is not None and len(tb) == len(edt):
                pick = []
                for b in bands:
                    j = int(np.argmin([abs(math.log2(float(x) / b)) for x in tb]))
                    pick.append(edt[j] if abs(math.log2(float(tb[j]) / b)) < 1 / 12 else None)
                series["EDT (1/3 octave)"] = pick
            return bands, series
        return None

    def _distortion_figure(self) -> None:
        from reports import plots_room as pm

        d = as_mapping(self.inp.analysis_detail.get("distortion") or self.a.get("distortion"))
        if d.get("channels"):  # RoomAnalysis.to_dict(): {"channels": {name: {...}}, "reason"}
            first = sorted(d["channels"])[0]
            d = dict(as_mapping(d["channels"][first]))
        if d.get("thd_db") is None and d.get("thd_pct") is not None:
            pct = np.asarray(d["thd_pct"], dtype=np.float64)
            d["thd_db"] = 20.0 * np.log10(np.maximum(pct, 1e-9) / 100.0)
        f = d.get("freqs_hz")
        harm = d.get("harmonics_db") or d.get("harmonics")
        if f is None or not harm:
            reason = as_mapping(self.a.get("distortion")).get("reason") or "the measurement has no harmonic impulse " \
                                                                              "responses analysed"
            self.doc.unavailable.setdefault("distortion", f"distortion per harmonic not available: {reason}")
            return
        name = str(d.get("channel") or (self.inp.ir.channel_names[0] if self.inp.ir is not None else "L"))
        harmonics = {}
        for k, v in dict(harm).items():
            arr = np.asarray(v, dtype=np.float64)
            harmonics[int(str(k).lstrip("Hh"))] = arr[0] if arr.ndim == 2 else arr
        thd = d.get("thd_db")
        if thd is not None:
            thd = np.asarray(thd, dtype=np.float64)
            thd = thd[0] if thd.ndim == 2 else thd
        self.add_figure("distortion", "measurements", "Harmonic distortion",
                        "Each harmonic's level relative to the fundamental, from the harmonic impulse responses of "
                        "the sweep; dashed: BS.1116's monitor limits (unverified).",
                        lambda: pm.plot_distortion(np.asarray(f, dtype=np.float64), harmonics, channel=name, thd_db=thd))

    def _noise_figure(self) -> None:
        from reports import plots_room as pm

        n = as_mapping(self.inp.analysis_detail.get("noise") or self.a.get("noise"))
        bands = n.get("bands_hz")
        levels = n.get("levels_db_spl", n.get("level_db", n.get("levels_db")))
        if bands is None or len(bands) == 0 or levels is None:
            self.doc.unavailable.setdefault("noise", "background noise spectrum not available: no silent pre-roll "
                                                     "was analysed")
            return
        calibrated = bool(n.get("calibrated", "levels_db_spl" in n or n.get("unit") == "dB SPL"))
        nr = n.get("nr", n.get("nr_rating"))
        self.add_figure("noise", "compliance", "Background noise",
                        "Octave-band background noise at the listening position against NR curves."
                        if calibrated else
                        "Octave-band background noise at the listening position, in dBFS: without an SPL "
                        "calibration of the microphone it cannot be rated against the NR curves (calibrate with "
                        "`roomtruth spl-cal` to get the NR rating).",
                        lambda: pm.plot_noise(bands, levels, rating_nr=None if nr is None else float(nr),
                                              calibrated=calibrated))

    def correction(self) -> None:
        from reports import plots_response as pr

        prof = self.inp.profile
        if prof is None:
            self.doc.unavailable.setdefault("correction", "not available: no correction profile was designed yet "
                                                          "(`roomtruth correct MEASUREMENT_DIR --out ROOM/profiles/NAME`)")
            return
        rows = []
        peq_rows = []
        for s in prof.speakers:
            fir = ", ".join(f"{len(t)} taps @ {fs} Hz" for fs, t in sorted(s.fir.items())) or "—"
            rows.append((s.name, str(s.output_channel + 1), _fmt(s.trim_db + prof.preamp_db, "+.1f", "dB"),
                         _fmt(s.delay_s * 1000.0, ".3f", "ms"), "+" if s.polarity > 0 else "inverted",
                         str(len(s.peq)), fir))
            for bq in s.peq:
                peq_rows.append((s.name, bq.kind, _fmt(bq.freq_hz, ".1f", "Hz"), _fmt(bq.gain_db, "+.1f", "dB"),
                                 _fmt(bq.q, ".2f")))
        self.table("correction", Table(f"Profile “{prof.name}” (content hash {prof.content_hash()[:16]}…)",
                                       ("Speaker", "Output", "Gain", "Delay", "Polarity", "PEQ bands", "FIR"),
                                       tuple(rows)))
        if peq_rows:
            self.table("correction", Table("Parametric EQ", ("Speaker", "Type", "Frequency", "Gain", "Q"),
                                           tuple(peq_rows)))
        target = dict(prof.target) if prof.target else {}
        if target:
            words = f"Target: {target.get('kind', 'custom')}"
            rng = target.get("range_hz")
            if isinstance(rng, (list, tuple)) and len(rng) == 2:
                words += f"; the correction works from {float(rng[0]):g} Hz to {float(rng[1]):g} Hz and leaves the " \
                         "rest as the speakers and room make it"
            self.text("correction", words + ".")
        ir, after = self.inp.ir, self.inp.corrected_ir
        if ir is None:
            return
        mask = self.limits["response_mask"]
        for i, name in enumerate(ir.channel_names):
            f, before = pr.smoothed_db(ir.samples[i], fs=ir.fs, fraction=6, lo_hz=20.0, hi_hz=20_000.0, per_octave=24)
            aft = None
            if after is not None and name in after.channel_names:
                _, aft = pr.smoothed_db(after.channel(name), fs=after.fs, fraction=6, lo_hz=20.0, hi_hz=20_000.0,
                                        per_octave=24)
            band = (f >= 250) & (f <= 2000)
            ref_b = float(np.mean(before[band]))
            ref_a = float(np.mean(aft[band])) if aft is not None else ref_b
            tgt = self._target_db(f, target, name)
            lo = np.interp(np.log10(f), np.log10(mask["freqs_hz"]), mask["lower_db"])
            hi = np.interp(np.log10(f), np.log10(mask["freqs_hz"]), mask["upper_db"])
            b_rel = before - ref_b
            a_rel = aft - ref_a if aft is not None else None
            self.add_figure(f"before_after_{name}", "correction", f"Before and after, speaker {name}",
                            "1/6-octave response before and after correction, each relative to its mean level "
                            "250 Hz–2 kHz, with the target and the Tech 3276 operational-response tolerance "
                            "(shape unverified).",
                            lambda f=f, b=b_rel, a=a_rel, t=tgt, lo=lo, hi=hi, name=name: pr.plot_before_after(
                                f, b, a, target_db=t, tol_lower_db=lo, tol_upper_db=hi, channel=name))
        if after is None:
            self.text("correction", "The response after correction was not measured in this report.")

    def _target_db(self, f: np.ndarray, target: Mapping[str, Any], speaker: str) -> np.ndarray:
        """The target curve on ``f``, relative to its mean 250 Hz–2 kHz (as the before/after
        curves): the designer's own curve for this speaker when its report is at hand, else
        from the profile's target description (flat, ``tilt_db_per_octave``, or points)."""
        band = (f >= 250) & (f <= 2000)
        rep = self.inp.correction_report
        for sr in getattr(rep, "speakers", ()) or ():
            if getattr(sr, "name", None) == speaker and getattr(sr, "target_db", None) is not None:
                t = np.interp(np.log10(f), np.log10(np.asarray(sr.freqs_hz, dtype=np.float64)),
                              np.asarray(sr.target_db, dtype=np.float64))
                return t - float(np.mean(t[band]))
        fx = target.get("points_hz", target.get("freqs_hz"))
        lv = target.get("points_db", target.get("levels_db"))
        if fx is not None and lv is not None and len(fx) >= 2:
            t = np.interp(np.log10(f), np.log10(np.asarray(fx, dtype=np.float64)), np.asarray(lv, dtype=np.float64))
        else:
            tilt = target.get("tilt_db_per_octave", target.get("tilt_db_per_oct", 0.0)) or 0.0
            t = float(tilt) * np.log2(f / 1000.0)
        return t - float(np.mean(t[band]))

    def verification(self) -> None:
        from reports import plots_history as ph

        v = as_mapping(self.inp.verification)
        if v:
            rows, status = [], []
            n_band_pass = 0
            for c in v.get("checks", ()):
                cm = as_mapping(c)
                unit = str(cm.get("unit", "") or "")
                band = cm.get("band_hz")
                name = str(cm.get("name", "")).replace("_", " ")
                verdict = str(cm.get("verdict", ""))
                if band is not None and math.isfinite(float(band)):
                    if verdict == "pass":
                        n_band_pass += 1
                        continue
                    from calib.analysis.bands import nominal_label

                    name += f" {nominal_label(float(band))} Hz"
                rows.append((name, str(cm.get("channel", "")), _minus(_fmt(cm.get("value"), ".2f", unit)),
                             _verification_limit(str(cm.get("name", "")), cm.get("limit"), unit),
                             _fmt(cm.get("uncertainty"), ".2f", unit), verdict))
                status.append(verdict)
            order = sorted(range(len(rows)), key=lambda i: {"fail": 0, "warn": 1}.get(status[i], 2))
            note = f"Failed and warning checks first. {n_band_pass} third-octave band checks passed (not listed)." \
                if n_band_pass else "Failed and warning checks first."
            self.table("verification", Table(f"Latest verification: {v.get('verdict', '—')}"
                                             + (f" ({v.get('time_utc')})" if v.get("time_utc") else ""),
                                             ("Check", "Speaker", "Measured", "Limit", "Uncertainty", "Verdict"),
                                             tuple(rows[i] for i in order), tuple(status[i] for i in order), note=note))
        if self.inp.history_rows:
            rows = []
            status = []
            for r in list(self.inp.history_rows)[:20]:
                rm = as_mapping(r)
                # the verdict last: the table style colours the last cell by the row's status
                rows.append((str(rm.get("time_utc", "")), str(rm.get("profile_name", "")),
                             str(rm.get("profile_hash", ""))[:12], str(len(rm.get("checks", ()) or ())),
                             str(rm.get("verdict", ""))))
                status.append(str(rm.get("verdict", "")))
            self.table("verification", Table("Verification history (newest first)",
                                             ("Time (UTC)", "Profile", "Hash", "Checks", "Verdict"), tuple(rows),
                                             tuple(status)))
        series = {k: v for k, v in self.inp.history_series.items() if v}
        if series:
            self.add_figure("drift", "verification", "Drift over time",
                            "Each check's deviation from the calibration at every verification, with its uncertainty "
                            "(shaded) and limit (dashed); red crosses failed.", lambda: ph.plot_drift(series))
        if not v and not series:
            self.doc.unavailable.setdefault("verification", "not available: the room has not been verified yet "
                                                            "(`roomtruth verify --room ROOM` after a correction)")

    def mixes(self) -> None:
        from reports.letter import write_letter

        patterns = [p for p in (self.inp.meta.get("client_patterns") or []) if isinstance(p, Mapping)]
        if patterns:
            self._patterns(patterns)
        if not self.inp.mixes and self.inp.fingerprint is None:
            if patterns:
                return
            self.doc.unavailable.setdefault("mixes", "not available: no mixes were analyzed (`roomtruth mix "
                                                      "fingerprint --studio NAME --workspace ROOM MIX...`)")
            return
        rows = []
        for m in self.inp.mixes:
            mm = as_mapping(m)
            clicks = mm.get("n_clicks", mm.get("clicks"))
            if isinstance(clicks, (list, tuple)):
                clicks = len(clicks)
            # the file's name, not the folder it was analysed in (the demo builds in a temporary
            # folder; a client does not need the engineer's paths)
            label = str(mm.get("name") or mm.get("path") or mm.get("file") or "mix")
            bal = mm.get("balance") if isinstance(mm.get("balance"), Mapping) else {}
            st = mm.get("stereo") if isinstance(mm.get("stereo"), Mapping) else None
            stereo = "—" if st is None else (", ".join(sorted({str(p.get("kind", "")).replace("_", " ")
                                                               for p in st.get("problems") or []})) or "ok")
            rows.append((Path(label).name if ("/" in label or "\\" in label) else label,
                         _fmt(mm.get("integrated_lufs"), ".1f", "LUFS"), _fmt(mm.get("true_peak_dbtp"), ".1f", "dBTP"),
                         _fmt(mm.get("lra_lu", mm.get("loudness_range_lu")), ".1f", "LU"),
                         _fmt(mm.get("short_term_max_lufs", mm.get("max_short_term_lufs")), ".1f", "LUFS"), "—" if clicks is None else str(clicks),
                         _fmt(bal.get("vocal_db"), "+.1f", "dB") if bal.get("vocal_found") else "—",
                         _fmt(bal.get("bass_db"), "+.1f", "dB"), stereo))
        if rows:
            self.table("mixes", Table("Mixes", ("Mix", "Integrated", "True peak", "LRA", "Max short-term", "Clicks",
                                                "Vocal", "Low end", "Stereo image"), tuple(rows),
                                      note="Vocal and low end: level against the mix's loudness (dB); stereo image: "
                                           "what `roomtruth mix analyze` found (inverted polarity, wide low end, "
                                           "L/R imbalance, channel offset, bands cancelling in mono)."))
        extra = self.inp.meta.get("mix_figures")
        if extra:
            for entry in extra:
                self.doc.figures.append(entry)
        if self.inp.fingerprint is not None:
            self._fingerprint_figure()
            self.progress("letter")
            try:
                self.doc.letter = write_letter(self.inp.fingerprint, mixes=self.inp.mixes,
                                               per_mix_excess_db=self.inp.per_mix_excess_db,
                                               patterns=self._letter_patterns(patterns))
            except (ValueError, TypeError) as exc:
                self.doc.problems.append(f"the letter could not be written: {exc}")

    @staticmethod
    def _letter_patterns(patterns: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The client the letter speaks to: the one with the most analysed mixes."""
        return max(patterns, key=lambda p: int(p.get("n_mixes") or 0)) if patterns else None

    def _patterns(self, patterns: Sequence[Mapping[str, Any]]) -> None:
        """A table per client of what was consistent across their tracks (``mix patterns``), and
        the letter about it when no studio fingerprint writes one."""
        from reports.letter import write_patterns_letter

        for res in patterns:
            rows = tuple((str(p.get("what", "")), f"{p.get('tracks_with')} of {p.get('tracks_total')}",
                          _fmt(p.get("value_db"), "+.1f", "dB") if p.get("value_db") is not None else "—")
                         for p in res.get("patterns") or [])
            if not rows:
                rows = (("nothing repeats from track to track", f"— of {res.get('n_mixes')}", "—"),)
            self.table("mixes", Table(f"Patterns across the {res.get('n_mixes')} mixes of {res.get('client')}",
                                      ("Consistent finding", "Tracks", "Median"), rows))
        if self.inp.fingerprint is None:
            try:
                self.doc.letter = write_patterns_letter(self._letter_patterns(patterns))
            except (ValueError, TypeError) as exc:
                self.doc.problems.append(f"the letter could not be written: {exc}")

    def _fingerprint_figure(self) -> None:
        from reports.letter import normalise_fingerprint
        from reports.plots_mixes import plot_fingerprint

        try:
            fp = normalise_fingerprint(self.inp.fingerprint)
        except (ValueError, TypeError) as exc:
            self.doc.problems.append(f"the studio fingerprint is unusable: {exc}")
            return
        n_mixes = str(fp["n_mixes"]) if fp["n_mixes"] else "studio's"
        self.add_figure("fingerprint", "mixes", f"Room fingerprint of {fp['studio']}",
                        f"How the {n_mixes} mixes deviate from the reference per third-octave "
                        "band (loudness-normalised long-term spectra); circled bands are the consistent ones the "
                        "letter talks about.",
                        lambda: plot_fingerprint(fp["bands_hz"], -fp["room_deviation_db"], fp["confidence"],
                                                 studio=fp["studio"], per_mix_db=self.inp.per_mix_excess_db))

    def run(self) -> ReportDocument:
        self.findings()
        self.summary()
        self.compliance()
        self.measurements()
        self.correction()
        self.verification()
        self.mixes()
        return self.doc


def build_document(inputs: ReportInputs, *, progress: Callable[[str], None] | None = None) -> ReportDocument:
    """Build the report (figures rendered to PNG) from the results of every stage.

    ``progress`` is called with a short description before each step (for a progress bar).
    """
    return _Builder(inputs, progress).run()
