"""What a report is made of, independent of how it is rendered (HTML, PDF).

:class:`ReportInputs` gathers the results of the other stages (measurement, analysis,
correction, verification, mixes); :func:`reports.build.build_document` turns them into a
:class:`ReportDocument` (figures already rendered to PNG, tables as rows of text, findings,
the letter); :mod:`reports.html` and :mod:`reports.pdf` only lay it out.

A missing stage is not an error: its section says "not available" and why (``notes``), and
the rest of the report is still written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from calib.profile import CalibrationProfile
from calib.types import ImpulseResponse

__all__ = ["ReportInputs", "FigureEntry", "Table", "ReportDocument", "SECTIONS"]

#: Section ids and titles, in report order.
SECTIONS = (
    ("summary", "Room summary"),
    ("findings", "Findings"),
    ("compliance", "Compliance with the listening-room standards"),
    ("measurements", "Measurements"),
    ("correction", "Correction"),
    ("verification", "Verification history"),
    ("mixes", "Mixes analyzed"),
)


@dataclass
class ReportInputs:
    """Everything a room report can show; every field but ``room_name`` is optional.

    Attributes
    ----------
    room_name : str
    ir : ImpulseResponse
        The baseline measurement at the listening position (one channel per speaker).
    analysis : RoomAnalysis or mapping
        ``calib.analysis`` result (or its ``to_dict()``).
    analysis_detail : mapping
        Extra curves from the analysis for the plots (e.g. ``noise`` band levels,
        ``distortion`` per harmonic); keys as in ``RoomAnalysis.to_dict()``.
    dims_m, source_m, mic_m : tuple of float
        Room size (length, width, height) and positions (m).
    profile : CalibrationProfile
    corrected_ir : ImpulseResponse
        The room measured (or rendered) through the correction, same channels as ``ir``.
    verification : VerificationResult or mapping
        The latest verification.
    history_series : mapping label -> sequence of points
        Drift series (``monitor.history.History.series``) per check and channel.
    history_rows : sequence
        Recent verifications (``History.verifications``), newest first.
    mixes : sequence of MixAnalysis or mappings
    fingerprint : RoomFingerprint or mapping
    per_mix_excess_db : ndarray (n_mixes, n_bands), optional
        Each mix's deviation from the reference (positive = too much), for the letter.
    correction_report : CorrectionReport, optional
        The designer's report (its per-speaker target curve is drawn).
    notes : mapping section -> str
        Why a section has nothing to show ("not available: ...").
    meta : mapping
        Provenance shown in the footer (software version, measurement id, ...).
    """

    room_name: str
    ir: ImpulseResponse | None = None
    analysis: Any = None
    analysis_detail: Mapping[str, Any] = field(default_factory=dict)
    dims_m: Sequence[float] | None = None
    source_m: Sequence[float] | None = None
    mic_m: Sequence[float] | None = None
    profile: CalibrationProfile | None = None
    corrected_ir: ImpulseResponse | None = None
    verification: Any = None
    history_series: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    history_rows: Sequence[Any] = ()
    mixes: Sequence[Any] = ()
    fingerprint: Any = None
    per_mix_excess_db: Any = None
    correction_report: Any = None
    notes: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FigureEntry:
    """One rendered figure: ``png_data_uri`` is ``data:image/png;base64,...``."""

    key: str
    section: str
    title: str
    caption: str
    png_data_uri: str
    png_bytes: bytes = b""


@dataclass(frozen=True)
class Table:
    """A table of text cells; ``status`` per row ("pass"/"fail"/"warn"/"") colours it."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    status: tuple[str, ...] = ()
    note: str = ""


@dataclass
class ReportDocument:
    """A report ready to render."""

    title: str
    subtitle: str
    generated_utc: str
    summary: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)
    figures: list[FigureEntry] = field(default_factory=list)
    tables: dict[str, list[Table]] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    letter: str = ""
    problems: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def figures_in(self, section: str) -> list[FigureEntry]:
        return [f for f in self.figures if f.section == section]
