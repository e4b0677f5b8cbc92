"""Through ``mix analyze --json`` (issue 12, session 8): every planted error is one report, the
click list and the artifact list do not both report it, and the ``detail`` sentences say what
was found (time, kind of error, what to do)."""

from __future__ import annotations

import json
import re

import numpy as np
import soundfile as sf

FS = 48_000


def test_planted_errors_are_reported_once_with_plain_details(tmp_path, run_cli):
    from mixes.songs_alt import make_song
    x = make_song(702, duration_s=14.0).mix()
    # a cut at 4 s (9 s joined on), a 6 ms burst driven x10 into a clipper at 6 s (5 s after the
    # cut: the file's time), 8 ms bit-crushed to 4 bits at 8 s, one 3-sample click at 9.5 s
    y = np.concatenate([x[:, : 4 * FS], x[:, 5 * FS:]], axis=1)
    p = 6 * FS
    y[:, p: p + 288] = np.clip(10 * y[:, p: p + 288], -1, 1)
    p = 8 * FS
    y[:, p: p + 384] = np.round(y[:, p: p + 384] * 8) / 8
    p = int(9.5 * FS)
    y[1, p: p + 3] += np.array([0.05, -0.08, 0.05])
    f = tmp_path / "planted.wav"
    sf.write(str(f), y.T, FS, subtype="FLOAT")
    code, out, err = run_cli("mix", "analyze", "--json", "--jobs", "1", str(f))
    assert code == 0, err
    m = json.loads(out)["mixes"][0]
    arts, clicks = m["artifacts"], m["clicks"]
    kinds = [(a["kind"], round(a["time_s"], 3), a["channel"]) for a in arts]
    # the two bursts: one digital_distortion per channel each, nothing else there (the clipped
    # burst is not also a "hard-clipped master", its edges are not splices)
    for t in (6.0, 8.0):
        near = [a for a in arts if t - 0.003 <= a["time_s"] <= t + 0.010]
        assert near and all(a["kind"] == "digital_distortion" for a in near), kinds
        assert len({a["channel"] for a in near}) == len(near), kinds          # one per channel
        assert not any("hard-clipped" in a["detail"] for a in near), kinds
    # no click where an artifact is (one report per error)
    for c in clicks:
        assert not any(abs(c["time_s"] - a["time_s"]) <= 0.003
                       or (a["kind"] == "digital_distortion" and a["time_s"] - 0.003 <= c["time_s"]
                           <= a["time_s"] + 0.010) for a in arts), (c, kinds)
    # the click is a click, in the channel it is in
    assert any(abs(c["time_s"] - 9.5) <= 0.002 and c["channel"] == 1 for c in clicks), clicks
    # every artifact's detail: one sentence with its time and a remedy, no NaN or inf
    for a in arts:
        d = a["detail"]
        assert d and "nan" not in d and "inf" not in d, d
        assert re.search(r"\d+\.\d+ s", d) and ";" in d, d
