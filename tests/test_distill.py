"""Silver data for the sm pipeline: protected text stays out, annotations become DocBins."""

import json

import spacy
from spacy.tokens import DocBin

from pipeline.training.distill import Blocklist, annotated_to_docs, clean_runs, convert


def test_a_sentence_overlapping_protected_text_is_dropped_with_two_sentences_each_side():
    protected = "国务院总理李强在北京会见了美国国务卿布林肯。"
    block = Blocklist([protected])
    before = ["第一句话在这里说了一些事情。", "第二句话也说了别的事情。", "第三句话是另外一件事。"]
    after = ["第五句话讲的是其他的内容。", "第六句话还在继续讲下去。", "第七句话是最后一句了。"]
    text = "".join(before) + protected + "".join(after)
    assert block.hits(text)
    runs = clean_runs(text, block)
    assert runs == [before[0], after[2]]
    assert not any(block.hits(r) for r in runs)
    # layout whitespace does not hide an overlap
    assert block.hits("国务院总理李强\n在北京会见了美国国务卿布林肯")
    assert not block.hits("第五句话还在继续讲下去。")


TEXT = "市长刘涛在许昌调研。"
RECORD = {"id": "d1", "entities": [{"id": "e1", "start": 0, "end": 2, "label": "TITLE"},
                                   {"id": "e2", "start": 2, "end": 4, "label": "PERSON"},
                                   {"id": "e3", "start": 5, "end": 7, "label": "GPE"}],
          "relations": [{"head": "e2", "tail": "e1", "label": "has_title", "score": 0.99},
                        {"head": "e2", "tail": "e3", "label": "visits", "score": 0.8}]}


def test_annotated_records_become_docs_with_entities_and_relations():
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    text, rec = TEXT, RECORD
    stats = {}
    docs = list(annotated_to_docs(nlp, {"d1": text}, [rec, {**rec, "id": "unknown"}], stats))
    assert stats["docs"] == 1 and stats["unknown_id"] == 1
    db = DocBin(store_user_data=True, docs=docs)
    doc = list(DocBin(store_user_data=True).from_bytes(db.to_bytes()).get_docs(nlp.vocab))[0]
    assert [(e.text, e.label_) for e in doc.ents] == [("市长", "TITLE"), ("刘涛", "PERSON"), ("许昌", "GPE")]
    assert doc[4].ent_iob_ == "O"  # complete: what is not an entity is outside, not missing
    assert {(r["head"], r["tail"], r["label"]) for r in doc._.relations} == {((2, 4), (0, 2), "has_title"),
                                                                             ((2, 4), (5, 7), "visits")}
    assert doc._.relations_judged is None


def test_convert_reads_an_annotation_run_that_is_still_going(tmp_path):
    """A `zhie annotate` output read while it is written: the unfinished last line is left out."""
    (tmp_path / "selection.jsonl").write_text(
        "".join(json.dumps({"id": i, "text": TEXT}, ensure_ascii=False) + "\n" for i in ("d1", "d2")), encoding="utf-8")
    line = json.dumps(RECORD, ensure_ascii=False)
    (tmp_path / "annotated.jsonl").write_text(line + "\n" + line.replace('"d1"', '"d2"')[:40], encoding="utf-8")
    stats = convert(tmp_path / "selection.jsonl", tmp_path / "annotated.jsonl", tmp_path / "sm_train")
    assert stats["docs"] == 1 and stats["relations"] == 2 and stats["selected_docs"] == 2
    nlp = spacy.blank("zh")
    docs = list(DocBin().from_disk(tmp_path / "sm_train" / "silver.spacy").get_docs(nlp.vocab))
    assert [d.user_data["id"] for d in docs] == ["d1"] and len(docs[0]._.relations) == 2
    assert json.loads((tmp_path / "silver.summary.json").read_text()) == stats
