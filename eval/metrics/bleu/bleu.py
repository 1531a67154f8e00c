"""BLEU-1..4 (corpus level, Papineni et al. 2002) as a local ``evaluate`` module, on nltk's corpus_bleu.

Tokens come from ``neuronarrator_eval.language.tokenize`` (lower case, numbers kept whole). BLEU-n is
the geometric mean of the clipped 1..n-gram precisions pooled over the corpus times the brevity
penalty exp(1 - r/c) when the candidates are shorter than the closest reference lengths. No
smoothing: a corpus with no matching n-gram of some order scores 0 at that order and above.
"""

import math
import warnings

import datasets
import evaluate
from nltk.translate.bleu_score import corpus_bleu

from neuronarrator_eval.language import tokenize

_DESCRIPTION = "Corpus BLEU-1..4 with NeuroNarrator's tokenizer (nltk corpus_bleu, no smoothing)."
_CITATION = "Papineni, Roukos, Ward, Zhu. BLEU: a method for automatic evaluation of machine translation. ACL 2002."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated narratives (str).
    references: list of reference narratives, one str or a list of str per prediction.
Returns:
    bleu_1, bleu_2, bleu_3, bleu_4: floats in [0, 1]; brevity_penalty; length_ratio (candidate / reference tokens).
"""

_WEIGHTS = {1: (1.0,), 2: (0.5, 0.5), 3: (1 / 3, 1 / 3, 1 / 3), 4: (0.25, 0.25, 0.25, 0.25)}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Bleu(evaluate.Metric):
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

    def _compute(self, predictions, references):
        refs = [[tokenize(r) for r in ([ref] if isinstance(ref, str) else ref)] for ref in references]
        hyps = [tokenize(p) for p in predictions]
        out = {}
        with warnings.catch_warnings():
            # nltk warns when an n-gram order has no match; 0 is the documented value then.
            warnings.simplefilter("ignore")
            for n, weights in _WEIGHTS.items():
                out[f"bleu_{n}"] = float(corpus_bleu(refs, hyps, weights=weights))
        hyp_len = sum(len(h) for h in hyps)
        # Closest reference length per candidate (ties: the shorter), as in corpus_bleu.
        ref_len = sum(min((abs(len(r) - len(h)), len(r)) for r in rs)[1] for rs, h in zip(refs, hyps))
        if hyp_len == 0:
            out["brevity_penalty"] = 0.0
        else:
            out["brevity_penalty"] = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
        out["length_ratio"] = hyp_len / ref_len if ref_len else 0.0
        return out
