"""Sleep-EDF Database Expanded (PhysioNet ``sleep-edfx`` 1.0.0).

Layout (PhysioNet page, MNE ``fetch_data`` checksums, torcheeg): ``sleep-cassette/SC4ssNE0-PSG.edf``
with ``SC4ssNEx-Hypnogram.edf`` (ss subject, N night, last hypnogram letter varies:
``SC4001E0-PSG.edf`` pairs with ``SC4001EC-Hypnogram.edf``) and ``sleep-telemetry/ST7ssNJ0-PSG.edf``
with ``ST7ssNJx-Hypnogram.edf``. PSG and hypnogram pair by their first 6 characters (``SC4001``).
Subject: the first 5 characters (``SC400`` = cassette subject 00; ``ST701`` = telemetry subject 01;
the two studies have different people).

Hypnogram: EDF+ annotations (``mne.read_annotations``), one annotation per run of equal 30 s epochs,
Rechtschaffen & Kales stages mapped to AASM: ``Sleep stage W`` -> W, ``1`` -> N1, ``2`` -> N2,
``3`` and ``4`` -> N3, ``R`` -> REM; ``Sleep stage ?`` and ``Movement time`` are dropped. Cassette
recordings hold up to ~20 h with long wake before and after the night: like MNE's and
braindecode's examples, wake is kept only within ``wake_margin_s`` (30 min) of the first and last
sleep epoch. Recorded in the Netherlands (50 Hz). EEG is bipolar ``EEG Fpz-Cz``/``EEG Pz-Oz`` at
100 Hz. No official split.

Montage: the front-end's one montage policy (``modeling_neuronarrator.eeg_io_neuronarrator.
MONTAGE_POLICY``, shared with ``neuronarrator narrate`` and the Space) reads the file as it is:
each bipolar derivation ``EEG X-Y`` is placed at its first electrode X (``EEG Fpz-Cz`` -> Fpz,
``EEG Pz-Oz`` -> Pz) by the 10-05 template, listed in ``recording_info["bipolar_derivations"]``,
and the other channels (EOG, EMG, respiration, temperature, event marker) are dropped by name.
Only sites within ``NEAR_ELECTRODE_RAD`` of an electrode count as recorded in ``channel_mask``
(Pz; Fp1/Fp2 are ~0.3 rad from Fpz); the other 18 are spline estimates. A derivation is the
potential at X referenced to Y, not a referential channel, so no spatial finding (regional
powers, predominant region, asymmetry, focal slowing) is stated from it: the findings say "not
assessable". Rows stay usable for the sleep-stage labels and the background rhythm.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import ClassVar

from ._util import spans_from_annotations
from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["SLEEP_EDF_STAGES", "SleepEDFReader", "trim_wake"]

SLEEP_EDF_STAGES = {
    "Sleep stage W": {"sleep_stage": "W"},
    "Sleep stage 1": {"sleep_stage": "N1"},
    "Sleep stage 2": {"sleep_stage": "N2"},
    "Sleep stage 3": {"sleep_stage": "N3"},
    "Sleep stage 4": {"sleep_stage": "N3"},
    "Sleep stage R": {"sleep_stage": "REM"},
}
# Known descriptions that are not stages (dropped on purpose, not reported).
SLEEP_EDF_NOT_STAGES = ("Sleep stage ?", "Movement time")

def trim_wake(spans: list[LabelSpan], margin_s: float) -> list[LabelSpan]:
    """Clip wake spans to [first sleep - margin, last sleep + margin]; no sleep -> unchanged."""
    sleep = [s for s in spans if s.labels.get("sleep_stage") not in (None, "W")]
    if not sleep:
        return spans
    lo = min(s.start_s for s in sleep) - margin_s
    hi = max(s.end_s for s in sleep) + margin_s
    kept = []
    for span in spans:
        if span.labels.get("sleep_stage") == "W":
            start, end = max(span.start_s, lo), min(span.end_s, hi)
            if end > start:
                kept.append(LabelSpan(start, end, span.labels))
        else:
            kept.append(span)
    return kept


@register_reader
class SleepEDFReader(SourceReader):
    name = "sleep_edf"
    title = "Sleep-EDF Database Expanded"
    task = "sleep staging (R&K scored, mapped to AASM)"
    label_keys = ("sleep_stage",)
    licence = "PhysioNet open access (Open Data Commons Attribution)"
    homepage = "https://physionet.org/content/sleep-edfx/1.0.0/"
    layout = "sleep-cassette/SC4ssNE0-PSG.edf + SC4ssNEx-Hypnogram.edf, sleep-telemetry/ST7ssNJ0-PSG.edf + ST7ssNJx-Hypnogram.edf"
    line_freq = 50.0
    wake_margin_s: ClassVar[float] = 30 * 60.0
    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        import mne

        for psg in sorted(walk.root.rglob("*-PSG.edf")):
            prefix = psg.name[:6]
            hypnograms = sorted(psg.parent.glob(f"{prefix}*-Hypnogram.edf"))
            if not hypnograms:
                logger.warning("%s: no %s*-Hypnogram.edf beside %s; skipped", self.name, prefix, psg)
                continue
            annotations = mne.read_annotations(hypnograms[0])
            spans = spans_from_annotations(
                annotations.onset, annotations.duration, annotations.description, SLEEP_EDF_STAGES, where=str(hypnograms[0]),
                ignore=SLEEP_EDF_NOT_STAGES, issues=walk.issues,
            )
            yield RecordingItem(
                source=self.name,
                subject=psg.name[:5],
                recording=psg.name.split("-")[0],
                path=str(psg),
                spans=trim_wake(spans, self.wake_margin_s),
                line_freq=self.line_freq,
                extra={"hypnogram": str(hypnograms[0]), "study": "cassette" if psg.name.startswith("SC") else "telemetry"},
            )
