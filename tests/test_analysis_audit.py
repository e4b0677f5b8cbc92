"""Acceptance audit (issue 3): hostile analyze options give one line and exit 2."""

from __future__ import annotations

import numpy as np
import soundfile as sf


def _one_error_line(code, err):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def _ir_wav(tmp_path):
    x = np.zeros(48_000)
    x[100] = 1.0
    x[101:] = 0.01 * np.random.default_rng(0).standard_normal(x.size - 101) * np.exp(-np.arange(x.size - 101) / 4800)
    p = tmp_path / "ir.wav"
    sf.write(p, x, 48_000, subtype="FLOAT")
    return p


def test_raw_fs_on_a_wav_file_is_refused_not_read_as_pcm(run_cli, tmp_path):
    # read as raw float32 the header would become samples and the rate would be wrong, silently
    line = _one_error_line(*run_cli("analyze", _ir_wav(tmp_path), "--raw-fs", "44100")[::2])
    assert "48000 Hz" in line and "drop --raw-fs" in line


def test_position_outside_the_room_reads_as_plain_numbers(run_cli, tmp_path):
    line = _one_error_line(*run_cli("analyze", _ir_wav(tmp_path), "--dims", "5x3x2", "--source", "9,1,1",
                                    "--mic", "1,1,1")[::2])
    assert "source position (9, 1, 1) m lies outside the room (5, 3, 2) m" in line
