"""CIDEr-D (Vedantam, Zitnick, Parikh 2015) as a local ``evaluate`` module; own implementation.

For n = 1..4, each sentence becomes a TF-IDF vector of its n-grams: raw count times
log(N / max(1, df)), where N is the number of segments scored and df the number of segments whose
references contain the n-gram (IDF is estimated on the references of the evaluated set, so the value
depends on the set, as in the original). Per reference, the n-gram similarity is

    sum_g min(v_hyp[g], v_ref[g]) * v_ref[g] / (|v_hyp| * |v_ref|) * exp(-(l_hyp - l_ref)^2 / (2 sigma^2))

(clipping by the reference's weight and a gaussian length penalty on the token counts, sigma = 6:
the "-D" safeguards against gaming by repetition and length). A segment's score is the mean over
n and over its references, times 10; the corpus value is the mean over segments, in [0, 10].
Tokens come from ``neuronarrator_eval.language.tokenize``; no stemming.
"""

import math
from collections import Counter

import datasets
import evaluate

from neuronarrator_eval.language import tokenize

_DESCRIPTION = "CIDEr-D: clipped TF-IDF n-gram cosine (n = 1..4) with gaussian length penalty (sigma 6), x10."
_CITATION = "Vedantam, Zitnick, Parikh. CIDEr: consensus-based image description evaluation. CVPR 2015."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated narratives (str).
    references: list of reference narratives, one str or a list of str per prediction.
    n: largest n-gram order (default 4); sigma: length penalty width in tokens (default 6).
Returns:
    cider_d: corpus mean in [0, 10]; cider_d_per_segment: list of per-segment scores.
"""


def _ngrams(tokens, n_max):
    counts = Counter()
    for n in range(1, n_max + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i : i + n])] += 1
    return counts


def _tfidf(counts, document_frequency, log_n, n_max):
    """Per order: {ngram: tf * idf} and the vector's norm."""
    vectors = [{} for _ in range(n_max)]
    for gram, tf in counts.items():
        vectors[len(gram) - 1][gram] = tf * (log_n - math.log(max(1.0, document_frequency[gram])))
    norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vectors]
    return vectors, norms


def cider_d_scores(predictions, references, n=4, sigma=6.0):
    """Per-segment CIDEr-D (x10) of tokenized ``predictions`` against lists of tokenized references."""
    ref_counts = [[_ngrams(r, n) for r in refs] for refs in references]
    document_frequency = Counter()
    for counts in ref_counts:
        # df counts segments, not sentences: an n-gram in two references of one segment counts once.
        for gram in set().union(*counts):
            document_frequency[gram] += 1
    log_n = math.log(float(len(references))) if references else 0.0
    scores = []
    for hyp, refs, counts_refs in zip(predictions, references, ref_counts):
        hyp_vec, hyp_norm = _tfidf(_ngrams(hyp, n), document_frequency, log_n, n)
        total = 0.0
        for ref, counts in zip(refs, counts_refs):
            ref_vec, ref_norm = _tfidf(counts, document_frequency, log_n, n)
            penalty = math.exp(-((len(hyp) - len(ref)) ** 2) / (2 * sigma**2))
            per_order = 0.0
            for k in range(n):
                if hyp_norm[k] == 0 or ref_norm[k] == 0:
                    continue
                dot = sum(min(w, ref_vec[k].get(g, 0.0)) * ref_vec[k].get(g, 0.0) for g, w in hyp_vec[k].items())
                per_order += dot / (hyp_norm[k] * ref_norm[k]) * penalty
            total += per_order / n
        scores.append(10.0 * total / max(len(refs), 1))
    return scores


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CiderD(evaluate.Metric):
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

    def _compute(self, predictions, references, n=4, sigma=6.0):
        refs = [[r] if isinstance(r, str) else list(r) for r in references]
        hyps = [tokenize(p) for p in predictions]
        ref_tokens = [[tokenize(r) for r in rs] for rs in refs]
        scores = cider_d_scores(hyps, ref_tokens, n=n, sigma=sigma)
        return {"cider_d": sum(scores) / max(len(scores), 1), "cider_d_per_segment": scores}
