"""ROUGE-L (Lin 2004) as a local ``evaluate`` module, on Google's rouge-score package.

Per prediction: longest common subsequence of tokens with each reference, F-measure (beta = 1)
of LCS precision and recall; the best reference counts. The corpus value is the mean over
predictions. Tokens come from ``neuronarrator_eval.language.tokenize`` (rouge-score's own
tokenizer would split ``9.5`` into ``9`` and ``5``); no stemming.
"""

import datasets
import evaluate
from rouge_score import rouge_scorer

from neuronarrator_eval.language import tokenize

_DESCRIPTION = "ROUGE-L F-measure (LCS), mean over predictions, best reference per prediction."
_CITATION = "Lin. ROUGE: a package for automatic evaluation of summaries. ACL workshop 2004."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated narratives (str).
    references: list of reference narratives, one str or a list of str per prediction.
Returns:
    rouge_l (mean F-measure), rouge_l_precision, rouge_l_recall: floats in [0, 1];
    rouge_l_per_segment: list of per-prediction F-measures.
"""


class _Tokenizer:
    """rouge-score calls ``tokenize(text)`` on the object it is given."""

    @staticmethod
    def tokenize(text):
        return tokenize(text)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RougeL(evaluate.Metric):
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
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_Tokenizer())
        per_segment = []
        p_sum = r_sum = 0.0
        for prediction, refs in zip(predictions, references):
            refs = [refs] if isinstance(refs, str) else refs
            best = max((scorer.score(ref, prediction)["rougeL"] for ref in refs), key=lambda s: s.fmeasure)
            per_segment.append(best.fmeasure)
            p_sum += best.precision
            r_sum += best.recall
        n = max(len(predictions), 1)
        return {
            "rouge_l": sum(per_segment) / n,
            "rouge_l_precision": p_sum / n,
            "rouge_l_recall": r_sum / n,
            "rouge_l_per_segment": per_segment,
        }
