"""Patterns across a client's tracks (mixes/patterns.py) and the client store (mixes/clients.py).

The pattern rule is tried on injected per-track figures (its statistics are the point here);
the end-to-end album through `roomtruth mix analyze --client` and `mix patterns` is in
tests/test_mix_analyze_contract.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calib.errors import ProfileError
from mixes.clients import client_dir, load_client, mix_record, store_mix, valid_client_name
from mixes.patterns import ALPHA, P_CHANCE, binomial_tail, find_patterns

BANDS = [31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000,
         2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000]


def _record(i, rng, *, vocal=0.0, bass=0.0, plr=0.0, lr=0.0, spectrum=None, low_end_wide=False, clicks=0,
            artifacts=(), scatter=0.4):
    """A stored record whose figures are the offsets plus measurement/song scatter (dB)."""
    dev = rng.normal(0, 1.0, len(BANDS))                    # song-to-song spectral variation
    if spectrum:
        lo, hi, db = spectrum
        dev += np.where((np.array(BANDS) >= lo) & (np.array(BANDS) < hi), db, 0.0)
    return {
        "file": f"/album/track{i:02d}.wav", "name": f"track{i:02d}.wav", "references": ["/refs/a.wav"],
        "balance": {"bass_db": -10.0, "vocal_db": -6.0, "vocal_found": True,
                    "vocal_vs_reference_db": vocal + rng.normal(0, scatter),
                    "bass_vs_reference_db": bass + rng.normal(0, scatter)},
        "dynamics": {"plr_db": 12.0, "plr_vs_reference_db": plr + rng.normal(0, scatter)},
        "stereo": {"lr_balance_db": lr + rng.normal(0, 0.3), "low_end_wide": low_end_wide,
                   "polarity_inverted": False},
        "ltas_vs_reference": {"freqs_hz": BANDS, "deviation_db": [round(float(v), 2) for v in dev]},
        "n_clicks": clicks, "artifacts": list(artifacts),
    }


@pytest.mark.parametrize("seed", range(6))
def test_vocal_low_on_8_of_10_is_the_only_pattern(seed):
    rng = np.random.default_rng(seed)
    low = set(rng.choice(10, 8, replace=False))
    recs = [_record(i, rng, vocal=-2.5 if i in low else 0.0) for i in range(10)]
    pats = find_patterns(recs)
    assert [p.measure for p in pats] == ["vocal_vs_reference"], [p.what for p in pats]
    p = pats[0]
    assert (p.tracks_with, p.tracks_total) == (8, 10)
    # the median of 8 draws of -2.5 + N(0, 0.4): within 0.5 dB (3.5 standard errors)
    assert p.value_db == pytest.approx(-2.5, abs=0.5)
    assert "vocal sits 2." in p.what and "lower than your references on 8 of 10 tracks" in p.what
    assert len(p.evidence) == 10 and sum(e["with"] for e in p.evidence) == 8
    assert {e["file"] for e in p.evidence if e["with"]} == {f"track{i:02d}.wav" for i in low}
    assert p.p_value == pytest.approx(binomial_tail(8, 10, P_CHANCE)) and p.p_value <= ALPHA


@pytest.mark.parametrize("seed", range(10))
def test_no_consistent_issue_gives_no_pattern(seed):
    """Individual mix decisions (a vocal low here, a bass high there), song-to-song spectra,
    one wide low end: nothing holds across the album."""
    rng = np.random.default_rng(100 + seed)
    recs = []
    for i in range(int(rng.integers(6, 13))):
        recs.append(_record(i, rng, vocal=float(rng.choice([-2.5, 0.0, 0.0, 2.0])),
                            bass=float(rng.choice([0.0, 0.0, 1.5, -1.5])), plr=float(rng.normal(0, 1.0)),
                            low_end_wide=bool(i == 0), clicks=int(i == 1), artifacts=("truncation",) if i == 2 else ()))
    assert find_patterns(recs) == []


def test_consistent_spectrum_wide_low_end_and_clicks():
    rng = np.random.default_rng(7)
    recs = [_record(i, rng, spectrum=(56, 180, 3.0), low_end_wide=i < 9, clicks=2 if i < 6 else 0)
            for i in range(10)]
    pats = {p.measure: p for p in find_patterns(recs)}
    assert set(pats) == {"spectrum_low end", "low_end_wide"}, [p.what for p in pats.values()]
    cut = pats["spectrum_low end"]
    # 5 bands of +3 dB + N(0, 1) each: the mean per track scatters 0.45 dB, the median less
    assert cut.tracks_with == 10 and cut.value_db == pytest.approx(3.0, abs=0.5)
    assert "low end needed the same cut of about" in cut.what
    assert "all 10 tracks" in cut.what
    assert pats["low_end_wide"].tracks_with == 9 and pats["low_end_wide"].value_db is None


def test_small_albums_and_missing_figures():
    rng = np.random.default_rng(3)
    # 3 of 3: p = 0.016 > 0.01, not enough evidence; 4 of 4: 0.004, reported
    assert find_patterns([_record(i, rng, vocal=-3.0) for i in range(3)]) == []
    pats = find_patterns([_record(i, rng, vocal=-3.0) for i in range(4)])
    assert [p.measure for p in pats] == ["vocal_vs_reference"] and "all 4 tracks" in pats[0].what
    # no vocal found on two tracks: they are not counted (8 of 8 with a vocal)
    recs = [_record(i, rng, vocal=-2.5) for i in range(10)]
    for r in recs[:2]:
        r["balance"]["vocal_found"] = False
    p = find_patterns(recs)[0]
    assert (p.tracks_with, p.tracks_total) == (8, 8)
    # ... and the sentence says so, with the tracks that have no vocal level in the evidence
    assert "8 tracks with a vocal level (no vocal level on 2: track00.wav, track01.wav)" in p.what
    assert [e["file"] for e in p.evidence if e["with"] is None] == ["track00.wav", "track01.wav"]
    # records without references or balance (an older run) do not break it
    assert find_patterns([{"file": "a.wav"}, {"file": "b.wav", "balance": None}]) == []
    assert binomial_tail(0, 5, 0.25) == 1.0 and binomial_tail(5, 5, 0.5) == pytest.approx(1 / 32)


def test_client_store_round_trip(tmp_path):
    mix = {"file": str(tmp_path / "Song One.wav"), "duration_s": 30.0, "integrated_lufs": -14.0,
           "balance": {"vocal_vs_reference_db": -2.0}, "dynamics": {"plr_db": 10.0},
           "stereo": {"lr_balance_db": 0.2, "low_end_wide": False, "over_time": {"times_s": [0.0]}},
           "clicks": [{"time_s": 1.0, "audibility_db": 4.0}], "artifacts": [{"kind": "truncation"}],
           "ltas_vs_reference": None}
    rec = mix_record(mix, references=["r.wav"])
    assert "over_time" not in rec["stereo"] and rec["n_clicks"] == 1 and rec["artifacts"] == ["truncation"]
    p1 = store_mix(tmp_path / "ws", "Mia Black", rec)
    assert p1.parent.parent == client_dir(tmp_path / "ws", "Mia Black")
    assert p1.parent.parent.name == "Mia-Black"
    p2 = store_mix(tmp_path / "ws", "Mia Black", {**rec, "integrated_lufs": -12.0})   # same file again
    assert p1 == p2
    name, recs, skipped = load_client(tmp_path / "ws", " Mia Black ")
    assert name == "Mia Black" and len(recs) == 1 and recs[0]["integrated_lufs"] == -12.0 and not skipped
    assert not list(p1.parent.glob("*.tmp*"))                # atomic: no temp files left
    # a damaged record is left out, said, not fatal
    (p1.parent / "broken-0000000000.json").write_text("{not json", encoding="utf-8")
    _, recs, skipped = load_client(tmp_path / "ws", "Mia Black")
    assert len(recs) == 1 and "broken" in skipped[0]
    # spellings of one name are one client; a folder holding another client is refused
    assert store_mix(tmp_path / "ws", "mia_black", rec).parent.parent.name == "mia_black"
    assert store_mix(tmp_path / "ws", "Mia+Black!", rec) == p1
    other = client_dir(tmp_path / "ws", "Ann Lee")
    other.mkdir(parents=True)
    (other / "client.json").write_text(json.dumps({"client": "Ann  Lee (old)"}), encoding="utf-8")
    with pytest.raises(ProfileError, match="distinct name"):
        store_mix(tmp_path / "ws", "Ann Lee", rec)
    with pytest.raises(ProfileError, match="no mixes stored for client 'Nobody'"):
        load_client(tmp_path / "ws", "Nobody")
    for bad in ("", "a\tb", "x" * 101):
        with pytest.raises(ProfileError, match="client name"):
            valid_client_name(bad)
    json.dumps(rec, allow_nan=False)


def test_report_shows_patterns_and_writes_the_letter(tmp_path):
    """The report's mixes section: a table per client and the letter, with or without a fingerprint."""
    from mixes.patterns import patterns_for_client
    from reports.build import build_document
    from reports.document import ReportInputs

    rng = np.random.default_rng(5)
    for i in range(10):
        store_mix(tmp_path, "Mia Black", _record(i, rng, vocal=-2.5 if i < 8 else 0.0))
    res = patterns_for_client(tmp_path, "Mia Black")
    assert res["n_mixes"] == 10 and [p["measure"] for p in res["patterns"]] == ["vocal_vs_reference"]
    doc = build_document(ReportInputs("room", meta={"client_patterns": [res]}))
    tables = doc.tables.get("mixes", [])
    assert any("Patterns across the 10 mixes of Mia Black" == t.title for t in tables)
    assert "Dear Mia Black" in doc.letter and "8 of 10 tracks" in doc.letter
    fp = {"studio": "Studio-Nord", "freqs_hz": [63.0, 125.0], "deviation_db": [3.0, 0.0], "confidence": [0.9, 0.9],
          "n_mixes": 10}
    doc = build_document(ReportInputs("room", fingerprint=fp, meta={"client_patterns": [res]}))
    assert "Dear Studio Nord" in doc.letter and "Across the tracks, beyond the room:" in doc.letter


def test_channel_offset_on_every_track_is_a_pattern():
    rng = np.random.default_rng(9)
    recs = [_record(i, rng) for i in range(6)]
    for r in recs:
        r["stereo"]["channel_offset_ms"] = 0.42            # a plugin's latency on one side
    pats = find_patterns(recs)
    assert [p.measure for p in pats] == ["channel_offset"] and pats[0].tracks_with == 6
    for r in recs[:5]:
        r["stereo"]["channel_offset_ms"] = None            # only one track: no pattern
    assert find_patterns(recs) == []


def test_spectral_pattern_within_the_references_own_spread_is_not_one():
    """+2.5 dB in the sub-bass on every track, but the references themselves differ by 4 dB
    there (songs in different keys): not beyond the references; with a 1.5 dB spread it is."""
    rng = np.random.default_rng(11)
    recs = [_record(i, rng, spectrum=(25, 56, 2.5), scatter=0.1) for i in range(8)]
    for r in recs:
        r["ltas_vs_reference"]["deviation_db"] = [2.5 if f < 56 else 0.0 for f in BANDS]
        r["ltas_vs_reference"]["tolerance_db"] = [4.0 if f < 56 else 1.5 for f in BANDS]
    assert find_patterns(recs) == []
    for r in recs:
        r["ltas_vs_reference"]["tolerance_db"] = [1.5 for _ in BANDS]
    assert [p.measure for p in find_patterns(recs)] == ["spectrum_sub-bass"]


def test_report_mix_table_shows_balance_and_stereo():
    from reports.build import build_document
    from reports.document import ReportInputs

    mixes = [{"file": "/x/a.wav", "integrated_lufs": -14.0, "true_peak_dbtp": -1.0, "clicks": [],
              "balance": {"vocal_found": True, "vocal_db": -3.2, "bass_db": -6.0},
              "stereo": {"problems": [{"kind": "polarity_inverted"}]}},
             {"file": "b.wav", "integrated_lufs": -15.0, "balance": {"vocal_found": False, "bass_db": -7.0},
              "stereo": {"problems": []}}]
    doc = build_document(ReportInputs("room", mixes=mixes))
    t = next(t for t in doc.tables["mixes"] if t.title == "Mixes")
    assert t.header[-3:] == ("Vocal", "Low end", "Stereo image")
    assert t.rows[0][-3:] == ("-3.2 dB", "-6.0 dB", "polarity inverted")
    assert t.rows[1][-3:] == ("—", "-7.0 dB", "ok")


def test_one_cause_is_said_once():
    """Bass 4 dB high on every track shows in the balance and in the low-end spectrum: one
    pattern (the balance), the spectral one folded into it."""
    rng = np.random.default_rng(21)
    recs = [_record(i, rng, bass=4.0, spectrum=(56, 180, 3.5)) for i in range(8)]
    pats = find_patterns(recs)
    assert [p.measure for p in pats] == ["bass_vs_reference"], [p.what for p in pats]
    assert pats[0].also and "low end needed the same cut" in pats[0].also[0]
    assert "also" in pats[0].to_dict()
    # a spectral pattern the other way round is not explained by it and stays
    recs = [_record(i, rng, bass=4.0, spectrum=(56, 180, -3.5)) for i in range(8)]
    assert {p.measure for p in find_patterns(recs)} == {"bass_vs_reference", "spectrum_low end"}


def test_report_loader_reads_every_client(tmp_path):
    """`roomtruth report` on a workspace: each client under clients/ gives its patterns; a
    damaged client folder is a note, not a failure."""
    from roomtruth.report_load import _client_patterns

    rng = np.random.default_rng(8)
    for i in range(5):
        store_mix(tmp_path, "Mia Black", _record(i, rng, vocal=-3.0))
        store_mix(tmp_path, "Ann Lee", _record(10 + i, rng))
    (tmp_path / "clients" / "Broken").mkdir()
    (tmp_path / "clients" / "Broken" / "client.json").write_text("{", encoding="utf-8")
    notes: dict = {}
    res = {r["client"]: r for r in _client_patterns(tmp_path, notes)}
    assert set(res) == {"Mia Black", "Ann Lee"}
    assert [p["measure"] for p in res["Mia Black"]["patterns"]] == ["vocal_vs_reference"]
    assert res["Ann Lee"]["patterns"] == []
    assert "Broken" in notes["mixes"]
