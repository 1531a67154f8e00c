"""Prefix matching of the measured grammar's sentence patterns, without a regex engine's partial mode.

The measured grammar (``dataset_builder.description.measured_sentence_patterns``) writes each
sentence as a small regex: the writer's text escaped with ``re.escape``, a non-capturing
alternation of label phrases, and the change window ``\\d+(?:\\.\\d+)? s``. Constrained decoding
asks, for every token it considers, whether the sentence written so far is still the start of one
of them. The third-party ``regex`` module answers that with ``fullmatch(partial=True)``, but it
crashed the interpreter (a segfault, not an exception) twice in the default recipe's grammar
evaluation (stops 34 and 36), on rows that passed when rerun. This module answers it from
the patterns themselves, in pure Python: each pattern is compiled to a Thompson NFA and walked as
a DFA built lazily, one character at a time, so that decoding keeps a state per pattern and only
advances it by the token's text.

Supported syntax, the whole of what the grammar writes: literal characters, backslash escapes of
one character, ``\\d``, ``(?:...|...)`` and the quantifiers ``?``, ``*``, ``+``. Anything else
raises ``ValueError`` naming the pattern, so a new writer sentence cannot be matched silently wrong.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

__all__ = ["SentenceAutomaton", "sentence_automaton"]

_DIGITS = frozenset("0123456789")
_DEAD = -1


class SentenceAutomaton:
    """One sentence pattern as a lazily built DFA: ``advance`` a state by text, ask whether it ``accepts``.

    States are ints; ``start`` is the state before any text; ``advance`` returns None once the text
    can no longer become a match (a dead state), so a live state means "a prefix of some match".

    Args:
        pattern: the regex source (the subset described in the module docstring).

    Raises:
        ValueError: the pattern uses syntax outside that subset, or is malformed.
    """

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._chars: list[Optional[frozenset]] = []  # per NFA state: characters it consumes; None for an epsilon state
        self._next: list[list[int]] = []  # per NFA state: successors (after consuming, or by epsilon)
        start, self._accept = _Parser(pattern, self).parse()
        self._sets: list[frozenset] = []  # DFA state id -> NFA states (consuming states and accept)
        self._ids: dict[frozenset, int] = {}
        self._moves: dict[tuple[int, str], int] = {}
        self.start = self._state_id(self._closure([start]))

    # NFA construction (used by _Parser)
    def _new(self, chars: Optional[frozenset] = None) -> int:
        self._chars.append(chars)
        self._next.append([])
        return len(self._chars) - 1

    def _closure(self, states) -> frozenset:
        seen, stack = set(), list(states)
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            if self._chars[state] is None:
                stack.extend(self._next[state])
        return frozenset(s for s in seen if self._chars[s] is not None or s == self._accept)

    def _state_id(self, states: frozenset) -> int:
        if not states:
            return _DEAD
        if states not in self._ids:
            self._ids[states] = len(self._sets)
            self._sets.append(states)
        return self._ids[states]

    def _step(self, state: int, char: str) -> int:
        key = (state, char)
        move = self._moves.get(key)
        if move is None:
            targets = [n for s in self._sets[state] if self._chars[s] is not None and char in self._chars[s] for n in self._next[s]]
            move = self._moves[key] = self._state_id(self._closure(targets))
        return move

    def advance(self, state: int, text: str) -> Optional[int]:
        """The state after reading ``text`` from ``state``; None when no match can start with what was read."""
        for char in text:
            state = self._step(state, char)
            if state == _DEAD:
                return None
        return state

    def accepts(self, state: int) -> bool:
        """Whether the text read to reach ``state`` is a whole match."""
        return self._accept in self._sets[state]

    def is_prefix(self, text: str) -> bool:
        """Whether ``text`` is the start of (or is) a match."""
        return self.advance(self.start, text) is not None

    def fullmatch(self, text: str) -> bool:
        state = self.advance(self.start, text)
        return state is not None and self.accepts(state)

    def __repr__(self) -> str:
        return f"SentenceAutomaton({self.pattern!r})"


@lru_cache(maxsize=8192)
def sentence_automaton(pattern: str) -> SentenceAutomaton:
    """The automaton of ``pattern``, shared: every row with the same measured sentence reuses its DFA."""
    return SentenceAutomaton(pattern)


class _Parser:
    """Recursive descent over the supported subset, building Thompson fragments (start, end) in ``nfa``."""

    def __init__(self, pattern: str, nfa: SentenceAutomaton):
        self.text, self.at, self.nfa = pattern, 0, nfa

    def error(self, problem: str) -> ValueError:
        return ValueError(f"sentence pattern {self.text!r}: {problem} at position {self.at}; "
                          "the measured grammar supports literals, escapes, \\d, (?:...|...), ?, * and +")

    def parse(self) -> tuple[int, int]:
        fragment = self.alternation()
        if self.at != len(self.text):
            raise self.error("unbalanced ')'")
        return fragment

    def alternation(self) -> tuple[int, int]:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            branches.append(self.sequence())
        if len(branches) == 1:
            return branches[0]
        start, end = self.nfa._new(), self.nfa._new()
        for branch_start, branch_end in branches:
            self.nfa._next[start].append(branch_start)
            self.nfa._next[branch_end].append(end)
        return start, end

    def sequence(self) -> tuple[int, int]:
        start = end = self.nfa._new()
        while self.peek() not in (None, "|", ")"):
            item_start, item_end = self.quantified()
            self.nfa._next[end].append(item_start)
            end = item_end
        return start, end

    def quantified(self) -> tuple[int, int]:
        inner_start, inner_end = self.atom()
        quantifier = self.peek()
        if quantifier not in ("?", "*", "+"):
            if quantifier == "{":
                raise self.error("counted repetition '{m,n}' is not supported")
            return inner_start, inner_end
        self.at += 1
        start, end = self.nfa._new(), self.nfa._new()
        self.nfa._next[start].append(inner_start)
        self.nfa._next[inner_end].append(end)
        if quantifier in ("?", "*"):
            self.nfa._next[start].append(end)
        if quantifier in ("*", "+"):
            self.nfa._next[inner_end].append(inner_start)
        return start, end

    def atom(self) -> tuple[int, int]:
        char = self.peek()
        if char == "(":
            if not self.text.startswith("(?:", self.at):
                raise self.error("only non-capturing groups '(?:' are supported")
            self.at += 3
            fragment = self.alternation()
            if self.peek() != ")":
                raise self.error("missing ')'")
            self.at += 1
            return fragment
        if char == "\\":
            if self.at + 1 >= len(self.text):
                raise self.error("a trailing backslash")
            escaped = self.text[self.at + 1]
            if escaped.isalnum() and escaped != "d":
                raise self.error(f"the class '\\{escaped}' is not supported")
            self.at += 2
            return self.consume(_DIGITS if escaped == "d" else frozenset(escaped))
        if char in "[].^$*+?{}":
            raise self.error(f"'{char}' is not supported (escape it for a literal)")
        self.at += 1
        return self.consume(frozenset(char))

    def consume(self, chars: frozenset) -> tuple[int, int]:
        start, end = self.nfa._new(chars), self.nfa._new()
        self.nfa._next[start].append(end)
        return start, end

    def peek(self) -> Optional[str]:
        return self.text[self.at] if self.at < len(self.text) else None
