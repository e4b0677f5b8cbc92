"""`roomtruth mix analyze` with everything on (issue 12's JSON contract), `--client` storage and
`roomtruth mix patterns` end to end on synthesized albums, the letter about patterns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixes.songs import make_song

SONG_S = 8.0
ALBUM_S = 20.0
# Albums on arbitrary seeds (songs in their own keys, modes, tempi), not seeds chosen where the
# vocal is found (mixes/balance.py compares a track with its reference, the same song, over the
# frames where both track the same sung pitch, and by the null test when they are the same song:
# mixes/balance_null.py).  Both albums give 8 of 10 (session 6; seeds 100-109 gave 7 of 9 before,
# track08's quiet vocal found in neither file).
ALBUMS = (tuple(range(0, 10)), tuple(range(100, 110)))


def _write(path, x, fs):
    sf.write(str(path), np.asarray(x).T, fs, subtype="FLOAT")
    return path


@pytest.fixture(scope="module", params=ALBUMS, ids=["seeds0-9", "seeds100-109"])
def album(request, tmp_path_factory):
    """Ten songs (own keys, tempi, reverb) with the vocal 2.5 dB low on eight of them, the
    same ten at their nominal balance as references, and a clean album of six (each song its
    own small balance decisions, +-0.5 dB)."""
    d = tmp_path_factory.mktemp("album")
    (d / "low").mkdir()
    (d / "refs").mkdir()
    (d / "clean").mkdir()
    low_ix = {0, 1, 2, 4, 5, 6, 8, 9}
    for i, seed in enumerate(request.param):
        s = make_song(seed, duration_s=ALBUM_S)
        _write(d / "low" / f"track{i:02d}.wav", s.mix({"voice": -2.5} if i in low_ix else None), s.fs)
        _write(d / "refs" / f"ref{i:02d}.wav", s.mix(), s.fs)
        if i < 6:
            g = float(np.random.default_rng(i).uniform(-0.5, 0.5))
            _write(d / "clean" / f"song{i:02d}.wav", s.mix({"voice": g, "bass": -g}), s.fs)
    return d, low_ix


CLICK_KEYS = {"time_s", "level_db", "audibility_db", "channel"}
ARTIFACT_KEYS = {"kind", "time_s", "channel", "detail"}
BALANCE_KEYS = {"bass_db", "vocal_db", "bass_vs_reference_db", "vocal_vs_reference_db", "vocal_found", "notes"}
STEREO_KEYS = {"bands_hz", "correlation", "mono_loss_db", "width", "lr_balance_db", "polarity_inverted",
               "low_end_wide", "problems"}
DYNAMICS_KEYS = {"plr_db", "crest_db_bands", "sections"}


def _check_contract(m, *, with_refs: bool):
    for c in m["clicks"]:
        assert CLICK_KEYS <= set(c)
    for a in m["artifacts"]:
        assert ARTIFACT_KEYS <= set(a)
    assert BALANCE_KEYS <= set(m["balance"])
    if not with_refs:
        assert m["balance"]["bass_vs_reference_db"] is None and m["balance"]["vocal_vs_reference_db"] is None
    st = m["stereo"]
    assert STEREO_KEYS <= set(st)
    assert st["bands_hz"][:3] == [31.5, 63.0, 125.0]
    assert len(st["correlation"]) == len(st["bands_hz"]) == len(st["mono_loss_db"]) == len(st["width"])
    for p in st["problems"]:
        assert {"kind", "time_s", "duration_s", "band_hz", "what"} <= set(p)
    if m["dynamics"] is not None:
        assert DYNAMICS_KEYS <= set(m["dynamics"])


def test_json_contract_with_planted_image_problems(run_cli, tmp_path):
    """One command, three files: a normal song, the same with the right channel inverted, and
    with a 2 dB left/right imbalance; a mono file has no image (null)."""
    s = make_song(301, duration_s=SONG_S, key=7)
    x = s.mix()
    normal = _write(tmp_path / "normal.wav", x, s.fs)
    inv = _write(tmp_path / "inverted.wav", x * np.array([[1.0], [-1.0]]), s.fs)
    lr = _write(tmp_path / "lr.wav", x * np.array([[10 ** (1 / 20)], [10 ** (-1 / 20)]]), s.fs)
    mono = _write(tmp_path / "mono.wav", x[:1], s.fs)
    code, out, err = run_cli("mix", "analyze", "--json", "--jobs", "1", str(normal), str(inv), str(lr), str(mono))
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"mixes", "failed"} and data["failed"] == []
    by = {m["file"].rsplit("/", 1)[-1]: m for m in data["mixes"]}
    for name in ("normal.wav", "inverted.wav", "lr.wav"):
        _check_contract(by[name], with_refs=False)
    assert by["mono.wav"]["stereo"] is None
    n, i, l = by["normal.wav"]["stereo"], by["inverted.wav"]["stereo"], by["lr.wav"]["stereo"]
    assert not n["polarity_inverted"] and not n["low_end_wide"] and not n["lr_imbalanced"] and n["problems"] == []
    assert i["polarity_inverted"] and i["problems"][0]["kind"] == "polarity_inverted"
    assert l["lr_imbalanced"] and l["lr_balance_db"] - n["lr_balance_db"] == pytest.approx(2.0, abs=0.02)
    # the human output says it too
    code, out, err = run_cli("mix", "analyze", str(inv))
    assert code == 0 and "Stereo image" in out and "inverted polarity" in out
    assert "Balance (against the mix's loudness)" in out and "Dynamics: PLR" in out


def _analyze_album(run_cli, d, folder, ref_prefix, client, ws, n):
    """Each track analysed against its own reference (the same song at its nominal balance:
    the "otherwise identical references" of issue 12), stored for the client; returns the JSON
    entries."""
    out_mixes = []
    for i, track in enumerate(sorted((d / folder).glob("*.wav"))[:n]):
        code, out, err = run_cli("mix", "analyze", "--json", "--client", client, "-w", str(ws),
                                 "-r", str(d / "refs" / f"{ref_prefix}{i:02d}.wav"), str(track))
        assert code == 0, err
        assert f"stored 1 mix for client {client}" in err
        out_mixes += json.loads(out)["mixes"]
    return out_mixes


def test_client_store_and_patterns_end_to_end(run_cli, album, tmp_path):
    d, low_ix = album
    ws = tmp_path / "ws"
    mixes = _analyze_album(run_cli, d, "low", "ref", "Mia Black", ws, 10)
    assert len(mixes) == 10
    for m in mixes:
        _check_contract(m, with_refs=True)
    assert len(list((ws / "clients" / "Mia-Black" / "mixes").glob("*.json"))) == 10
    code, out, err = run_cli("mix", "patterns", "--client", "Mia Black", "-w", str(ws), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["client"] == "Mia Black" and res["n_mixes"] == 10
    pats = res["patterns"]
    assert [p["measure"] for p in pats] == ["vocal_vs_reference"], [p["what"] for p in pats]
    p = pats[0]
    # a track without a vocal level would be named, not counted; since the null test against the
    # same-song reference (session 6, mixes/balance_null.py) both albums give 8 of 10 (seeds
    # 100-109 gave 7 of 9 before: track08's quiet vocal was found in neither file)
    missing = {e["file"] for e in p["evidence"] if e["with"] is None}
    assert not missing
    assert (p["tracks_with"], p["tracks_total"]) == (8, 10)
    assert p["tracks_with"] + len(missing & {f"track{i:02d}.wav" for i in low_ix}) == 8
    assert p["tracks_total"] + len(missing) == 10
    assert all(f in p["what"] for f in missing)
    assert {e["file"] for e in p["evidence"] if e["with"]} | missing >= {f"track{i:02d}.wav" for i in low_ix}
    # the balance measure is within +-1 dB of the offset (issue 12), so the median is too
    assert p["value_db"] == pytest.approx(-2.5, abs=1.0)
    assert set(p) >= {"what", "value_db", "tracks_with", "tracks_total", "evidence"}
    # the letter to the mix engineer names it
    code, out, err = run_cli("mix", "patterns", "--client", "Mia Black", "-w", str(ws), "--letter")
    said = f"{p['tracks_with']} of {p['tracks_total']} tracks"
    assert code == 0 and "Dear Mia Black" in out and said in out and "vocal" in out
    code, out, err = run_cli("mix", "patterns", "--client", "Mia Black", "-w", str(ws))
    assert code == 0 and said in out


def test_clean_album_has_no_pattern(run_cli, album, tmp_path):
    d, _ = album
    ws = tmp_path / "ws"
    _analyze_album(run_cli, d, "clean", "ref", "Ann Lee", ws, 6)
    code, out, err = run_cli("mix", "patterns", "--client", "Ann Lee", "-w", str(ws), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n_mixes"] == 6 and res["patterns"] == [], [p["what"] for p in res["patterns"]]
    code, out, err = run_cli("mix", "patterns", "--client", "Ann Lee", "-w", str(ws), "--letter")
    assert code == 0 and "nothing repeats" in out


def test_folder_with_references_and_client_runs_in_parallel(run_cli, album, tmp_path):
    """A folder through the process pool with shared references: every mix stored, the
    reference comparisons filled in."""
    d, _ = album
    ws = tmp_path / "ws"
    code, out, err = run_cli("mix", "analyze", "--json", "--jobs", "2", "--client", "Bo", "-w", str(ws),
                             "-r", str(d / "refs" / "ref00.wav"), "-r", str(d / "refs" / "ref01.wav"), str(d / "clean"))
    assert code == 0, err
    mixes = json.loads(out)["mixes"]
    assert len(mixes) == 6 and "stored 6 mixes for client Bo" in err
    for m in mixes:
        _check_contract(m, with_refs=True)
        assert m["balance"]["bass_vs_reference_db"] is not None
        assert m["dynamics"]["plr_vs_reference_db"] is not None
        # a figure against another song says so; the track's own song (song00 ~ ref00) is not named there
        other = [n for n in m["balance"]["notes"] if "different song" in n]
        assert len(other) == 1, m["balance"]["notes"]
        own = "ref" + Path(m["file"]).stem[-2:] + ".wav"
        named = {r for r in ("ref00.wav", "ref01.wav") if r in other[0]}
        assert named == {"ref00.wav", "ref01.wav"} - {own}, (m["file"], other)


def test_client_errors(run_cli, tmp_path):
    f = _write(tmp_path / "a.wav", np.zeros((2, 48000)), 48000)
    code, out, err = run_cli("mix", "analyze", "--client", "a\tb", "-w", str(tmp_path), str(f))
    assert code == 2 and err.startswith("error: client name") and not (tmp_path / "clients").exists()
    (tmp_path / "file").write_text("x")
    code, out, err = run_cli("mix", "analyze", "--client", "x", "-w", str(tmp_path / "file"), str(f))
    assert code == 2 and "is a file" in err
    code, out, err = run_cli("mix", "patterns", "--client", "Nobody", "-w", str(tmp_path))
    assert code == 2 and "no mixes stored for client 'Nobody'" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_patterns_letter_text():
    from reports.letter import pattern_paragraphs, write_letter, write_patterns_letter

    res = {"client": "Studio-Nord", "n_mixes": 10, "patterns": [
        {"what": "the vocal sits 2.5 dB lower than your references on 8 of 10 tracks", "measure": "vocal_vs_reference",
         "value_db": -2.5, "tracks_with": 8, "tracks_total": 10,
         "evidence": [{"file": f"t{i}.wav", "value_db": -2.5 if i < 8 else 0.1, "with": i < 8} for i in range(10)]}]}
    text = write_patterns_letter(res)
    assert text.startswith("Dear Studio Nord,") and "8 of 10 tracks" in text and "t8.wav, t9.wav" in text
    assert "quiet listening level" in text
    fp = {"studio": "Studio-Nord", "freqs_hz": [63.0, 125.0], "deviation_db": [3.0, 0.0], "confidence": [0.9, 0.9],
          "n_mixes": 10}
    both = write_letter(fp, patterns=res)
    assert "Across the tracks, beyond the room:" in both and "8 of 10" in both
    assert pattern_paragraphs({"patterns": []}) == []
