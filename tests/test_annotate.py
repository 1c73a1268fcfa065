"""Annotation path: layout-noisy text in, offsets into the original out.

Uses a small rule-based pipeline so the offset logic is tested without the
transformer; tests/test_model.py runs the shipped model.
"""

import json

import pytest
import spacy

from pipeline.annotate import annotate_files, annotate_text, annotate_texts, read_inputs


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
    assert annotate_files(nlp, [src], out, progress=False) == 1
    assert not out.with_name(out.name + ".partial").exists()
    (rec,) = [json.loads(line) for line in out.open(encoding="utf-8")]
    assert rec["id"] == "p1.txt" and rec["source"].endswith("p1.txt")
    original = (src / "p1.txt").read_text(encoding="utf-8")
    assert [original[e["start"]:e["end"]] for e in rec["entities"]] == ["市委书记", "史\n根治"]
