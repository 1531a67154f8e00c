"""The recording report: narrate every segment, check each narrative against the measured
findings, summarize the recording, and render HTML / Markdown / JSON with figures.

A thin face beside the model files (like the CLI): it uses the front-end, the model and the
corpus' description writer and parser; the four transformers files never import it.
"""

from .consistency import ConsistencyIssue, check_consistency, fields_agree
from .narrators import (
    ModelNarrator,
    Narrator,
    TemplateNarrator,
    default_model_path,
    load_narrator,
)
from .pipeline import RecordingReport, SegmentReport, SelectedSegment, narrate_recording
from .render import (
    render_html,
    render_json,
    render_markdown,
    report_figures,
    write_report,
)
from .summary import RecordingSummary, count_text, findings_line, format_time, summarize_recording

__all__ = [
    "ConsistencyIssue",
    "ModelNarrator",
    "Narrator",
    "RecordingReport",
    "RecordingSummary",
    "SegmentReport",
    "SelectedSegment",
    "TemplateNarrator",
    "check_consistency",
    "count_text",
    "default_model_path",
    "fields_agree",
    "findings_line",
    "format_time",
    "load_narrator",
    "narrate_recording",
    "render_html",
    "render_json",
    "render_markdown",
    "report_figures",
    "summarize_recording",
    "write_report",
]
