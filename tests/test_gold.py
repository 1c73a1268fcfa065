"""The project's own gold corpus: every file valid, the test split frozen."""

import hashlib
import random
from pathlib import Path

import pytest

from pipeline.components.schema import sentence_index
from pipeline.jsonl import read_jsonl
from pipeline.training.gold import agreement, from_mentions, relayout, split_of, validate

GOLD = Path(__file__).resolve().parents[1] / "data" / "gold"
FILES = sorted(p for p in GOLD.glob("*.jsonl") if p.name != "items.jsonl")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_gold_file_is_valid(path):
    records = read_jsonl(path)
    assert records, f"{path} is empty"
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids), f"{path}: duplicate ids"
    problems = [p for r in records for p in validate(r)]
    assert problems == [], problems[:10]
    for r in records:
        assert r.get("source") and r.get("position"), f"{r['id']}: source and position are recorded"


def test_splits_are_disjoint_and_generated_data_stays_out_of_test():
    if not (GOLD / "test.jsonl").exists():
        pytest.skip("no gold yet")
    ids = {s: {r["id"] for r in read_jsonl(GOLD / f"{s}.jsonl")} for s in ("train", "dev", "test")}
    assert not ids["train"] & ids["test"] and not ids["dev"] & ids["test"] and not ids["train"] & ids["dev"]
    test = read_jsonl(GOLD / "test.jsonl")
    assert len(test) >= 300
    assert not any(r.get("generated") for r in test)
    assert all(split_of(i) == "test" for i in ids["test"])
    generated = read_jsonl(GOLD / "train_relayout.jsonl")
    assert all(r["generated"] and r["id"].split("#")[0] in ids["train"] for r in generated)


@pytest.mark.parametrize("checksum", sorted(GOLD.glob("test*.sha256")), ids=lambda p: p.name)
def test_test_splits_are_frozen(checksum):
    """test.jsonl and every later round's test slice (test_focus.jsonl) never change."""
    expected, name = checksum.read_text().split()
    assert hashlib.sha256((GOLD / name).read_bytes()).hexdigest() == expected, \
        f"data/gold/{name} changed: the test split is frozen"


def test_the_frozen_test_split_has_a_checksum():
    assert (GOLD / "test.sha256").exists()


def _ids(split: str, n: int) -> list[str]:
    return [i for i in (f"r-{k:04d}" for k in range(200)) if split_of(i) == split][:n]


def test_a_new_round_joins_train_and_dev_and_freezes_its_own_test_slice(tmp_path):
    import json

    from pipeline.jsonl import write_jsonl
    from pipeline.training.gold import add_round

    text = "市长刘涛在许昌调研。"
    ann = {"entities": [["市长", "TITLE"], ["刘涛", "PERSON"], ["许昌", "GPE"]],
           "relations": [[1, 0, "has_title"], [1, 2, "visits"]]}
    old_train, old_dev = _ids("train", 2), _ids("dev", 1)
    new_ids = _ids("train", 4)[2:] + _ids("dev", 2)[1:] + _ids("test", 2)
    items = [{"id": i, "source": "unit", "position": "0", "text": text} for i in old_train + old_dev + new_ids]
    write_jsonl(tmp_path / "items.jsonl", items)
    by_id = {it["id"]: it for it in items}
    write_jsonl(tmp_path / "train.jsonl", [from_mentions(by_id[i], ann) for i in old_train])
    write_jsonl(tmp_path / "dev.jsonl", [from_mentions(by_id[i], ann) for i in old_dev])
    write_jsonl(tmp_path / "test.jsonl", [])
    mentions = tmp_path / "round.jsonl"
    mentions.write_text("".join(json.dumps({"id": i, **ann}, ensure_ascii=False) + "\n" for i in new_ids))
    before = (tmp_path / "train.jsonl").read_text()

    written = add_round(tmp_path / "items.jsonl", [mentions], tmp_path, "test_focus")
    assert written == {"train": 4, "dev": 2, "test_focus": 2}
    assert [r["id"] for r in read_jsonl(tmp_path / "test_focus.jsonl")] == _ids("test", 2)
    assert (tmp_path / "train.jsonl").read_text().startswith(before)  # old records kept as they were
    assert len(read_jsonl(tmp_path / "train_relayout.jsonl")) == 4
    digest = (tmp_path / "test_focus.sha256").read_text().split()[0]
    assert digest == hashlib.sha256((tmp_path / "test_focus.jsonl").read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="in the gold already"):  # a round is added once
        add_round(tmp_path / "items.jsonl", [mentions], tmp_path, "test_focus")


ITEM = {"id": "t1", "source": "unit", "position": "0", "text": "市委书记史根治会见了史根治的客人。中原银行向德通智能授信1710万元。"}


def test_mentions_become_offsets_in_reading_order():
    ann = {"entities": [["市委书记", "TITLE"], ["史根治", "PERSON"], ["史根治", "PERSON"],
                        ["中原银行", "ORG"], ["德通智能", "ORG"], ["1710万元", "MONEY"]],
           "relations": [[1, 0, "has_title"], [4, 3, "agreement_with"], [4, 5, "amount"]]}
    rec = from_mentions(ITEM, ann)
    assert [(e["start"], e["end"]) for e in rec["entities"]] == [(0, 4), (4, 7), (10, 13), (17, 21), (22, 26), (28, 34)]
    assert rec["relations"][0] == {"head": "e2", "tail": "e1", "label": "has_title"}
    assert validate(rec) == []
    with pytest.raises(ValueError, match="not found"):
        from_mentions(ITEM, {"entities": [["中原银行", "ORG"], ["市委书记", "TITLE"]]})


def test_validator_catches_each_kind_of_error():
    base = from_mentions(ITEM, {"entities": [["市委书记", "TITLE"], ["史根治", "PERSON"], ["中原银行", "ORG"]]})
    bad = dict(base, entities=[dict(e) for e in base["entities"]])
    bad["entities"][0]["end"] = 5                       # offsets do not give the text
    bad["entities"][1]["label"] = "PER"                 # unknown label
    bad["entities"].append({"id": "e1", "start": 5, "end": 7, "label": "PERSON", "text": "根治"})  # dup id, overlap
    bad["relations"] = [{"head": "e2", "tail": "e3", "label": "has_title"},   # PERSON->ORG not has_title
                        {"head": "e2", "tail": "e9", "label": "member_of"},   # missing entity
                        {"head": "e2", "tail": "e3", "label": "likes"}]       # unknown label
    text = " ".join(validate(bad))
    for needle in ("duplicate entity ids", "do not give", "unknown label 'PER'", "overlap",
                   "cannot link", "missing entity", "unknown relation label"):
        assert needle in text, needle
    cross = from_mentions(ITEM, {"entities": [["史根治", "PERSON"], ["中原银行", "ORG"]],
                                 "relations": [[0, 1, "member_of"]]})
    assert any("crosses a sentence boundary" in p for p in validate(cross))


def test_sentence_index_follows_the_guidelines():
    idx = sentence_index("甲。乙！丙\n\n丁")
    assert idx == (0, 0, 1, 1, 2, 2, 2, 3)


def test_relayout_carries_offsets_and_keeps_numbers_whole():
    rec = from_mentions(ITEM, {"entities": [["市委书记", "TITLE"], ["史根治", "PERSON"], ["1710万元", "MONEY"]],
                               "relations": [[1, 0, "has_title"]]})
    for seed in range(20):
        out = relayout(rec, random.Random(seed))
        assert out["generated"] and out["id"] == "t1#relayout"
        assert validate(out) == []
        assert "\n" in out["text"]
        money = out["entities"][2]["text"]
        assert "1710" in money.replace("\n", "")  # wrapped maybe, never spaced inside a number
        stripped = [e["text"].replace("\n", "").replace(" ", "").replace("\u3000", "") for e in out["entities"]]
        assert stripped == ["市委书记", "史根治", "1710万元"]
        assert out["relations"] == rec["relations"]


def test_agreement_on_hand_computed_passes():
    one = from_mentions(ITEM, {"entities": [["市委书记", "TITLE"], ["史根治", "PERSON"], ["中原银行", "ORG"]],
                               "relations": [[1, 0, "has_title"]]})
    two = from_mentions(ITEM, {"entities": [["市委书记", "TITLE"], ["史根治", "PERSON"], ["德通智能", "ORG"]],
                               "relations": [[1, 0, "has_title"]]})
    got = agreement([one], [two])
    assert got["entities"]["tp"] == 2 and got["entities"]["fp"] == 1 and got["entities"]["fn"] == 1
    assert got["entities"]["f"] == pytest.approx(2 / 3, abs=1e-4)
    assert got["relations"]["f"] == 1.0


def test_a_full_import_refuses_to_change_a_frozen_test_split(tmp_path):
    import json

    from pipeline.jsonl import write_jsonl
    from pipeline.training.gold import import_gold

    ann = {"entities": [["市长", "TITLE"], ["刘涛", "PERSON"]], "relations": [[1, 0, "has_title"]]}
    ids = _ids("train", 2) + _ids("test", 2)
    write_jsonl(tmp_path / "items.jsonl", [{"id": i, "source": "unit", "position": "0", "text": "市长刘涛出席。"} for i in ids])
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps({"id": i, **ann}, ensure_ascii=False) + "\n" for i in ids))
    second.write_text("".join(json.dumps({"id": i, **ann}, ensure_ascii=False) + "\n" for i in ids[:3]))
    assert import_gold(tmp_path / "items.jsonl", [first], tmp_path) == {"train": 2, "dev": 0, "test": 2}
    train = (tmp_path / "train.jsonl").read_text()
    with pytest.raises(ValueError, match="is frozen"):
        import_gold(tmp_path / "items.jsonl", [second], tmp_path)
    assert (tmp_path / "train.jsonl").read_text() == train  # nothing written
    assert import_gold(tmp_path / "items.jsonl", [first], tmp_path)["test"] == 2  # the same split is fine


def test_gold_check_reports_what_gold_import_refuses(tmp_path):
    """`zhie gold check` runs the import's own conversion: the same records, the same problems."""
    from typer.testing import CliRunner

    from pipeline.app.cli import app
    from pipeline.jsonl import write_jsonl
    from pipeline.training.gold import import_mentions

    items = [{"id": "x-1", "source": "unit", "position": "0", "text": "市长刘涛在许昌调研。"},
             {"id": "x-2", "source": "unit", "position": "0", "text": "授信1000万元。"}]
    write_jsonl(tmp_path / "items.jsonl", items)
    good = [{"id": "x-1", "entities": [["市长", "TITLE"], ["刘涛", "PERSON"], ["许昌", "GPE"]],
             "relations": [[1, 0, "has_title"], [1, 2, "visits"]]}]
    bad = good + [{"id": "x-2", "entities": [["1000万元", "MONEY"], ["授信", "ORG"]], "relations": []},
                  {"id": "x-3", "entities": [], "relations": []}]
    write_jsonl(tmp_path / "good.jsonl", good)
    write_jsonl(tmp_path / "bad.jsonl", bad)
    runner = CliRunner()
    ok = runner.invoke(app, ["gold", "check", str(tmp_path / "good.jsonl"), "--items", str(tmp_path / "items.jsonl")])
    assert ok.exit_code == 0 and ok.output.strip().endswith("1 annotations, 0 problems")
    assert len(import_mentions(tmp_path / "items.jsonl", [tmp_path / "good.jsonl"])) == 1
    res = runner.invoke(app, ["gold", "check", str(tmp_path / "bad.jsonl"), "--items", str(tmp_path / "items.jsonl")])
    assert res.exit_code == 1
    assert "x-2: entity 1 '授信' not found after offset 8" in res.output and "x-3: no such item" in res.output
    with pytest.raises(ValueError, match="2 problems"):
        import_mentions(tmp_path / "items.jsonl", [tmp_path / "bad.jsonl"])


def test_finre_candidates_are_unique_and_unmasked(tmp_path, monkeypatch):
    from pipeline.training.gold import SPARSE_RELATIONS, candidates_finre, select

    (tmp_path / "finre").mkdir()
    rows = ["甲公司\t乙公司\t签约\t甲公司与乙公司签署战略合作协议。",
            "乙公司\t甲公司\t签约\t甲公司与乙公司签署战略合作协议。",  # the same sentence, other direction
            "丙公司\t丁公司\t持股\t丙公司持有丁公司<N>%的股份。",  # FinRE's masked number
            ""]
    (tmp_path / "finre" / "train.txt").write_text("\n".join(rows), encoding="utf-8")
    monkeypatch.setenv("ZHIE_CORPORA", str(tmp_path))
    cands = list(candidates_finre())
    assert [c["text"] for c in cands] == ["甲公司与乙公司签署战略合作协议。"]
    assert cands[0] == {"source": "finre:train", "position": "line 1", "text": cands[0]["text"]}
    picked = select(5, topics=SPARSE_RELATIONS, candidates=cands, first_id=7)
    assert [p["id"] for p in picked] == ["zhie-00007"]


def test_finre_valid_and_fewfc_train_documents_are_candidates(tmp_path, monkeypatch):
    import json

    from pipeline.training.gold import candidates_fewfc, candidates_finre

    (tmp_path / "finre").mkdir()
    (tmp_path / "finre" / "train.txt").write_text("甲\t乙\t签约\t甲公司与乙公司签约。\n", encoding="utf-8")
    (tmp_path / "finre" / "valid.txt").write_text("甲\t乙\t签约\t甲公司与乙公司签约。\n丙\t丁\t签约\t丙公司与丁公司签约。\n",
                                                  encoding="utf-8")
    (tmp_path / "fewfc").mkdir()
    docs = [{"id": str(i), "content": f"第{i}家公司与银行签署合同。它还收购了一家公司。", "events": []} for i in range(10)]
    (tmp_path / "fewfc" / "train_base.json").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs),
                                                        encoding="utf-8")
    (tmp_path / "fewfc" / "train_trans.json").write_text("", encoding="utf-8")
    monkeypatch.setenv("ZHIE_CORPORA", str(tmp_path))
    finre = list(candidates_finre(("train", "valid")))
    assert [(c["source"], c["text"]) for c in finre] == [("finre:train", "甲公司与乙公司签约。"),
                                                         ("finre:valid", "丙公司与丁公司签约。")]
    fewfc = list(candidates_fewfc())
    # every tenth document is the converted corpus's dev split: never a gold candidate
    assert len(fewfc) == 18 and not any(c["text"].startswith("第9家") for c in fewfc)
    assert fewfc[1] == {"source": "fewfc:train_base.json", "position": "line 1, char 13", "text": "它还收购了一家公司。"}


def test_select_keeps_a_hit_only_where_the_model_tags_what_the_relation_needs():
    from collections import Counter

    import spacy

    from pipeline.training.gold import SPARSE_RELATIONS, has_entities, select

    nlp = spacy.blank("zh")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ORG", "pattern": p} for p in ("甲公司", "乙银行")])
    cands = [{"source": "t", "position": str(i), "text": t} for i, t in enumerate(
        ["甲公司与乙银行签署了战略合作协议，金额巨大。",  # two ORGs: a signing can be annotated
         "他们与对方签署了战略合作协议，双方都很满意。"])]  # no named party: skipped
    topics = {"agreement": SPARSE_RELATIONS["agreement"]}
    picked = select(5, topics=topics, candidates=[dict(c) for c in cands], nlp=nlp)
    assert [p["position"] for p in picked] == ["0"]
    assert len(select(5, topics=topics, candidates=[dict(c) for c in cands])) == 2  # without a model both count
    assert has_entities(Counter({"PERSON": 1, "ORG": 1}), {"PERSON": 1, "GPE|ORG": 1})
    assert not has_entities(Counter({"PERSON": 1}), {"PERSON": 1, "GPE|ORG": 1})
