"""The Doc and Span extensions zhie's components read and write.

``install_extensions()`` is called when a component is created (and by code
that reads DocBins or annotates with a pipeline that may lack the component);
importing a module installs nothing.

- ``doc._.relations``: ``[{"head": (start_char, end_char), "tail": (...),
  "label", "score"}]`` or None (not annotated for relations). It is kept in
  ``doc.user_data`` under the key a plain ``default=None`` extension would
  use, so it travels with ``Doc.to_bytes`` and ``DocBin(store_user_data=True)``,
  but read through a getter: msgpack hands the spans back as lists
  (Doc.from_bytes) or the list back as a tuple (DocBin), and the getter turns
  them back into tuples in a list, so relations compare equal after a round
  trip and a head can be a dict key.
- ``doc._.relations_judged``: the relation labels the source decides (None: all).
- ``doc._.events``: the events ``event_assembler`` assembled (None before it ran).
- ``span._.money``: a MONEY span's normalised value (``pipeline.components.money``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

from spacy.tokens import Doc, Span

from .money import money_at

RELATIONS_KEY = ("._.", "relations", None, None)


def _normalised(rels) -> list[dict]:
    """``rels`` as a list whose relations have tuple heads and tails (dicts updated in place)."""
    rels = rels if type(rels) is list else list(rels)
    for r in rels:
        for key in ("head", "tail"):
            if type(r.get(key)) is not tuple and r.get(key) is not None:
                r[key] = tuple(r[key])
    return rels


def _get_relations(doc: Doc) -> Optional[list[dict]]:
    rels = doc.user_data.get(RELATIONS_KEY)
    if rels is None:
        return None
    if type(rels) is not list or any(type(r.get("head")) is not tuple or type(r.get("tail")) is not tuple
                                     for r in rels):
        rels = doc.user_data[RELATIONS_KEY] = _normalised(rels)
    return rels


def _set_relations(doc: Doc, rels) -> None:
    doc.user_data[RELATIONS_KEY] = None if rels is None else _normalised(rels)


def _span_money(span: Span) -> Optional[dict]:
    if span.label_ != "MONEY":
        return None
    money = money_at(span.doc.text, span.start_char, span.end_char)
    return None if money is None else asdict(money)


def install_extensions() -> None:
    """Install ``doc._.relations``, ``doc._.relations_judged``, ``doc._.events`` and ``span._.money`` (idempotent)."""
    for name, kwargs in (("relations", {"getter": _get_relations, "setter": _set_relations}),
                         ("relations_judged", {"default": None}), ("events", {"default": None})):
        if not Doc.has_extension(name):
            Doc.set_extension(name, **kwargs)
    if not Span.has_extension("money"):
        Span.set_extension("money", getter=_span_money)
