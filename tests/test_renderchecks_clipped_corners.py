"""A hard-clipped master's clipper corners are the clipping's: the click detector sees a slope
step at every flat top (dozens per song), which is not a click and not an edit.  The master
gets its one ``digital_distortion`` ("hard-clipped") finding and no clicks there; a click
planted away from the flat tops is still found."""

from __future__ import annotations

import numpy as np

from mixes.artifact_clean import clipped_master
from mixes.renderchecks import render_checks

FS = 48000


def test_clipped_masters_give_no_clicks_at_their_corners_and_keep_real_ones():
    from mixes.songs3 import make_song
    x = make_song(801, duration_s=10.0).mix()
    y = clipped_master(x, drive_db=8.0, out_db=-0.3)
    r = render_checks(y.astype(np.float32), fs=FS)
    assert any(a.kind == "digital_distortion" and "hard-clipped" in a.detail for a in r.artifacts)
    # session start of this change: 49 clicks at the corners of this master (12 s); now at most
    # the song's own (the clean song gives 0-1)
    assert len(r.clicks) <= 2, [(c.time_s, c.audibility_db) for c in r.clicks]
    # a click in a quiet stretch of the same master (far below its flat tops) is still a click
    env = np.abs(y).max(axis=0)
    frame = int(0.05 * FS)
    lev = np.array([env[i:i + frame].max() for i in range(0, env.size - frame, frame)])
    i = int(np.argmin(lev[10:-10]) + 10) * frame + frame // 2
    z = y.copy()
    z[:, i] += 0.25
    r2 = render_checks(z.astype(np.float32), fs=FS)
    assert any(abs(c.time_s - i / FS) < 0.002 for c in r2.clicks) or \
        any(abs(a.time_s - i / FS) < 0.003 for a in r2.artifacts)
