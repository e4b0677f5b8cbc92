"""The self-contained HTML report and the PDF: every section, embedded figures, no external
references, escaping, atomic writes, "not available" notes; ``roomtruth report`` errors."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse
from reports.build import build_document, tm_s
from reports.document import SECTIONS, ReportInputs
from reports.html import external_references, render_html, write_html

FS = 48_000


def _ir():
    n = FS // 4
    t = np.arange(n) / FS
    x = np.zeros((2, n))
    for i, d in enumerate((100, 112)):
        x[i, d] = 1.0
        x[i, d + 100] = 0.5
        x[i, d:] += 0.02 * np.exp(-6.9 / 0.5 * t[: n - d]) * np.sin(2 * np.pi * 47 * t[: n - d])
    return ImpulseResponse(x, FS, ("L", "R"), arrival_samples=(100.0, 112.0), snr_db=(80.0, 79.0))


@pytest.fixture(scope="module")
def doc():
    analysis = {"schroeder_hz": 150.0, "modes": [{"freq_hz": 47.0, "level_db": 7.0, "t60_s": 0.5}],
                "reflections": [{"delay_ms": 2.1, "level_db": -6.0, "surface": "desk"}],
                "decay": {"bands_hz": [125, 250, 500, 1000], "t30_s": [0.4, 0.3, None, 0.28], "edt_s": [0.3] * 4},
                "noise": {"bands_hz": [63, 125, 250], "level_db": [40.0, 30.0, 20.0], "unit": "dB SPL", "nr": 12.0},
                "compliance": [{"check": "early_reflections", "value": -6.0, "limit": -10.0, "passed": False,
                                "unit": "dB"}]}
    prof = CalibrationProfile("main", (SpeakerCorrection("L", 0, delay_s=12 / FS, peq=(Biquad("peaking", 47, -7, 8),)),
                                       SpeakerCorrection("R", 1, peq=(Biquad("peaking", 47, -7, 8),))), preamp_db=-1.0)
    inp = ReportInputs("Room <A & B>", ir=_ir(), analysis=analysis, dims_m=(5.2, 3.65, 2.6), profile=prof,
                       corrected_ir=_ir(), mixes=[{"file": "a.wav", "integrated_lufs": -14.0, "true_peak_dbtp": -1.1}],
                       fingerprint={"studio": "Nord", "n_mixes": 3, "freqs_hz": [63, 125], "deviation_db": [-5.0, 0.0],
                                    "confidence": [0.9, 0.9]})
    return build_document(inp)


def test_tm_formula():
    # Tm = 0.25 (V/100)^(1/3): 80 m^3 -> 0.232 s, 200 m^3 -> 0.315 s (STANDARDS.md §3.2 examples)
    assert tm_s((4.0, 4.0, 5.0)) == pytest.approx(0.232, abs=0.0005)
    assert tm_s((10.0, 5.0, 4.0)) == pytest.approx(0.315, abs=0.0005)


def test_sections_figures_and_no_external_references(doc):
    text = render_html(doc)
    assert external_references(text) == []
    for sid, title in SECTIONS:
        assert f'<section id="{sid}"><h2>' in text, sid
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(imgs) == len(doc.figures) >= 10
    for b64 in imgs:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in text.lower()
    assert "Room &lt;A &amp; B&gt;" in text and "Room <A & B>" not in text  # escaped
    assert "An early reflection at 2.1 ms, \u22126 dB: likely the desk." in text
    assert "Letter to the mix engineer" in text and "Dear Nord team," in text
    assert "distortion per harmonic not available" in text  # said honestly, not hidden


def test_missing_stages_say_not_available():
    d = build_document(ReportInputs("empty room"))
    text = render_html(d)
    assert external_references(text) == []
    for needle in ("not available: no measurement in this workspace", "not available: no correction profile",
                   "not available: the room has not been verified yet", "not available: no mixes were analyzed"):
        assert needle in text
    assert d.figures == []


def test_external_reference_detector_negative_controls():
    assert external_references('<img src="https://example.com/a.png">')
    assert external_references("<link href='//cdn.example/x.css'>")
    assert external_references("<style>@import 'x.css';</style>")
    assert external_references("<style>body{background:url(http://x/y.png)}</style>")
    assert external_references('<a href="#findings">ok</a><img src="data:image/png;base64,AAAA">') == []


def test_write_is_atomic(doc, tmp_path):
    out = write_html(doc, tmp_path / "r.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temp file left behind


def test_pdf_without_a_browser(doc, tmp_path):
    from reports.pdf import write_pdf

    path, engine = write_pdf(doc, None, tmp_path / "r.pdf", prefer_browser=False)
    assert engine == "matplotlib"
    data = path.read_bytes()
    assert data[:5] == b"%PDF-" and data.count(b"/Type /Page") >= len(doc.figures)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf"]


# ------------------------------------------------------------------ CLI errors
def test_report_cli_errors(run_cli, tmp_path):
    code, out, err = run_cli("report", "--room", tmp_path / "nope", "-o", tmp_path / "r.html")
    assert code == 2 and "does not exist" in err and err.startswith("error: ")
    code, out, err = run_cli("report", "--room", tmp_path, "-o", tmp_path / "r.html")
    assert code == 2 and "no measurement in" in err
    code, out, err = run_cli("report", "--room", tmp_path, "-o", tmp_path / "r.txt")
    assert code == 2 and "should end in .html" in err
    (tmp_path / "adir.html").mkdir()
    code, out, err = run_cli("report", "--room", tmp_path, "-o", tmp_path / "adir.html")
    assert code == 2 and "is a folder" in err
    assert not (tmp_path / "r.html").exists()


def test_demo_refuses_a_foreign_folder(run_cli, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    code, out, err = run_cli("demo", "-o", tmp_path)
    assert code == 2 and "holds other files" in err
    assert (tmp_path / "precious.txt").read_text() == "keep me"


# ------------------------------------------------------------------ readable compliance cells
def test_compliance_cells_are_sentences_not_python_reprs():
    from reports.build import compliance_cells

    mask = {"bands_hz": [100.0, 125.9, 158.5], "lower_s": [0.1] * 3, "upper_s": [0.4, 0.3, 0.3]}
    resp = {"bands_hz": [63.1, 79.4], "lower_db": [-5.6, -5.1], "upper_db": [3.9, 3.7]}
    checks = [
        {"check": "reverberation_mask", "value": [0.5, 0.3, 0.25], "limit": mask, "passed": False, "unit": "s"},
        {"check": "room_response", "value": {"L": [0.0, -2.0], "R": [0.5, -8.8]}, "limit": resp, "passed": False,
         "unit": "dB"},
        {"check": "reverberation_adjacent", "value": 1, "limit": {"max_diff_s": 0.05, "max_ratio": 0.25,
                                                                  "split_hz": 300.0}, "passed": False,
         "unit": "violations", "detail": "100/125 Hz differ by 40 %"},
        {"check": "level_matching", "value": 0.28, "limit": {"any_pair_db": 1.0, "front_pair_db": 0.5},
         "passed": True, "unit": "dB", "detail": "largest L/R"},
        {"check": "proportions", "value": [1.0, 1.49, 2.122], "limit": "BS.1116 §3.1 inequality", "passed": True,
         "unit": "ratio to height"},
        {"check": "background_noise", "value": None, "limit": 15.0, "passed": None, "unit": "NR"},
        {"check": "early_reflections", "value": -6.42, "limit": -10.0, "passed": False, "unit": "dB re direct"},
        {"check": "floor_area", "value": 18.98, "limit": [20.0, 60.0], "passed": False, "unit": "m²"},
    ]
    cells = {c["check"]: compliance_cells(c) for c in checks}
    for row in cells.values():
        for cell in row:
            assert not any(ch in cell for ch in "{}[]'_"), row  # no dict/list reprs, no snake_case keys
    # 100 Hz: 0.50 s against a 0.40 s upper limit; 125 Hz exactly on its limit counts as inside
    assert cells["reverberation_mask"][1:] == ("1 of 3 bands outside", "Tech 3276 mask around Tm (figure below)",
                                                "furthest at 100 Hz: 0.50 s, limit 0.40 s")
    assert cells["room_response"][1] == "1 of 4 band levels outside"
    assert cells["room_response"][3] == "furthest: R 80 Hz \u22128.8 dB (tolerance \u22125.1 to +3.7 dB)"
    assert cells["reverberation_adjacent"][1:3] == ("1 step too large", "≤ 0.05 s apart above 300 Hz, ≤ 25 % below")
    assert cells["level_matching"][2] == "front pair < 0.5 dB, any two ≤ 1 dB"
    assert cells["proportions"][1] == "1.00 : 1.49 : 2.12 (H : W : L)"
    assert cells["background_noise"][1:3] == ("—", "≤ NR 15")
    assert cells["early_reflections"][1:3] == ("\u22126.42 dB re direct", "≤ \u221210 dB re direct")
    assert cells["floor_area"][1:3] == ("19.0 m²", "20–60 m²")


def test_mix_table_shows_file_names_not_folders():
    inp = ReportInputs("r", mixes=[{"file": "/tmp/x/.demo.abc.tmp/mixes/track1.wav", "integrated_lufs": -14.0}])
    text = render_html(build_document(inp))
    assert "<td>track1.wav</td>" in text and ".demo.abc.tmp" not in text


def test_report_and_demo_refuse_unwritable_outputs_before_any_work(run_cli, tmp_path):
    """One line, exit 2, nothing written: an output under a file, --room that is a file, a
    PDF path that is a folder (checked before the minutes of analysis and drawing)."""
    blocker = tmp_path / "room.toml"
    blocker.write_text("x")
    code, out, err = run_cli("report", "--room", tmp_path, "-o", blocker / "r.html")
    assert code == 2 and err.startswith("error: cannot write an HTML report") and "is a file, not a folder" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, out, err = run_cli("report", "--room", blocker, "-o", tmp_path / "r.html")
    assert code == 2 and "is a file; pass the workspace folder" in err
    (tmp_path / "r.pdf").mkdir()
    code, out, err = run_cli("report", "--room", tmp_path, "-o", tmp_path / "r.html", "--pdf")
    assert code == 2 and "which is a folder" in err
    code, out, err = run_cli("demo", "-o", blocker / "demo")
    assert code == 2 and "cannot write the demo folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf", "room.toml"]


def test_report_refuses_a_read_only_folder(run_cli, tmp_path, monkeypatch):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    # root ignores permission bits, so the refusal is checked through os.access itself
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.fspath(p) == os.fspath(ro) else real_access(p, mode))
    code, out, err = run_cli("report", "--room", tmp_path, "-o", ro / "r.html")
    assert code == 2 and "is not writable" in err
    assert list(ro.iterdir()) == []


def test_report_says_which_fingerprint_mixes_are_gone(tmp_path):
    from roomtruth.report_load import _fingerprint_mixes

    notes: dict[str, str] = {}
    assert _fingerprint_mixes(tmp_path, {"files": ["a/gone1.wav", "/nowhere/gone2.wav"]}, notes) == []
    assert notes["mixes"].startswith("loudness figures not available for 2 of the fingerprint's mixes "
                                     "(gone1.wav, gone2.wav)")
    assert _fingerprint_mixes(tmp_path, {"files": []}, {}) == []


def test_verification_tables_state_limits_the_way_they_are_judged():
    v = {"verdict": "fail", "time_utc": "2026-11-25T10:00:00Z", "checks": [
        {"name": "level", "channel": "R", "value": -0.8, "limit": 0.4, "unit": "dB", "verdict": "fail"},
        {"name": "polarity", "channel": "L", "value": 1.0, "limit": 0.0, "unit": "corr", "verdict": "pass"},
        {"name": "distortion", "channel": "L", "value": -73.9, "limit": -30.0, "unit": "dB", "verdict": "pass"}]}
    hist = [{"time_utc": "2026-11-25T10:00:00Z", "profile_name": "p", "profile_hash": "ab" * 8, "verdict": "fail",
             "checks": v["checks"]}]
    doc = build_document(ReportInputs("r", verification=v, history_rows=hist))
    latest, history = doc.tables["verification"]
    rows = {r[0]: r for r in latest.rows}
    assert rows["level"][2:4] == ("\u22120.80 dB", "±0.40 dB")  # a change either way
    assert rows["polarity"][3] == "≥ 0.00 corr" and rows["distortion"][3] == "≤ \u221230.00 dB"
    # the verdict is the last column (the table style colours the last cell by status)
    assert history.header[-1] == "Verdict" and history.rows[0][-1] == "fail"
    assert dict(doc.summary)["Latest verification"] == "fail (2026-11-25T10:00:00Z)"
