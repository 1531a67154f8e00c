"""Measurement-constrained decoding: the model writes, but never a sentence its measurement contradicts.

The narratives are made of the template writer's sentences (``dataset_builder.describe``), so the
sentences a narrative may hold about a segment without contradicting its measured ``Findings``
form a small grammar (``dataset_builder.description.measured_sentence_patterns``: the variants that
agree with the measurement, each measured value in the writer's form, source labels and the change
window left open). ``MeasuredGrammarLogitsProcessor`` keeps every sentence a prefix of one of them,
as grammar-constrained decoding does (Geng et al. 2023, "Grammar-Constrained Decoding for
Structured NLP Tasks without Finetuning"; transformers' ``prefix_allowed_tokens_fn`` does the same
for a token trie): at each step the model's best token is kept when the sentence can still end as
one of the measured sentences, otherwise the best token that can. Each row keeps, per pattern
still open, a state of its automaton (``report.sentence_automaton``), advanced only by the text
each token adds.

What the model still decides: which findings to state and in which phrasing, and everything the
measurement leaves open (the source labels, read from the EEG). What it can no longer do: copy the
predominant region into the slowing's location, or write the side of an asymmetry into a focal
slowing on the other side (stop 30's analysis of the greedy errors on unseen subjects).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from ..eeg_io_neuronarrator import SEGMENT_SECONDS
from ..findings_neuronarrator import measured_change_window
from .sentence_automaton import sentence_automaton

__all__ = ["MeasuredGrammar", "MeasuredGrammarLogitsProcessor", "measured_grammar", "supports_measured_grammar", "token_texts"]


@lru_cache(maxsize=1024)
def _grammar(findings_json: str, change_window: str | None = None) -> tuple:
    """((sentence group, automaton), ...) of a segment's measured sentences (the change sentence's
    window ``change_window``, or open when None)."""
    from dataset_builder.description import measured_sentence_patterns

    return tuple(
        (group, sentence_automaton(p))
        for group, patterns in measured_sentence_patterns(findings_json, change_window=change_window).items()
        for p in patterns
    )


def _findings_json(findings: Any) -> str:
    from dataset_builder.agreement import read_findings  # the one reader of row findings

    return findings if isinstance(findings, str) else read_findings(findings).to_json()


# The sentences a narrative opens with, in this order, as the writer's always do: the vigilance state
# before the background (ACNS guideline 7's reading order: a background is read in its state), then
# the background rhythm. Without it the grammar let a model whose background sentence contradicted
# the measurement go on to the distribution instead (stop 40's default: 22 of 4,278 validation
# narratives with no background rhythm and no PDR sentence).
OPENING_GROUPS = ("state", "background")
# Groups a narrative may leave out: the source labels. A key no training source carried (EEGMMIDB's
# eyes) would be guessed (stop 33: 74 of 96 wrong) where the model leaves it out. Every other group
# is a measured finding the writer states for every segment (3,000 corpus rows: none left out), so
# a narrative ends only once it has stated each: the grammar let the stop-40 default end without
# its measured artifacts (1.4 % of sealed-test segments) or events (0.9 %), an omission a reader
# takes for "none" (events must be named with their times).
OPTIONAL_GROUP_PREFIX = "label:"


@dataclass
class _RowState:
    grammar: tuple  # (group, automaton) of this row's measured sentences
    text: str = ""  # generated text so far (decoded)
    start: int = 0  # where the sentence being written starts in ``text``
    sentence: str = ""  # the sentence being written: text[start:] without its leading whitespace
    candidates: tuple = ()  # (group, automaton, state after ``sentence``) of the patterns it is still a prefix of
    said: set = field(default_factory=set)  # groups already stated: the writer states each once
    released: bool = False  # decoding stopped being prefix-stable: no constraint any more
    finished: bool = False  # the row has ended its narrative
    steered: int = 0  # steps where the model's own best token was not allowed
    pending: bool = False  # the text ends inside a character split over byte tokens
    opening: tuple = field(init=False)  # the OPENING_GROUPS this row's grammar holds, in order (once per row, not per token)
    required: frozenset = field(init=False)  # the groups it must state before it ends (all but the labels)

    def __post_init__(self):
        groups = {group for group, _ in self.grammar}
        self.opening = tuple(group for group in OPENING_GROUPS if group in groups)
        self.required = frozenset(group for group in groups if not group.startswith(OPTIONAL_GROUP_PREFIX))

    def may_start(self, said: set) -> list:
        """(group, automaton) of the sentences that may start after ``said``: the first opening group
        not yet said, else every group not said."""
        first = next((group for group in self.opening if group not in said), None)
        return [(group, automaton) for group, automaton in self.grammar if group not in said and (first is None or group == first)]

    def unsaid(self) -> tuple:
        """The candidates of a new sentence: the groups that may start (``may_start``), each automaton at its start."""
        return tuple((group, automaton, automaton.start) for group, automaton in self.may_start(self.said))


class MeasuredGrammarLogitsProcessor(LogitsProcessor):
    """Keeps each generated sentence a prefix of one of its segment's measured sentences.

    Args:
        tokenizer: the narrator's tokenizer (its single-token strings are what the check reads).
        findings: the measured ``Findings`` (or dicts / JSON) of the batch's rows, in row order;
            None for a row decodes it freely.
        top_k: with ``sample``, the allowed tokens among the model's ``top_k`` best keep their
            scores (sampling draws among them); below it only the best allowed token is kept.
        sample: False (greedy): only the best allowed token is kept, however far down the
            model's ranking it is. True: see ``top_k``.
        change_windows: per row, the window its change sentence names
            (``description.change_window_text`` of the history the row was given); None (or a None
            entry) leaves that row's window open.

    Each group of sentences (``measured_sentence_patterns``: state, background, ..., each event,
    each label) is stated at most once, as the writer does; a narrative opens with the state, then
    the background sentence (``OPENING_GROUPS``), and ends only after a whole sentence and once it
    has stated every measured group (each event included); the source labels stay the model's
    choice (``OPTIONAL_GROUP_PREFIX``). A row whose decoded text
    stops growing by appending (a tokenizer that rewrites earlier characters) is released,
    unconstrained, and counted in ``released_rows``.
    """

    def __init__(
        self,
        tokenizer,
        findings: Sequence[Any],
        top_k: int = 48,
        sample: bool = False,
        token_strings: Sequence[str] | None = None,
        change_windows: Sequence[str | None] | None = None,
    ):
        self.tokenizer = tokenizer
        self.top_k = int(top_k)
        self.sample = bool(sample)
        self.eos_token_ids = {int(tokenizer.eos_token_id)}
        self.stop_ids = set(int(i) for i in tokenizer.all_special_ids) | self.eos_token_ids
        self.token_strings = list(token_strings) if token_strings is not None else token_texts(tokenizer)
        windows = [None] * len(findings) if change_windows is None else list(change_windows)
        if len(windows) != len(findings):
            raise ValueError(f"MeasuredGrammarLogitsProcessor: {len(windows)} change windows for {len(findings)} rows")
        # A row without measured findings (a caller that has none) is decoded freely.
        self.rows = [
            _RowState(grammar=()) if f is None else _RowState(grammar=_grammar(_findings_json(f), window)) for f, window in zip(findings, windows)
        ]
        for row in self.rows:
            row.candidates = row.unsaid()
            row.released = not row.grammar
        self.prompt_length: int | None = None

    @property
    def steered_steps(self) -> int:
        """Steps, over all rows, where the model's own best token was not allowed."""
        return sum(row.steered for row in self.rows)

    @property
    def released_rows(self) -> int:
        return sum(row.released for row in self.rows)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
        if input_ids.shape[0] != len(self.rows):
            raise ValueError(
                f"MeasuredGrammarLogitsProcessor was built for {len(self.rows)} rows, generate runs {input_ids.shape[0]}: "
                "build one per generate call, with num_beams=1 and one findings per row"
            )
        last = input_ids[:, -1].tolist() if input_ids.shape[1] > self.prompt_length else None
        for index, row in enumerate(self.rows):
            if row.released or row.finished:
                continue
            if last is not None:
                if last[index] in self.stop_ids:
                    row.finished = True  # ended (generate pads it from here)
                    continue
                # The tokenizer's tokens concatenate to its text (supports_measured_grammar): append, do not decode.
                piece = self.token_strings[last[index]]
                if "\ufffd" in piece or row.pending:  # a character split over byte tokens: decode once it is whole
                    text = self.tokenizer.decode(input_ids[index, self.prompt_length :].tolist(), skip_special_tokens=True)
                    row.pending = "\ufffd" in text
                    if row.pending:
                        continue
                else:
                    text = row.text + piece
                if not self._advance(row, text):
                    continue
            allowed = self._allowed(row, scores[index])
            if allowed is None:
                row.released = True
            elif self.sample or allowed[0] != int(scores[index].argmax()):
                row.steered += int(int(scores[index].argmax()) not in allowed)
                kept = scores[index, allowed].clone()
                scores[index] = float("-inf")
                scores[index, allowed] = kept
        return scores

    def _advance(self, row: _RowState, text: str) -> bool:
        """Update the row's sentence state with the text generated since the last step."""
        if not text.startswith(row.text):  # decoding is not prefix-stable here: stop guarding this row
            row.released = True
            return False
        appended = text[len(row.text) :]
        completed = self._completed(row)
        if appended.startswith(" ") and completed:
            row.said |= completed
            row.start = len(row.text)
            row.sentence = ""
            row.candidates = row.unsaid()
        row.text = text
        # The text only grows, so the sentence does too: each automaton reads just what was added.
        sentence = text[row.start :].lstrip()
        added = sentence[len(row.sentence) :]
        row.sentence = sentence
        row.candidates = tuple((g, a, state) for g, a, state in ((g, a, a.advance(s, added)) for g, a, s in row.candidates) if state is not None)
        if not row.candidates:
            row.released = True  # cannot happen under the constraint; a released row is left alone
            return False
        return True

    @staticmethod
    def _completed(row: _RowState) -> set:
        """The groups whose sentence the text being written completes (none while it is unfinished)."""
        return {group for group, automaton, state in row.candidates if automaton.accepts(state)} if row.sentence else set()

    def _allowed(self, row: _RowState, scores: torch.Tensor) -> list[int] | None:
        completed = self._completed(row)  # once per step, not once per token looked at
        best = int(scores.argmax())
        if not self.sample and self._can_follow(row, completed, best):
            return [best]  # the usual case: the model's own choice is a measured sentence's
        allowed = []
        ranking = torch.argsort(scores, descending=True).tolist()
        for rank, token in enumerate(ranking):
            if allowed and (not self.sample or rank >= self.top_k):
                break
            if self._can_follow(row, completed, token):
                allowed.append(token)
        return allowed or None

    def _can_follow(self, row: _RowState, completed: set, token: int) -> bool:
        """Whether ``token`` may follow the text; ``completed`` is the groups the sentence being
        written completes (``_completed``)."""
        said = row.said | completed
        if token in self.eos_token_ids:
            # Every measured group stated (the labels are the model's choice: OPTIONAL_GROUP_PREFIX).
            return bool(completed) and row.required <= said
        if token in self.stop_ids:
            return False
        piece = self.token_strings[token]
        if not piece.strip():
            # A lone space (SmolLM2 writes " 3" as " " + "3"), never two, nor any other whitespace.
            if piece != " " or not row.text or row.text.endswith(" "):
                return False
            if completed:
                return bool(row.may_start(said))
            return any(a.advance(state, piece) is not None for _, a, state in row.candidates)
        if completed and piece.startswith(" "):
            return any(a.is_prefix(piece[1:]) for _, a in row.may_start(said))
        added = piece if row.sentence else piece.lstrip()  # a sentence does not start with whitespace
        return any(a.advance(state, added) is not None for _, a, state in row.candidates)


def token_texts(tokenizer) -> list[str]:
    """Each token id's text as the tokenizer decodes it alone."""
    return [tokenizer.decode([i]) for i in range(len(tokenizer))]


# A writer's sentence with a number, a unit, punctuation and a channel list: what the check must read token by token.
_PROBE_TEXT = "The record is of medium amplitude (31 µV peak to peak). A 3.0 Hz rhythm is seen from 0.5 s to 2.0 s over Fp1, Cz and O2."


def supports_measured_grammar(tokenizer) -> bool:
    """Whether the grammar can follow this tokenizer's output token by token: each token's own text,
    concatenated, gives the text (byte-level BPE with leading-space tokens, as the shipped model's and
    SmolLM2's). A word-level tokenizer that decodes with separators inserted between tokens cannot be
    guarded this way."""
    ids = tokenizer(_PROBE_TEXT, add_special_tokens=False)["input_ids"]
    return "".join(tokenizer.decode([i]) for i in ids) == _PROBE_TEXT == tokenizer.decode(ids)


class MeasuredGrammar:
    """The per-batch factory ``NeuroNarratorForConditionalGeneration.generate_narratives`` takes as
    ``findings_logits_processor``: ``grammar(findings, do_sample=..., history_lengths=...)`` -> a
    one-processor list for that batch's rows. Each row's change sentence names the window its change
    was measured over (``findings_neuronarrator.measured_change_window``, segments of
    ``segment_seconds``); findings written before that field take it from ``history_lengths`` (the
    preceding segments each row was given), and without either the window is left open. It keeps the processors it built, so that a caller can ask, after generating,
    how often each narrative was steered (``take_steering``).

    Raises:
        ValueError: the tokenizer fails ``supports_measured_grammar``.
    """

    def __init__(self, tokenizer, top_k: int = 48, segment_seconds: float = SEGMENT_SECONDS):
        if not supports_measured_grammar(tokenizer):
            raise ValueError(f"{getattr(tokenizer, 'name_or_path', 'tokenizer')}: its tokens do not concatenate to the text it decodes, "
                             "so the measured grammar cannot follow generation token by token; decode freely instead")
        self.tokenizer = tokenizer
        self.top_k = int(top_k)
        self.segment_seconds = float(segment_seconds)
        self.token_strings = token_texts(tokenizer)  # once per narrator, not per batch
        self.built: list[MeasuredGrammarLogitsProcessor] = []

    def __call__(self, findings: Sequence[Any], do_sample: bool = False, history_lengths: Sequence[int] | None = None) -> LogitsProcessorList:
        lengths = [None] * len(findings) if history_lengths is None else list(history_lengths)
        windows = [_row_change_window(f, n, self.segment_seconds) for f, n in zip(findings, lengths)]
        processor = MeasuredGrammarLogitsProcessor(
            self.tokenizer, findings, top_k=self.top_k, sample=do_sample, token_strings=self.token_strings, change_windows=windows
        )
        self.built.append(processor)
        return LogitsProcessorList([processor])

    def take_steering(self) -> list[int]:
        """For every row generated since the last call, in generation order: the steps where the
        grammar did not allow the model's own best token (0: the model's narrative as it chose it)."""
        counts = [row.steered for processor in self.built for row in processor.rows]
        self.built = []
        return counts


def _row_change_window(findings: Any, history_length: int | None, segment_seconds: float) -> str | None:
    """The window a row's change sentence must name, or None (left open) where neither the findings
    nor the history say it."""
    from dataset_builder.agreement import read_findings

    if findings is None:
        return None
    findings = read_findings(findings)
    if findings.change_window_segments is None and history_length is None:
        return None
    return measured_change_window(findings, history_length, segment_seconds)


def measured_grammar(tokenizer, top_k: int = 48) -> MeasuredGrammar:
    """``MeasuredGrammar(tokenizer, top_k)``: the factory ``generate_narratives`` takes as
    ``findings_logits_processor``."""
    return MeasuredGrammar(tokenizer, top_k=top_k)
