"""Left-right mirroring of a stage-2 training row (hemisphere-swap augmentation).

A mirrored row has its homologous 10-20 channels swapped (Fp1<->Fp2, F3<->F4, ..., T7<->T8,
O1<->O2; the midline stays) in its EEG, history and channel masks, and everything that names a
side swapped with them: the measured findings (asymmetry and slowing side, the asymmetry index's
sign, the hemispheres' band powers, event and interpolated channels, side words in source labels)
and the narrative ("left" <-> "right", channel names). The topomaps are recomputed from the
mirrored EEG by the collator.

Why: the corpus has few training subjects, and each subject's own background carries its side
(pylossless s01's right-frontal slowing): a narrator that reads side from the EEG tokens learns
"this background -> that side" and, on an unseen subject, overrides the measured side in its
prompt (stop 28's default on the validation rows: 39 of its 54 slowing-side errors said "left" for
a measured "right", 55 of its 66 asymmetry-side errors "right" for a measured "left"; the blind
model made 1 and 3). Seen mirrored, a background comes with either side equally often. braindecode's
``ChannelsSymmetry`` transform (Deiss et al., HAMLET, 2018) swaps hemispheres the same way; here
the labels follow the signal, because the findings rules are mirror-symmetric (tested:
``compute_findings`` of a mirrored segment equals ``mirror_findings`` of its findings).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from ..eeg_io_neuronarrator import STANDARD_CHANNELS
from ..findings_neuronarrator import HOMOLOGOUS_CHANNELS, MIRROR_PERMUTATION as CHANNEL_MIRROR_PERMUTATION

__all__ = ["MIRROR_MODES", "MIRROR_PERMUTATION", "mirror_channel", "mirror_text", "mirror_findings", "mirror_example"]

# data.mirror_mode: "swap" mirrors EEG, findings and narrative together; "signal" the EEG-derived
# inputs only (the prompt and the narrative keep the measured sides).
MIRROR_MODES = ("swap", "signal")

_SIDE_WORDS = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}
_SIDE_PATTERN = re.compile(r"\b(" + "|".join(_SIDE_WORDS) + r")\b")
# A lateral 10-20 name in a narrative (odd numbers left, even right: ACNS 2006).
_CHANNEL_PATTERN = re.compile(r"\b(?:Fp|F|T|C|P|O)[1-8]\b")


def mirror_channel(name: str) -> str:
    """The homologous 10-20 channel on the other side (``"F3"`` -> ``"F4"``); a midline name stays."""
    if name not in STANDARD_CHANNELS:
        raise ValueError(f"mirror_channel: {name!r} is not one of the 10-20 channels {STANDARD_CHANNELS}")
    return HOMOLOGOUS_CHANNELS.get(name, name)


# Index i of a mirrored array holds the channel that was at MIRROR_PERMUTATION[i]: x_mirrored = x[..., perm, :].
MIRROR_PERMUTATION = np.array(CHANNEL_MIRROR_PERMUTATION)


def mirror_text(text: str) -> str:
    """A narrative (or label value) with its sides swapped: "left" <-> "right" and each lateral 10-20
    channel name with its homologue ("over F7, T7" -> "over F8, T8")."""
    text = _SIDE_PATTERN.sub(lambda m: _SIDE_WORDS[m.group(0)], text)
    return _CHANNEL_PATTERN.sub(lambda m: HOMOLOGOUS_CHANNELS.get(m.group(0), m.group(0)), text)


def mirror_findings(findings: Mapping[str, Any]) -> dict[str, Any]:
    """A findings dict (``Findings.to_dict``) of the mirrored segment. ``bad_channels`` are source
    names with no 10-20 site (a BioSemi "A6"): they stay as they are."""
    out = dict(findings)
    asymmetry = dict(findings.get("asymmetry") or {})
    if asymmetry.get("side") in ("left", "right"):
        asymmetry["side"] = _SIDE_WORDS[asymmetry["side"]]
    if asymmetry.get("index") is not None:
        asymmetry["index"] = -asymmetry["index"] + 0.0  # + 0.0: no "-0.0" in a JSON prompt or record
    out["asymmetry"] = asymmetry
    slowing = dict(findings.get("slowing") or {})
    if slowing.get("side") in ("left", "right"):
        slowing["side"] = _SIDE_WORDS[slowing["side"]]
    out["slowing"] = slowing
    hemispheres = findings.get("band_power_by_hemisphere")
    if isinstance(hemispheres, Mapping):
        out["band_power_by_hemisphere"] = {_SIDE_WORDS.get(side, side): value for side, value in hemispheres.items()}
    out["interpolated_channels"] = sorted((mirror_channel(c) for c in findings.get("interpolated_channels") or []),
                                          key=STANDARD_CHANNELS.index)  # fmt: skip
    out["events"] = [
        {**event, "channels": [mirror_channel(c) for c in event.get("channels") or []]} for event in findings.get("events") or []
    ]
    out["labels"] = {key: (mirror_text(value) if isinstance(value, str) else value) for key, value in (findings.get("labels") or {}).items()}
    return out


def mirror_example(example: Mapping[str, Any], findings: Mapping[str, Any], signal_only: bool = False) -> dict[str, Any]:
    """A ``SegmentDataset`` row seen mirrored: channels of the EEG, history and channel masks
    swapped, its description mirrored, ``findings`` (the row's parsed findings) mirrored; the
    precomputed topomaps are dropped (the caller recomputes them from the mirrored EEG).
    ``signal_only``: the description and findings stay as measured (``data.mirror_mode: signal``)."""
    out = dict(example)
    out["eeg_values"] = np.asarray(example["eeg_values"])[MIRROR_PERMUTATION]
    out["channel_mask"] = np.asarray(example["channel_mask"])[MIRROR_PERMUTATION]
    history = np.asarray(example["history_eeg_values"])
    if history.shape[0]:
        out["history_eeg_values"] = history[:, MIRROR_PERMUTATION]
        out["history_channel_mask"] = np.asarray(example["history_channel_mask"])[:, MIRROR_PERMUTATION]
    out.pop("topomaps", None)
    out.pop("history_topomaps", None)
    if signal_only:
        out["findings"] = dict(findings)
        return out
    out["description"] = mirror_text(example["description"])
    out["findings"] = mirror_findings(findings)
    return out
