"""Annotate raw documents: layout noise in, offsets into the original out.

The pipeline sees :func:`pipeline.components.layout.clean`'s text; every entity is
mapped back, so ``original[start:end]`` is the entity as the user wrote it
(line breaks and layout spaces included). A document longer than
``max_chars`` (after cleaning) is cut at sentence ends into chunks that are
run separately and put back together, so no document is too long for the
transformer's window; batches of chunks are bounded in characters too
(``MAX_BATCH_CHARS``), so memory does not grow with a document's length.

:func:`annotate_files` is the ``zhie annotate`` run: documents streamed from
:class:`pipeline.app.archive.DocumentReader`, results appended to a JSONL file
per batch (resumable), failures logged, a summary at the end; on one
machine (``nlp.pipe``, in ``n_process`` worker processes) or on Ray Data.
"""

from __future__ import annotations

import bisect
import json
import multiprocessing as mp
import os
import re
import signal
import sys
import threading
import time
import unicodedata
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from spacy.language import Language
from spacy.tokens import Doc

from .archive import (
    TABLE_FORMATS,
    Document,
    DocumentReader,
    ErrorLog,
    OutputLock,
    Problem,
    ResultWriter,
    check_output,
    errors_path,
    export_tables,
    output_paths,
    summary_path,
    write_json,
)
from .dates import document_date
from .entity_keys import entity_keys
from ..components.events import assemble_events
from ..components.extensions import install_extensions
from ..components.layout import CleanText, clean
from ..components.money import money_at

DEFAULT_MAX_CHARS = 5000
# Characters in one batch of chunks at most. The transformer's memory grows
# with the characters of a batch: 32 chunks of 5,000 characters (a 2 MB
# run-on line) took 1.5 GB above the model's 0.8 GB; a batch of 32 news
# items of ~600 characters (19,000) is not affected.
MAX_BATCH_CHARS = 50_000
# A chunk ends after sentence-final punctuation (and the closing quotes or
# brackets that follow it) or at a paragraph break, which cleaning keeps as "\n".
_SENTENCE_END = re.compile(r"[。！？!?][”’」』）)\"']*|\n+")
# Where a run-on sentence longer than max_chars is cut, if it has any: after a
# clause mark or a space (a 2 MB line without punctuation is cut at the limit).
_CLAUSE_END = re.compile(r"[，、；：,;]|\s")


Rel = tuple[tuple[int, int], tuple[int, int], str, float]  # head span, tail span, label, score


def _record(doc_id: str, source: str, cleaned: CleanText, spans: Iterable[tuple[int, int, str]],
            relations: Iterable[Rel] = (), date: object = None) -> dict:
    """The output object, in the shape of ``front_page_gold.jsonl`` plus scores.

    ``spans`` and ``relations`` are in cleaned-text offsets; entity ids e1, e2,
    ... in text order; a MONEY entity carries its normalised value
    (``pipeline.components.money``); events are assembled on the cleaned text (where the
    type words are written without layout noise) and their spans mapped back.
    ``"date"``: the document's ISO date or None (``date``, the --date-field
    value, else the id's path, else the dateline: ``pipeline.app.dates``); each
    entity's ``"key"`` is its canonical key (``pipeline.app.entity_keys``).
    """
    entities, ids = [], {}
    text = cleaned.text
    spans = sorted(spans)
    for i, (cs, ce, label) in enumerate(spans, 1):
        start, end = cleaned.to_original(cs, ce)
        entity = {"id": f"e{i}", "start": start, "end": end, "label": label, "text": cleaned.original[start:end]}
        if label == "MONEY":
            money = money_at(text, cs, ce)
            entity["money"] = asdict(money) if money else None
        entities.append(entity)
        ids[(cs, ce)] = entity["id"]
    for entity, key in zip(entities, entity_keys(entities), strict=True):
        entity["key"] = key
    rels = [{"head": ids[h], "tail": ids[t], "label": label, "score": score}
            for h, t, label, score in sorted(relations) if h in ids and t in ids]
    cleaned_entities = [{**e, "start": cs, "end": ce} for e, (cs, ce, _) in zip(entities, spans, strict=True)]
    events = assemble_events({"text": text, "entities": cleaned_entities, "relations": rels})
    for event in events:
        for key in ("trigger", "date"):
            if event[key] is not None:
                start, end = cleaned.to_original(event[key]["start"], event[key]["end"])
                event[key] = {"start": start, "end": end, "text": cleaned.original[start:end]}
    return {"id": doc_id, "source": source, "date": document_date(doc_id, source, cleaned.original, date),
            "entities": entities, "relations": rels, "events": events}


def chunk_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    """``[start, end)`` pieces of ``text``, each at most ``max_chars`` long, cut at sentence ends.

    A sentence longer than ``max_chars`` is cut after its last clause mark
    or space within the limit, else where the limit falls (moved back so
    that no emoji or flag is split); an entity across such a cut is lost,
    one across a sentence end never is. Linear time.
    """
    if len(text) <= max_chars:
        return [(0, len(text))]
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    spans, start = [], 0
    while len(text) - start > max_chars:
        i = bisect.bisect_right(ends, start + max_chars) - 1
        if i >= 0 and ends[i] > start:
            end = ends[i]
        else:
            end = max((m.end() for m in _CLAUSE_END.finditer(text, start + 1, start + max_chars)), default=0)
            if end <= start:
                end = start + max_chars
                for cut in range(end, max(end - _GRAPHEME_LOOK, start + 1), -1):
                    if grapheme_boundary(text, cut):
                        end = cut
                        break
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    return spans


def _extends_grapheme(ch: str) -> bool:
    """A character that belongs to the grapheme before it: a combining mark, ZWJ, variation selector, skin tone, tag."""
    o = ord(ch)
    return (o == 0x200D or 0xFE00 <= o <= 0xFE0F or 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F
            or 0xE0100 <= o <= 0xE01EF or unicodedata.category(ch) in ("Mn", "Me", "Mc"))


_GRAPHEME_LOOK = 64  # characters a grapheme check or a widened span moves at most


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def grapheme_boundary(text: str, i: int) -> bool:
    """Whether a cut at ``i`` leaves every user-perceived character whole.

    The cases of UAX #29 that news text meets: a combining mark, ZWJ
    sequence (👨‍👩‍👧), variation selector or skin tone stays with what it
    modifies, regional indicators pair up into flags (🇨🇳) from the start
    of their run, ``\\r\\n`` is one, and so is a UTF-16 surrogate pair.
    Looks back at most ``_GRAPHEME_LOOK`` characters (hostile text: a run
    of thousands of marks or flags).
    """
    if i <= 0 or i >= len(text):
        return True
    a, b = text[i - 1], text[i]
    if _extends_grapheme(b) or a == "\u200d" or (a == "\r" and b == "\n"):
        return False
    if _regional(a) and _regional(b):
        k = i - 1
        while k > max(i - _GRAPHEME_LOOK, 0) and _regional(text[k - 1]):
            k -= 1
        return (i - k) % 2 == 0
    return not ("\ud800" <= a <= "\udbff" and "\udc00" <= b <= "\udfff")


def whole_graphemes(text: str, spans: list[tuple[int, int, str]],
                    relations: list[Rel]) -> tuple[list[tuple[int, int, str]], list[Rel]]:
    """Entity spans widened so none cuts through an emoji, a flag or a combining sequence.

    A widened span that now overlaps another entity is dropped (and with
    it its relations, which ``_record`` drops once their entity is gone).
    """
    moved: dict[tuple[int, int], tuple[int, int]] = {}
    for s, e, _ in spans:
        ns, ne = s, e
        while ns > max(s - _GRAPHEME_LOOK, 0) and not grapheme_boundary(text, ns):
            ns -= 1
        while ne < min(e + _GRAPHEME_LOOK, len(text)) and not grapheme_boundary(text, ne):
            ne += 1
        if (ns, ne) != (s, e):
            moved[(s, e)] = (ns, ne)
    if not moved:
        return spans, relations
    kept: list[tuple[int, int, str]] = []
    for s, e, label in sorted(spans):
        ns, ne = moved.get((s, e), (s, e))
        if kept and ns < kept[-1][1]:
            if (s, e) in moved:
                continue  # the widened one goes
            if (kept[-1][0], kept[-1][1]) in moved.values():
                kept.pop()
        kept.append((ns, ne, label))
    rels = [(moved.get(h, h), moved.get(t, t), label, score) for h, t, label, score in relations]
    return kept, rels


@dataclass(frozen=True)
class Result:
    """A document's record, or why it has none."""

    document: Document
    record: dict | None
    error: str | None = None


@dataclass
class _InFlight:
    """A document whose chunks are in the pipeline."""

    document: Document
    cleaned: CleanText | None = None
    chunks_left: int = 0
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    relations: list[Rel] = field(default_factory=list)
    error: str | None = None


def annotate_documents(nlp: Language, documents: Iterable[Document], *, batch_size: int = 32,
                       n_process: int = 1, max_chars: int = DEFAULT_MAX_CHARS) -> Iterator[Result]:
    """A :class:`Result` per document, in input order; a failing document does not stop the stream.

    ``n_process > 1``: that many worker processes (:func:`_annotate_in_processes`).
    """
    install_extensions()  # doc._.relations reads None when the pipeline has no relation_extractor
    # events are assembled per document once its chunks are merged (_record), not per chunk
    per_document = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == "event_assembler"]
    if n_process > 1:
        yield from _annotate_in_processes(nlp, documents, batch_size=batch_size, n_process=n_process,
                                          max_chars=max_chars)
        return
    in_flight: deque[_InFlight] = deque()  # documents read, result not yet yielded
    chunks: deque[tuple[_InFlight, int]] = deque()  # chunks sent to nlp.pipe, with their offsets

    def chunk_texts() -> Iterator[str]:
        for document in documents:
            item = _InFlight(document)
            in_flight.append(item)
            try:
                item.cleaned = clean(document.text)
                pieces = chunk_spans(item.cleaned.text, max_chars)
            except Exception as err:  # noqa: BLE001 - reported as this document's failure
                item.error = _describe(err)
                continue
            item.chunks_left = len(pieces)
            for start, end in pieces:
                chunks.append((item, start))
                yield item.cleaned.text[start:end]

    def finished() -> Iterator[Result]:
        while in_flight and in_flight[0].chunks_left == 0:
            item = in_flight.popleft()
            if item.error is not None:
                yield Result(item.document, None, item.error)
            else:
                item.spans, item.relations = whole_graphemes(item.cleaned.text, item.spans, item.relations)
                yield Result(item.document, _record(item.document.id, item.document.source, item.cleaned,
                                                    item.spans, item.relations, item.document.date))

    for group in _groups(chunk_texts(), batch_size, max(max_chars, MAX_BATCH_CHARS)):
        for doc in _pipe_tolerant(nlp, iter(group), batch_size=batch_size, disable=per_document):
            item, offset = chunks.popleft()
            item.chunks_left -= 1
            if isinstance(doc, Exception):
                item.error = item.error or _describe(doc)
            else:
                item.spans.extend((offset + e.start_char, offset + e.end_char, e.label_) for e in doc.ents)
                item.relations.extend(((offset + r["head"][0], offset + r["head"][1]),
                                       (offset + r["tail"][0], offset + r["tail"][1]), r["label"], r["score"])
                                      for r in doc._.relations or [])
            yield from finished()
    yield from finished()


def _groups(texts: Iterable[str], size: int, max_chars: int) -> Iterator[list[str]]:
    """``texts`` in lists of at most ``size`` texts and ``max_chars`` characters (one longer text alone)."""
    group: list[str] = []
    chars = 0
    for text in texts:
        if group and (len(group) == size or chars + len(text) > max_chars):
            yield group
            group, chars = [], 0
        group.append(text)
        chars += len(text)
    if group:
        yield group


class _Feed:
    """An iterator that remembers what was taken from it and not yet accounted for."""

    def __init__(self, source: Iterator[str]) -> None:
        self.source = source
        self.taken: deque[str] = deque()
        self.exhausted = False
        self.source_failed = False

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        try:
            text = next(self.source)
        except StopIteration:
            self.exhausted = True
            raise
        except Exception:
            self.source_failed = True
            raise
        self.taken.append(text)
        return text


def _pipe_tolerant(nlp: Language, texts: Iterator[str], *, batch_size: int,
                   disable: Sequence[str] = ()) -> Iterator[Doc | Exception]:
    """``nlp.pipe(texts)``, with the exception in place of each text that fails.

    When a batch fails, nlp.pipe stops: the texts taken but not returned are
    run one by one to find the culprit, then a new nlp.pipe continues.
    """
    feed = _Feed(texts)
    while True:
        try:
            for doc in nlp.pipe(feed, batch_size=batch_size, disable=disable):
                feed.taken.popleft()
                yield doc
            return
        except Exception:
            if feed.source_failed or not feed.taken:
                raise  # a bug in reading, or a failure no document explains
            while feed.taken:
                yield _run_one(nlp, feed.taken.popleft(), disable)
            if feed.exhausted:
                return


def _run_one(nlp: Language, text: str, disable: Sequence[str] = ()) -> Doc | Exception:
    try:
        return nlp(text, disable=disable)
    except Exception as err:  # noqa: BLE001 - the caller reports it
        return err


_worker: dict = {}  # a worker process's pipeline and settings (_start_worker)


def _annotate_in_processes(nlp: Language, documents: Iterable[Document], *, batch_size: int, n_process: int,
                           max_chars: int) -> Iterator[Result]:
    """:func:`annotate_documents` in ``n_process`` forked processes, a batch per task, results in order.

    Not ``nlp.pipe(n_process=...)``: spaCy sends every Doc back with its
    transformer tensors, and after a worker error it waits forever for a
    worker blocked writing such a Doc into a pipe that the other workers
    still hold open. Here a worker returns records, a failing document stays
    a failed Result inside its worker, and at most 2 batches per process are
    in flight, each of at most ``batch_size`` documents or ``batch_size *
    max_chars`` characters (memory stays bounded). A worker that dies raises
    BrokenProcessPool; a worker whose parent dies (even by SIGKILL) ends too
    (:func:`_die_with_parent`).
    """
    from concurrent.futures import ProcessPoolExecutor

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # else each forked worker warns
    fork = "fork" in mp.get_all_start_methods()  # workers inherit the loaded pipeline
    pool = ProcessPoolExecutor(n_process, mp_context=mp.get_context("fork" if fork else "spawn"),
                               initializer=_start_worker, initargs=(nlp, batch_size, max_chars, os.getpid()))
    pending: deque = deque()
    try:
        for batch in _batches(documents, batch_size, batch_size * max_chars):
            pending.append((batch, pool.submit(_annotate_batch, batch)))
            if len(pending) >= 2 * n_process:
                yield from _batch_results(*pending.popleft())
        while pending:
            yield from _batch_results(*pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(nlp: Language, batch_size: int, max_chars: int, parent: int | None = None) -> None:
    if parent is not None:
        _die_with_parent(parent)
    torch = sys.modules.get("torch")
    if torch is not None:
        # One thread per process: OpenMP is not fork-safe, and a forked worker
        # entering a parallel region the parent already used hangs.
        torch.set_num_threads(1)
    _worker.update(nlp=nlp, batch_size=batch_size, max_chars=max_chars)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """End this worker process when ``parent`` ends, however it ends (kill -9 included).

    Linux: the kernel sends SIGKILL when the parent dies (prctl
    PR_SET_PDEATHSIG). Elsewhere, or should that fail, a thread sees the
    worker adopted by another process (``os.getppid()`` changes) within a
    second and exits.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="zhie-parent-watch", daemon=True).start()


def _annotate_batch(batch: list[Document]) -> list[tuple[dict | None, str | None]]:
    results = annotate_documents(_worker["nlp"], batch, batch_size=_worker["batch_size"],
                                 max_chars=_worker["max_chars"])
    return [(r.record, r.error) for r in results]  # not the texts: the parent has them


def _batch_results(batch: list[Document], future) -> Iterator[Result]:
    for document, (record, error) in zip(batch, future.result(), strict=True):
        yield Result(document, record, error)


def _batches(documents: Iterable[Document], size: int, max_chars: int | None = None) -> Iterator[list[Document]]:
    """Lists of ``size`` documents, or fewer once they hold ``max_chars`` characters (a long document alone)."""
    batch: list[Document] = []
    chars = 0
    for doc in documents:
        batch.append(doc)
        chars += len(doc.text)
        if len(batch) == size or (max_chars is not None and chars >= max_chars):
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def annotate_texts(nlp: Language, items: Iterable[tuple[str, str]], *, source: str = "",
                   batch_size: int = 32) -> Iterator[dict]:
    """``(id, original text)`` pairs to output records, in input order; a failure raises."""
    documents = (Document(doc_id, text, source) for doc_id, text in items)
    for result in annotate_documents(nlp, documents, batch_size=batch_size):
        if result.error is not None:
            raise RuntimeError(f"document {result.document.id!r}: {result.error}")
        yield result.record


def annotate_text(nlp: Language, text: str, doc_id: str = "doc") -> dict:
    return next(annotate_texts(nlp, [(doc_id, text)]))


def read_inputs(paths: Iterable[Path], text_field: str = "text", id_field: str = "id") -> Iterator[tuple[str, str, str]]:
    """``(id, text, source)`` of every document under ``paths``; the first unreadable one raises ValueError.

    See :mod:`pipeline.app.archive` for the formats and ids.
    """
    for doc in DocumentReader(paths, text_field=text_field, id_field=id_field):
        yield doc.id, doc.text, doc.source


# ---------------------------------------------------------------- the run

@dataclass
class Tally:
    """What a run did, as printed at the end and written to ``OUT.summary.json``."""

    output: str
    already_done: int = 0  # documents OUT held when a resumed run started
    documents: int = 0
    characters: int = 0
    entities: Counter = field(default_factory=Counter)
    relations: Counter = field(default_factory=Counter)
    failures: int = 0
    unreadable: int = 0
    too_large: int = 0  # documents and files past --max-doc-chars, reported, not annotated
    skipped: int = 0  # files of no supported type, links, an earlier run's outputs
    warnings: int = 0  # annotated, with a caveat (replaced bytes, an id made valid)
    renamed_duplicates: int = 0
    started: float = field(default_factory=time.perf_counter)

    def add(self, result: Result) -> None:
        if result.record is None:
            self.failures += 1
            return
        self.documents += 1
        self.characters += len(result.document.text)
        self.entities.update(e["label"] for e in result.record["entities"])
        self.relations.update(r["label"] for r in result.record["relations"])

    def count_problem(self, problem: Problem) -> None:
        if problem.kind == "duplicate":
            self.renamed_duplicates += 1
        elif problem.kind == "unreadable":
            self.unreadable += 1
        elif problem.kind == "too_large":
            self.too_large += 1
        elif problem.kind == "skipped":
            self.skipped += 1
        elif problem.kind == "warning":
            self.warnings += 1

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def as_dict(self, **extra) -> dict:
        seconds = self.seconds
        return {"output": self.output, "documents": self.documents, "characters": self.characters,
                "entities": dict(sorted(self.entities.items())), "relations": dict(sorted(self.relations.items())),
                "failures": self.failures, "unreadable": self.unreadable, "too_large": self.too_large,
                "skipped": self.skipped, "warnings": self.warnings,
                "renamed_duplicates": self.renamed_duplicates, "already_done": self.already_done,
                "seconds": round(seconds, 2), "docs_per_s": round(self.documents / max(seconds, 1e-9), 2),
                "chars_per_s": round(self.characters / max(seconds, 1e-9), 1), **extra}


def format_summary(summary: dict) -> str:
    def counts(c: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in c.items()) or "none"

    lines = [f"{summary['documents']} documents, {summary['characters']} characters in {summary['seconds']} s "
             f"({summary['docs_per_s']} docs/s, {summary['chars_per_s']} chars/s)",
             f"entities: {counts(summary['entities'])}",
             f"relations: {counts(summary['relations'])}",
             f"failed documents: {summary['failures']}, unreadable inputs: {summary['unreadable']}, "
             f"too large: {summary.get('too_large', 0)}, skipped files: {summary.get('skipped', 0)}, "
             f"warnings: {summary.get('warnings', 0)}, renamed duplicate ids: {summary['renamed_duplicates']}"]
    if summary["already_done"]:
        lines.append(f"resumed: {summary['already_done']} documents were already in {summary['output']}")
    if summary.get("interrupted"):
        lines.append("interrupted: run again with --resume to continue")
    return "\n".join(lines)


@dataclass
class Outputs:
    """What a run writes: ``path`` (OUT, one JSON record per document), with
    OUT.errors.jsonl, OUT.summary.json and OUT.lock beside it; ``formats``:
    also Parquet / CSV tables (:func:`pipeline.app.archive.export_tables`);
    ``report``: an HTML page of ``report_docs`` sampled documents;
    ``resume``: keep OUT and annotate only the documents it lacks."""

    path: Path
    formats: Sequence[str] = ()
    report: Path | None = None
    report_docs: int = 50
    resume: bool = False

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.report = Path(self.report) if self.report else None
        unknown = set(self.formats) - set(TABLE_FORMATS) - {"jsonl"}
        if unknown:
            raise ValueError(f"unknown format(s) {sorted(unknown)}; choose from jsonl, {', '.join(TABLE_FORMATS)}")


class LocalEngine:
    """``nlp.pipe`` on this machine, in this process or in ``n_process`` worker processes.

    ``nlp``: a loaded pipeline or a pipeline directory (None: the shipped
    model), loaded when the results are first asked for. Documents longer
    than ``max_chars`` are cut at sentence ends into chunks.
    """

    def __init__(self, nlp: Language | str | os.PathLike | None = None, *, n_process: int = 1, batch_size: int = 32,
                 max_chars: int = DEFAULT_MAX_CHARS, gpu_id: int = -1) -> None:
        if gpu_id >= 0 and n_process > 1:
            raise ValueError("one GPU runs one process: drop --n-process, or use --engine ray (one GPU per actor)")
        if max_chars < 1:
            raise ValueError("--max-chars must be at least 1")
        self.nlp, self.n_process, self.batch_size, self.max_chars = nlp, n_process, batch_size, max_chars

    def results(self, documents: Iterable[Document]) -> Iterator[Result]:
        """A :class:`Result` per document, in input order (a generator: ``close()`` ends the workers)."""
        return annotate_documents(_load(self.nlp), documents, batch_size=self.batch_size, n_process=self.n_process,
                                  max_chars=self.max_chars)


class RayEngine:
    """Ray Data actors (``n_actors``, one GPU each with ``gpu``), each loading the pipeline directory ``model``."""

    def __init__(self, model: str | os.PathLike | None = None, *, n_actors: int = 1, batch_size: int = 32,
                 max_chars: int = DEFAULT_MAX_CHARS, gpu: bool = False) -> None:
        if max_chars < 1:
            raise ValueError("--max-chars must be at least 1")
        self.model, self.n_actors, self.batch_size, self.max_chars, self.gpu = model, n_actors, batch_size, max_chars, gpu

    def results(self, documents: Iterable[Document]) -> Iterator[Result]:
        """A :class:`Result` per document, in input order; checks Ray and the model at once."""
        return _ray_results(self.model, documents, batch_size=self.batch_size, n_actors=self.n_actors,
                            max_chars=self.max_chars, gpu=self.gpu)


Engine = LocalEngine | RayEngine


def annotate_files(reader: DocumentReader, engine: Engine, outputs: Outputs, *, progress: bool = True) -> int:
    """Annotate every document of ``reader`` with ``engine`` into ``outputs``; the number written.

    Records are appended a batch at a time as whole lines; with
    ``outputs.resume`` the documents already in OUT are skipped. Failures,
    unreadable, too large and skipped inputs and warnings go to
    ``OUT.errors.jsonl``, the summary to ``OUT.summary.json`` (and stderr
    when ``progress``).

    Nothing is written before the checks: the output is neither an input
    nor inside one (:func:`pipeline.app.archive.check_output`; inside an input
    folder it is skipped by the walk), every input is walked and checked
    (:meth:`DocumentReader.check`), the model and engine load, and
    ``OUT.lock`` is taken (one run per output; a live one is refused). Only
    then is OUT opened (emptied unless ``resume``).
    """
    from tqdm import tqdm

    from .report import Sample, write_report

    output, report, resume, formats = outputs.path, outputs.report, outputs.resume, outputs.formats
    batch_size = engine.batch_size
    check_output(output, reader.inputs, report)

    tally = Tally(str(output))
    early: list[Problem] = []  # problems found before OUT.errors.jsonl may be opened
    errors: ErrorLog | None = None

    def on_problem(problem: Problem) -> None:
        tally.count_problem(problem)
        if errors is None:
            early.append(problem)
        else:
            errors.log(problem)

    sample = Sample(outputs.report_docs) if report else None

    def todo(documents: Iterable[Document]) -> Iterator[Document]:
        for doc in documents:
            if sample is not None:  # the report samples every document, those already done too
                sample.add(doc.id, doc.text)
            if doc.id not in journal.done_ids:
                yield doc

    # Output, inputs, model and engine are checked before OUT is touched.
    reader.on_problem = on_problem
    reader.skip_files(output_paths(output, report))
    reader.check()
    results = engine.results(todo(reader))
    lock = OutputLock(output)
    lock.acquire()
    journal = None
    try:
        if lock.stale and progress:
            print(f"note: {lock.path} was left by a run that has ended (pid {lock.stale.get('pid')}); taken over",
                  file=sys.stderr)
        journal = ResultWriter(output, resume=resume)  # on resume, refuses an OUT that is not a run's output
        errors = ErrorLog(errors_path(output), resume=resume)
        for problem in early:
            errors.log(problem)
        tally.already_done = len(journal.done_ids)
        bar = tqdm(total=reader.total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc="annotate",
                   disable=not progress, file=sys.stderr)
        completed = False
        try:
            for n, result in enumerate(results, 1):
                tally.add(result)
                if result.record is None:
                    on_problem(Problem(result.document.id, result.document.source, result.error, "failed"))
                else:
                    journal.add(result.record)
                if n % batch_size == 0:
                    journal.flush()
                    _show(bar, reader, tally)
            completed = True
            bar.update(bar.total - bar.n)  # files skipped by --include were never read
        finally:
            results.close()  # ends the worker processes
            journal.close()
            errors.close()
            _show(bar, reader, tally)
            bar.close()
            summary = tally.as_dict(interrupted=not completed)
            write_json(summary_path(output), summary)
            if progress:
                print(format_summary(summary), file=sys.stderr)
        tables = [f for f in formats if f != "jsonl"]
        if tables:
            export_tables(output, tables)
        if report:
            write_report(report, output, sample)
    finally:
        results.close()
        if journal is not None:
            journal.close()
        if errors is not None:
            errors.close()
        lock.release()
    return tally.documents


def _load(nlp: Language | str | os.PathLike | None) -> Language:
    from .. import load

    return nlp if isinstance(nlp, Language) else load(nlp)


def _show(bar, reader: DocumentReader, tally: Tally) -> None:
    bar.update(max(min(reader.bytes_read, reader.total_bytes) - bar.n, 0))
    seconds = max(tally.seconds, 1e-9)
    bar.set_postfix_str(f"{tally.documents} docs {tally.documents / seconds:.1f}/s, "
                        f"{tally.characters / seconds / 1000:.1f}k chars/s", refresh=False)


# ---------------------------------------------------------------- Ray engine

# Documents are handed to Ray in windows (ray.data.from_items needs a list);
# each window starts the actors anew, so a window should run for minutes.
RAY_WINDOW_DOCS = 20_000
RAY_WINDOW_CHARS = 20_000_000


class RayAnnotator:
    """A Ray Data actor: loads the pipeline once, annotates batches of documents."""

    def __init__(self, model: str, gpu: bool, batch_size: int, max_chars: int) -> None:
        if gpu:
            import spacy

            spacy.require_gpu(0)  # Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU
        self.nlp = _load(model)
        self.batch_size, self.max_chars = batch_size, max_chars

    def __call__(self, batch: dict) -> dict:
        documents = [Document(str(i), str(t), str(s), d or None)
                     for i, t, s, d in zip(batch["id"], batch["text"], batch["source"], batch["date"])]
        results = list(annotate_documents(self.nlp, documents, batch_size=self.batch_size, max_chars=self.max_chars))
        return {"key": list(batch["key"]),
                "record": [json.dumps(r.record, ensure_ascii=False) if r.record else "" for r in results],
                "error": [r.error or "" for r in results]}


def _ray_results(model: Language | str | os.PathLike | None, documents: Iterable[Document], *, batch_size: int,
                 n_actors: int, max_chars: int, gpu: bool) -> Iterator[Result]:
    """Results in input order, computed by ``n_actors`` Ray Data actors (one GPU each with ``gpu``).

    Checks Ray and the model and starts Ray at once; the work starts when the results are read.
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise RuntimeError("--engine ray needs Ray: pip install 'zhie[ray]' (or ray[data])") from None
    if isinstance(model, Language):
        raise ValueError("the Ray engine loads the pipeline in each actor: pass its directory, not a loaded one")
    from ..paths import model_path

    model = str(model_path(model).resolve())  # every node must be able to read it
    if not (Path(model) / "config.cfg").exists():
        raise FileNotFoundError(f"no spaCy pipeline at {model} (config.cfg missing)")
    if not ray.is_initialized():
        ray.init()  # joins $RAY_ADDRESS's cluster if set, else starts a local one
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False  # ours counts documents
    actor_kwargs = {"model": model, "gpu": gpu, "batch_size": batch_size, "max_chars": max_chars}

    def results() -> Iterator[Result]:
        for window in _windows(documents):
            rows = ray.data.from_items([{"key": k, "id": d.id, "text": d.text, "source": d.source,
                                         "date": "" if d.date is None else str(d.date)}
                                        for k, d in enumerate(window)])
            annotated = rows.map_batches(RayAnnotator, fn_constructor_kwargs=actor_kwargs, batch_size=batch_size,
                                         concurrency=max(n_actors, 1), num_gpus=1 if gpu else 0)
            for k, row in enumerate(annotated.iter_rows()):
                if row["key"] != k:
                    raise RuntimeError(f"Ray returned document {row['key']} where {k} was expected")
                record = json.loads(row["record"]) if row["record"] else None
                yield Result(window[k], record, row["error"] or None)

    return results()


def _windows(documents: Iterable[Document]) -> Iterator[list[Document]]:
    window, chars = [], 0
    for doc in documents:
        window.append(doc)
        chars += len(doc.text)
        if len(window) >= RAY_WINDOW_DOCS or chars >= RAY_WINDOW_CHARS:
            yield window
            window, chars = [], 0
    if window:
        yield window
