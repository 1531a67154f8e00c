"""METEOR (Banerjee and Lavie 2005) as a local ``evaluate`` module, on nltk's meteor_score.

Unigram alignment by exact match, Porter stem and WordNet synonym; F-mean with recall weighted 9:1
(alpha 0.9), fragmentation penalty gamma * (chunks / matches) ** beta with beta 3, gamma 0.5; the
best reference counts; the corpus value is the mean over predictions. WordNet comes from Debian's
wordnet-base + wordnet-sense-index, set up on first use by ``neuronarrator_eval.wordnet``.
"""

import datasets
import evaluate
from nltk.translate.meteor_score import meteor_score

from neuronarrator_eval.language import tokenize
from neuronarrator_eval.wordnet import ensure_wordnet

_DESCRIPTION = "METEOR (nltk, WordNet 3.0 from Debian), mean over predictions."
_CITATION = "Banerjee, Lavie. METEOR: an automatic metric for MT evaluation with improved correlation with human judgments. 2005."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated narratives (str).
    references: list of reference narratives, one str or a list of str per prediction.
    alpha, beta, gamma: METEOR parameters (defaults 0.9, 3.0, 0.5).
Returns:
    meteor: float in [0, 1]; meteor_per_segment: list of per-prediction scores.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Meteor(evaluate.Metric):
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

    def _download_and_prepare(self, dl_manager):
        # No download: copy the Debian WordNet into NLTK_DATA (idempotent).
        ensure_wordnet()

    def _compute(self, predictions, references, alpha=0.9, beta=3.0, gamma=0.5):
        ensure_wordnet()
        from nltk.corpus import wordnet

        per_segment = []
        for prediction, refs in zip(predictions, references):
            refs = [refs] if isinstance(refs, str) else refs
            per_segment.append(
                meteor_score([tokenize(r) for r in refs], tokenize(prediction), wordnet=wordnet, alpha=alpha, beta=beta, gamma=gamma)
            )
        return {"meteor": sum(per_segment) / max(len(per_segment), 1), "meteor_per_segment": per_segment}
