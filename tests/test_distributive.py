"""分别 with parallel lists: the n-th party with the n-th amount (pipeline/components/distributive.py)."""

import itertools

import pytest

from pipeline.components.distributive import pair_distributive, parallel_lists
from pipeline.components.events import assemble_events
from mentions import offsets

# (sentence, entities in reading order, subject (its amount relations apply to every sum), parties, amounts)
TABLE = [
    ("恒生制药分别与邮储银行、郑州银行达成预授信1000万元、610万元。",
     [("恒生制药", "ORG"), ("邮储银行", "ORG"), ("郑州银行", "ORG"), ("1000万元", "MONEY"), ("610万元", "MONEY")], [0], [1, 2], [3, 4]),
    ("甲公司分别与中原银行、许昌银行达成800万元、500万元预授信。",
     [("甲公司", "ORG"), ("中原银行", "ORG"), ("许昌银行", "ORG"), ("800万元", "MONEY"), ("500万元", "MONEY")], [0], [1, 2], [3, 4]),
    ("许昌市、郑州市分别获得中央补助资金3亿元、5亿元。",
     [("许昌市", "GPE"), ("郑州市", "GPE"), ("3亿元", "MONEY"), ("5亿元", "MONEY")], [], [0, 1], [2, 3]),
    ("中国银行和建设银行分别向德通智能授信2000万元和1500万元。",
     [("中国银行", "ORG"), ("建设银行", "ORG"), ("德通智能", "ORG"), ("2000万元", "MONEY"), ("1500万元", "MONEY")], [2], [0, 1], [3, 4]),
    ("恒生制药分别与工商银行、农业银行、中国银行签订贷款合同1.2亿元、8000万元、6000万元。",
     [("恒生制药", "ORG"), ("工商银行", "ORG"), ("农业银行", "ORG"), ("中国银行", "ORG"),
      ("1.2亿元", "MONEY"), ("8000万元", "MONEY"), ("6000万元", "MONEY")], [0], [1, 2, 3], [4, 5, 6]),
    ("河南省、湖北省、湖南省分别下达专项资金12亿元、9亿元、7.5亿元。",
     [("河南省", "GPE"), ("湖北省", "GPE"), ("湖南省", "GPE"), ("12亿元", "MONEY"), ("9亿元", "MONEY"), ("7.5亿元", "MONEY")],
     [], [0, 1, 2], [3, 4, 5]),
    ("张建国、李卫东分别捐款5万元、3万元。",
     [("张建国", "PERSON"), ("李卫东", "PERSON"), ("5万元", "MONEY"), ("3万元", "MONEY")], [], [0, 1], [2, 3]),
    ("魏都区政府分别与华为公司、腾讯公司签署协议，投资额分别为50亿元、30亿元。",
     [("魏都区政府", "ORG"), ("华为公司", "ORG"), ("腾讯公司", "ORG"), ("50亿元", "MONEY"), ("30亿元", "MONEY")], [0], [1, 2], [3, 4]),
    ("郑州银行、中原银行分别为恒生制药提供授信3000万元、2000万元。",
     [("郑州银行", "ORG"), ("中原银行", "ORG"), ("恒生制药", "ORG"), ("3000万元", "MONEY"), ("2000万元", "MONEY")], [2], [0, 1], [3, 4]),
    ("许昌市财政局分别向建安区、魏都区拨付资金600万元、400万元。",
     [("许昌市财政局", "ORG"), ("建安区", "GPE"), ("魏都区", "GPE"), ("600万元", "MONEY"), ("400万元", "MONEY")], [0], [1, 2], [3, 4]),
    ("浦发银行、招商银行两家银行分别授信1亿元、2亿元。",
     [("浦发银行", "ORG"), ("招商银行", "ORG"), ("1亿元", "MONEY"), ("2亿元", "MONEY")], [], [0, 1], [2, 3]),
    ("襄城县与长葛市分别完成投资 3000 万元、1200 万元。",
     [("襄城县", "GPE"), ("长葛市", "GPE"), ("3000 万元", "MONEY"), ("1200 万元", "MONEY")], [], [0, 1], [2, 3]),
]


@pytest.mark.parametrize("text,mentions,subject,parties,amounts", TABLE, ids=[t[0][:12] for t in TABLE])
def test_every_party_of_the_list_gets_its_own_amount(text, mentions, subject, parties, amounts):
    ents = offsets(text, mentions)
    assert parallel_lists(text, ents) == [([ents[i] for i in parties], [ents[j] for j in amounts])]
    # what a pair classifier without the rule gives: every party with every sum
    predicted = [{"head": ents[i][:2], "tail": ents[j][:2], "label": "amount", "score": 0.9 - 0.01 * k}
                 for k, (i, j) in enumerate(itertools.product(subject + parties, amounts))]
    paired = pair_distributive(text, ents, predicted)
    got = {(r["head"], r["tail"]) for r in paired}
    expected = {(ents[s][:2], ents[j][:2]) for s in subject for j in amounts}
    expected |= {(ents[i][:2], ents[j][:2]) for i, j in zip(parties, amounts)}
    assert got == expected and len(paired) == len(expected)
    assert all(0.0 < r["score"] <= 0.9 for r in paired)
    # and the events: one per amount, with exactly its party (and the subject)
    ids = {e[:2]: f"e{k}" for k, e in enumerate(ents)}
    record = {"text": text, "entities": [{"id": f"e{k}", "start": s, "end": e, "label": lab}
                                         for k, (s, e, lab) in enumerate(ents)],
              "relations": [{**r, "head": ids[r["head"]], "tail": ids[r["tail"]]} for r in paired]}
    events = assemble_events(record)
    assert len(events) == len(amounts)
    for ev, i, j in zip(events, parties, amounts):
        assert ev["amount"]["entity"] == f"e{j}"
        assert {p["entity"] for p in ev["parties"]} == {f"e{i}"} | {f"e{s}" for s in subject}


@pytest.mark.parametrize("text,mentions", [
    ("中原银行向恒生制药和德通智能分别授信500万元。", [("中原银行", "ORG"), ("恒生制药", "ORG"), ("德通智能", "ORG"), ("500万元", "MONEY")]),
    ("甲公司、乙公司、丙公司分别获得100万元、200万元。", [("甲公司", "ORG"), ("乙公司", "ORG"), ("丙公司", "ORG"), ("100万元", "MONEY"), ("200万元", "MONEY")]),
    ("郑州银行授信3000万元、2000万元。", [("郑州银行", "ORG"), ("3000万元", "MONEY"), ("2000万元", "MONEY")]),
])
def test_no_parallel_lists_no_change(text, mentions):
    ents = offsets(text, mentions)
    rels = [{"head": ents[0][:2], "tail": e[:2], "label": "amount", "score": 0.8} for e in ents if e[2] == "MONEY"]
    assert parallel_lists(text, ents) == [] and pair_distributive(text, ents, rels) == rels


def test_a_block_the_classifier_left_empty_stays_empty():
    text, mentions = TABLE[0][:2]
    ents = offsets(text, mentions)
    subject_only = [{"head": ents[0][:2], "tail": ents[3][:2], "label": "amount", "score": 0.7}]
    assert pair_distributive(text, ents, subject_only) == subject_only
