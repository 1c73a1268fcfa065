"""The label scheme of ../shared/ANNOTATION.md: entity labels, relation types
with the entity labels they may join, and sentences (relations never cross one).

Every dataset, model and score of the package reads its labels from here.
"""

from __future__ import annotations

import re
from functools import lru_cache

ENTITY_LABELS = ("PERSON", "TITLE", "ORG", "GPE", "MONEY")
# relation label -> (allowed head labels, allowed tail labels)
RELATION_TYPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "has_title": (frozenset({"PERSON"}), frozenset({"TITLE"})),
    "member_of": (frozenset({"PERSON"}), frozenset({"ORG"})),
    "located_in": (frozenset({"ORG"}), frozenset({"GPE"})),
    "visits": (frozenset({"PERSON"}), frozenset({"GPE", "ORG"})),
    "agreement_with": (frozenset({"ORG"}), frozenset({"ORG"})),
    "amount": (frozenset({"ORG", "GPE", "PERSON"}), frozenset({"MONEY"})),
}
RELATION_LABELS = tuple(RELATION_TYPES)
SENTENCE_END = re.compile(r"[。！？]|\n\s*\n")


def allowed_labels(head_label: str, tail_label: str) -> tuple[str, ...]:
    """Relation labels that may join a ``head_label`` entity to a ``tail_label`` one."""
    return tuple(lab for lab, (heads, tails) in RELATION_TYPES.items() if head_label in heads and tail_label in tails)


@lru_cache(maxsize=64)
def sentence_index(text: str) -> tuple[int, ...]:
    """Sentence number of every character (ANNOTATION.md: ends at 。！？ or a blank line).

    Cached: a document's text is split once though the title filter, the
    relation candidates, the 分别 pairing and the events all ask for it.
    """
    idx, k, last = [0] * len(text), 0, 0
    for m in SENTENCE_END.finditer(text):
        for i in range(last, m.end()):
            idx[i] = k
        k, last = k + 1, m.end()
    for i in range(last, len(text)):
        idx[i] = k
    return tuple(idx)
