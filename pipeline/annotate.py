"""Annotate raw documents: layout noise in, offsets into the original out.

The pipeline sees :func:`pipeline.layout.clean`'s text; every entity is
mapped back, so ``original[start:end]`` is the entity as the user wrote it
(line breaks and layout spaces included).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Iterable, Iterator

from spacy.language import Language

from .layout import CleanText, clean

TEXT_SUFFIXES = {".txt"}
JSONL_SUFFIXES = {".jsonl", ".json"}


def doc_record(doc_id: str, source: str, cleaned: CleanText, doc) -> dict:
    """One output object, in the shape of ``front_page_gold.jsonl`` plus scores."""
    entities = []
    for i, ent in enumerate(doc.ents, 1):
        start, end = cleaned.to_original(ent.start_char, ent.end_char)
        entities.append({"id": f"e{i}", "start": start, "end": end, "label": ent.label_,
                         "text": cleaned.original[start:end]})
    return {"id": doc_id, "source": source, "entities": entities, "relations": [], "events": []}


def annotate_texts(nlp: Language, items: Iterable[tuple[str, str]], *, source: str = "",
                   batch_size: int = 32) -> Iterator[dict]:
    """``(id, original text)`` pairs to output records, in input order."""
    pending: list[tuple[str, CleanText]] = []

    def cleaned_texts() -> Iterator[str]:
        for doc_id, text in items:
            c = clean(text)
            pending.append((doc_id, c))
            yield c.text

    # nlp.pipe pulls texts lazily, so ``pending`` holds only the current batch
    for doc in nlp.pipe(cleaned_texts(), batch_size=batch_size):
        doc_id, c = pending.pop(0)
        yield doc_record(doc_id, source, c, doc)


def annotate_text(nlp: Language, text: str, doc_id: str = "doc") -> dict:
    return next(annotate_texts(nlp, [(doc_id, text)]))


def read_inputs(paths: Iterable[Path], text_field: str = "text", id_field: str = "id") -> Iterator[tuple[str, str, str]]:
    """``(id, text, source path)`` from ``.txt`` files, JSONL files and folders of them.

    A ``.txt`` file is one document whose id is its path relative to the
    folder given; a JSONL line is one document with ``text_field`` (and
    ``id_field`` if present, else ``file:line``).
    """
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"input {root} does not exist")
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            rel = path.relative_to(root).as_posix() if root.is_dir() else path.name
            suffix = path.suffix.lower()
            if suffix in TEXT_SUFFIXES:
                yield rel, path.read_text(encoding="utf-8-sig"), str(path)
            elif suffix in JSONL_SUFFIXES:
                with path.open(encoding="utf-8-sig") as f:
                    for n, line in enumerate(f, 1):
                        if not line.strip():
                            continue
                        try:
                            obj = json.loads(line)
                            text = obj[text_field]
                        except (json.JSONDecodeError, KeyError) as err:
                            raise ValueError(f"{path}:{n}: not a JSON object with a {text_field!r} field ({err})") from err
                        yield str(obj.get(id_field, f"{rel}:{n}")), text, str(path)


def annotate_files(nlp: Language, inputs: Iterable[Path], output: Path, *, batch_size: int = 32,
                   progress: bool = True) -> int:
    """Annotate every document under ``inputs`` into the JSONL file ``output``.

    Written to ``output.partial`` and renamed at the end, so a crashed run
    never leaves a truncated file under the final name.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".partial")
    sources: dict[str, str] = {}

    def items() -> Iterator[tuple[str, str]]:
        for doc_id, text, src in read_inputs(inputs):
            sources[doc_id] = src
            yield doc_id, text

    n = 0
    with tmp.open("w", encoding="utf-8") as out:
        for rec in annotate_texts(nlp, items(), batch_size=batch_size):
            rec["source"] = sources.pop(rec["id"], "")
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            if progress:
                print(f"\r{n} documents", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    os.replace(tmp, output)
    return n
