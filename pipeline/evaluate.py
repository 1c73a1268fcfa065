"""Entity and relation evaluation: exact spans and label, micro and per label.

Evaluation sets and the labels each one can judge (a corpus is scored only
on the labels it annotates; predictions inside its *missing* ranges are not
counted, as spaCy's own scorer does):

- ``cluener/dev``: PERSON, TITLE, ORG (the issue's target is over these three)
- ``resume/dev``: PERSON, TITLE, ORG
- ``people_daily/dev``: PERSON, ORG, GPE
- ``zhie_gold/test``: all five labels (the project's own frozen test split)
- ``samples``: all five labels, run from the raw front-page text (layout
  noise included) through :func:`pipeline.annotate.annotate_text`.

The sets whose gold has relations (``zhie_gold/test``, ``samples``) are also
scored on relations end to end, as ``relations:<set>``: a predicted relation
counts only if its head span, tail span and label all match a gold one, so an
entity error costs the relations it takes part in. ``relations@gold:<set>``
scores the relation component alone, on the gold entities (clean texts only).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from spacy.language import Language

from .annotate import annotate_texts
from .corpora import LABELS, load
from .gold import RELATION_TYPES

Span = tuple[int, int, str]
Triple = tuple[tuple[int, int], tuple[int, int], str]


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def p(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def r(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f(self) -> float:
        return 2 * self.p * self.r / (self.p + self.r) if self.p + self.r else 0.0

    def as_dict(self) -> dict:
        return {"p": round(self.p, 4), "r": round(self.r, 4), "f": round(self.f, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class LabelScore:
    """Micro and per-label counts of labelled items: entity spans ``(start, end,
    label)`` or relation triples ``(head span, tail span, label)``."""

    labels: tuple[str, ...]
    micro: PRF = field(default_factory=PRF)
    per_label: dict[str, PRF] = field(default_factory=dict)

    def add(self, gold: Iterable[Span | Triple], pred: Iterable[Span | Triple],
            ignore: Sequence[tuple[int, int]] = ()) -> None:
        """Count one document. ``ignore`` (entities only): ranges whose labels the gold does not know."""
        gold_set = {g for g in gold if g[2] in self.labels}
        pred_set = {p for p in pred if p[2] in self.labels
                    and not any(p[0] < e and s < p[1] for s, e in ignore)}
        for label in self.labels:
            prf = self.per_label.setdefault(label, PRF())
            g = {x for x in gold_set if x[2] == label}
            q = {x for x in pred_set if x[2] == label}
            prf.tp += len(g & q)
            prf.fp += len(q - g)
            prf.fn += len(g - q)
        self.micro.tp += len(gold_set & pred_set)
        self.micro.fp += len(pred_set - gold_set)
        self.micro.fn += len(gold_set - pred_set)

    def as_dict(self) -> dict:
        return {"micro": self.micro.as_dict(),
                "per_label": {k: v.as_dict() for k, v in self.per_label.items()}}


RELATION_LABELS = tuple(RELATION_TYPES)
RELATION_SETS = ("zhie_gold/test", "samples")
EVAL_SETS: dict[str, tuple[str, ...]] = {
    "cluener/dev": ("PERSON", "TITLE", "ORG"),
    "resume/dev": ("PERSON", "TITLE", "ORG"),
    "people_daily/dev": ("PERSON", "ORG", "GPE"),
    "zhie_gold/test": LABELS,
    "samples": LABELS,
}


def samples_path() -> Path:
    from .corpora import corpora_dir

    return corpora_dir().parent / "samples" / "front_page_gold.jsonl"


def gold_documents(name: str, corpora: str | Path | None = None,
                   limit: int | None = None) -> list[dict]:
    """Gold records ``{"id", "text", "entities", "missing"}`` of one evaluation set."""
    if name == "samples":
        path = Path(corpora).parent / "samples" / "front_page_gold.jsonl" if corpora else samples_path()
        docs = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        for d in docs:
            d.setdefault("missing", [])
    elif name.startswith("zhie_gold/"):  # the gold files themselves: entities and relations
        from .corpora import GOLD_DIR
        from .gold import read_jsonl

        docs = [{**d, "missing": []} for d in read_jsonl(GOLD_DIR / f"{name.split('/')[1]}.jsonl")]
    else:
        source, split = name.split("/")
        docs = list(load(source, split, corpora))
    return docs[:limit] if limit else docs


def evaluate_set(nlp: Language, name: str, *, corpora: str | Path | None = None,
                 limit: int | None = None, batch_size: int = 32) -> dict[str, LabelScore]:
    """Scores of one set, by result name: ``name`` (entities), and for a set with
    gold relations, when the pipeline extracts them, ``relations:name`` (end to
    end) and ``relations@gold:name`` (on gold entities; not for the raw samples)."""
    docs = gold_documents(name, corpora, limit)
    entities = LabelScore(EVAL_SETS[name])
    with_relations = name in RELATION_SETS and "relation_extractor" in nlp.pipe_names
    relations = LabelScore(RELATION_LABELS)
    predictions = annotate_texts(nlp, ((d["id"], d["text"]) for d in docs), batch_size=batch_size)
    for gold, pred in zip(docs, predictions):
        entities.add(
            [(e["start"], e["end"], e["label"]) for e in gold["entities"]],
            [(e["start"], e["end"], e["label"]) for e in pred["entities"]],
            [(m["start"], m["end"]) for m in gold["missing"]],
        )
        if with_relations:
            relations.add(triples(gold), triples(pred))
    results = {name: entities}
    if with_relations:
        results[f"relations:{name}"] = relations
        if name != "samples":
            results[f"relations@gold:{name}"] = relations_on_gold_entities(nlp, docs, batch_size=batch_size)
    return results


def triples(record: dict) -> set[Triple]:
    """A record's relations as (head span, tail span, label), in its own offsets."""
    spans = {e["id"]: (e["start"], e["end"]) for e in record["entities"]}
    return {(spans[r["head"]], spans[r["tail"]], r["label"]) for r in record["relations"]}


def relations_on_gold_entities(nlp: Language, docs: list[dict], *, batch_size: int = 32) -> LabelScore:
    """The relation component alone: the gold entities are set on each Doc and the NER is skipped."""
    from .relations import relation_triples

    score = LabelScore(RELATION_LABELS)

    def with_gold_entities():
        for d in docs:
            doc = nlp.make_doc(d["text"])
            doc.ents = [doc.char_span(e["start"], e["end"], label=e["label"]) for e in d["entities"]]
            yield doc

    skip = [n for n in nlp.pipe_names if n not in ("transformer", "relation_extractor")]
    with nlp.select_pipes(disable=skip):
        for d, doc in zip(docs, nlp.pipe(with_gold_entities(), batch_size=batch_size)):
            score.add(triples(d), relation_triples(doc, RELATION_LABELS))
    return score


def format_table(results: dict[str, LabelScore]) -> str:
    lines = [f"{'set':<30} {'label':<14} {'P':>6} {'R':>6} {'F':>6} {'gold':>6}"]
    for name, sc in results.items():
        # labels the set has no gold for and the model predicted none of are left out
        rows = [("micro", sc.micro)] + sorted((k, v) for k, v in sc.per_label.items() if v.tp + v.fp + v.fn)
        for label, prf in rows:
            lines.append(f"{name:<30} {label:<14} {prf.p:6.3f} {prf.r:6.3f} {prf.f:6.3f} {prf.tp + prf.fn:6d}")
    return "\n".join(lines)


def check_floors(results: dict[str, LabelScore], floors: dict[str, dict[str, float]]) -> list[str]:
    """Regressions: every ``floors[set][label]`` (``micro`` included) that a score falls below."""
    failures = []
    for name, by_label in floors.items():
        if name not in results:
            continue
        sc = results[name]
        for label, floor in by_label.items():
            got = sc.micro.f if label == "micro" else sc.per_label.get(label, PRF()).f
            if got < floor:
                failures.append(f"{name} {label}: F {got:.4f} < floor {floor:.4f}")
    return failures


def count_labels(docs: Iterable[dict]) -> Counter:
    return Counter(e["label"] for d in docs for e in d["entities"])
