"""A stand-in pipeline for the archive tests: an entity ruler over whole words,
one character token each, so tests run without the transformer."""

import spacy
from spacy.language import Language


def rule_nlp(patterns: dict[str, list[str]]) -> Language:
    nlp = spacy.blank("zh")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": label, "pattern": [{"TEXT": c} for c in word]}
                        for label, words in patterns.items() for word in words])
    return nlp
