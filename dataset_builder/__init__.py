"""NeuroCorpus: source readers, clinically grounded descriptions and the corpus builder."""

from .labels import LABEL_VOCABULARY, check_labels, vocabulary_markdown

__all__ = ["LABEL_VOCABULARY", "check_labels", "vocabulary_markdown"]
