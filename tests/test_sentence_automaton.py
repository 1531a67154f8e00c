"""The measured grammar's prefix matcher (``report.sentence_automaton``): it must agree with a regex
engine on every pattern the grammar writes, whole matches and prefixes alike."""

from __future__ import annotations

import random
import re

import pytest

from dataset_builder import describe
from dataset_builder.description import measured_sentence_patterns
from modeling_neuronarrator.report.sentence_automaton import SentenceAutomaton, sentence_automaton

from test_measured_decoding import CASES, SENTENCE_END


def _patterns() -> list[str]:
    return sorted({p for findings in CASES.values() for patterns in measured_sentence_patterns(findings).values() for p in patterns})


def _walk(automaton: SentenceAutomaton, alphabet: list[str], rng: random.Random) -> str:
    """A string that follows the automaton's live moves, with the odd stray character."""
    text, state = "", automaton.start
    for _ in range(240):
        moves = [c for c in alphabet if automaton.advance(state, c) is not None]
        if automaton.accepts(state) and (not moves or rng.random() < 0.1):
            break
        char = rng.choice(alphabet) if rng.random() < 0.05 or not moves else rng.choice(moves)
        text += char
        state = automaton.advance(state, char)
        if state is None:
            break
    return text


def test_every_prefix_agrees_with_a_regex_engine_on_the_grammars_patterns():
    regex = pytest.importorskip("regex")  # the oracle only: its partial mode crashed decoding (stops 34, 36)
    rng = random.Random(0)
    checked = 0
    for pattern in _patterns():
        automaton, oracle = SentenceAutomaton(pattern), regex.compile(pattern)
        alphabet = sorted(set(pattern) | set("0123456789 .sX"))
        for _ in range(3):
            text = _walk(automaton, alphabet, rng)
            for end in range(len(text) + 1):
                prefix = text[:end]
                assert automaton.is_prefix(prefix) == bool(oracle.fullmatch(prefix, partial=True)), (pattern, prefix)
                assert automaton.fullmatch(prefix) == bool(re.fullmatch(pattern, prefix)), (pattern, prefix)
                checked += 1
    assert checked > 5000


def test_the_writers_sentences_and_each_of_their_prefixes_are_live():
    for name, findings in CASES.items():
        automata = [sentence_automaton(p) for patterns in measured_sentence_patterns(findings).values() for p in patterns]
        for seed in range(6):
            for sentence in SENTENCE_END.split(describe(findings, seed=seed)):
                assert any(a.fullmatch(sentence) for a in automata), (name, sentence)
                for end in range(len(sentence)):
                    assert any(a.is_prefix(sentence[:end]) for a in automata), (name, sentence[:end])


def test_states_advance_incrementally_as_a_whole_text_would():
    automaton = SentenceAutomaton(r"Compared\ with\ the\ preceding\ (?:\d+(?:\.\d+)?\ s|segment),\ slowing\ has\ appeared\.")
    sentence = "Compared with the preceding 12.5 s, slowing has appeared."
    state = automaton.start
    for start in range(0, len(sentence), 3):  # token-sized pieces
        state = automaton.advance(state, sentence[start : start + 3])
        assert state is not None
    assert automaton.accepts(state)
    assert automaton.is_prefix("Compared with the preceding 12") and automaton.is_prefix("Compared with the preceding seg")
    assert automaton.is_prefix("Compared with the preceding 12.")  # may still become "12.5 s"
    assert not automaton.is_prefix("Compared with the preceding 12 m")
    assert not automaton.is_prefix("Compared with the preceding .5 s")
    assert not automaton.fullmatch("Compared with the preceding 12 s, slowing has appeared")  # no full stop yet


@pytest.mark.parametrize("pattern, problem", [
    (r"a[bc]", "'[' is not supported"), (r"a(b)", "non-capturing"), (r"a\w", r"'\w' is not supported"),
    (r"ab{2}", "counted repetition"), (r"(?:ab", "missing ')'"), (r"ab)", "unbalanced ')'"), ("ab\\", "trailing backslash"),
])  # fmt: skip
def test_syntax_outside_the_grammars_subset_is_refused_with_the_pattern_named(pattern, problem):
    with pytest.raises(ValueError, match=re.escape(problem)) as raised:
        SentenceAutomaton(pattern)
    assert repr(pattern) in str(raised.value)


def test_quantifiers_and_alternation():
    automaton = SentenceAutomaton(r"x(?:ab|c)*y?z+")
    for text in ("xz", "xabcz", "xcyzz", "xababzzz"):
        assert automaton.fullmatch(text), text
    for text in ("x", "xa", "xab", "xy", "xabz"):
        assert automaton.is_prefix(text), text
    for text in ("xb", "xyy", "xzy", "xay"):
        assert not automaton.is_prefix(text), text
    assert sentence_automaton("abc") is sentence_automaton("abc")  # one DFA per pattern, shared by every row
