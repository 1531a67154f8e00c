"""A tiny synthetic NeuroCorpus in the builder's Parquet layout, for the training tests.

Each recording is a sequence of 10 s segments (19 x 2000 at 200 Hz, µV/100) dominated by one
rhythm (delta 2 Hz, theta 6 Hz or alpha 10 Hz, with noise), whose findings say so and whose
description is written by ``dataset_builder.describe``: enough signal-text coupling for a few
training steps to lower the loss.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from modeling_neuronarrator.findings_neuronarrator import BANDS, REGIONS, Findings

RHYTHMS = {"delta": 2.0, "theta": 6.0, "alpha": 10.0}


def _findings(band: str, frequency: float, amplitude: float) -> Findings:
    relative = {b: (0.6 if b == band else 0.1) for b in BANDS}
    return Findings(
        dominant_frequency_hz=frequency,
        dominant_band=band,
        posterior_dominant_rhythm_hz=frequency if band == "alpha" else None,
        band_power_by_region={region: dict(relative) for region in REGIONS},
        band_power_by_hemisphere={side: dict(relative) for side in ("left", "right")},
        predominant_region="occipital" if band == "alpha" else "frontal",
        amplitude_uv=amplitude,
    )


def synthetic_rows(n_recordings: int = 3, n_segments: int = 8, seed: int = 0) -> list[dict]:
    """Corpus rows: ``n_recordings`` recordings (one subject each) of ``n_segments`` segments."""
    from dataset_builder import describe

    rng = np.random.default_rng(seed)
    t = np.arange(2000) / 200.0
    rows = []
    bands = list(RHYTHMS)
    for r in range(n_recordings):
        for s in range(n_segments):
            band = bands[(r + s) % len(bands)]
            frequency = RHYTHMS[band]
            amplitude_uv = float(rng.uniform(20, 60))
            phase = rng.uniform(0, 2 * np.pi, size=(19, 1))
            eeg_uv = amplitude_uv / 2 * np.sin(2 * np.pi * frequency * t + phase) + rng.normal(0, 3, size=(19, 2000))
            findings = _findings(band, frequency, round(amplitude_uv))
            row_id = f"synthetic/rec{r}/{s:05d}"
            rows.append(
                {
                    "id": row_id,
                    "source": "synthetic",
                    "subject": f"subj{r}",
                    "recording": f"rec{r}",
                    "segment_index": s,
                    "start_s": 10.0 * s,
                    "eeg": (eeg_uv / 100.0).astype(np.float16),
                    "channel_mask": np.ones(19, dtype=bool),
                    "findings": findings.to_json(),
                    "labels": json.dumps({}),
                    "description": describe(findings, {}, seed=row_id),
                    "split": "train" if r < n_recordings - 1 else "validation",
                }
            )
    return rows


def write_corpus(out_dir: Path, rows: list[dict]) -> Path:
    """Write rows as ``data/{split}-00000-of-00001.parquet`` + a README card (the builder's layout)."""
    import datasets

    out_dir = Path(out_dir)
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "source": datasets.Value("string"),
            "subject": datasets.Value("string"),
            "recording": datasets.Value("string"),
            "segment_index": datasets.Value("int32"),
            "start_s": datasets.Value("float32"),
            "eeg": datasets.Array2D((19, 2000), "float16"),
            "channel_mask": datasets.Sequence(datasets.Value("bool"), length=19),
            "findings": datasets.Value("string"),
            "labels": datasets.Value("string"),
            "description": datasets.Value("string"),
            "split": datasets.Value("string"),
        }
    )
    splits = sorted({row["split"] for row in rows})
    for split in splits:
        chosen = [row for row in rows if row["split"] == split]
        columns = {name: [row[name] for row in chosen] for name in features}
        datasets.Dataset.from_dict(columns, features=features).to_parquet(str(out_dir / "data" / f"{split}-00000-of-00001.parquet"))
    card = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        card += [f"  - split: {split}", f"    path: data/{split}-*"]
    card += ["---", "", "# Synthetic NeuroCorpus (tests)", ""]
    (out_dir / "README.md").write_text("\n".join(card))
    return out_dir
