"""Training callbacks for pipelines whose components share one transformer.

spacy-transformers 1.4 gives the last listener of a transformer the backward
callback that returns the gradient for the Docs, and every other listener one
that only accumulates and returns None. A listener inside ``concatenate.v1``
(the NER's transformer + character + gazetteer features) cannot add None, so
a pipeline whose NER listener is not the last one (a trained NER + relations
pipeline sourced whole: the relation extractor links after the NER) fails on
its first update. New configs use ``zhie.TransformerListener.v1``, which
returns an empty list instead; pipelines trained with spaCy's own listener
keep it in their weights, and for them this callback moves the listeners of
the named components to the end of the transformer's list before each update.
The gradient the transformer receives is the same sum either way.
"""

from __future__ import annotations

from typing import Callable

from spacy.language import Language
from spacy.util import registry


@registry.callbacks("zhie.listeners_last.v1")
def make_listeners_last(components: list[str], transformer: str = "transformer") -> Callable[[Language, dict], None]:
    """A ``[training] before_update`` callback: the listeners of ``components``
    (e.g. ``["ner"]``) become the last listeners of ``transformer``."""

    def before_update(nlp: Language, args: dict) -> None:
        listener_map = nlp.get_pipe(transformer).listener_map  # ``listeners`` follows its order
        for name in components:
            if name in listener_map and list(listener_map)[-1] != name:
                listener_map[name] = listener_map.pop(name)

    return before_update
