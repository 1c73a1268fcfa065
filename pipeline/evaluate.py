"""Entity evaluation: exact span and label, micro and per label.

Evaluation sets and the labels each one can judge (a corpus is scored only
on the labels it annotates; predictions inside its *missing* ranges are not
counted, as spaCy's own scorer does):

- ``cluener/dev``: PERSON, TITLE, ORG (the issue's target is over these three)
- ``resume/dev``: PERSON, TITLE, ORG
- ``people_daily/dev``: PERSON, ORG, GPE
- ``zhie_gold/test``: all five labels (the project's own frozen test split)
- ``samples``: all five labels, run from the raw front-page text (layout
  noise included) through :func:`pipeline.annotate.annotate_text`.
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

Span = tuple[int, int, str]


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
class EntityScore:
    labels: tuple[str, ...]
    micro: PRF = field(default_factory=PRF)
    per_label: dict[str, PRF] = field(default_factory=dict)

    def add(self, gold: Iterable[Span], pred: Iterable[Span],
            ignore: Sequence[tuple[int, int]] = ()) -> None:
        """Count one document. ``ignore``: ranges whose labels the gold does not know."""
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
    else:
        source, split = name.split("/")
        docs = list(load(source, split, corpora))
    return docs[:limit] if limit else docs


def evaluate_set(nlp: Language, name: str, *, corpora: str | Path | None = None,
                 limit: int | None = None, batch_size: int = 32) -> EntityScore:
    docs = gold_documents(name, corpora, limit)
    score = EntityScore(EVAL_SETS[name])
    predictions = annotate_texts(nlp, ((d["id"], d["text"]) for d in docs), batch_size=batch_size)
    for gold, pred in zip(docs, predictions):
        score.add(
            [(e["start"], e["end"], e["label"]) for e in gold["entities"]],
            [(e["start"], e["end"], e["label"]) for e in pred["entities"]],
            [(m["start"], m["end"]) for m in gold["missing"]],
        )
    return score


def format_table(results: dict[str, EntityScore]) -> str:
    lines = [f"{'set':<18} {'label':<7} {'P':>6} {'R':>6} {'F':>6} {'gold':>6}"]
    for name, sc in results.items():
        rows = [("micro", sc.micro)] + sorted(sc.per_label.items())
        for label, prf in rows:
            lines.append(f"{name:<18} {label:<7} {prf.p:6.3f} {prf.r:6.3f} {prf.f:6.3f} {prf.tp + prf.fn:6d}")
    return "\n".join(lines)


def check_floors(results: dict[str, EntityScore], floors: dict[str, dict[str, float]]) -> list[str]:
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
