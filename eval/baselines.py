"""Baselines of the leaderboard, one common interface: ``fit(train_rows)`` then ``predict(rows)``
returns one narrative per row. Every baseline is scored like the model (clinical.py: a field the
narrative leaves out is wrong), and is fit on rows that share no id or subject with the evaluated
ones (``evaluate_cli.check_disjoint``).

* ``blind-model``: the blind baseline the model card means: the SAME recipe trained with every
  EEG-derived input zeroed (``neuronarrator train stage2 --blind``; the default recipe's ``blind``
  step) and run the same way (zero EEG and topomaps, every channel mask "all recorded", no
  history): what the narratives say without the signal. Its training is the recipe's, so ``fit``
  does nothing.
* ``majority``: every findings value set to its most frequent training value (numbers at the
  narrative's precision; labels the most frequent value of each label key its source carried),
  written by the corpus template: one narrative for every row of a source.
* ``nearest-neighbour``: the description of the closest training segment by band-power features of
  the EEG (scikit-learn ``NearestNeighbors`` on standardized features).
* ``findings-classifier``: every field of the findings record (and each source label) predicted
  from the same EEG features with random forests, then written with the corpus template
  (``dataset_builder.describe``).
* ``oracle``: the template applied to the true findings and labels: the ceiling of any system whose
  narratives follow the template.

``BlindLanguageModel`` (not on the leaderboard) writes the one narrative any causal LM gives a text
prompt, optionally after fine-tuning it on the training descriptions.

Rows are corpus rows (a ``datasets.Dataset`` or a list of dicts) with ``id``, ``source``, ``eeg_values``
``(19, 2000)`` in µV/100 at 200 Hz, ``findings`` (JSON), ``labels`` and ``description``. Baselines
that can score classes (``findings-classifier``) also return ``predict_scores(rows)`` for AUROC.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Sequence

import numpy as np

from dataset_builder.agreement import read_findings, read_labels  # the one reader of row structs
from modeling_neuronarrator.eeg_io_neuronarrator import SAMPLING_RATE_HZ
from modeling_neuronarrator.findings_neuronarrator import BAND_EDGES_HZ, BANDS

__all__ = [
    "BASELINES",
    "Baseline",
    "BlindLanguageModel",
    "FindingsClassifierTemplate",
    "MajorityTemplate",
    "NearestNeighbourRetrieval",
    "Oracle",
    "TrainedBlindModel",
    "eeg_features",
    "get_baseline",
]

logger = logging.getLogger(__name__)

SAMPLING_RATE = float(SAMPLING_RATE_HZ)
_BAND_EDGES = tuple(BAND_EDGES_HZ[band] for band in BANDS)  # delta .. gamma, Hz (the findings' bands)
_FINE_BINS_HZ = np.arange(1.0, 31.0)  # 1 Hz bins of the mean spectrum, 1-30 Hz
_FEATURE_BATCH = 256  # rows decoded at a time (19 x 2000 float16 each)


# ---------------------------------------------------------------------------------------------
# Row access (datasets.Dataset or list of dicts)


def _column(rows, name: str) -> list:
    if isinstance(rows, list):
        return [row.get(name) for row in rows]
    if name not in rows.column_names:
        return [None] * len(rows)
    return list(rows[name])


def _eeg_batches(rows):
    """Yield ``(n, 19, 2000)`` float32 arrays, ``_FEATURE_BATCH`` rows at a time."""
    if isinstance(rows, list):
        for start in range(0, len(rows), _FEATURE_BATCH):
            yield np.stack([np.asarray(r["eeg_values"], dtype=np.float32) for r in rows[start : start + _FEATURE_BATCH]])
        return
    numpy_rows = rows.with_format("numpy", columns=["eeg_values"])
    for start in range(0, len(rows), _FEATURE_BATCH):
        yield np.asarray(numpy_rows[start : start + _FEATURE_BATCH]["eeg_values"], dtype=np.float32)


def eeg_features(eeg: np.ndarray) -> np.ndarray:
    """Band-power features of harmonized segments.

    Args:
        eeg: ``(n_segments, 19, n_samples)`` at 200 Hz (any amplitude scale).

    Returns:
        ``(n_segments, 19 * 5 + 19 + 30 + 1)`` float32: per channel the log relative power of the five
        bands and the log total power (0.5-45 Hz), the log relative mean spectrum in 1 Hz bins from 1 to
        30 Hz, and the peak frequency of the mean spectrum (0.5-30 Hz) in Hz.
    """
    from scipy.signal import welch

    eeg = np.asarray(eeg, dtype=np.float64)
    if eeg.ndim != 3:
        raise ValueError(f"eeg_features expects (n_segments, n_channels, n_samples), got shape {eeg.shape}")
    freqs, psd = welch(eeg, fs=SAMPLING_RATE, nperseg=min(400, eeg.shape[-1]), axis=-1)  # (n, ch, f), 0.5 Hz bins
    tiny = 1e-20  # keeps flat (zero) channels finite in log space
    in_range = (freqs >= 0.5) & (freqs < 45.0)
    total = psd[..., in_range].sum(-1) + tiny  # (n, ch)
    bands = np.stack([psd[..., (freqs >= lo) & (freqs < hi)].sum(-1) for lo, hi in _BAND_EDGES], axis=-1)  # (n, ch, 5)
    rel_bands = np.log(bands / total[..., None] + 1e-6)
    mean_psd = psd.mean(axis=1)  # (n, f)
    fine = np.stack([mean_psd[:, (freqs >= f - 0.5) & (freqs < f + 0.5)].sum(-1) for f in _FINE_BINS_HZ], axis=-1)
    fine = np.log(fine / (fine.sum(-1, keepdims=True) + tiny) + 1e-6)
    peak_range = (freqs >= 0.5) & (freqs <= 30.0)
    peak = freqs[peak_range][np.argmax(mean_psd[:, peak_range], axis=-1)]
    n = eeg.shape[0]
    return np.concatenate([rel_bands.reshape(n, -1), np.log(total), fine, peak[:, None]], axis=1).astype(np.float32)


def _features_of(rows) -> np.ndarray:
    parts = [eeg_features(batch) for batch in _eeg_batches(rows)]
    return np.concatenate(parts) if parts else np.zeros((0, 19 * 6 + len(_FINE_BINS_HZ) + 1), np.float32)


def _describe():
    from dataset_builder.description import describe

    return describe


def _change_windows(rows) -> list[int | None]:
    """Per row, the preceding segments its change was measured over (``Findings.change_window_segments``):
    where the segment sits in its recording, which every system knows (a model by its history), so a
    template baseline names the window the reference names. A corpus built before the field existed:
    the row's position (its first ``CHANGE_WINDOW_SEGMENTS`` segments have fewer before them)."""
    from modeling_neuronarrator.findings_neuronarrator import CHANGE_WINDOW_SEGMENTS

    windows = []
    for record, index in zip(_column(rows, "findings"), _column(rows, "segment_index")):
        findings = None if record is None else read_findings(record)
        if findings is not None and findings.change_from_previous is not None and findings.change_window_segments is None:
            windows.append(None if index is None else min(int(index), CHANGE_WINDOW_SEGMENTS))  # an older corpus
        else:
            windows.append(None if findings is None else findings.change_window_segments)
    return windows


def _with_window(findings, window: int | None):
    """``findings`` (a record or its dict / JSON) as a ``Findings`` whose change names ``window``."""
    import dataclasses

    return dataclasses.replace(read_findings(findings), change_window_segments=window)


# ---------------------------------------------------------------------------------------------
# Interface


class Baseline:
    """Common interface: ``fit(train_rows) -> self``, ``predict(rows) -> list[str]``.

    ``predict_scores(rows)`` returns per-row ``{label: probability of the positive class}`` or None
    when the baseline has no scores. ``settings()`` is recorded in the results file.
    """

    name: str = "baseline"
    kind: str = "baseline"

    def fit(self, train_rows) -> "Baseline":
        return self

    def predict(self, rows) -> list[str]:
        raise NotImplementedError

    def predict_scores(self, rows) -> list[dict[str, float]] | None:
        return None

    def settings(self) -> dict[str, Any]:
        return {}

    def _check_fitted(self, attribute: str) -> None:
        if getattr(self, attribute, None) is None:
            raise RuntimeError(f"{self.name}: call fit(train_rows) before predict(rows)")


class Oracle(Baseline):
    """The corpus template on the true findings and labels (seeded by the row id, like the corpus)."""

    name = "oracle"
    kind = "oracle"

    def predict(self, rows) -> list[str]:
        describe = _describe()
        return [
            describe(_with_window(findings, window), read_labels(labels) or None, seed=str(row_id))
            for row_id, findings, labels, window in zip(_column(rows, "id"), _column(rows, "findings"), _column(rows, "labels"), _change_windows(rows))
        ]


class NearestNeighbourRetrieval(Baseline):
    """The description of the nearest training segment in standardized band-power feature space."""

    name = "nearest-neighbour"

    def __init__(self, n_neighbors: int = 1):
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}")
        self.n_neighbors = n_neighbors
        self._index = None

    def fit(self, train_rows) -> "NearestNeighbourRetrieval":
        from sklearn.neighbors import NearestNeighbors
        from sklearn.preprocessing import StandardScaler

        if len(train_rows) == 0:
            raise ValueError(f"{self.name}: no training rows to retrieve from")
        features = _features_of(train_rows)
        self._scaler = StandardScaler().fit(features)
        self._index = NearestNeighbors(n_neighbors=1).fit(self._scaler.transform(features))
        self._descriptions = _column(train_rows, "description")
        self._train_ids = _column(train_rows, "id")
        return self

    def neighbours(self, rows) -> np.ndarray:
        """Index into the training rows of each row's nearest neighbour, shape ``(n_rows,)``."""
        self._check_fitted("_index")
        _, index = self._index.kneighbors(self._scaler.transform(_features_of(rows)), n_neighbors=1)
        return index[:, 0]

    def predict(self, rows) -> list[str]:
        return [self._descriptions[i] for i in self.neighbours(rows)]

    def settings(self) -> dict[str, Any]:
        return {"features": "eeg_features (log relative band powers per channel, 1 Hz mean spectrum, peak)", "metric": "euclidean, standardized"}


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


_NONE = "<none>"
# Leaves that hold lists: predicted as one class (the whole sorted list) and split back.
_LIST_LEAVES = ("artifacts", "change_from_previous")
# Findings leaves no narrative states (description.findings_to_fields): not predicted.
_UNNARRATED_PREFIXES = ("band_power_by_region.", "band_power_by_hemisphere.")


class FindingsClassifierTemplate(Baseline):
    """Findings fields predicted from EEG band-power features (random forests), then ``describe()``.

    Every leaf of the ``Findings`` record that a narrative states is a target: numeric leaves
    (frequencies, amplitude, asymmetry index) by regression, the others (state, band, region, sides,
    slowing kind, artifact set, events, change set) by classification; a numeric leaf that can be
    None (the PDR) gets a presence classifier too. The regional and hemispheric band powers are
    not (``describe`` never states them, and their ~45 forests made the fit take over half an hour). Each harmonized label key is classified for the rows of the sources
    that carried it in training (learnt from those rows only); the source name is also a feature.
    The dominant band is derived from the predicted frequency, as the front-end does.
    """

    name = "findings-classifier"

    def __init__(self, n_estimators: int = 100, random_state: int = 0, n_jobs: int | None = None, max_train_rows: int | None = 20000):
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.n_jobs = n_jobs
        # Forests over ~40 targets on a full corpus would take hours on a CPU; a seeded sample of
        # this many training rows keeps the fit to minutes (None: use every row).
        self.max_train_rows = max_train_rows
        self._fitted = None

    def _inputs(self, rows) -> np.ndarray:
        sources = _column(rows, "source")
        one_hot = np.array([[s == known for known in self._sources] for s in sources], dtype=np.float32).reshape(len(sources), -1)
        return np.concatenate([_features_of(rows), one_hot], axis=1)

    def fit(self, train_rows) -> "FindingsClassifierTemplate":
        from modeling_neuronarrator import Findings

        if len(train_rows) == 0:
            raise ValueError(f"{self.name}: no training rows to learn from")
        if self.max_train_rows is not None and len(train_rows) > self.max_train_rows:
            keep = np.sort(np.random.default_rng(self.random_state).choice(len(train_rows), self.max_train_rows, replace=False))
            train_rows = [train_rows[int(i)] for i in keep] if isinstance(train_rows, list) else train_rows.select(keep)
            logger.info("%s: fitting on a seeded sample of %d training rows", self.name, self.max_train_rows)
        self._sources = sorted(set(_column(train_rows, "source")))
        x = self._inputs(train_rows)
        records = [Findings.from_json(f).to_dict() if isinstance(f, str) else dict(f) for f in _column(train_rows, "findings")]
        flats = []
        for record in records:
            record.pop("labels", None)
            record.pop("interpolated_channels", None)  # an input (channel mask), not a finding to predict
            flats.append(_flatten(record))
        leaves = sorted({key for flat in flats for key in flat if not key.startswith(_UNNARRATED_PREFIXES)})
        rf_kwargs = {"n_estimators": self.n_estimators, "random_state": self.random_state, "n_jobs": self.n_jobs}
        self._regressors: dict[str, Any] = {}
        self._classifiers: dict[str, Any] = {}
        self._constants: dict[str, Any] = {}
        for leaf in leaves:
            values = [flat.get(leaf) for flat in flats]
            numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if leaf not in _LIST_LEAVES and numeric and len(numeric) + values.count(None) == len(values):
                present = np.array([v is not None for v in values])
                if not present.all():
                    self._fit_classifier(f"{leaf}#present", x, ["yes" if p else "no" for p in present], rf_kwargs)
                y = np.array([v for v in values if v is not None], dtype=np.float64)
                self._regressors[leaf] = self._fit_regressor(x[present], y, rf_kwargs)
            else:
                self._fit_classifier(leaf, x, [self._encode(v) for v in values], rf_kwargs)
        # Which label keys each source carries: a label is predicted only for rows of a source that
        # had it in training (a held-out source gets none), and learnt from those rows only.
        train_labels = [read_labels(lab) for lab in _column(train_rows, "labels")]
        self._source_labels: dict[str, set[str]] = {}
        for source, labels in zip(_column(train_rows, "source"), train_labels):
            self._source_labels.setdefault(source, set()).update(labels)
        self._label_keys = sorted(set().union(*self._source_labels.values()))
        for key in self._label_keys:
            having = np.array([key in labels for labels in train_labels])
            self._fit_classifier(f"labels.{key}", x[having], [labels[key] for labels in train_labels if key in labels], rf_kwargs)
        self._fitted = True
        return self

    @staticmethod
    def _encode(value: Any) -> str:
        if value is None:
            return _NONE
        if isinstance(value, (list, tuple)):
            # Set-valued fields, order-free; items may be records (events), sorted by their JSON.
            return json.dumps(sorted(value, key=lambda item: json.dumps(item, sort_keys=True)), sort_keys=True)
        return json.dumps(value, sort_keys=True)

    @staticmethod
    def _decode(value: str) -> Any:
        return None if value == _NONE else json.loads(value)

    def _fit_regressor(self, x: np.ndarray, y: np.ndarray, rf_kwargs):
        from sklearn.ensemble import RandomForestRegressor

        # No bootstrap: averaged bootstrap trees pull values toward the mean of their
        # neighbours (a 2.5 Hz rhythm predicted at 4 Hz); feature subsampling keeps diversity.
        return RandomForestRegressor(bootstrap=False, max_features=0.33, **rf_kwargs).fit(x, y)

    def _fit_classifier(self, name: str, x: np.ndarray, y: Sequence[str], rf_kwargs) -> None:
        from sklearn.ensemble import RandomForestClassifier

        if len(set(y)) == 1:
            self._constants[name] = y[0]
        else:
            self._classifiers[name] = RandomForestClassifier(**rf_kwargs).fit(x, np.asarray(y))

    def _predict_class(self, name: str, x: np.ndarray) -> list[str]:
        if name in self._constants:
            return [self._constants[name]] * len(x)
        return [str(v) for v in self._classifiers[name].predict(x)]

    def predict_fields(self, rows) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """Predicted ``Findings`` dicts (without labels) and label dicts, one per row."""
        from modeling_neuronarrator.findings_neuronarrator import dominant_band_of

        self._check_fitted("_fitted")
        x = self._inputs(rows)
        n = len(x)
        flats: list[dict[str, Any]] = [{} for _ in range(n)]
        for leaf, model in self._regressors.items():
            values = model.predict(x)
            presence = f"{leaf}#present"  # fitted only for leaves that were None in some training rows
            known = presence in self._classifiers or presence in self._constants
            present = self._predict_class(presence, x) if known else ["yes"] * n
            for flat, value, is_present in zip(flats, values, present):
                flat[leaf] = float(value) if is_present == "yes" else None
        for name in list(self._classifiers) + list(self._constants):
            if name.endswith("#present") or name.startswith("labels."):
                continue
            for flat, value in zip(flats, self._predict_class(name, x)):
                flat[name] = self._decode(value)
        records = []
        for flat in flats:
            record = _unflatten(flat)
            for key, default in (("band_power_by_region", {}), ("band_power_by_hemisphere", {}), ("posterior_dominant_rhythm_hz", None)):
                record.setdefault(key, default)
            # Rounded to the precision narratives use (Findings' docstring), and consistent band; a
            # predicted "no dominant rhythm" (None) keeps the band its classifier gave.
            frequency = record.get("dominant_frequency_hz", 0.5)
            if frequency is not None:
                record["dominant_frequency_hz"] = round(max(0.5, frequency), 1)
                record["dominant_band"] = dominant_band_of(record["dominant_frequency_hz"])
            if record.get("posterior_dominant_rhythm_hz") is not None:
                record["posterior_dominant_rhythm_hz"] = round(record["posterior_dominant_rhythm_hz"], 1)
            record["amplitude_uv"] = max(0.0, float(record.get("amplitude_uv", 0.0)))
            for key in _LIST_LEAVES:
                if isinstance(record.get(key), list):
                    record[key] = sorted(record[key])
            records.append(record)
        labels: list[dict[str, str]] = [{} for _ in range(n)]
        sources = _column(rows, "source")
        for key in self._label_keys:
            for row_labels, source, value in zip(labels, sources, self._predict_class(f"labels.{key}", x)):
                if key in self._source_labels.get(source, ()):
                    row_labels[key] = value
        return records, labels

    def predict(self, rows) -> list[str]:
        from modeling_neuronarrator import Findings

        describe = _describe()
        records, labels = self.predict_fields(rows)
        return [
            describe(_with_window(Findings.from_dict(record), window), row_labels, seed=str(row_id))
            for record, row_labels, row_id, window in zip(records, labels, _column(rows, "id"), _change_windows(rows))
        ]

    def predict_scores(self, rows) -> list[dict[str, float] | None] | None:
        """``{"abnormal": P(abnormal)}`` for rows of sources with the TUAB label (None for the
        others), or None when that label was not learnt."""
        model = self._classifiers.get("labels.abnormal")
        if model is None or "abnormal" not in model.classes_:
            return None
        probability = model.predict_proba(self._inputs(rows))[:, list(model.classes_).index("abnormal")]
        return [
            {"abnormal": float(p)} if "abnormal" in self._source_labels.get(source, ()) else None
            for p, source in zip(probability, _column(rows, "source"))
        ]

    def settings(self) -> dict[str, Any]:
        return {
            "model": "RandomForest per findings field",
            "n_estimators": self.n_estimators,
            "random_state": self.random_state,
            "max_train_rows": self.max_train_rows,
        }


def most_frequent(values: Sequence[Any]) -> Any:
    """The most frequent value; ties go to the value met first."""
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    if not counts:
        raise ValueError("most_frequent: no values")
    return max(counts, key=lambda v: counts[v])  # max keeps the first of equal counts (insertion order)


class _Constant:
    """A fitted 'regressor' that answers one value for every row."""

    def __init__(self, value: float):
        self.value = float(value)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.value)


class MajorityTemplate(FindingsClassifierTemplate):
    """Every findings leaf and label at its most frequent training value, written by the template.

    The same fields as ``findings-classifier`` with the forests replaced by constants: categorical
    leaves (band, region, sides, slowing kind, artifact set, change set), the presence of optional
    numbers (the PDR) and each label key (per source that carried it) take their most frequent
    training value; numeric leaves their most frequent value at the narrative's precision (0.1).
    No EEG is read.
    """

    name = "majority"

    def __init__(self):
        super().__init__(max_train_rows=None)

    def _inputs(self, rows) -> np.ndarray:
        return np.zeros((len(rows), 1), np.float32)  # constants need no features

    def _fit_regressor(self, x: np.ndarray, y: np.ndarray, rf_kwargs):
        return _Constant(most_frequent([round(float(v), 1) for v in y]))

    def _fit_classifier(self, name: str, x: np.ndarray, y: Sequence[str], rf_kwargs) -> None:
        self._constants[name] = most_frequent(list(y))

    def majority(self) -> dict[str, Any]:
        """The fitted constants: ``{leaf or 'labels.<key>' or '<leaf>#present': value}``."""
        self._check_fitted("_fitted")
        out = {name: self._decode(value) if not name.endswith("#present") and not name.startswith("labels.") else value
               for name, value in self._constants.items()}  # fmt: skip
        out.update({leaf: model.value for leaf, model in self._regressors.items()})
        return out

    def settings(self) -> dict[str, Any]:
        return {"model": "most frequent training value of every findings leaf and label (ties: first met), corpus template"}


class TrainedBlindModel(Baseline):
    """A NeuroNarrator checkpoint trained blind (``train stage2 --blind``), run blind.

    Args:
        model_path: the blind run's final folder (e.g. ``runs/default_cpu_blind/stage2/final``).
    """

    name = "blind-model"

    def __init__(self, model_path, device: str = "cpu", batch_size: int = 8, max_new_tokens: int = 192):
        from .model_system import ModelSystem

        if model_path is None:
            raise ValueError(f"{self.name}: needs the blind checkpoint (--blind-model), the same recipe trained with --blind")
        self.system = ModelSystem(model_path, device=device, batch_size=batch_size, max_new_tokens=max_new_tokens, blind=True)

    def predict(self, rows) -> list[str]:
        return self.system.predict(rows, list(range(len(rows))))

    def settings(self) -> dict[str, Any]:
        return {"model": "NeuroNarrator trained and run with every EEG input zeroed and no history", **self.system.settings()}


class BlindLanguageModel(Baseline):
    """The language model with the prompt only, no EEG.

    Args:
        model: anything with transformers' ``generate(input_ids=..., attention_mask=...)``: a
            causal LM (a NeuroNarrator checkpoint's blind baseline is ``TrainedBlindModel``).
        tokenizer: its tokenizer (for NeuroNarrator: ``processor.tokenizer``).
        prompt: the instruction, without EEG placeholders (wrapped in the tokenizer's chat template
            when it has one).
        formatted_prompt: the exact prompt text instead (tokenized as is, no special tokens added).
        max_new_tokens: narrative length limit in tokens.
        train_steps: if > 0, ``fit`` fine-tunes the LM on the training descriptions for that many
            AdamW steps (the text prior without EEG); 0 uses the model as given.
    """

    name = "blind-lm"
    DEFAULT_PROMPT = "Describe this EEG segment."

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str | None = None,
        formatted_prompt: str | None = None,
        max_new_tokens: int = 192,
        train_steps: int = 0,
        learning_rate: float = 1e-3,
        batch_size: int = 8,
        seed: int = 0,
    ):
        if not hasattr(model, "generate"):
            raise TypeError(f"{self.name}: the model must have a generate() method (a transformers model), got {type(model).__name__}")
        self.model = model
        self.tokenizer = tokenizer
        self.prompt = prompt or self.DEFAULT_PROMPT
        self.formatted_prompt = formatted_prompt
        self.max_new_tokens = max_new_tokens
        self.train_steps = train_steps
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.seed = seed
        self.train_losses: list[float] = []
        self._narrative: str | None = None

    def _prompt_ids(self):
        import torch

        if self.formatted_prompt is not None:
            ids = self.tokenizer(self.formatted_prompt, add_special_tokens=False)["input_ids"]
        elif getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": self.prompt}], add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys"):
                ids = ids["input_ids"]
        else:
            ids = self.tokenizer(self.prompt, add_special_tokens=True)["input_ids"]
        return torch.tensor([list(ids)], dtype=torch.long)

    def fit(self, train_rows) -> "BlindLanguageModel":
        self._narrative = None
        if self.train_steps > 0:
            self._fine_tune(_column(train_rows, "description"))
        return self

    def _fine_tune(self, descriptions: Sequence[str]) -> None:
        import torch

        if not descriptions:
            raise ValueError(f"{self.name}: no training descriptions to fine-tune on")
        generator = torch.Generator().manual_seed(self.seed)
        prompt = self._prompt_ids()[0].tolist()
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else (eos or 0)
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.learning_rate)
        self.model.train()
        for _ in range(self.train_steps):
            picks = torch.randint(len(descriptions), (self.batch_size,), generator=generator).tolist()
            sequences, targets = [], []
            for i in picks:
                text = self.tokenizer(descriptions[i], add_special_tokens=False)["input_ids"] + ([eos] if eos is not None else [])
                sequences.append(prompt + text)
                targets.append([-100] * len(prompt) + text)  # loss on the narrative only
            width = max(len(s) for s in sequences)
            input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences])
            labels = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
            attention = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
            loss = self.model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            self.train_losses.append(float(loss.detach()))
        self.model.eval()
        logger.info("%s: fine-tuned %d steps, loss %.3f -> %.3f", self.name, self.train_steps, self.train_losses[0], self.train_losses[-1])

    def narrative(self) -> str:
        """The one narrative the LM writes without EEG (greedy decoding, computed once)."""
        import torch

        if self._narrative is None:
            input_ids = self._prompt_ids()
            self.model.eval()
            with torch.no_grad():
                output = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id,
                )
            self._narrative = self.tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True).strip()
        return self._narrative

    def predict(self, rows) -> list[str]:
        # Greedy decoding of the same prompt is deterministic: one generation serves every row.
        return [self.narrative()] * len(rows)

    def settings(self) -> dict[str, Any]:
        return {
            "model": type(self.model).__name__,
            "prompt": self.formatted_prompt if self.formatted_prompt is not None else self.prompt,
            "decoding": "greedy",
            "max_new_tokens": self.max_new_tokens,
            "train_steps": self.train_steps,
        }


# name -> class; the blind model needs its checkpoint (evaluate_cli's --blind-model).
BASELINES: dict[str, type[Baseline]] = {
    "blind-model": TrainedBlindModel,
    "majority": MajorityTemplate,
    "nearest-neighbour": NearestNeighbourRetrieval,
    "findings-classifier": FindingsClassifierTemplate,
    "oracle": Oracle,
}


def get_baseline(name: str, **kwargs) -> Baseline:
    """Instantiate a baseline by name (``BASELINES``); unknown names list the available ones."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; available baselines are {sorted(BASELINES)}")
    return BASELINES[name](**kwargs)
