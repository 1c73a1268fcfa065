"""Annotation path: layout-noisy text in, offsets into the original out.

Uses a small rule-based pipeline so the offset logic is tested without the
transformer; tests/test_model.py runs the shipped model.
"""

import json
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from pipeline.app.annotate import (
    MAX_BATCH_CHARS,
    annotate_documents,
    LocalEngine,
    Outputs,
    annotate_files,
    annotate_text,
    annotate_texts,
    chunk_spans,
    read_inputs,
)
from pipeline.app.archive import Document, DocumentReader


@pytest.fixture(scope="module")
def nlp():
    nlp = spacy.blank("zh")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "TITLE", "pattern": [{"TEXT": c} for c in "市委书记"]},
        {"label": "PERSON", "pattern": [{"TEXT": c} for c in "史根治"]},
        {"label": "PERSON", "pattern": [{"TEXT": c} for c in "王堃"]},
        {"label": "MONEY", "pattern": [{"TEXT": c} for c in "3000万元"]},
    ])
    return nlp


def test_entities_map_back_across_line_breaks_and_spaces(nlp):
    text = "面对形势，市\n委书记史根治指出。市 领 导 王 堃出席，投资3000 万元。"
    rec = annotate_text(nlp, text, "d1")
    got = [(e["label"], e["text"]) for e in rec["entities"]]
    assert got == [("TITLE", "市\n委书记"), ("PERSON", "史根治"), ("PERSON", "王 堃"), ("MONEY", "3000 万元")]
    for e in rec["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]
    assert [e["id"] for e in rec["entities"]] == ["e1", "e2", "e3", "e4"]
    assert rec["relations"] == [] and rec["events"] == []
    assert rec["entities"][3]["money"] == {"value": 30_000_000, "currency": "CNY", "approximate": False,
                                           "low": None, "high": None}


@Language.component("test_rule_relations")
def rule_relations(doc):
    """A stand-in for the relation extractor: TITLE then PERSON -> has_title; ORG, ORG, MONEY -> a deal."""
    rels = []
    ents = list(doc.ents)
    for a, b in zip(ents, ents[1:]):
        if a.label_ == "TITLE" and b.label_ == "PERSON" and a.end == b.start:
            rels.append({"head": (b.start_char, b.end_char), "tail": (a.start_char, a.end_char), "label": "has_title",
                         "score": 0.9})
    for a, b, c in zip(ents, ents[1:], ents[2:]):
        if (a.label_, b.label_, c.label_) != ("ORG", "ORG", "MONEY"):
            continue
        o1, o2, m = ((e.start_char, e.end_char) for e in (a, b, c))
        rels += [{"head": o1, "tail": o2, "label": "agreement_with", "score": 0.8},
                 {"head": o1, "tail": m, "label": "amount", "score": 0.7},
                 {"head": o2, "tail": m, "label": "amount", "score": 0.6}]
    doc._.relations = rels
    return doc


@pytest.fixture(scope="module")
def nlp_rel():
    nlp = spacy.blank("zh")
    ruler = nlp.add_pipe("entity_ruler")
    for label, word in [("TITLE", "市委书记"), ("PERSON", "史根治"), ("ORG", "恒生制药"), ("ORG", "郑州银行"),
                        ("MONEY", "610万元")]:
        ruler.add_patterns([{"label": label, "pattern": [{"TEXT": c} for c in word]}])
    nlp.add_pipe("test_rule_relations")
    return nlp


def test_relations_and_events_map_to_entity_ids_and_original_offsets(nlp_rel):
    text = "会上，市\n委书记史根治讲话。恒生制药与郑州银行达成预 授 信\n610 万元。"
    rec = annotate_text(nlp_rel, text, "d1")
    names = {e["id"]: e["text"] for e in rec["entities"]}
    got = [(names[r["head"]], names[r["tail"]], r["label"], r["score"]) for r in rec["relations"]]
    assert got == [("史根治", "市\n委书记", "has_title", 0.9), ("恒生制药", "郑州银行", "agreement_with", 0.8),
                   ("恒生制药", "610 万元", "amount", 0.7), ("郑州银行", "610 万元", "amount", 0.6)]
    (event,) = rec["events"]
    assert event["trigger"]["text"] == "预 授 信" == text[event["trigger"]["start"]:event["trigger"]["end"]]
    assert event["type"] == "预授信" and event["score"] == 0.6
    assert event["amount"]["value"] == 6_100_000 and names[event["amount"]["entity"]] == "610 万元"
    assert {names[p["entity"]]: p["role"] for p in event["parties"]} == {"恒生制药": "receiver", "郑州银行": "grantor"}


def test_relations_survive_chunking(nlp_rel):
    text = "会上，市委书记史根治讲话。恒生制药与郑州银行达成预授信610万元。\n\n" * 30
    whole, chunked = (next(annotate_documents(nlp_rel, [Document("long", text, "")], max_chars=m)).record
                      for m in (10 ** 9, 50))
    assert chunked == whole
    assert len(whole["relations"]) == 4 * 30 and len(whole["events"]) == 30


def test_order_and_ids_are_kept_over_batches(nlp):
    items = [(f"doc{i}", "史根治" if i % 2 else "无实体") for i in range(7)]
    recs = list(annotate_texts(nlp, items, batch_size=3))
    assert [r["id"] for r in recs] == [i for i, _ in items]
    assert [len(r["entities"]) for r in recs] == [i % 2 for i in range(7)]


def test_empty_and_whitespace_documents(nlp):
    for text in ["", "   \n\n  "]:
        assert annotate_text(nlp, text)["entities"] == []


def test_read_inputs_folders_txt_and_jsonl(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("\ufeff史根治", encoding="utf-8")  # BOM dropped
    (tmp_path / "b.jsonl").write_text('{"id": "x1", "text": "王堃"}\n\n{"text": "刘涛"}\n', encoding="utf-8")
    got = [(i, t) for i, t, _ in read_inputs([tmp_path])]
    assert got == [("a/one.txt", "史根治"), ("x1", "王堃"), ("b.jsonl:3", "刘涛")]


def test_read_inputs_reports_bad_lines_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"no_text": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        list(read_inputs([bad]))
    with pytest.raises(FileNotFoundError, match="missing"):
        list(read_inputs([tmp_path / "missing"]))


def test_annotate_files_writes_jsonl_atomically(nlp, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "p1.txt").write_text("市委书记史\n根治", encoding="utf-8")
    out = tmp_path / "out" / "result.jsonl"
    assert annotate_files(DocumentReader([src]), LocalEngine(nlp), Outputs(out), progress=False) == 1
    assert not out.with_name(out.name + ".partial").exists()
    (rec,) = [json.loads(line) for line in out.open(encoding="utf-8")]
    assert rec["id"] == "p1.txt" and rec["source"].endswith("p1.txt")
    original = (src / "p1.txt").read_text(encoding="utf-8")
    assert [original[e["start"]:e["end"]] for e in rec["entities"]] == ["市委书记", "史\n根治"]


# ---------------------------------------------------------------- long documents

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def test_chunks_end_at_sentence_ends_and_cover_the_text():
    text = "".join(f"第{i}句话，内容{'很' * (i % 7)}长。" for i in range(200)) + "\n最后一段没有句号"
    spans = chunk_spans(text, 50)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous
    assert all(0 < e - s <= 50 for s, e in spans)
    assert all(text[e - 1] in "。\n" for _, e in spans[:-1])
    assert chunk_spans("短文本。", 50) == [(0, 4)] and chunk_spans("", 50) == [(0, 0)]


def test_run_on_sentence_is_cut_at_the_limit():
    assert chunk_spans("字" * 25, 10) == [(0, 10), (10, 20), (20, 25)]


def test_long_document_is_chunked_and_reassembled(nlp):
    para = "面对形势，市\n委书记史根治指出。" + "干部要想干、会干、能干" * 8 + "。\n\n市 领 导 王 堃出席，投资3000 万元。\n\n"
    text = para * 40  # ~6000 characters
    whole, chunked = (next(annotate_documents(nlp, [Document("long", text, "")], max_chars=m)).record
                      for m in (10 ** 9, 120))
    assert chunked == whole
    assert len(chunked["entities"]) == 4 * 40
    assert [e["id"] for e in chunked["entities"]] == [f"e{i}" for i in range(1, 161)]
    for e in chunked["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples not present")
def test_sample_front_pages_in_small_chunks_keep_offsets(nlp):
    docs = [Document(p.name, p.read_text(encoding="utf-8"), str(p)) for p in sorted(SAMPLES.glob("*.txt"))]
    for whole, chunked in zip(annotate_documents(nlp, docs), annotate_documents(nlp, docs, max_chars=200)):
        assert chunked.record == whole.record
        for e in chunked.record["entities"]:
            assert chunked.document.text[e["start"]:e["end"]] == e["text"]


def test_annotate_texts_raises_on_a_failing_document(nlp):
    with pytest.raises(RuntimeError, match="bad"):
        list(annotate_texts(nlp, [("ok", "史根治"), ("bad", 42)]))


def test_batches_of_long_chunks_are_bounded_in_characters(nlp, monkeypatch):
    """A long document's chunks go to the pipeline at most MAX_BATCH_CHARS at a time (memory stays flat)."""
    text = "史根治，" * 15_000  # 60,000 characters, no sentence end: cut after commas
    whole = next(annotate_documents(nlp, [Document("long", text, "")], max_chars=10 ** 9)).record
    seen = []
    real_pipe = nlp.pipe

    def pipe(texts, **kwargs):
        texts = list(texts)
        seen.append(sum(map(len, texts)))
        return real_pipe(texts, **kwargs)

    monkeypatch.setattr(nlp, "pipe", pipe)
    chunked = next(annotate_documents(nlp, [Document("long", text, "")], batch_size=32)).record
    assert chunked == whole and len(chunked["entities"]) == 15_000
    assert seen == [50_000, 10_000] and max(seen) <= MAX_BATCH_CHARS  # 12 chunks of 5,000, ten at a time
    assert chunk_spans("史根治，" * 2000, 5000)[0] == (0, 5000)  # the cut falls after a comma
