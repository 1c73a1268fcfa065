"""GUIDELINES rule 8 on a pipeline's output: a TITLE is tagged only where it
belongs to a named person in its sentence.

The NER learns posts from corpora that tag every post, and on the gold test
most of its spurious TITLEs stand in sentences that name nobody: 记者从……了解到,
a résumé's 曾任……副县长、县委副书记, a list of posts over an unnamed audience
(中共中央政治局委员、中央书记处书记……出席会议), 江总书记 (a surname is no
PERSON, D16). ``drop_nameless_titles`` removes the TITLEs of every sentence
without a PERSON, after the NER and before the relation extractor (a post in
such a sentence has no holder to link to, so no relation is lost).
"""

from __future__ import annotations

from typing import Iterable, Sequence, TypeVar

from spacy.language import Language
from spacy.tokens import Doc

from .schema import sentence_index

E = TypeVar("E", bound=tuple)  # (start, end, label, ...) in characters


def sentences_with_a_name(sentence: Sequence[int], entities: Iterable[tuple]) -> set[int]:
    """The sentence numbers (``sentence_index``) that hold a PERSON."""
    return {sentence[e[0]] for e in entities if e[2] == "PERSON"}


def drop_nameless_titles(text: str, entities: list[E]) -> list[E]:
    """``entities`` without the TITLEs whose sentence holds no PERSON."""
    sentence = sentence_index(text)
    named = sentences_with_a_name(sentence, entities)
    return [e for e in entities if e[2] != "TITLE" or sentence[e[0]] in named]


@Language.factory("drop_nameless_titles", requires=["doc.ents"], assigns=["doc.ents"])
def make_drop_nameless_titles(nlp: Language, name: str) -> "NamelessTitleFilter":
    """Create a ``drop_nameless_titles`` component (no settings, no weights)."""
    return NamelessTitleFilter(name)


class NamelessTitleFilter:
    """Remove from ``doc.ents`` the TITLEs of sentences with no PERSON (rule 8)."""

    def __init__(self, name: str = "drop_nameless_titles") -> None:
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        if not any(ent.label_ == "TITLE" for ent in doc.ents):
            return doc
        spans = [(ent.start_char, ent.end_char, ent.label_, ent) for ent in doc.ents]
        kept = drop_nameless_titles(doc.text, spans)
        if len(kept) < len(spans):
            # the removed spans become "outside", not missing: the NER decided them
            doc.set_ents([k[3] for k in kept], default="outside")
        return doc
