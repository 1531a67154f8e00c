"""Find the K segments that precede a row in its recording (the history the model reasons over).

Rows are stored one segment each; a training example needs the segment plus its K predecessors of
the same recording. ``HistoryIndex`` maps ``(source, recording, segment_index)`` to row positions
once, from three small columns, so that looking the history up costs a dict lookup per segment.
Segments the corpus does not hold (a recording's first segments, segments skipped by a
``max_segments_per_recording`` limit or by a bad stretch of signal) are flagged as missing.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np

from modeling_neuronarrator.findings_neuronarrator import DEFAULT_HISTORY_LENGTH

__all__ = ["HistoryIndex"]

_COLUMNS = ("source", "recording", "segment_index")


def _column(dataset: Any, name: str) -> list:
    try:
        return list(dataset[name])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"HistoryIndex needs the columns {list(_COLUMNS)} (NeuroCorpus rows); column {name!r} could not be read: {error}"
        ) from error


class HistoryIndex:
    """Row positions of each row's K preceding segments.

    Args:
        dataset: a ``datasets.Dataset`` of NeuroCorpus rows, or any mapping of column name to
            sequence with the columns ``source``, ``recording`` and ``segment_index``.
        k: number of preceding segments (K=3 in the paper).

    Example::

        index = HistoryIndex(corpus["train"], k=3)
        index.preceding(10)        # [7, 8, 9]: rows of segments s-3, s-2, s-1 (None where missing)
        index.table()              # (n_rows, 3) int64, -1 where missing
    """

    def __init__(self, dataset: Any, k: int = DEFAULT_HISTORY_LENGTH) -> None:
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"HistoryIndex: k must be a non-negative int (number of preceding segments), got {k!r}")
        self.k = k
        sources, recordings, segments = (_column(dataset, name) for name in _COLUMNS)
        if not len(sources) == len(recordings) == len(segments):
            raise ValueError("HistoryIndex: the columns source, recording and segment_index have different lengths")
        self._keys = list(zip(sources, recordings, (int(s) for s in segments)))
        self._position: dict[tuple[str, str, int], int] = {}
        for row, key in enumerate(self._keys):
            if key in self._position:
                raise ValueError(
                    f"HistoryIndex: segment {key[2]} of {key[0]}/{key[1]} appears twice (rows {self._position[key]} and {row}); "
                    "the corpus holds duplicate rows"
                )
            self._position[key] = row

    def __len__(self) -> int:
        return len(self._keys)

    def preceding(self, row: int) -> list[Optional[int]]:
        """Row positions of the K segments before ``row`` in its recording, oldest first; None where
        the corpus does not hold that segment."""
        if not 0 <= row < len(self._keys):
            raise IndexError(f"HistoryIndex: row {row} out of range for {len(self._keys)} rows")
        source, recording, segment = self._keys[row]
        return [self._position.get((source, recording, segment - offset)) for offset in range(self.k, 0, -1)]

    def table(self, rows: Optional[Iterable[int]] = None) -> np.ndarray:
        """``preceding`` of many rows (all by default) as an int64 array of shape ``(n_rows, k)``,
        -1 where a segment is missing."""
        rows = range(len(self._keys)) if rows is None else rows
        found = [[-1 if r is None else r for r in self.preceding(int(row))] for row in rows]
        return np.array(found, dtype=np.int64).reshape(len(found), self.k)

    def rows_of(self, keys: Sequence[tuple[str, str, int]]) -> list[int]:
        """Row positions of ``(source, recording, segment_index)`` keys (-1 where absent)."""
        return [self._position.get((s, r, int(i)), -1) for s, r, i in keys]
