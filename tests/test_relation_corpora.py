"""Gold-relation readers (pipeline/training/relation_corpora.py) and the has_title precision check.

Fixtures mirror the real formats in /work/shared/corpora (CLUENER jsonl with
inclusive ends, Resume char-per-line BMES, FewFC jsonl with exclusive ends,
DuIE jsonl without offsets); every expected relation was worked out by hand.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pipeline.training import relation_corpora as R
from pipeline.training.gold import validate

SHARED = R.corpora_dir()  # ZHIE_CORPORA, else ../shared/corpora beside the repo
RULES = Path(__file__).resolve().parents[1] / "data" / "relation_rules"


# ------------------------------------------------------------------ helpers

def rels(rec: dict) -> set[tuple[str, str, str]]:
    by_id = {e["id"]: e for e in rec["entities"]}
    return {(by_id[r["head"]]["text"], r["label"], by_id[r["tail"]]["text"]) for r in rec["relations"]}


def ents(rec: dict) -> set[tuple[str, str]]:
    return {(e["text"], e["label"]) for e in rec["entities"]}


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _cluener(text: str, labels: dict[str, list[str]]) -> dict:
    """A CLUENER line; each mention at its first occurrence, end inclusive."""
    out: dict[str, dict[str, list[list[int]]]] = {}
    for ctype, mentions in labels.items():
        for m in mentions:
            s = text.index(m)
            out.setdefault(ctype, {})[m] = [[s, s + len(m) - 1]]
    return {"text": text, "label": out}


def _bmes(path: Path, lines: list[tuple[str, dict[str, str]]]) -> None:
    """Resume BMES; ``{mention: TAG}`` at first occurrence."""
    blocks = []
    for text, spans in lines:
        tags = ["O"] * len(text)
        for m, lab in spans.items():
            s = text.index(m)
            if len(m) == 1:
                tags[s] = f"S-{lab}"
            else:
                tags[s:s + len(m)] = [f"B-{lab}"] + [f"M-{lab}"] * (len(m) - 2) + [f"E-{lab}"]
        blocks.append("".join(f"{c} {t}\n" for c, t in zip(text, tags)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(blocks), encoding="utf-8")


def _fewfc(content: str, events: list[tuple[str, list[tuple[str, str]]]]) -> dict:
    """A FewFC line; events as (type, [(role, word)]), word at first occurrence."""
    return {"id": content[:8], "content": content, "events": [
        {"type": t, "mentions": [{"word": w, "span": [content.index(w), content.index(w) + len(w)], "role": r}
                                 for r, w in ms]} for t, ms in events]}


def _duie(text: str, triples: list[tuple[str, str, str]]) -> dict:
    types = {"董事长": "企业", "创始人": "企业", "校长": "学校", "代言人": "企业/品牌"}
    return {"text": text, "spo_list": [
        {"predicate": p, "subject": s, "subject_type": types[p], "object": {"@value": o},
         "object_type": {"@value": "人物"}} for s, p, o in triples]}


def _all_valid(recs: list[dict]) -> None:
    for rec in recs:
        assert not validate(rec), validate(rec)
        assert rec["judged"], rec
        assert {r["label"] for r in rec["relations"]} <= set(rec["judged"])


# ------------------------------------------------------------------ CLUENER

def test_cluener_adjacency(tmp_path):
    rows = [
        # company + post + 、-list of names: each name has the post and the company (D1, rule 3)
        _cluener("中原银行行长张三、李四出席会议。", {"company": ["中原银行"], "position": ["行长"], "name": ["张三", "李四"]}),
        # a government body fused before the post is part of the TITLE (D1)
        _cluener("国务院总理李克强表示。", {"government": ["国务院"], "position": ["总理"], "name": ["李克强"]}),
        # name + post (byline style)
        _cluener("王东升记者报道。", {"name": ["王东升"], "position": ["记者"]}),
        # a chain of posts joined by 、, each with its organisation
        _cluener("中央美术学院院长、全国美术家协会主席靳尚谊出席。",
                 {"organization": ["中央美术学院", "全国美术家协会"], "position": ["院长", "主席"], "name": ["靳尚谊"]}),
        # undecidable: post apart from the name -> no record
        _cluener("张三任董事长。", {"name": ["张三"], "position": ["董事长"]}),
        # the post word used as a verb -> no link, post open -> no record
        _cluener("陈嘉上导演的《画皮》上映。", {"name": ["陈嘉上"], "position": ["导演"]}),
        # 专家 is no post: left out, nothing to judge
        _cluener("专家张三表示。", {"name": ["张三"], "position": ["专家"]}),
        # a second post apart from the name: whose it is is unknown (rule 8, corpora.posts_by_rule_8),
        # so it is no candidate and the post next to the name is judged
        _cluener("董事长张三会见了总经理。", {"name": ["张三"], "position": ["董事长", "总经理"]}),
    ]
    _jsonl(tmp_path / "cluener2020" / "train.json", rows)
    recs = list(R.read_cluener_relations(tmp_path, "train"))
    _all_valid(recs)
    by_id = {r["id"]: r for r in recs}
    assert sorted(by_id) == ["cluener/train/0", "cluener/train/1", "cluener/train/2", "cluener/train/3",
                             "cluener/train/7"]
    assert rels(by_id["cluener/train/7"]) == {("张三", "has_title", "董事长")}
    assert ("总经理", "TITLE") not in ents(by_id["cluener/train/7"])
    assert rels(by_id["cluener/train/0"]) == {("张三", "has_title", "行长"), ("李四", "has_title", "行长"),
                                              ("张三", "member_of", "中原银行"), ("李四", "member_of", "中原银行")}
    assert by_id["cluener/train/0"]["judged"] == ["has_title", "member_of"]
    assert rels(by_id["cluener/train/1"]) == {("李克强", "has_title", "国务院总理")}
    assert ("国务院总理", "TITLE") in ents(by_id["cluener/train/1"]) and by_id["cluener/train/1"]["judged"] == ["has_title"]
    assert rels(by_id["cluener/train/2"]) == {("王东升", "has_title", "记者")}
    assert rels(by_id["cluener/train/3"]) == {
        ("靳尚谊", "has_title", "院长"), ("靳尚谊", "has_title", "主席"),
        ("靳尚谊", "member_of", "中央美术学院"), ("靳尚谊", "member_of", "全国美术家协会")}


# ------------------------------------------------------------------- Resume

def test_resume_subject_and_line_joining(tmp_path):
    _bmes(tmp_path / "resume_ner" / "train.char.bmes", [
        ("张三，男，", {"张三": "NAME"}),                       # continues (ends in ，)
        ("现任中原银行董事长、公司总经理。", {"中原银行": "ORG", "董事长": "TITLE", "公司": "ORG", "总经理": "TITLE"}),
        ("曾任某厂厂长", {"厂长": "TITLE"}),                     # no final punctuation: a résumé ends here
        ("李四，男，高级工程师、中共党员。", {"李四": "NAME", "高级工程师": "TITLE", "中共党员": "TITLE"}),
        ("王五与赵六任董事。", {"王五": "NAME", "赵六": "NAME", "董事": "TITLE"}),   # two people: undecided
        ("王先生任监事。", {"王": "NAME", "监事": "TITLE"}),   # a lone surname is no PERSON (D16)
    ])
    recs = list(R.read_resume_relations(tmp_path, "train"))
    _all_valid(recs)
    assert [r["id"] for r in recs] == ["resume/train/0-1", "resume/train/3"]
    first, second = recs
    assert first["text"] == "张三，男，现任中原银行董事长、公司总经理。"
    # 公司 is a generic ORG (D3) and left out, so member_of is decided by 中原银行 alone
    assert rels(first) == {("张三", "has_title", "董事长"), ("张三", "has_title", "总经理"),
                           ("张三", "member_of", "中原银行")}
    assert first["judged"] == ["has_title", "member_of"]
    assert rels(second) == {("李四", "has_title", "高级工程师")}  # 中共党员 is no post
    assert second["judged"] == ["has_title"]


# -------------------------------------------------------------------- FewFC

def test_fewfc_deals_and_amounts(tmp_path):
    filler = _fewfc("某公司发布公告。", [("减持", [("trigger", "公告")])])
    rows = [
        # pledge: pledgor (borrower) head, pledgee (lender) tail (D7); amount to both (D8)
        _fewfc("甲公司将1000万股质押给乙银行,融资5000万元。",
               [("质押", [("trigger", "质押"), ("sub-org", "甲公司"), ("obj-org", "乙银行"), ("money", "5000万元")])]),
        # capital injection: the investee receives (head); 人民币 after the unit stays outside (D12)
        _fewfc("丙集团向丁科技增资2亿元人民币。",
               [("投资", [("trigger", "增资"), ("sub", "丙集团"), ("obj", "丁科技"), ("money", "2亿元人民币")])]),
        # acquisition: only the buyer is a party; the acquired company is left out
        _fewfc("戊股份以3亿元收购己公司。",
               [("收购", [("trigger", "收购"), ("sub-org", "戊股份"), ("obj-org", "己公司"), ("money", "3亿元")])]),
        # a lawsuit: two parties, no deal -> a judged negative
        _fewfc("庚公司起诉辛公司。", [("起诉", [("trigger", "起诉"), ("sub-org", "庚公司"), ("obj-org", "辛公司")])]),
        # a judgment with a fine: the payer is not given, the money is left out
        _fewfc("法院判决壬公司赔偿癸公司100万元。",
               [("判决", [("trigger", "判决"), ("obj-org", "壬公司"), ("sub-org", "癸公司"), ("money", "100万元")])]),
        # the target of one event is a party of another: nothing judged
        _fewfc("子公司收购丑公司股权,丑公司与寅银行签约。",
               [("股份股权转让", [("trigger", "收购"), ("obj-org", "子公司"), ("target-company", "丑公司")]),
                ("签署合同", [("trigger", "签约"), ("sub-org", "丑公司"), ("obj-org", "寅银行")])]),
        filler, filler, filler,
        # the tenth document is dev
        _fewfc("卯公司与辰公司签约。", [("签署合同", [("trigger", "签约"), ("sub-org", "卯公司"), ("obj-org", "辰公司")])]),
    ]
    _jsonl(tmp_path / "fewfc" / "train_base.json", rows)
    _jsonl(tmp_path / "fewfc" / "train_trans.json", [])
    counts: Counter = Counter()
    recs = {r["id"].rsplit("/", 1)[1]: r for r in R.read_fewfc_relations(tmp_path, "train", counts=counts)}
    _all_valid(list(recs.values()))
    assert sorted(recs) == ["0", "1", "2", "3", "4"]
    assert rels(recs["0"]) == {("甲公司", "agreement_with", "乙银行"), ("甲公司", "amount", "5000万元"),
                               ("乙银行", "amount", "5000万元")}
    assert recs["0"]["judged"] == ["agreement_with", "amount"]
    assert rels(recs["1"]) == {("丁科技", "agreement_with", "丙集团"), ("丙集团", "amount", "2亿元"),
                               ("丁科技", "amount", "2亿元")}
    assert rels(recs["2"]) == {("戊股份", "amount", "3亿元")} and recs["2"]["judged"] == ["amount"]
    assert ("己公司", "ORG") not in ents(recs["2"])
    assert rels(recs["3"]) == set() and recs["3"]["judged"] == ["agreement_with"]
    assert ents(recs["4"]) == {("壬公司", "ORG"), ("癸公司", "ORG")} and recs["4"]["judged"] == ["agreement_with"]
    assert counts["unjudged_conflict"] == 1
    dev = list(R.read_fewfc_relations(tmp_path, "dev"))
    assert [r["id"] for r in dev] == ["fewfc/train_base.json/9"]
    assert rels(dev[0]) == {("卯公司", "agreement_with", "辰公司")}  # symmetric: first mentioned is head


# --------------------------------------------------------------------- DuIE

def test_duie_triples(tmp_path):
    rows = [
        _duie("中通快递董事长赖梅松表示，行业要有担当", [("中通快递", "董事长", "赖梅松")]),
        _duie("马自达汽车公司创立于1920年，创始人是松田重次郎", [("马自达汽车公司", "创始人", "松田重次郎")]),
        _duie("张三是甲大学校长，张三说", [("甲大学", "校长", "张三")]),            # name twice: skipped
        _duie("乙公司副董事长李四出席", [("乙公司", "董事长", "李四")]),            # 副董事长 is another post
        _duie("胡歌代言北京现代", [("北京现代", "代言人", "胡歌")]),               # no member predicate
        _duie("丙公司成立于2000年。创始人是王五", [("丙公司", "创始人", "王五")]),   # crosses a sentence end
    ]
    _jsonl(tmp_path / "duie2.0_sample5000" / "train_data_5000.json", rows)
    counts: Counter = Counter()
    recs = {r["id"]: r for r in R.read_duie_relations(tmp_path, "train", counts=counts)}
    _all_valid(list(recs.values()))
    assert sorted(recs) == ["duie/train/0", "duie/train/1", "duie/train/3"]
    assert rels(recs["duie/train/0"]) == {("赖梅松", "member_of", "中通快递"), ("赖梅松", "has_title", "董事长")}
    assert recs["duie/train/0"]["judged"] == ["has_title", "member_of"]
    assert rels(recs["duie/train/1"]) == {("松田重次郎", "member_of", "马自达汽车公司")}
    assert recs["duie/train/1"]["judged"] == ["member_of"]
    assert rels(recs["duie/train/3"]) == {("李四", "member_of", "乙公司")}
    assert counts["skipped_triples"] == 1 and counts["dropped_invalid"] == 1


def test_relation_stats_counts_negatives(tmp_path):
    _jsonl(tmp_path / "fewfc" / "train_base.json", [
        _fewfc("甲公司与乙公司签约,丙公司起诉丁公司。",
               [("签署合同", [("trigger", "签约"), ("sub-org", "甲公司"), ("obj-org", "乙公司")]),
                ("起诉", [("trigger", "起诉"), ("sub-org", "丙公司"), ("obj-org", "丁公司")])])])
    _jsonl(tmp_path / "fewfc" / "train_trans.json", [])
    stats = R.relation_stats(tmp_path)
    assert set(stats) == {"fewfc", "zhie_gold"}  # the gold is in the repo, not under the corpora folder
    agr = stats["fewfc"]["train"]["labels"]["agreement_with"]
    # 4 ORGs in one sentence: 12 ordered pairs, 1 positive
    assert agr == {"records": 1, "positives": 1, "negatives": 11}


# ------------------------------------------------------ has_title precision

def _readme_rounds() -> dict[int, tuple[int, int, float]]:
    text = (RULES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*\d+\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([01]\.\d+)\s*\|", text, re.M)
    return {int(r): (int(n), int(c), float(p)) for r, n, c, p in rows}


def test_has_title_precision_matches_readme():
    lines = [json.loads(x) for x in (RULES / "has_title_check.jsonl").read_text(encoding="utf-8").splitlines() if x]
    rounds = _readme_rounds()
    assert rounds, "README.md has no precision table"
    final = max(rounds)
    for rnd, (n, correct, precision) in rounds.items():
        rows = [x for x in lines if x["round"] == rnd]
        assert all(x["rule_says"] is True and isinstance(x["your_judgement"], bool) and x["note"] for x in rows)
        assert len({(x["id"], x["person_start"], x["title_start"]) for x in rows}) == len(rows) == n
        assert sum(x["your_judgement"] for x in rows) == correct
        assert round(correct / n, 3) == precision
    assert rounds[final][0] >= 100 and rounds[final][2] >= 0.9


@pytest.mark.skipif(not (SHARED / "resume_ner" / "train.char.bmes").exists(), reason="shared corpora absent")
def test_has_title_check_is_a_sample_of_the_current_rule():
    """The final round is what ``sample_has_title`` draws from the rule as it
    stands; a rule change must come with a fresh hand-checked round."""
    lines = [json.loads(x) for x in (RULES / "has_title_check.jsonl").read_text(encoding="utf-8").splitlines() if x]
    final = max(x["round"] for x in lines)
    checked = [(x["id"], x["person_start"], x["title_start"]) for x in lines if x["round"] == final]
    seed = next(x["seed"] for x in lines if x["round"] == final)
    drawn = [(x["id"], x["person_start"], x["title_start"]) for x in R.sample_has_title(SHARED, 120, seed)]
    assert drawn == checked


# ------------------------------------------------------- real shared corpora

@pytest.mark.skipif(not (SHARED / "cluener2020" / "train.json").exists(), reason="shared corpora absent")
def test_real_corpora_smoke():
    stats = R.relation_stats(SHARED)
    expected = {"cluener": ("has_title", "member_of"), "resume": ("has_title", "member_of"),
                "fewfc": ("agreement_with", "amount"), "duie": ("member_of", "has_title")}
    for source, labels in expected.items():
        train = stats[source]["train"]
        assert train["records"] > 100
        for label in labels:
            assert train["labels"][label]["positives"] > 0
    assert stats["fewfc"]["train"]["labels"]["agreement_with"]["negatives"] > 0
    for source, (reader, splits) in R.RELATION_READERS.items():
        for rec, _ in zip(reader(SHARED, splits[-1]), range(200)):
            assert not validate(rec)
