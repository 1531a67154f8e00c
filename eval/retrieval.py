"""EEG <-> topomap retrieval: how well the encoders aligned by grounding pair a segment's EEG with its own maps.

Given the pooled EEG and topomap embeddings of the same N test segments (row i of both belongs to
segment i), rank all N topomaps for each EEG segment by cosine similarity (and the other way round);
recall@k is the fraction of segments whose own partner is among the k most similar.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["retrieval_recall"]


def _detached(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def retrieval_recall(eeg_embeddings, topomap_embeddings, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Recall@k of EEG->topomap and topomap->EEG retrieval.

    Args:
        eeg_embeddings: array-like ``(n_segments, dim)``, pooled EEG embeddings.
        topomap_embeddings: array-like ``(n_segments, dim)``, pooled topomap embeddings, same order.
        ks: cut-offs; a k larger than ``n_segments`` is clipped to it (recall 1).

    Returns:
        ``{"eeg_to_topomap_recall@1": ..., "topomap_to_eeg_recall@1": ..., "mean_recall@1": ..., ...,
        "n_segments": N}``. Ties in similarity count against the partner (a pessimistic rank).
    """
    # np.array copies, so normalizing below never touches the caller's arrays; torch tensors are detached first.
    eeg = np.array(_detached(eeg_embeddings), dtype=np.float64)
    topo = np.array(_detached(topomap_embeddings), dtype=np.float64)
    if eeg.ndim != 2 or topo.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n_segments, dim); got shapes {eeg.shape} and {topo.shape}")
    if eeg.shape != topo.shape:
        raise ValueError(f"EEG embeddings {eeg.shape} and topomap embeddings {topo.shape} must have the same shape (row i = segment i)")
    if eeg.shape[0] == 0:
        raise ValueError("no segments to retrieve from: the embedding matrices are empty")
    if not (np.isfinite(eeg).all() and np.isfinite(topo).all()):
        raise ValueError("embeddings contain NaN or infinite values")
    eeg /= np.maximum(np.linalg.norm(eeg, axis=1, keepdims=True), 1e-12)
    topo /= np.maximum(np.linalg.norm(topo, axis=1, keepdims=True), 1e-12)
    similarity = eeg @ topo.T  # (N, N): row i = EEG i against every topomap
    n = similarity.shape[0]
    out: dict[str, float] = {"n_segments": n}
    for direction, sim in (("eeg_to_topomap", similarity), ("topomap_to_eeg", similarity.T)):
        own = np.diag(sim)[:, None]
        # rank of the partner = number of candidates at least as similar (itself included)
        rank = (sim >= own).sum(axis=1)
        for k in ks:
            if k < 1:
                raise ValueError(f"recall@k needs k >= 1, got {k}")
            out[f"{direction}_recall@{k}"] = float(np.mean(rank <= min(k, n)))
    for k in ks:
        out[f"mean_recall@{k}"] = (out[f"eeg_to_topomap_recall@{k}"] + out[f"topomap_to_eeg_recall@{k}"]) / 2
    return out
