"""``roomtruth demo`` end to end, its report checked in a real browser (headless Chromium),
and ``roomtruth report`` on the workspace the demo leaves behind."""

from __future__ import annotations

import json
import re

import pytest

from reports.browser import check_in_browser, find_chromium
from reports.document import SECTIONS
from reports.html import external_references

needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="Debian package chromium is not installed")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    # `roomtruth demo -o DIR --json` through the CLI, run once per test process and shared with
    # tests/test_web_browser.py (each module gets its own copy): tests/demo_workspace.py
    from demo_workspace import demo_workspace

    return demo_workspace(tmp_path_factory.mktemp("demo") / "room")


def test_demo_writes_a_complete_workspace(demo_dir):
    assert (demo_dir / "report.html").is_file()
    assert (demo_dir / "room.toml").is_file()
    assert list(demo_dir.glob("measurements/*/measurement.json"))
    assert list(demo_dir.glob("measurements/*/L.ir.wav")) and list(demo_dir.glob("measurements/*/R.ir.wav"))
    assert (demo_dir / "profiles" / "demo" / "profile.json").is_file()
    # the demo corrects by the same rule as 'roomtruth correct': house target, broad cuts <= 3 dB
    from calib.profile import CalibrationProfile

    prof = CalibrationProfile.load(demo_dir / "profiles" / "demo")
    assert prof.target["kind"] == "house"
    assert prof.provenance["settings"]["peq"]["broad_max_cut_db"] == 3.0
    assert len(list((demo_dir / "mixes").glob("*.wav"))) == 3
    assert list(demo_dir.glob("studios/*/fingerprint.json"))
    from monitor.history import History

    with History(demo_dir / "history.sqlite", readonly=True) as h:
        rows = h.verifications()
        assert len(rows) == 3
        # the third simulated week has R 0.8 dB quieter: the history must hold that failure
        assert rows[0].verdict == "fail" and {r.verdict for r in rows[1:]} == {"pass"}
        level_r = h.series("level", channel="R")
        assert level_r[-1].value == pytest.approx(-0.8, abs=0.15)  # 0.15 dB: measurement noise + band median
        assert abs(level_r[0].value) < 0.15


def test_demo_report_content(demo_dir):
    text = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert external_references(text) == []
    imgs = re.findall(r'<img src="data:image/png;base64,', text)
    assert len(imgs) >= 6
    for sid, _title in SECTIONS:
        assert f'<section id="{sid}">' in text
    # every section past the summary and findings shows real figures from the demo room
    for sid in ("compliance", "measurements", "correction", "verification", "mixes"):
        body = text.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]
        assert '<img src="data:image/png;base64,' in body, sid
        assert "not available" not in body, sid
    # the simulated room's known truth shows up as findings
    from hardware.simulated import DEFAULT_ROOM_FACTS

    assert f"The right speaker arrives {DEFAULT_ROOM_FACTS.channel_delay_ms:.2f} ms late." in text
    # the third simulated week has R 0.8 dB quieter (roomtruth.demo._verify)
    assert ("The room no longer matches its calibration: the right speaker plays 0.8 dB quieter than when it was "
            "calibrated.") in text
    # one finding for the reverberation (not three), and no Python reprs in the compliance table
    assert text.count("The room is a little live") == 1 and "leaves the standard&#x27;s tolerance in" not in text
    compliance = text.split('<section id="compliance">', 1)[1].split("</section>", 1)[0]
    assert not re.search(r"\{'|\[\d|\d\]|_s\b|_hz\b", compliance), "raw Python values in the compliance section"
    assert "bands outside" in compliance
    # mixes: file names with real loudness figures, not the demo's temporary build folder
    mixes = text.split('<section id="mixes">', 1)[1].split("</section>", 1)[0]
    assert "<td>studio-nord-track1.wav</td>" in mixes and ".tmp" not in mixes
    assert len(re.findall(r"<td>-1\d\.\d LUFS</td>", mixes)) >= 3
    # the studio's room (+6 dB at 63 Hz, roomtruth.demo.STUDIO_ROOM_PEQ) makes its mixes bass-light
    assert "Dear Studio Nord team," in text
    assert "I noticed something in the low end" in text and "the mixes carry too little between" in text


@needs_chromium
def test_demo_report_displays_in_chromium(demo_dir):
    res = check_in_browser(demo_dir / "report.html")
    assert res.console == [], res.console
    assert res.images >= 6 and res.displayed == res.images
    assert set(res.sections) >= {sid for sid, _ in SECTIONS}
    assert all(h > 50 for h in res.sections.values()), res.sections  # every section is laid out with content
    assert res.title.startswith("Room report")


@needs_chromium
def test_browser_check_catches_console_errors_and_broken_images(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><title>t</title></head><body><section id="s"><p>x</p>'
                    '<img src="data:image/png;base64,AAAA"></section>'
                    '<script>console.error("boom from the page")</script></body></html>', encoding="utf-8")
    res = check_in_browser(page)
    assert any("boom from the page" in c for c in res.console)
    assert res.images == 1 and res.displayed == 0


@needs_chromium
def test_report_command_on_the_demo_workspace(demo_dir, run_cli, tmp_path):
    out = tmp_path / "weekly.html"
    code, stdout, err = run_cli("report", "--room", demo_dir, "-o", out, "--pdf", "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["figures"] >= 6 and summary["pdf_engine"] == "chromium"
    assert external_references(out.read_text(encoding="utf-8")) == []
    assert out.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    sentences = [f["sentence"] for f in summary["findings"]]
    assert sentences[0].startswith("The room no longer matches its calibration")
    # the mixes the studio's fingerprint was learnt from are found in the workspace and measured again
    text = out.read_text(encoding="utf-8")
    mixes = text.split('<section id="mixes">', 1)[1].split("</section>", 1)[0]
    assert mixes.count("<td>studio-nord-track") == 3 and "Dear Studio Nord team," in mixes
    assert summary["unavailable"] == {}
