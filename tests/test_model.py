"""The shipped pipeline: loads offline, stays small, annotates raw pages."""

import json
import os
import re
from pathlib import Path

import pytest
import spacy

import pipeline
from pipeline.app.annotate import annotate_text

MODEL = pipeline.model_path()
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
pytestmark = pytest.mark.skipif(not (MODEL / "config.cfg").exists(), reason="no shipped model")


@pytest.fixture(scope="module")
def nlp():
    # No cache, no hub: everything the pipeline needs is inside models/.
    old = {k: os.environ.get(k) for k in ("ZHIE_CACHE", "HF_HUB_OFFLINE")}
    os.environ["ZHIE_CACHE"] = "/nonexistent/zhie-cache"
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield pipeline.load()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_size_under_100_mb():
    size = sum(p.stat().st_size for p in MODEL.rglob("*") if p.is_file())
    assert size < 100 * 1024 * 1024, f"{size / 2**20:.1f} MB"


def test_meta_records_training_data_and_scores():
    meta = json.loads((MODEL / "meta.json").read_text(encoding="utf-8"))
    assert set(meta["labels"]["ner"]) >= {"PERSON", "TITLE", "ORG", "GPE", "MONEY"}
    assert meta["zhie"]["trained_on"] and meta["zhie"]["scores"]
    for name in ("cluener/dev", "people_daily/dev", "zhie_gold/test", "samples", "relations:zhie_gold/test",
                 "relations@gold:zhie_gold/test", "relations:samples"):
        assert 0.0 <= meta["zhie"]["scores"][name]["micro"]["f"] <= 1.0


def test_spacy_load_finds_the_same_pipeline(nlp):
    again = spacy.load(MODEL)
    assert again.pipe_names == nlp.pipe_names == ["gazetteer", "transformer", "ner", "drop_nameless_titles", "relation_extractor", "event_assembler"]


def test_tags_officials_posts_and_money(nlp):
    text = "市委书记史根治主持会议。许昌恒生制药有限公司与中原银行达成预授信1710万元。"
    doc = nlp(text)
    ents = {(e.text, e.label_) for e in doc.ents}
    assert ("史根治", "PERSON") in ents
    assert ("1710万元", "MONEY") in ents


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples not present")
def test_sample_pages_offsets_refer_to_the_raw_text(nlp):
    for path in sorted(SAMPLES.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        rec = annotate_text(nlp, raw, path.stem)
        assert rec["entities"], path.name
        for e in rec["entities"]:
            assert raw[e["start"]:e["end"]] == e["text"]
            assert not e["text"][0].isspace() and not e["text"][-1].isspace()
        names = {re.sub(r"\s", "", e["text"]) for e in rec["entities"] if e["label"] == "PERSON"}
        assert "史根治" in names, path.name


def test_links_officials_to_their_posts(nlp):
    doc = nlp("市委副书记、市长刘涛主持会议。")
    rels = {(doc.text[slice(*r["head"])], doc.text[slice(*r["tail"])], r["label"]) for r in doc._.relations}
    assert ("刘涛", "市长", "has_title") in rels
    assert all(0.0 <= r["score"] <= 1.0 for r in doc._.relations)
    # the relation extractor reads the NER's transformer output: one forward pass
    assert nlp.get_pipe("transformer").listener_map.keys() == {"ner", "relation_extractor"}


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples not present")
def test_sample_output_has_the_gold_shape_plus_scores(nlp):
    gold = [json.loads(x) for x in (SAMPLES / "front_page_gold.jsonl").read_text(encoding="utf-8").splitlines() if x]
    for g in gold:
        rec = annotate_text(nlp, g["text"], g["id"])
        ids = {e["id"] for e in rec["entities"]}
        assert rec["relations"], g["id"]
        for r in rec["relations"]:
            assert set(r) == {"head", "tail", "label", "score"} and r["head"] in ids and r["tail"] in ids
        assert set(rec) >= set(g) - {"text"}


PIPE_IN_TWO_PROCESSES = r"""
import pipeline
nlp = pipeline.load()
docs = list(nlp.pipe(["市长刘涛在许昌调研。"] * 16, n_process=2, batch_size=4))
print(sum(len(d.ents) for d in docs), sum(len(d._.relations) for d in docs))
"""


def test_pipe_with_two_processes_does_not_hang():
    """spaCy's n_process forks workers; the transformer's torch thread pool must not deadlock them."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PIPE_IN_TWO_PROCESSES], capture_output=True, text=True, timeout=300,
                         check=True)
    ents, rels = map(int, out.stdout.split())
    assert ents == 16 * 3 and rels >= 16
