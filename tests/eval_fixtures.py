"""A tiny NeuroCorpus for the evaluator's tests, built on the fly (no licensed data).

Synthetic 19-channel segments with a known dominant rhythm (sine + noise), their findings computed
by the real front-end (``compute_findings``), labels tied to the rhythm (so that classifiers can
learn them), descriptions by the real template, written as Parquet shards + a README card in the
builder's layout so that ``datasets.load_dataset(dir)`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLING_RATE = 200
N_SAMPLES = 2000
# source -> (label key, {dominant frequency Hz: label value})
_SOURCES = {
    "tuab": ("abnormal", {2.5: "abnormal", 6.0: "abnormal", 10.0: "normal", 20.0: "normal"}),
    "sleep_edf": ("sleep_stage", {2.5: "N3", 6.0: "N1", 10.0: "W", 20.0: "W"}),
}


def synthetic_segment(rng: np.random.Generator, frequency_hz: float, amplitude_uv: float) -> np.ndarray:
    """``(19, 2000)`` µV: a common rhythm at ``frequency_hz``, channel-wise phase jitter, pink-ish noise."""
    t = np.arange(N_SAMPLES) / SAMPLING_RATE
    phases = rng.uniform(0, 0.5, size=(19, 1))
    rhythm = amplitude_uv * np.sin(2 * np.pi * frequency_hz * t[None, :] + phases)
    noise = np.cumsum(rng.normal(0, 1.0, size=(19, N_SAMPLES)), axis=1)
    noise -= noise.mean(axis=1, keepdims=True)
    return rhythm + 0.1 * amplitude_uv * noise / (noise.std(axis=1, keepdims=True) + 1e-9) + rng.normal(0, 0.05 * amplitude_uv, size=(19, N_SAMPLES))


def make_rows(n_recordings_per_source: int = 8, segments_per_recording: int = 2, seed: int = 0) -> list[dict]:
    """Corpus rows: recordings alternate between train and test (subject-disjoint)."""
    from dataset_builder.description import describe
    from dataset_builder.labels import LABEL_VOCABULARY
    from modeling_neuronarrator import compute_findings

    rng = np.random.default_rng(seed)
    rows = []
    frequencies = (2.5, 6.0, 10.0, 20.0)
    for source, (label_key, label_of) in _SOURCES.items():
        for r in range(n_recordings_per_source):
            frequency = frequencies[(r // 2) % len(frequencies)]  # each rhythm in train and in test
            amplitude = float(rng.uniform(20, 60))
            eeg_uv = np.stack([synthetic_segment(rng, frequency, amplitude) for _ in range(segments_per_recording)])
            findings = compute_findings(eeg_uv, SAMPLING_RATE)
            split = "test" if r % 2 else "train"
            recording = f"rec{r:02d}"
            for k, finding in enumerate(findings):
                labels = {key: None for key in LABEL_VOCABULARY}
                labels[label_key] = label_of[frequency]
                row_id = f"{source}/{recording}/{k:05d}"
                rows.append(
                    {
                        "id": row_id,
                        "source": source,
                        "subject": f"{source}-s{r:02d}",
                        "recording": recording,
                        "segment_index": k,
                        "start_s": 10.0 * k,
                        "eeg_values": (eeg_uv[k] / 100.0).astype(np.float16),
                        "channel_mask": [True] * 19,
                        "findings": finding.to_json(),
                        "labels": labels,
                        "description": describe(finding, {label_key: label_of[frequency]}, seed=row_id),
                        "split": split,
                    }
                )
    return rows


def write_corpus(out_dir: Path, rows: list[dict] | None = None, *, eeg_column: str = "eeg_values") -> Path:
    """Write ``rows`` as ``data/<split>-00000-of-00001.parquet`` (one shard per split present) with
    the builder's own row schema, plus a README.md card; return ``out_dir``.

    ``eeg_column="eeg"`` writes the EEG under the name a corpus built before issue 18 has.
    """
    import datasets
    import yaml

    from dataset_builder.export import corpus_features

    rows = make_rows() if rows is None else rows
    features = corpus_features()
    if eeg_column != "eeg_values":
        features = datasets.Features({(eeg_column if name == "eeg_values" else name): f for name, f in features.items()})
        rows = [{(eeg_column if name == "eeg_values" else name): value for name, value in row.items()} for row in rows]
    out_dir = Path(out_dir)
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    configs = []
    for split in sorted({r["split"] for r in rows}):
        split_rows = [r for r in rows if r["split"] == split]
        table = {name: [r[name] for r in split_rows] for name in features}
        datasets.Dataset.from_dict(table, features=features).to_parquet(str(out_dir / "data" / f"{split}-00000-of-00001.parquet"))
        configs.append({"split": split, "path": f"data/{split}-*"})
    # The features go in the card as the builder writes them (streaming reads them from there).
    card = {
        "configs": [{"config_name": "default", "data_files": configs}],
        "dataset_info": datasets.DatasetInfo(features=features)._to_yaml_dict(),
    }
    (out_dir / "README.md").write_text("---\n" + yaml.safe_dump(card, sort_keys=False) + "---\n# tiny test corpus\n", encoding="utf-8")
    return out_dir
