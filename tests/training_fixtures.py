"""A tiny synthetic NeuroCorpus in the builder's Parquet layout, for the training tests.

Each recording is a sequence of 10 s segments (19 x 2000 at 200 Hz, µV/100) dominated by one
rhythm (delta 2 Hz, theta 6 Hz or alpha 10 Hz, with noise), whose findings say so and whose
description is written by ``dataset_builder.describe``: enough signal-text coupling for a few
training steps to lower the loss.
"""

from __future__ import annotations


import numpy as np

from dataset_builder.labels import LABEL_VOCABULARY
from eval_fixtures import write_corpus  # noqa: F401  (the one corpus writer of the tests)
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
                    "eeg_values": (eeg_uv / 100.0).astype(np.float16),
                    "channel_mask": np.ones(19, dtype=bool),
                    "findings": findings.to_json(),
                    "labels": {key: None for key in LABEL_VOCABULARY},
                    "description": describe(findings, {}, seed=row_id),
                    "split": "train" if r < n_recordings - 1 else "validation",
                }
            )
    return rows


