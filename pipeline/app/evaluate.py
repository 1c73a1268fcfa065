"""Entity and relation evaluation: exact spans and label, micro and per label.

Evaluation sets and the labels each one can judge (a corpus is scored only
on the labels it annotates; predictions inside its *missing* ranges are not
counted, as spaCy's own scorer does):

- ``cluener/dev``: PERSON, TITLE, ORG (the issue's target is over these three)
- ``resume/dev``: PERSON, TITLE, ORG
- ``people_daily/dev``: PERSON, ORG, GPE
- ``zhie_gold/test``: all five labels (the project's own frozen test split)
- ``zhie_gold/test_focus``: all five labels, the frozen test slice of the
  third gold round (items chosen for visits, amounts, located_in, signings,
  members of international bodies and parties)
- ``zhie_gold/test_round4``: all five labels, the frozen test slice of the
  fourth round (amounts above all, visits, places; long sentences)
- ``zhie_gold/test_round5``: all five labels, the frozen test slice of the
  fifth round (signings, bodies and their places, visits, members)
- ``zhie_gold/test_round6``: all five labels, the frozen test slice of the
  sixth round (signings, foreign bodies after their country, visits)
- ``zhie_gold/test_round7``: all five labels, the frozen test slice of the
  seventh round (signings, purchases and stakes between named companies)
- ``samples``: all five labels, run from the raw front-page text (layout
  noise included) through :func:`pipeline.app.annotate.annotate_text`.

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
from spacy.scorer import PRFScore

from ..components.schema import ENTITY_LABELS as LABELS, RELATION_LABELS
from ..components.scorer import prf_dict, relation_triples
from .annotate import annotate_texts
from ..training.corpora import load

Span = tuple[int, int, str]
Triple = tuple[tuple[int, int], tuple[int, int], str]


@dataclass
class LabelScore:
    """Micro and per-label counts of labelled items: entity spans ``(start, end,
    label)`` or relation triples ``(head span, tail span, label)``."""

    labels: tuple[str, ...]
    micro: PRFScore = field(default_factory=PRFScore)
    per_label: dict[str, PRFScore] = field(default_factory=dict)

    def add(self, gold: Iterable[Span | Triple], pred: Iterable[Span | Triple],
            ignore: Sequence[tuple[int, int]] = ()) -> tuple[int, int, int]:
        """Count one document; its micro (tp, fp, fn). ``ignore`` (entities only): ranges whose labels
        the gold does not know."""
        gold_set = {g for g in gold if g[2] in self.labels}
        pred_set = {p for p in pred if p[2] in self.labels
                    and not any(p[0] < e and s < p[1] for s, e in ignore)}
        for label in self.labels:
            self.per_label.setdefault(label, PRFScore()).score_set(
                {x for x in pred_set if x[2] == label}, {x for x in gold_set if x[2] == label})
        self.micro.score_set(pred_set, gold_set)
        return len(pred_set & gold_set), len(pred_set - gold_set), len(gold_set - pred_set)

    def as_dict(self) -> dict:
        return {"micro": prf_dict(self.micro), "per_label": {k: prf_dict(v) for k, v in self.per_label.items()}}


RELATION_SETS = ("zhie_gold/test", "zhie_gold/test_focus", "zhie_gold/test_round4", "zhie_gold/test_round5",
                 "zhie_gold/test_round6", "zhie_gold/test_round7", "zhie_gold/dev", "samples")
EVAL_SETS: dict[str, tuple[str, ...]] = {
    "cluener/dev": ("PERSON", "TITLE", "ORG"),
    "resume/dev": ("PERSON", "TITLE", "ORG"),
    "people_daily/dev": ("PERSON", "ORG", "GPE"),
    "zhie_gold/test": LABELS,
    "zhie_gold/test_focus": LABELS,
    "zhie_gold/test_round4": LABELS,
    "zhie_gold/test_round5": LABELS,
    "zhie_gold/test_round6": LABELS,
    "zhie_gold/test_round7": LABELS,
    "samples": LABELS,
    # for error analysis while tuning (`--set zhie_gold/dev --errors FILE`); not scored by default
    "zhie_gold/dev": LABELS,
}
DEFAULT_SETS = tuple(s for s in EVAL_SETS if s != "zhie_gold/dev")


def samples_path() -> Path:
    from ..paths import corpora_dir

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
        from ..jsonl import read_jsonl
        from ..paths import GOLD_DIR

        docs = [{**d, "missing": []} for d in read_jsonl(GOLD_DIR / f"{name.split('/')[1]}.jsonl")]
    else:
        source, split = name.split("/")
        docs = list(load(source, split, corpora))
    return docs[:limit] if limit else docs


def evaluate_set(nlp: Language, name: str, *, corpora: str | Path | None = None,
                 limit: int | None = None, batch_size: int = 32,
                 errors: list[dict] | None = None, counts: list[dict] | None = None) -> dict[str, LabelScore]:
    """Scores of one set, by result name: ``name`` (entities), and for a set with
    gold relations, when the pipeline extracts them, ``relations:name`` (end to
    end) and ``relations@gold:name`` (on gold entities; not for the raw samples).
    ``errors``, when given, receives every false positive and negative
    (:func:`error_records`); ``counts`` the micro true / false positives and
    false negatives of every document, by result (for :mod:`.bootstrap`)."""
    docs = gold_documents(name, corpora, limit)
    entities = LabelScore(EVAL_SETS[name])
    with_relations = name in RELATION_SETS and "relation_extractor" in nlp.pipe_names
    relations = LabelScore(RELATION_LABELS)
    predictions = annotate_texts(nlp, ((d["id"], d["text"]) for d in docs), batch_size=batch_size)
    for gold, pred in zip(docs, predictions):
        doc_counts = {name: entities.add(
            [(e["start"], e["end"], e["label"]) for e in gold["entities"]],
            [(e["start"], e["end"], e["label"]) for e in pred["entities"]],
            [(m["start"], m["end"]) for m in gold["missing"]],
        )}
        if with_relations:
            doc_counts[f"relations:{name}"] = relations.add(triples(gold), triples(pred))
        if counts is not None:
            counts.extend({"result": key, "id": gold["id"], "tp": tp, "fp": fp, "fn": fn}
                          for key, (tp, fp, fn) in doc_counts.items())
        if errors is not None:
            errors.extend(error_records(name, gold, pred, EVAL_SETS[name], with_relations))
    results = {name: entities}
    if with_relations:
        results[f"relations:{name}"] = relations
        if name != "samples":
            results[f"relations@gold:{name}"] = relations_on_gold_entities(nlp, docs, batch_size=batch_size)
    return results


CONTEXT = 20  # characters of text shown on each side of an error


def error_records(set_name: str, gold: dict, pred: dict, labels: Sequence[str],
                  with_relations: bool) -> list[dict]:
    """The false positives (``"fp"``) and negatives (``"fn"``) of one document,
    entities and relations, each with its text in context.

    An entity error is classed ``"boundary"`` when a span of the same label on
    the other side overlaps it and each end is at most two characters off (a
    name cut short or run over into the next word), ``"label"`` when the
    same span has another label, else ``"missed"`` / ``"spurious"``. A
    relation error is classed ``"entity"`` when one of its spans is not an
    entity on the other side (an NER error cost it), else ``"relation"``.
    """
    text = gold["text"]
    ignore = [(m["start"], m["end"]) for m in gold["missing"]]
    g_ents = {(e["start"], e["end"], e["label"]) for e in gold["entities"] if e["label"] in labels}
    p_ents = {(e["start"], e["end"], e["label"]) for e in pred["entities"] if e["label"] in labels
              and not any(e["start"] < b and a < e["end"] for a, b in ignore)}

    def context(start: int, end: int) -> str:
        return f"{text[max(0, start - CONTEXT):start]}[{text[start:end]}]{text[end:end + CONTEXT]}"

    def entity_class(span: Span, other: set[Span], missed: bool) -> tuple[str, list]:
        for s, e, lab in sorted(other):
            if (s, e) == span[:2] and lab != span[2]:
                return "label", [s, e, lab]
        for s, e, lab in sorted(other):
            if lab == span[2] and s < span[1] and span[0] < e and abs(s - span[0]) <= 2 and abs(e - span[1]) <= 2:
                return "boundary", [s, e, lab]
        return ("missed" if missed else "spurious"), None

    out = []
    for kind, spans, other in (("fn", g_ents - p_ents, p_ents), ("fp", p_ents - g_ents, g_ents)):
        for span in sorted(spans):
            cls, near = entity_class(span, other, kind == "fn")
            out.append({"set": set_name, "id": gold["id"], "what": "entity", "kind": kind, "class": cls,
                        "label": span[2], "start": span[0], "end": span[1], "text": text[span[0]:span[1]],
                        "other": near, "context": context(span[0], span[1])})
    if with_relations:
        g_rel, p_rel = triples(gold), triples(pred)
        for kind, rels, own, other in (("fn", g_rel - p_rel, gold, p_ents), ("fp", p_rel - g_rel, pred, g_ents)):
            label_of = {(e["start"], e["end"]): e["label"] for e in own["entities"]}
            for head, tail, label in sorted(rels):
                lo, hi = min(head[0], tail[0]), max(head[1], tail[1])
                both = (*head, label_of[head]) in other and (*tail, label_of[tail]) in other
                out.append({"set": set_name, "id": gold["id"], "what": "relation", "kind": kind,
                            "class": "relation" if both else "entity",
                            "label": label, "head": text[head[0]:head[1]], "tail": text[tail[0]:tail[1]],
                            "head_span": list(head), "tail_span": list(tail), "context": context(lo, hi)})
    return out


def error_summary(errors: Iterable[dict]) -> dict[str, dict[str, int]]:
    """Counts per set of errors by what / kind / class / label, e.g.
    ``{"zhie_gold/test": {"entity fn boundary TITLE": 12, ...}}``."""
    summary: dict[str, Counter] = {}
    for e in errors:
        summary.setdefault(e["set"], Counter())[f"{e['what']} {e['kind']} {e['class']} {e['label']}"] += 1
    return {k: dict(sorted(v.items())) for k, v in summary.items()}


def triples(record: dict) -> set[Triple]:
    """A record's relations as (head span, tail span, label), in its own offsets."""
    spans = {e["id"]: (e["start"], e["end"]) for e in record["entities"]}
    return {(spans[r["head"]], spans[r["tail"]], r["label"]) for r in record["relations"]}


def relations_on_gold_entities(nlp: Language, docs: list[dict], *, batch_size: int = 32) -> LabelScore:
    """The relation component alone: the gold entities are set on each Doc and the NER is skipped."""

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
            lines.append(f"{name:<30} {label:<14} {prf.precision:6.3f} {prf.recall:6.3f} {prf.fscore:6.3f} {prf.tp + prf.fn:6d}")
    return "\n".join(lines)


def check_floors(results: dict[str, LabelScore], floors: dict[str, dict[str, float]]) -> list[str]:
    """Regressions: every ``floors[set][label]`` (``micro`` included) that a score falls below."""
    failures = []
    for name, by_label in floors.items():
        if name not in results:
            continue
        sc = results[name]
        for label, floor in by_label.items():
            got = (sc.micro if label == "micro" else sc.per_label.get(label, PRFScore())).fscore
            if got < floor:
                failures.append(f"{name} {label}: F {got:.4f} < floor {floor:.4f}")
    return failures


def floors_from_scores(scores: dict[str, dict], previous: dict[str, dict[str, float]] | None = None, *,
                       micro_margin: float = 0.02, label_margin: float = 0.04,
                       min_gold: int = 20) -> tuple[dict[str, dict[str, float]], list[str]]:
    """The regression gate of a model that ships, from its ``zhie evaluate --output`` scores:
    each set's micro F minus ``micro_margin`` and, for each label with at least ``min_gold``
    gold items (smaller counts swing with one item), its F minus ``label_margin``.

    With the ``previous`` floors the gate is a ratchet: a floor the model still meets never
    goes down; one it falls below is reset to its score minus the margin, and named in the
    returned list, so a lowered floor is always a stated decision. Returns (floors, lowered)."""
    floors: dict[str, dict[str, float]] = {}
    lowered: list[str] = []
    previous = previous or {}
    for name, sc in scores.items():
        got = {"micro": sc["micro"]["f"], **{k: v["f"] for k, v in sc["per_label"].items()}}
        ruled = ["micro", *(k for k, v in sorted(sc["per_label"].items()) if v["tp"] + v["fn"] >= min_gold)]
        old = previous.get(name, {})
        floors[name] = {}
        for label in [*ruled, *(k for k in old if k not in ruled)]:
            margin = micro_margin if label == "micro" else label_margin
            floor = round(max(got.get(label, 0.0) - margin, 0.0), 3)
            if label in old and got.get(label, 0.0) >= old[label]:
                floor = max(old[label], floor) if label in ruled else old[label]
            elif label in old:  # missed: reset by the margin rule, even where the gold is now small
                lowered.append(f"{name} {label}: {old[label]} -> {floor} (F {got.get(label, 0.0):.4f})")
            floors[name][label] = floor
    # sets this run did not score keep their floors
    floors.update({k: v for k, v in previous.items() if k not in floors and not k.startswith("_")})
    return floors, lowered


def count_labels(docs: Iterable[dict]) -> Counter:
    return Counter(e["label"] for d in docs for e in d["entities"])
