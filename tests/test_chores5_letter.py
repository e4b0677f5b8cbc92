"""The patterns letter keeps tracks without a figure (``"with": null`` in the evidence) apart
from the tracks without the pattern: "no vocal level on track08.wav" is not an exception."""

from __future__ import annotations


def _records(vocal_db: dict[str, float | None]) -> list[dict]:
    """``mix patterns`` records analysed against references; None = no vocal found."""
    out = []
    for name, v in vocal_db.items():
        bal = {"vocal_found": v is not None, "vocal_vs_reference_db": v}
        out.append({"name": name, "references": ["ref1.wav", "ref2.wav"], "balance": bal})
    return out


def _vocal_paragraph(records: list[dict]) -> tuple[dict, str]:
    from mixes.patterns import find_patterns
    from reports.letter import pattern_paragraphs

    pats = [p for p in find_patterns(records) if p.measure == "vocal_vs_reference"]
    assert len(pats) == 1, pats
    d = pats[0].to_dict() if hasattr(pats[0], "to_dict") else vars(pats[0])
    paras = pattern_paragraphs([pats[0]])
    assert len(paras) == 1
    return d, paras[0]


def test_a_track_without_a_vocal_level_is_not_an_exception():
    # 9 tracks with the vocal 2-3 dB low, one with it level (the exception), one without a vocal
    vals: dict[str, float | None] = {f"track{i:02d}.wav": -2.0 - 0.1 * i for i in range(1, 10)}
    vals["track10.wav"] = 0.2
    vals["track08.wav"] = None
    d, text = _vocal_paragraph(_records(vals))
    ev = {e["file"]: e["with"] for e in d["evidence"]}
    assert ev["track08.wav"] is None and ev["track10.wav"] is False      # the input this test is about
    assert "The exception: track10.wav." in text, text
    assert "track08.wav" not in text.split("The exception")[1].split(".wav")[0]
    # said once, as having no level (mixes.patterns' own sentence names it)
    assert text.count("track08.wav") == 1 and "no vocal level on 1: track08.wav" in text, text


def test_no_value_tracks_are_said_separately_when_the_sentence_does_not_name_them():
    from reports.letter import pattern_paragraphs, write_patterns_letter

    ev = ([{"file": f"mix{i}.flac", "value_db": -3.0, "with": True} for i in range(6)]
          + [{"file": "mix6.flac", "value_db": 0.0, "with": False},
             {"file": "mix7.flac", "value_db": None, "with": None},
             {"file": "mix8.flac", "value_db": None, "with": None}])
    pat = {"what": "the vocal sits 3.0 dB lower than your references on 6 of 7 tracks",
           "measure": "vocal_vs_reference", "value_db": -3.0, "evidence": ev}
    (text,) = pattern_paragraphs([pat])
    assert "The exception: mix6.flac." in text, text                    # the one without, alone
    assert "No vocal level on mix7.flac, mix8.flac." in text, text
    # every track has no figure but one: nothing is called an exception
    ev2 = [{"file": "a.wav", "value_db": 1.5, "with": True}, {"file": "b.wav", "value_db": None, "with": None}]
    (t2,) = pattern_paragraphs([{"what": "the low end sits 1.5 dB higher", "measure": "bass_vs_reference",
                                 "value_db": 1.5, "evidence": ev2}])
    assert "exception" not in t2 and "No figure on b.wav." in t2 and "(a.wav.)" in t2, t2
    letter = write_patterns_letter({"client": "Studio-Nord", "n_mixes": 9, "patterns": [pat]})
    assert "No vocal level on mix7.flac, mix8.flac." in letter and "exceptions" not in letter
