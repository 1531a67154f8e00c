"""NeuroNarrator: EEG-to-text in transformers' file conventions.

The front-end (reading, channel harmonization, filtering, segments, topomaps, findings) and the
model (grounded encoders, Mamba2 history reasoner, projector, causal LM) with their Auto-class
registration. These modules import only each other, transformers, torch, numpy, scipy and mne.
"""

from .findings_neuronarrator import ARTIFACT_TYPES, BANDS, CHANGE_TYPES, REGIONS, Asymmetry, Findings, Slowing

__all__ = ["ARTIFACT_TYPES", "BANDS", "CHANGE_TYPES", "REGIONS", "Asymmetry", "Findings", "Slowing"]
