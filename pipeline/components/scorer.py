"""Relation scores in spaCy's shape: ``zhie.relation_scorer.v1`` for ``spacy
train`` / ``spacy evaluate``, on :class:`spacy.scorer.PRFScore` tallies."""

from __future__ import annotations

from typing import Callable, Iterable

from spacy.scorer import PRFScore
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .schema import RELATION_LABELS


def prf_dict(score: PRFScore) -> dict:
    """P / R / F rounded to four places, with the counts behind them (the shape reports and floors use)."""
    return {"p": round(score.precision, 4), "r": round(score.recall, 4), "f": round(score.fscore, 4),
            "tp": score.tp, "fp": score.fp, "fn": score.fn}


def relation_triples(doc: Doc, labels: Iterable[str]) -> set[tuple[tuple[int, int], tuple[int, int], str]]:
    """(head span, tail span, label) of the Doc's relations whose label is in ``labels``."""
    labels = set(labels)
    return {(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in doc._.relations or [] if r["label"] in labels}


def score_relations(examples: Iterable[Example], **kwargs) -> dict:
    """Relation P / R / F, micro and per label: head span, tail span and label must all match.

    The predicted relations join the predicted entities, so during ``spacy
    train`` and ``spacy evaluate`` this is the end-to-end score. Reference Docs
    without relations (``doc._.relations`` None) are skipped; a reference that
    judges only some labels is scored on those.
    """
    micro, per_label = PRFScore(), {}
    for eg in examples:
        if not eg.reference.has_extension("relations") or eg.reference._.relations is None:
            continue
        judged = eg.reference._.relations_judged or RELATION_LABELS
        gold, pred = relation_triples(eg.reference, judged), relation_triples(eg.predicted, judged)
        for label in judged:
            per_label.setdefault(label, PRFScore()).score_set({x for x in pred if x[2] == label},
                                                             {x for x in gold if x[2] == label})
        micro.score_set(pred, gold)
    if not per_label:
        scores = dict.fromkeys(("rel_micro_p", "rel_micro_r", "rel_micro_f", "rel_f_per_type"))
    else:
        scores = {"rel_micro_p": micro.precision, "rel_micro_r": micro.recall, "rel_micro_f": micro.fscore,
                  "rel_f_per_type": {lab: prf.to_dict() for lab, prf in sorted(per_label.items())}}
    # The same figures under the keys `spacy evaluate --spans-key rel` prints
    # (its table only knows the built-in components' keys).
    return {**scores, **{f"spans_rel_{k.removeprefix('rel_micro_').removeprefix('rel_f_')}": v for k, v in scores.items()}}


@registry.scorers("zhie.relation_scorer.v1")
def make_relation_scorer() -> Callable[..., dict]:
    """The scorer of ``relation_extractor`` (``[components.relation_extractor.scorer]``)."""
    return score_relations
