"""Subject-disjoint, deterministic train/validation/test splits.

A subject's split depends only on a hash of ``source/subject`` (not on the order of indexing, the
other subjects or the machine), so adding a source or a subject never moves anyone else. Official
test sets are kept: a subject whose recordings the source puts in its evaluation set (TUAB/TUEV
``eval``) goes to ``test``; a subject of an official training set goes to train or validation,
never to test.

Small builds: with few subjects the hash can put everyone in train (3 subjects at 80/10/10 do so
half of the time), and then ``evaluate --split test`` has no rows. So ``assign_splits`` makes sure
that, when the build holds three or more subjects, validation and test each get at least one
(for a split whose fraction is not 0): the subject without an official split whose hash lies
closest to that split's interval moves there (highest hash first for test, then for validation;
an official-train subject may fill validation, never test), and train keeps at least one subject.
Only such builds move a subject away from its hashed split; ``split_report`` says which subjects
ended where.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from typing import Iterable, Mapping, Optional, Sequence

__all__ = ["DEFAULT_FRACTIONS", "MIN_SUBJECTS_FOR_HELD_OUT", "SPLITS", "assign_splits", "split_of_subject", "split_report", "subject_overlaps"]

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)  # train, validation, test
MIN_SUBJECTS_FOR_HELD_OUT = 3  # from this many subjects on, validation and test are never empty


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(
            f"split fractions must be three non-negative numbers (train, validation, test) summing to 1, got {tuple(fractions)}"
        )
    return tuple(float(f) for f in fractions)  # type: ignore[return-value]


def _unit_interval(source: str, subject: str) -> float:
    digest = hashlib.sha256(f"{source}/{subject}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of_subject(
    source: str,
    subject: str,
    official_split: Optional[str] = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> str:
    """Split of one subject.

    Args:
        source: registry name of the source.
        subject: subject id within the source.
        official_split: the source's own split of this subject (``"train"``/``"validation"``/
            ``"test"``) or None.
        fractions: (train, validation, test) fractions for subjects without an official split.

    Returns:
        ``"train"``, ``"validation"`` or ``"test"``.
    """
    train, validation, _ = _check_fractions(fractions)
    if official_split in ("test", "validation"):
        return official_split
    u = _unit_interval(source, subject)
    if official_split == "train":
        # Official training subjects are shared between train and validation in the same ratio.
        share = train / (train + validation) if train + validation > 0 else 1.0
        return "train" if u < share else "validation"
    if official_split is not None:
        raise ValueError(f"{source}/{subject}: official split must be train, validation, test or None, got {official_split!r}")
    if u < train:
        return "train"
    return "validation" if u < train + validation else "test"


def assign_splits(items: Iterable, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> dict[tuple[str, str], str]:
    """Split of every ``(source, subject)`` of ``items`` (``RecordingItem``s).

    All recordings of a subject share its split. A subject whose recordings carry different
    official splits is an error (the source's split would not be subject-disjoint). With three or
    more subjects, validation and test each get at least one (see the module docstring).
    """
    fractions = _check_fractions(fractions)
    official: dict[tuple[str, str], set] = defaultdict(set)
    for item in items:
        official[(item.source, item.subject)].add(item.official_split)
    splits = {}
    for (source, subject), values in sorted(official.items()):
        if len(values) > 1:
            raise ValueError(
                f"{source}: subject {subject!r} has recordings in several official splits {sorted(map(str, values))}; "
                "the reader must give each subject one official split"
            )
        splits[(source, subject)] = split_of_subject(source, subject, next(iter(values)), fractions)
    if len(splits) >= MIN_SUBJECTS_FOR_HELD_OUT:
        _fill_held_out(splits, {key: next(iter(values)) for key, values in official.items()}, fractions)
    return splits


def _fill_held_out(splits: dict[tuple[str, str], str], official: Mapping[tuple[str, str], Optional[str]], fractions) -> None:
    """Move one subject into an empty test / validation split (in place), see the module docstring."""
    for target, fraction in (("test", fractions[2]), ("validation", fractions[1])):
        if fraction <= 0 or target in splits.values():
            continue
        counts = {split: list(splits.values()).count(split) for split in SPLITS}
        candidates = [
            key for key, split in splits.items()
            if counts[split] > 1 and split != target and (official[key] is None or (official[key] == "train" and target == "validation"))
            and not (split == "validation" and target == "test" and counts["validation"] <= 1)
        ]  # fmt: skip
        if not candidates:
            logger.warning("no subject can move to the empty %s split (official splits or too few subjects)", target)
            continue
        chosen = max(candidates, key=lambda key: (_unit_interval(*key), key))
        logger.info("%s/%s moves from %s to the empty %s split (few subjects)", chosen[0], chosen[1], splits[chosen], target)
        splits[chosen] = target


def split_report(splits: Mapping[tuple[str, str], str]) -> dict[str, list[str]]:
    """``{split: ["source/subject", ...]}`` (sorted), for printing what went where."""
    out: dict[str, list[str]] = {split: [] for split in SPLITS}
    for (source, subject), split in sorted(splits.items()):
        out[split].append(f"{source}/{subject}")
    return out


def subject_overlaps(rows_by_split: Mapping[str, Iterable[tuple[str, str]]]) -> dict[tuple[str, str], list[str]]:
    """``{(source, subject): [splits]}`` for subjects found in more than one split (empty when the
    splits are subject-disjoint)."""
    seen: dict[tuple[str, str], set] = defaultdict(set)
    for split, subjects in rows_by_split.items():
        for key in subjects:
            seen[tuple(key)].add(split)
    return {key: sorted(splits) for key, splits in seen.items() if len(splits) > 1}
