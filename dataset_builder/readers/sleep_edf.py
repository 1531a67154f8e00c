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

Low-density policy (the front-end wants at least 4 channels; Sleep-EDF has 2 derivations):
``load_raw`` turns each bipolar derivation ``EEG X-Y`` into a channel at its first electrode X
(``EEG Fpz-Cz`` -> ``Fpz``, ``EEG Pz-Oz`` -> ``Pz``) with the electrode positions of MNE's
``spherical_1020`` template, and ``feature_extractor_kwargs`` lowers the front-end's minimum to
the 2 derivations. This is an approximation: a derivation is the potential at X referenced to Y
(Cz, Oz), not to the front-end's common reference, so its amplitude and topography differ from a
referential recording (e.g. activity shared by Pz and Oz cancels). Both electrodes go through the
position path (Fpz is not one of the 19); the 19 channels are spherical-spline estimates from the
two, and only sites within ``NEAR_ELECTRODE_RAD`` of an electrode count as recorded in
``channel_mask``: Pz is recorded, the other 18 (Fp1/Fp2 included, ~0.3 rad from Fpz) are
estimated. Rows stay usable for the sleep-stage labels and the posterior rhythm at Pz; spatial
findings (asymmetry, focal slowing) from them carry little information.

Evidence: mne-tools/mne-python ``mne/datasets/sleep_physionet`` (``age_records.csv`` /
``temazepam_records.csv``: ``ST7011J0-PSG.edf`` pairs with ``ST7011JP-Hypnogram.edf``, SC and ST lists, ``mne.read_annotations`` on the hypnogram, the
``Sleep stage W/1/2/3/4/R/?`` and ``Movement time`` descriptions) and braindecode
``datasets/sleep_physionet.py`` (channels ``EEG Fpz-Cz``, ``EEG Pz-Oz``, ``EOG horizontal``, 30 min of
wake kept around the night). Hypnograms are annotation-only EDF+ files. The 1 Hz rate of the SC
EMG/respiration/temperature/marker channels is from the original Sleep-EDF page (not re-read on a
real Expanded file here).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from ._util import LabelIssues, check_root, no_recordings_error, spans_from_annotations
from .base import LabelSpan, RecordingItem, SourceReader, register_reader

logger = logging.getLogger(__name__)

__all__ = ["SLEEP_EDF_STAGES", "SleepEDFReader", "bipolar_to_first_electrode", "trim_wake"]

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

# "EEG Fpz-Cz" -> ("Fpz", "Cz"): a bipolar derivation between two 10-20/10-10 electrodes.
_BIPOLAR_RE = re.compile(r"^EEG\s+([A-Za-z]+[0-9z]*)\s*-\s*([A-Za-z]+[0-9z]*)$")
# Sleep-EDF's other channels, by the first word of their label (EDF gives every channel "eeg").
_OTHER_TYPES = {"EOG": "eog", "EMG": "emg", "RESP": "resp", "TEMP": "misc", "EVENT": "misc"}
# Ideal-sphere template: its head frame's origin is the sphere's centre, which the front-end uses
# for fewer than 16 electrodes. (standard_1020's origin lies ~4 cm below its electrodes' centre:
# Pz would land 0.29 rad off the 10-20 Pz and not count as recorded.)
_MONTAGE = "spherical_1020"


def bipolar_to_first_electrode(raw):
    """Rename each bipolar ``EEG X-Y`` channel of a Raw to ``X`` (its reference Y is dropped from
    the name), type the other channels, and attach ``spherical_1020`` positions; in place.

    Args:
        raw: ``mne.io.BaseRaw`` as read from a Sleep-EDF PSG file (volts).

    Returns:
        The same Raw; ``raw.info["description"]`` lists the derivations (``Fpz=Fpz-Cz``...).

    Raises:
        ValueError: no ``EEG X-Y`` channel, or X has no position in the template.
    """
    import mne

    template = mne.channels.make_standard_montage(_MONTAGE).ch_names
    by_upper = {name.upper(): name for name in template}
    renames, derivations, types = {}, [], {}
    for name in raw.ch_names:
        match = _BIPOLAR_RE.match(name.strip())
        if match is None:
            types[name] = _OTHER_TYPES.get(name.split()[0].upper() if name.split() else "", "misc")
            continue
        electrode = by_upper.get(match.group(1).upper())
        if electrode is None:
            raise ValueError(
                f"{raw.filenames[0] if raw.filenames else 'Sleep-EDF recording'}: channel {name!r}: electrode "
                f"{match.group(1)!r} has no position in MNE's {_MONTAGE} template; expected derivations such as "
                "'EEG Fpz-Cz' and 'EEG Pz-Oz'"
            )
        renames[name] = electrode
        derivations.append(f"{electrode}={electrode}-{match.group(2)}")
    if not renames:
        raise ValueError(
            f"{raw.filenames[0] if raw.filenames else 'Sleep-EDF recording'}: no bipolar 'EEG X-Y' channel among "
            f"{raw.ch_names}; a Sleep-EDF PSG file holds 'EEG Fpz-Cz' and 'EEG Pz-Oz'"
        )
    raw.set_channel_types({**types, **{name: "eeg" for name in renames}}, verbose="error")
    raw.rename_channels(renames)
    raw.set_montage(_MONTAGE, on_missing="ignore", verbose="error")
    raw.info["description"] = "Sleep-EDF bipolar derivations at their first electrode: " + ", ".join(derivations)
    return raw


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
    # Both derivations are needed, and 2 (> the one 10-20 name, Pz) sends Fpz through the
    # position path too: see the module docstring.
    feature_extractor_kwargs: ClassVar[Mapping[str, Any]] = MappingProxyType({"min_recorded_channels": 2})

    def load_raw(self, item: RecordingItem):
        """The PSG file with each ``EEG X-Y`` derivation as channel X at its 10-20 position
        (``bipolar_to_first_electrode``); volts, 100 Hz."""
        return bipolar_to_first_electrode(super().load_raw(item))

    def index(self, root: str | Path | None) -> Iterator[RecordingItem]:
        import mne

        root = check_root(root, self)
        n_found = 0
        issues = LabelIssues(self.name)
        for psg in sorted(root.rglob("*-PSG.edf")):
            prefix = psg.name[:6]
            hypnograms = sorted(psg.parent.glob(f"{prefix}*-Hypnogram.edf"))
            if not hypnograms:
                logger.warning("%s: no %s*-Hypnogram.edf beside %s; skipped", self.name, prefix, psg)
                continue
            annotations = mne.read_annotations(hypnograms[0])
            spans = spans_from_annotations(
                annotations.onset, annotations.duration, annotations.description, SLEEP_EDF_STAGES, where=str(hypnograms[0]),
                ignore=SLEEP_EDF_NOT_STAGES, issues=issues,
            )
            n_found += 1
            yield RecordingItem(
                source=self.name,
                subject=psg.name[:5],
                recording=psg.name.split("-")[0],
                path=str(psg),
                spans=trim_wake(spans, self.wake_margin_s),
                line_freq=self.line_freq,
                extra={"hypnogram": str(hypnograms[0]), "study": "cassette" if psg.name.startswith("SC") else "telemetry"},
                issues=issues.take(),
            )
        if n_found == 0:
            raise no_recordings_error(root, self)
