"""ISRUC-Sleep (University of Coimbra, Portugal; Khalighi et al. 2016).

Layout: the official download is one RAR archive per subject, ``ISRUC_Sleep/subgroupI/<n>.rar``,
``subgroupII/<n>.rar``, ``subgroupIII/<n>.rar`` (Roman numerals; physioex ``isruc/preprocess.py``
fetches ``http://dataset.isr.uc.pt/ISRUC_Sleep/{subgroupI,subgroupIII}/<n>.rar`` and unpacks each
into its subgroup folder), unpacked as ``subgroupI/<n>/<n>.rec`` with ``<n>_1.txt`` and
``<n>_2.txt`` (n = 1..100, one session), ``subgroupII/<n>/<s>/<s>.rec`` with ``<s>_1.txt``
(8 subjects, sessions s = 1, 2; torcheeg, CBraMod) and ``subgroupIII/<n>/<n>.rec`` (10 healthy
subjects). User scripts often rename the folders ``Subgroup_1``/``Subgroup_2``/``Subgroup_3``
(torcheeg, CBraMod); both spellings are read (``subgroupI``, ``SubgroupIII``, ``Subgroup_1``,
``subgroup3``...). Subjects are ``sg<group>-<n>``; subject numbers restart in each subgroup.

``.rec`` files are EDF under another extension: ``load_raw`` opens them through a temporary
``.edf`` link (MNE refuses other extensions). Labels: ``<stem>_1.txt`` (scorer 1; scorer 2 is
``_2.txt``, see ``scorer``), one integer per 30 s epoch from the recording start: 0 W, 1 N1, 2 N2,
3 N3, 5 REM (AASM; 4 is unused: an epoch with 4 or any other code is left unlabelled and
reported once per file in ``errors.jsonl``). The label file can hold a few more epochs than
the signal: epochs beyond the EDF's length (from its header) are dropped. Channels ``F3-A2``,
``C3-A2``, ``O1-A2``, ``F4-A1``... (some recordings ``-M1``/``-M2``), 200 Hz. Mains 50 Hz
(Portugal). No official split.

Evidence: guidogagl/physioex ``physioex/preprocess/.future/isruc/preprocess.py`` (subgroupI /
subgroupIII URLs, ``<n>/<n>.rec`` and ``<n>_1.txt`` read as one integer per line, channel
``C3-A2`` or ``C3-M2``, 200 Hz, label/epoch count mismatch truncated to the shorter). The
Subgroup_N spelling and subgroup II's session folders come from torcheeg / CBraMod (SOURCES.md);
the exact inner folder of an unpacked subgroup II archive is not verified here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from ._util import (
    edf_header_duration,
    merge_spans,
    read_edf_any_extension,
)
from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["ISRUC_STAGES", "ISRUCReader", "read_isruc_labels"]

ISRUC_STAGES = {0: "W", 1: "N1", 2: "N2", 3: "N3", 5: "REM"}
EPOCH_S = 30.0
# "subgroupI", "SubgroupIII" (official download), "Subgroup_1", "subgroup3" (common renames).
_SUBGROUP = re.compile(r"^sub[-_ ]?group[-_ ]?(III|II|I|[123])$", re.IGNORECASE)
_ROMAN = {"I": "1", "II": "2", "III": "3"}


def read_isruc_labels(path: str | Path) -> list[int]:
    """Per-epoch stage codes of an ISRUC ``<n>_1.txt`` (one integer per line)."""
    codes = []
    with open(path, encoding="utf-8", errors="replace") as fid:
        for line_no, line in enumerate(fid, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                codes.append(int(float(text)))
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: {text!r} is not a stage code (0 W, 1 N1, 2 N2, 3 N3, 5 REM)") from None
    return codes


@register_reader
class ISRUCReader(SourceReader):
    name = "isruc"
    title = "ISRUC-Sleep"
    task = "sleep staging (AASM)"
    label_keys = ("sleep_stage",)
    licence = "free download from the ISRUC-Sleep site for research, citing Khalighi et al. 2016"
    homepage = "https://sleeptight.isr.uc.pt/"
    layout = (
        "subgroupI/<n>/<n>.rec + <n>_1.txt, subgroupII/<n>/<s>/<s>.rec + <s>_1.txt, subgroupIII/<n>/<n>.rec + <n>_1.txt "
        "(the official archives unpacked; Subgroup_1/2/3 also read)"
    )
    line_freq = 50.0
    scorer: ClassVar[int] = 1
    skipped_reason = "are not under a subgroupI/II/III (or Subgroup_N) folder"

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        issues = walk.issues
        for rec in sorted(walk.root.rglob("*.rec")):
            rel = rec.relative_to(walk.root).parts
            position = next((i for i, part in enumerate(rel[:-1]) if _SUBGROUP.match(part)), None)
            if position is None:
                walk.skip(rec)
                continue
            token = _SUBGROUP.match(rel[position]).group(1).upper()
            g = _ROMAN.get(token, token)
            below = rel[position + 1 : -1]  # folders between the subgroup folder and the file
            if not below:
                logger.warning("%s: %s lies directly in %s; expected a subject folder (%s/<n>/<n>.rec)", self.name, rec, rel[position], rel[position])
                continue
            subject = f"sg{g}-{below[0]}"
            recording = f"sg{g}-{'-'.join(below)}" if len(below) > 1 else subject
            label_path = rec.with_name(f"{rec.stem}_{self.scorer}.txt")
            spans: list[LabelSpan] = []
            if label_path.is_file():
                duration = edf_header_duration(rec)
                try:
                    codes = read_isruc_labels(label_path)
                except ValueError as error:
                    issues.add(label_path, f"not readable ({error}); indexed without stages")
                    codes = []
                n_epochs = min(len(codes), int(duration // EPOCH_S))
                if len(codes) != n_epochs:
                    logger.info("%s: %s has %d epochs, the signal %d; the extra ones are dropped", self.name, label_path, len(codes), n_epochs)
                unknown: dict[int, int] = {}
                for i, code in enumerate(codes[:n_epochs]):
                    if code in ISRUC_STAGES:
                        spans.append(LabelSpan(i * EPOCH_S, (i + 1) * EPOCH_S, {"sleep_stage": ISRUC_STAGES[code]}))
                    else:
                        unknown[code] = unknown.get(code, 0) + 1
                if unknown:
                    detail = ", ".join(f"code {code} x{count}" for code, count in sorted(unknown.items()))
                    issues.add(label_path, f"stage codes outside 0 W, 1 N1, 2 N2, 3 N3, 5 REM, left unlabelled: {detail}")
            else:
                issues.add(rec, f"no {label_path.name} beside it; indexed without stages")
            yield RecordingItem(
                source=self.name,
                subject=subject,
                recording=recording,
                path=str(rec),
                spans=merge_spans(spans),
                line_freq=self.line_freq,
                extra={"subgroup": int(g)},
            )

    def load_raw(self, item: RecordingItem):
        """The ``.rec`` (EDF) recording as an MNE Raw in volts, preloaded."""
        return read_edf_any_extension(item.path)
